"""Remove what a killed run left behind that may hold a BGP password.

A run killed while writing FRR's config (SIGKILL runs no cleanup) leaves its
temp file, ``.frr.conf.<pid>.tmp``, in FRR's config dir; releases before the
memfd check copies (see :func:`evpn_boot.frr.tools.host_runner`) also left
``/tmp/evpn-boot-frr-check-*`` directories with a copy of frr.conf.
:func:`remove_stale` deletes both at the next start.  A temp file is removed
only once no process with its PID is alive, so a concurrent run keeps its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from pathlib import Path

from evpn_boot import fsutil
from evpn_boot.state import pids

_TEMP_NAME = re.compile(r"^\.[^/]+\.(\d+)\.tmp$")
LEGACY_CHECK_PREFIX = "evpn-boot-frr-check-"


def stale_temps(config_dir: Path) -> list[Path]:
    """Remove ``.<name>.<pid>.tmp`` files of dead processes; returns those removed."""
    try:
        fd = fsutil.open_verified_dir(config_dir, create=False)
    except FileNotFoundError:
        return []
    removed: list[Path] = []
    try:
        for name in os.listdir(fd):
            match = _TEMP_NAME.match(name)
            if match is None or pids.alive(int(match.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(name, dir_fd=fd)
                removed.append(config_dir / name)
    finally:
        os.close(fd)
    return removed


def legacy_check_dirs(tmp: Path = Path("/tmp")) -> list[Path]:
    """Remove our own ``/tmp/evpn-boot-frr-check-*`` directories (never another user's)."""
    removed: list[Path] = []
    try:
        names = os.listdir(tmp)
    except OSError:
        return []
    for name in names:
        if not name.startswith(LEGACY_CHECK_PREFIX):
            continue
        path = tmp / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
            # rmtree does not follow symlinks inside (it works on directory fds).
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def remove_stale(config_dir: Path) -> list[Path]:
    """Both kinds of leftovers; returns the paths removed (for the log)."""
    return stale_temps(config_dir) + legacy_check_dirs()
