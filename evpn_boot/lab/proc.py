"""Run one of the lab's tools (vtysh, FRR daemons, evpn-boot itself) with clear errors."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

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
