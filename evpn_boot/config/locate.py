"""Map configuration key paths to line numbers in the TOML text.

TOML parsers return plain dicts without positions, so error messages would only
have key paths.  This scanner recovers the line where each table, array-of-tables
entry and key is defined, which is enough for "l3vni[1].vni (line 27)".
It understands the TOML a person writes (tables, arrays of tables, dotted and
inline-table keys); anything it cannot place falls back to its closest parent.
"""

from __future__ import annotations

import re
from typing import Union

PathPart = Union[str, int]
KeyPath = tuple[PathPart, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p.strip("\"'") for p in parts]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line numbers (1-based) of every table, array entry and key found."""
    lines: dict[KeyPath, int] = {}
    array_counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            parts = tuple(_split_dotted(header.group(2)))
            if header.group(1) == "[[":
                index = array_counts.get(parts, -1) + 1
                array_counts[parts] = index
                table = (*parts, index)
                lines.setdefault(parts, number)
            else:
                table = _resolve(parts, array_counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = (*table, *_split_dotted(key.group(1)))
        lines.setdefault(path, number)
        rest = line[key.end():]
        if "{" in rest:
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault((*path, inner.group(1).strip('"')), number)
    return lines


def _resolve(parts: tuple[str, ...], array_counts: dict[KeyPath, int]) -> KeyPath:
    """``[a.b]`` after ``[[a]]`` refers to the latest ``a`` entry."""
    resolved: list[PathPart] = []
    for i, part in enumerate(parts):
        resolved.append(part)
        prefix = parts[: i + 1]
        if prefix in array_counts and i < len(parts) - 1:
            resolved.append(array_counts[prefix])
    return tuple(resolved)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path`` or of its closest ancestor that has one."""
    for end in range(len(path), 0, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


def format_path(path: KeyPath) -> str:
    """``("l3vni", 1, "vni")`` -> ``"l3vni[1].vni"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"
