"""A ``bgpd -C`` that crashes: which line of the file did it.

bgpd's crash handler names no config line, so the file is cut into its
top-level blocks and the shortest prefix that still crashes is found by
bisection (a handful of ``bgpd -C`` runs, only on this rare path).  The
prefixes are written next to the checked file (the tool runner can read that
directory, on the host or mounted into the image) and removed after.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Callable

_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
#: FRR's core handler prints this before it aborts.
_CRASH_MARK = "Received signal"

Runner = Callable[[list[str], Path], "tuple[int, str]"]


def is_crash(rc: int, output: str) -> bool:
    """bgpd died of a signal (negative rc from Python, 128+n from a shell)."""
    signum = -rc if rc < 0 else rc - 128 if rc > 128 else 0
    return signum in _CRASH_SIGNALS or (rc != 0 and _CRASH_MARK in output)


def top_level_blocks(text: str) -> list[int]:
    """0-based index of the first line of each top-level command."""
    starts = []
    for number, line in enumerate(text.splitlines()):
        if line and not line[0].isspace() and line.split()[0] not in ("!", "exit", "exit-vrf",
                                                                      "end"):
            starts.append(number)
    return starts


def crashing_line(runner: Runner, conf: Path, argv: list[str]) -> tuple[int, str]:
    """(1-based line, its text) of the first top-level block whose prefix crashes bgpd."""
    lines = conf.read_text(encoding="utf-8").splitlines()
    starts = top_level_blocks("\n".join(lines))
    if not starts:
        return 0, "(no command)"
    probe = conf.with_name(f".{conf.name}.crash-probe")

    def crashes(blocks: int) -> bool:
        end = starts[blocks] if blocks < len(starts) else len(lines)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines[:end]) + "\n")
        rc, out = runner(list(argv), probe)
        return is_crash(rc, out)

    try:
        low, high = 1, len(starts)          # invariant: the prefix of `high` blocks crashes
        while low < high:
            middle = (low + high) // 2
            if crashes(middle):
                high = middle
            else:
                low = middle + 1
    finally:
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
    first = starts[high - 1]
    return first + 1, lines[first].strip()
