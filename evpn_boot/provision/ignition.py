"""Ignition (JSON) and Butane (YAML) documents for Fedora CoreOS and RHCOS.

Ignition runs once, in the initramfs of the first boot, before systemd starts
the real system: files written and units enabled there are in place when
``evpn-boot.service`` and ``kubelet.service`` are first ordered, so no reload
or explicit start is needed.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.provision.node import NodeDocument

#: Ignition spec version -> the Butane ``fcos`` version that produces it.
BUTANE_FOR_IGNITION = {"3.4.0": "1.5.0", "3.3.0": "1.4.0"}
IGNITION_VERSIONS = tuple(BUTANE_FOR_IGNITION)


def _check_version(version: str) -> None:
    if version not in BUTANE_FOR_IGNITION:
        raise EvpnBootError(
            f"render ignition: unsupported Ignition spec version {version!r} "
            f"(supported: {', '.join(IGNITION_VERSIONS)})", kind=ErrorKind.USAGE)


def data_url(text: str) -> str:
    """An RFC 2397 ``data:`` URL carrying ``text`` (percent-encoded, as Butane does)."""
    return "data:," + urllib.parse.quote(text, safe="")


def _units(doc: NodeDocument) -> list[dict[str, Any]]:
    units: list[dict[str, Any]] = []
    for name in doc.enable:
        if not any(f.path.endswith("/" + name) for f in doc.unit_files()):
            units.append({"name": name, "enabled": True})   # shipped by the OS
    for f in doc.unit_files():
        name = f.path.rsplit("/", 1)[1]
        unit: dict[str, Any] = {"name": name, "contents": f.content}
        if name in doc.enable:
            unit["enabled"] = True
        units.append(unit)
    dropin_name, dropin_text = doc.kubelet_dropin
    units.append({"name": "kubelet.service",
                  "dropins": [{"name": dropin_name, "contents": dropin_text}]})
    return units


def ignition_document(doc: NodeDocument, *, version: str = "3.4.0") -> dict[str, Any]:
    """The Ignition config (as a JSON-ready dict) for spec ``version``."""
    _check_version(version)
    files = [{
        "path": f.path,
        "mode": f.mode,            # Ignition wants the decimal value of the octal mode
        "overwrite": True,
        "contents": {"source": data_url(f.content)},
    } for f in doc.plain_files()]
    return {
        "ignition": {"version": version},
        "storage": {"files": files},
        "systemd": {"units": _units(doc)},
    }


# ----------------------------------------------------------------- Butane

def _yaml_block(text: str, indent: int) -> str:
    """``text`` as a YAML literal block scalar (``|`` keeps the final newline)."""
    pad = " " * indent
    indicator = "|" if text.endswith("\n") else "|-"
    if text.startswith((" ", "\n")):
        indicator = indicator[0] + str(indent if indent < 10 else 2) + indicator[1:]
    body = "".join(pad + line if line.strip("\n") else line
                   for line in text.splitlines(keepends=True))
    if not body.endswith("\n"):
        body += "\n"
    return f"{indicator}\n{body}"


def _yaml_scalar(value: str) -> str:
    """A plain-safe scalar, double-quoted (JSON escaping is valid YAML)."""
    import json
    return json.dumps(value)


def butane_document(doc: NodeDocument, *, version: str = "3.4.0") -> str:
    """Butane ``fcos`` YAML that translates to :func:`ignition_document`'s content."""
    _check_version(version)
    out = ["variant: fcos", f"version: {BUTANE_FOR_IGNITION[version]}", "storage:", "  files:"]
    for f in doc.plain_files():
        out += [f"    - path: {_yaml_scalar(f.path)}",
                f"      mode: 0{f.mode:o}",
                "      overwrite: true",
                "      contents:",
                "        inline: " + _yaml_block(f.content, 10).rstrip("\n")]
    out += ["systemd:", "  units:"]
    for unit in _units(doc):
        out.append(f"    - name: {_yaml_scalar(unit['name'])}")
        if unit.get("enabled"):
            out.append("      enabled: true")
        if "contents" in unit:
            out.append("      contents: " + _yaml_block(unit["contents"], 8).rstrip("\n"))
        for dropin in unit.get("dropins", []):
            out += ["      dropins:",
                    f"        - name: {_yaml_scalar(dropin['name'])}",
                    "          contents: " + _yaml_block(dropin["contents"], 12).rstrip("\n")]
    return "\n".join(out) + "\n"
