"""Lines outside ``router bgp`` blocks that bgpd refused: its own, or another daemon's?

``bgpd -C`` lists every failed line with one and the same reason, the reason of
the *last* failure of the file (FRR's ``vty_read_file``), so "No such command"
(a zebra or staticd line) and "Config Failed" (a prefix-list, route-map or
as-path line bgpd knows and refused) cannot be told apart from one run.  Each
such line is checked again on its own (with its parent block line): then the
reason is the line's own.  The lines evpn-boot itself renders for zebra are
known and skipped, so a configuration without ``raw_config`` costs no probe.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from evpn_boot.frr.validate import Problem

Runner = Callable[[list[str], Path], "tuple[int, str]"]

#: What the templates render outside ``router bgp`` for zebra.
_RENDERED_ZEBRA = re.compile(r"^(ip forwarding|ipv6 forwarding|vrf \S+| vni \d+|exit-vrf)$")
_OTHER_DAEMON = "No such command"
_FAILED_LINE = re.compile(r"on config line (\d+):")


def _parent(lines: list[str], index: int) -> list[str]:
    """The top-level line that opens the block of an indented line at ``index``."""
    if not lines[index][:1].isspace():
        return []
    for j in range(index - 1, -1, -1):
        if lines[j] and not lines[j][0].isspace() and not lines[j].startswith("!"):
            return [lines[j]]
    return []


def _line_of(raw: str) -> int:
    match = _FAILED_LINE.search(raw)
    return int(match.group(1)) if match else 0


def refused_outside_bgp(runner: Runner, conf: Path, numbers: list[int],
                        argv: list[str]) -> list[Problem]:
    """The lines among ``numbers`` (1-based) that bgpd owns and refused; ``argv`` is
    the bgpd check command."""
    from evpn_boot.frr.validate import Problem
    lines = conf.read_text(encoding="utf-8").splitlines()
    todo = [n for n in numbers if not _RENDERED_ZEBRA.match(lines[n - 1])]
    problems = []
    probe = conf.with_name(f".{conf.name}.line-probe")
    try:
        for number in todo:
            body = [*_parent(lines, number - 1), lines[number - 1]]
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("\n".join(body) + "\n")
            _rc, out = runner(list(argv), probe)
            own = [raw for raw in out.splitlines() if _line_of(raw) == len(body)]
            if own and _OTHER_DAEMON not in own[0]:
                reasons = "; ".join(r.strip() for r in out.splitlines()
                                    if r.strip().startswith("%")) or own[0].split("]")[-1]
                problems.append(Problem(number, f"bgpd rejected: {lines[number - 1].strip()} "
                                                f"({reasons.strip()})"))
    finally:
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
    return problems
