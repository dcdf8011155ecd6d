"""Start, restart and stop systemd units (the FRR unit), through ``systemctl``.

When evpn-boot runs as a systemd service and ``evpn-boot-frr.service`` is
installed, FRR is that unit's container rather than a container evpn-boot
starts itself: systemd then owns FRR's lifecycle, its logs and its cgroup, and
FRR survives any restart of evpn-boot by construction.  ``systemctl`` is the
stable interface for this (systemd-python has no unit control).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from evpn_boot import command
from evpn_boot.clock import Clock
from evpn_boot.errors import ErrorKind, EvpnBootError

FRR_UNIT = "evpn-boot-frr.service"

#: Where systemd looks for unit files (system instance), most specific first;
#: /run/systemd/generator holds the unit podman's Quadlet generates from
#: evpn-boot-frr.container.
UNIT_DIRS = (Path("/etc/systemd/system"), Path("/run/systemd/system"),
             Path("/run/systemd/generator"),
             Path("/usr/local/lib/systemd/system"), Path("/usr/lib/systemd/system"),
             Path("/lib/systemd/system"))


def under_systemd() -> bool:
    """True when this process is a systemd service of a booted systemd system."""
    return bool(os.environ.get("INVOCATION_ID")) and Path("/run/systemd/system").is_dir()


def unit_installed(unit: str) -> bool:
    return any((directory / unit).exists() for directory in UNIT_DIRS)


def manages_frr() -> bool:
    """Whether FRR should run as :data:`FRR_UNIT` (else evpn-boot runs podman itself)."""
    return under_systemd() and unit_installed(FRR_UNIT) and shutil.which("systemctl") is not None


def systemctl(verb: str, unit: str, *, timeout_s: float = 300,
              clock: Optional[Clock] = None) -> None:
    """``systemctl VERB UNIT``; a failure names the unit and says where to look.

    ``clock`` waits while systemctl runs (a unit start can take minutes).
    """
    try:
        done = command.run(["systemctl", verb, unit], timeout=timeout_s, clock=clock)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EvpnBootError(f"systemctl {verb} {unit}: {exc}", kind=ErrorKind.RUNTIME) from exc
    if done.returncode != 0:
        raise EvpnBootError(
            f"systemctl {verb} {unit} exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-300:]} (see journalctl -u {unit})",
            kind=ErrorKind.RUNTIME)
