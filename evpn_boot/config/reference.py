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
             "underlay.neighbors", "l3vni", "l2vni", "readiness", "handoff")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].split("/")[-1]])
    for key in ("anyOf", "allOf"):
        for option in node.get(key, ()):
            if "$ref" in option or (option.get("type") == "array" and "$ref" in option.get(
                    "items", {})):
                return _resolve(schema, option)
    if node.get("type") == "array" and "$ref" in node.get("items", {}):
        return _resolve(schema, node["items"])
    return node


def _type(schema: dict[str, Any], node: dict[str, Any]) -> str:
    if "$ref" in node:
        target = schema["$defs"][node["$ref"].split("/")[-1]]
        return _type(schema, target) if "enum" in target else "table"
    if "anyOf" in node:
        return " or ".join(_type(schema, o) for o in node["anyOf"] if o.get("type") != "null")
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
    for option in node.get("anyOf", ()):
        extra = _limits(option)
        if extra:
            parts.append(extra)
    return ", ".join(parts)


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
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_reference(), end="")
