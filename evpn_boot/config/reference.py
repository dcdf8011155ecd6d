"""The configuration reference (docs/config.md), generated from the model.

The document is derived from the JSON Schema so it cannot drift from the code;
a test regenerates it and compares with the committed file.
Regenerate with ``python -m evpn_boot.config.reference > docs/config.md``.
"""

from __future__ import annotations

import json
from typing import Any

from evpn_boot.config.model import Config

_SECTIONS = ("node", "runtime", "frr", "underlay", "underlay.vlan", "underlay.macvlan",
             "underlay.neighbors", "underlay.bfd", "l3vni", "l2vni", "readiness", "handoff",
             "health", "metrics")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].split("/")[-1]])
    for key in ("anyOf", "allOf", "oneOf"):
        for option in node.get(key, ()):
            if "$ref" in option or "oneOf" in option or (
                    option.get("type") == "array" and "$ref" in option.get("items", {})):
                return _resolve(schema, option)
    if node.get("type") == "array" and "$ref" in node.get("items", {}):
        return _resolve(schema, node["items"])
    return node


def _type(schema: dict[str, Any], node: dict[str, Any]) -> str:
    if "$ref" in node:
        target = schema["$defs"][node["$ref"].split("/")[-1]]
        return _type(schema, target) if "enum" in target else "table"
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(_type(schema, o) for o in node[key] if o.get("type") != "null")
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    if node.get("type") == "array":
        return f"list of {_type(schema, node.get('items', {}))}"
    kind = str(node.get("type", "any"))
    fmt = node.get("format")
    return f"{kind} ({fmt})" if fmt and fmt != "path" else ("path" if fmt == "path" else kind)


def _limits(node: dict[str, Any]) -> str:
    parts = []
    for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                       ("maxLength", "max length")):
        if key in node:
            parts.append(f"{label} {node[key]}")
    for option in (*node.get("anyOf", ()), *node.get("oneOf", ())):
        extra = _limits(option)
        if extra:
            parts.append(extra)
    return ", ".join(parts)


#: Rules that no single field's type shows; kept here so the reference states them.
_RULES = """\
## Rules beyond the types

Checked by `evpn-boot validate` (and before every command), each reported with
its key path and line; nothing runs while one is broken (exit 2).

* **Names** (interfaces, VRFs, `netns`, `host_netns`, `host_bridge`): 1-15
  bytes, no `/`, `:`, whitespace (Unicode too), NUL or other control
  characters, not `.` or `..` (the kernel's `dev_valid_name()`); namespace
  names also no `,` (podman's `--network ns:PATH`). `host_bridge` names are
  used once and are not one of evpn-boot's per-VNI names (`br-pe-N`, `vniN`,
  `br-hs-N` of another VNI, ...).
* **`node.name`**: a host name (letters, digits, `-`, `_`, dot-separated
  labels of at most 63, 253 in all): it becomes FRR's `hostname`.
* **`frr.image`**: a container image reference (`[registry[:port]/]path[:tag][@digest]`,
  lowercase path); never empty or option-like. `frr.raw_config` holds no
  control characters other than newline and tab.
* **Paths** (`state_dir`, `run_dir`, `frr.config_dir`, `password_file`,
  `kubeconfig`): absolute, normalised (no `.`, `..`, `//`, trailing `/`), not
  `/`, not under `/dev`, `/proc` or `/sys`, no control characters.
  `state_dir`, `run_dir` and `frr.config_dir` are distinct and not nested;
  `frr.config_dir` has no `:` or `,` (it is part of podman's `--volume`).
  At run time each directory must be owned by the user running evpn-boot and
  writable by no one else, every directory above it owned by root and not
  writable by others (root-owned sticky ones such as `/tmp` excepted), and no
  symlink is followed except root-owned ones above it; missing ones are
  created 0700 (exit 1 otherwise, naming the directory).
* **Addresses**: `vtep_cidr`, `router_id_cidr`, sub-interface and veth pools
  stay out of 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4,
  240.0.0.0/4, `::`, `::1`, fe80::/10, ff00::/8 and ::ffff:0:0/96. A neighbor
  is a unicast address and neither our VTEP nor our router id. Route targets:
  `ASN:NN` with a 2-byte ASN and a 4-byte number or the reverse, or
  `IPv4:NN` with NN <= 65535.
* **Uplinks** (dual-homing): exactly one of `underlay.nic`, `nics`, `vlan` or
  `macvlan` (`vlan`/`macvlan` a table or a list of tables, one per leaf);
  every uplink name is used once and is not `lo`. A neighbor has exactly one
  of `address` (numbered) or `interface` (BGP unnumbered); an `interface`
  names one of the uplinks and takes no `ebgp_multihop`. The VTEP is always
  on the router namespace's `lo`, whatever the uplinks.
* **`readiness.timeout_s`**: a TOML integer or float (`true` and `"120"` are
  refused), more than 0 and at most 86400.
* **Password files** are read when the configuration is validated: a regular
  file (never through a symlink), owned by root (or the user running
  evpn-boot), mode 0600 or 0400 (neither group nor others may read or write
  it), UTF-8, one line (a trailing newline is fine, a second non-empty line is
  refused). The password is that line without surrounding whitespace, 1-80
  printable characters without whitespace. Messages never show it.
* **The configuration file** itself must be owned by root, or by the user
  running evpn-boot (so a developer can run `validate`, `show` or `render` on
  a file of their own without root), and not be writable by group or others.
"""


def render_reference() -> str:
    schema = Config.model_json_schema()
    required_top = set(schema.get("required", []))
    out = ["# Configuration reference", "",
           "Generated from the model (`python -m evpn_boot.config.reference`); "
           "a test keeps it in sync.",
           "The file is TOML; unknown keys are errors. Default path "
           "`/etc/evpn-boot/config.toml` (`--config/-c`, `EVPN_BOOT_CONFIG`).", ""]
    for section in _SECTIONS:
        node: dict[str, Any] = schema
        for part in section.split("."):
            node = _resolve(schema, node["properties"][part])
        is_array = section in ("underlay.neighbors", "l3vni", "l2vni")
        header = f"[[{section}]]" if is_array else f"[{section}]"
        if section.count(".") == 1 and not is_array:
            header = f"{section} = {{ ... }} (inline table)"
        required_note = " (required)" if section in required_top else ""
        out += [f"## `{header}`{required_note}", "", node.get("description", ""), "",
                "| key | type | default | notes |", "|---|---|---|---|"]
        required = set(node.get("required", []))
        for key, prop in node["properties"].items():
            default = "required" if key in required else json.dumps(prop.get("default"))
            notes = " ".join(filter(None, [prop.get("description", ""), _limits(prop)]))
            out.append(f"| `{key}` | {_type(schema, prop)} | {default} | {notes} |")
        out.append("")
    out.append(_RULES)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_reference(), end="")
