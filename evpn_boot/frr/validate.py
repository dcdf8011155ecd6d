"""Check a rendered frr.conf with FRR's own parsers before anything uses it.

Two passes, because neither catches everything:

* ``vtysh --dryrun -f FILE`` knows every daemon's grammar; it exits 2 and
  prints ``line N: ...`` for a command no daemon accepts.
* ``bgpd -C -f FILE`` executes the BGP commands against a scratch bgpd and so
  catches semantic errors (``activate`` for an unknown neighbor, a second
  ``router bgp`` AS ...).  It always exits 0: its output is parsed instead.
  Every failure inside a ``router bgp`` block counts; bgpd also fails every
  line of the other daemons (``vrf X / vni N``, ``ip route``), so a failed line
  outside those blocks is checked again on its own (:mod:`.bgpd_probe`).  A
  crash is a rejection naming the block that causes it (:mod:`.crash`).

Lines for a daemon that ``daemons`` leaves off are refused before both
(:mod:`.daemon_lines`): vtysh knows their grammar and FRR would ignore them.

The tools run on the host when FRR is installed there, or inside the FRR image
(through :mod:`evpn_boot.runtime`) when it is not; the caller injects which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr.bgpd_probe import refused_outside_bgp
from evpn_boot.frr.crash import crashing_line, is_crash
from evpn_boot.frr.daemon_lines import ENABLED, foreign_daemon

#: Runs one FRR tool; ``{conf}`` in argv stands for the file to check.
#: Returns (exit code, stdout + stderr).
ToolRunner = Callable[[list[str], Path], "tuple[int, str]"]

VTYSH_DRYRUN = ["vtysh", "--dryrun", "-f", "{conf}"]
BGPD_CHECK = ["/usr/lib/frr/bgpd", "-C", "-f", "{conf}"]

_VTYSH_ERROR = re.compile(r"^line (\d+): (.*)$")
_BGPD_FAILED_LINE = re.compile(r"on config line (\d+):")
# Informational chatter bgpd -C prints without a zebra to talk to.
_BGPD_NOISE = ("Graceful restart configuration changed", "zclient_send_message",
               "sendmsg_nexthop")


@dataclass(frozen=True)
class Problem:
    line: int          # 0 = not tied to a line
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class FrrValidator(Protocol):
    def validate(self, conf: Path) -> None:
        """Raise EvpnBootError(FRR_REJECTED) naming every problem in ``conf``."""


def vtysh_problems(rc: int, output: str) -> list[Problem]:
    """Problems from ``vtysh --dryrun`` (rc 2 with ``line N:`` lines)."""
    problems = []
    for raw in output.splitlines():
        match = _VTYSH_ERROR.match(raw.strip())
        if match:
            problems.append(Problem(int(match.group(1)), match.group(2).strip()))
    if rc != 0 and not problems:
        problems.append(Problem(0, f"vtysh --dryrun exited {rc}: {output.strip()[:500]}"))
    return problems


def bgp_lines(conf_text: str) -> set[int]:
    """Line numbers (1-based) bgpd owns: ``router bgp`` blocks, opening line included."""
    owned: set[int] = set()
    inside = False
    for number, line in enumerate(conf_text.splitlines(), start=1):
        if line.startswith("router bgp"):
            inside = True
        elif line and not line[0].isspace() and not line.startswith("!"):
            # Any other top-level command ends the block (``exit`` included).
            if line.strip() == "exit" and inside:
                owned.add(number)
            inside = False
            continue
        if inside:
            owned.add(number)
    return owned


def bgpd_problems(output: str, conf_text: str) -> list[Problem]:
    """Problems from ``bgpd -C``: failed lines inside BGP blocks, with bgpd's reasons."""
    lines = conf_text.splitlines()
    owned = bgp_lines(conf_text)
    failed = sorted({int(m.group(1)) for m in _BGPD_FAILED_LINE.finditer(output)} & owned)
    reasons = [raw.strip() for raw in output.splitlines()
               if raw.strip().startswith("%") or
               (raw.strip() and "BGP:" not in raw and not any(n in raw for n in _BGPD_NOISE))]
    problems = [Problem(n, f"bgpd rejected: {lines[n - 1].strip()}") for n in failed]
    if problems and reasons:
        problems.append(Problem(0, "bgpd said: " + "; ".join(dict.fromkeys(reasons))))
    return problems


def foreign_daemon_problems(conf_text: str) -> list[Problem]:
    """Lines for a daemon that ``daemons`` does not enable: FRR would ignore them."""
    problems = []
    for number, line in enumerate(conf_text.splitlines(), start=1):
        daemon = foreign_daemon(line)
        if daemon is not None:
            problems.append(Problem(number, f"{line.strip()!r} is a {daemon} command, and "
                                            f"evpn-boot runs only {', '.join(sorted(ENABLED))}"))
    return problems


class CommandValidator:
    """Runs both passes through ``runner`` (host tools or the FRR image)."""

    def __init__(self, runner: ToolRunner, where: str) -> None:
        self.runner = runner
        self.where = where

    def validate(self, conf: Path) -> None:
        text = conf.read_text(encoding="utf-8")
        rc, out = self.runner(list(VTYSH_DRYRUN), conf)
        problems = vtysh_problems(rc, out) or foreign_daemon_problems(text)
        if not problems:
            rc, out = self.runner(list(BGPD_CHECK), conf)
            if is_crash(rc, out):
                # A config that kills bgpd is a rejection, not a runtime failure.
                line, command = crashing_line(self.runner, conf, BGPD_CHECK)
                problems = [Problem(line, f"bgpd -C crashed (exit {rc}) on: {command}")]
            elif rc != 0:
                # bgpd -C exits 0 whatever the config says; anything else means it
                # did not run (privileges, missing libraries): never "accepted".
                raise EvpnBootError(f"check {conf.name} with bgpd ({self.where}): bgpd -C "
                                    f"exited {rc}: {out.strip()[-300:]}",
                                    kind=ErrorKind.RUNTIME)
            elif "can't open configuration file" in out or "failed to open" in out:
                # bgpd checked nothing: never let that pass as "accepted".
                raise EvpnBootError(f"check {conf.name} with bgpd ({self.where}): bgpd could "
                                    f"not read the file", kind=ErrorKind.RUNTIME)
            else:
                problems = bgpd_problems(out, text)
                outside = {int(m.group(1)) for m in _BGPD_FAILED_LINE.finditer(out)} \
                    - bgp_lines(text)
                problems += refused_outside_bgp(self.runner, conf, sorted(outside), BGPD_CHECK)
        if problems:
            details = "\n".join(f"  - {p}" for p in problems)
            raise EvpnBootError(
                f"FRR ({self.where}) rejected the rendered configuration {conf.name}:\n{details}",
                kind=ErrorKind.FRR_REJECTED)
