"""Run one of the lab's tools (vtysh, FRR daemons, evpn-boot itself) with clear errors."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from evpn_boot.errors import EvpnBootError


def run_tool(args: Sequence[str], what: str, *, timeout: float) -> str:
    """Run ``args``; returns stdout.  Not starting, a timeout or a non-zero exit is an
    :class:`EvpnBootError` that starts with ``lab: <what>`` and carries the tool's output."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EvpnBootError(f"lab: {what}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-2000:]
        raise EvpnBootError(f"lab: {what} failed (rc {done.returncode}): {output}")
    return done.stdout


def start_daemon(args: Sequence[str], what: str, output: Path, *, timeout: float) -> None:
    """Start a self-daemonizing tool (``zebra -d``); its output goes to ``output``.

    Never through pipes: FRR 10's daemons keep the stdout/stderr they were
    started with after they detach, so a reader waiting for end-of-file on a
    pipe would wait until the daemon exits (seen: ``zebra -d`` timing out).
    """
    try:
        with output.open("wb") as out:
            done = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EvpnBootError(f"lab: {what}: {exc}") from exc
    if done.returncode != 0:
        tail = output.read_text(errors="replace").strip()[-2000:]
        raise EvpnBootError(f"lab: {what} failed (rc {done.returncode}): {tail}")
