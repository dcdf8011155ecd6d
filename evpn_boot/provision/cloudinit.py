"""A ``#cloud-config`` document for distributions with cloud-init (Debian, Ubuntu, EL).

Stages matter here.  cloud-init's ``write_files`` runs in the *init* stage and
``runcmd`` in the *final* stage, after systemd already ran
``systemd-modules-load`` and ``systemd-tmpfiles``; ``bootcmd`` runs before
``write_files`` and so cannot enable a unit that is not written yet.  Hence the
``runcmd`` entries, in this order: reload units, load the modules and create the
directories the files describe, enable evpn-boot (for every later boot), then
``systemctl start evpn-boot.service``.  That start blocks until evpn-boot sends
``READY=1`` (``Type=notify``), so a ``kubeadm join`` placed after these entries
runs with the fabric up.  The documents's ``runcmd`` list must therefore come
first; cloud-init replaces (does not append) lists when merging user-data parts
by default, so merge this document's entries in front of your own.

A node image without evpn-boot gets it from a package file already on the node
(``packages``: a .deb or .rpm path, e.g. on a seed disk or fetched by an
earlier part): installed by the first ``runcmd`` entries, before the reload.
cloud-init's own ``packages`` module would need an apt/dnf repository.
"""

from __future__ import annotations

import json

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.provision.node import NodeDocument
from evpn_boot.provision.units import KUBELET_DROPIN, MODULES_LOAD, TMPFILES


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    indicator = "|" if text.endswith("\n") else "|-"
    body = "".join(pad + line if line.strip("\n") else line
                   for line in text.splitlines(keepends=True))
    return f"{indicator}\n{body.rstrip(chr(10))}"


#: Package file suffix -> the command that installs it (no repository needed).
INSTALLERS = {".deb": ["dpkg", "-i"], ".rpm": ["rpm", "-U", "--replacepkgs"]}


def install_command(path: str) -> list[str]:
    """The ``runcmd`` entry installing the package file at ``path`` on the node."""
    for suffix, argv in INSTALLERS.items():
        if path.endswith(suffix) and path.startswith("/"):
            return [*argv, path]
    raise EvpnBootError(
        f"render cloud-init: --package {path!r}: want an absolute path on the node "
        f"ending in {' or '.join(INSTALLERS)}", kind=ErrorKind.USAGE)


def runcmd(doc: NodeDocument, packages: tuple[str, ...] = ()) -> list[list[str]]:
    """The ``runcmd`` entries (argv lists: no shell involved)."""
    cmds = [install_command(p) for p in packages]
    cmds += [["systemctl", "daemon-reload"],
            ["systemctl", "restart", "systemd-modules-load.service"],
            ["systemd-tmpfiles", "--create", TMPFILES]]
    cmds += [["systemctl", "enable", name] for name in doc.enable]
    cmds += [["systemctl", "start", name] for name in doc.enable]
    return cmds


def cloud_config(doc: NodeDocument, packages: tuple[str, ...] = ()) -> str:
    """The ``#cloud-config`` YAML text (``packages``: files to install first)."""
    files = [*doc.files]
    dropin_name, dropin_text = doc.kubelet_dropin
    out = ["#cloud-config",
           "# evpn-boot: write the config and units, then bring the fabric up before",
           "# anything that joins the cluster (see `evpn-boot render cloud-init --help`).",
           "write_files:"]
    entries = [(f.path, f.mode, f.content) for f in files]
    entries.append((KUBELET_DROPIN, 0o644, dropin_text))
    assert KUBELET_DROPIN.endswith(dropin_name)
    for path, mode, content in entries:
        out += [f"  - path: {json.dumps(path)}",
                "    owner: root:root",
                f"    permissions: '0{mode:o}'",
                "    content: " + _block(content, 6)]
    out.append("runcmd:")
    out += [f"  - {json.dumps(cmd)}" for cmd in runcmd(doc, packages)]
    if MODULES_LOAD not in {f.path for f in files}:  # pragma: no cover - always rendered
        raise AssertionError("modules-load.d file missing")
    return "\n".join(out) + "\n"
