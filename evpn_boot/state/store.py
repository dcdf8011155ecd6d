"""Persist the ownership record atomically, and the one-run-at-a-time lock.

The record lives in ``<state_dir>/state.json`` (mode 0600, written to a temp
file, fsynced and renamed, so a crash leaves either the old or the new record,
never a torn one).  The lock is ``flock(2)`` on ``<run_dir>/lock``: the kernel
releases it when the process dies, even on SIGKILL, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from evpn_boot.clock import REAL_CLOCK, Clock, sleep
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import atomic
from evpn_boot.state.model import Ownership

STATE_FILE = "state.json"
LOCK_FILE = "lock"


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def load(state_dir: Path) -> Ownership:
    """The recorded ownership; an empty record when there is none yet."""
    path = state_path(state_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            return Ownership.from_dict(json.load(handle))
    except FileNotFoundError:
        return Ownership()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvpnBootError(f"reading state file {path}: {exc}") from exc


def save(state_dir: Path, ownership: Ownership) -> None:
    path = state_path(state_dir)
    try:
        atomic.write_json(path, ownership.to_dict(), mode=0o600, dir_mode=0o700)
    except OSError as exc:
        raise EvpnBootError(f"writing state file {path}: {exc}") from exc


def remove(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(state_dir).unlink()


#: Seconds between two tries of a held lock.
LOCK_RETRY_S = 0.05


@contextlib.contextmanager
def locked(run_dir: Path, *, wait: float = 10.0,
           clock: Optional[Clock] = None) -> Iterator[None]:
    """Hold the run lock; wait up to ``wait`` seconds, then fail with kind LOCKED.

    The lock is only ever tried without blocking; between tries ``clock`` waits
    (the daemon's pulse, which keeps serving signals and the watchdog).
    """
    clock = clock or REAL_CLOCK
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EvpnBootError(f"opening lock file {path}: {exc}") from exc
    try:
        deadline = clock.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise EvpnBootError(f"locking {path}: {exc}") from exc
                if clock.monotonic() >= deadline:
                    raise EvpnBootError(
                        f"another evpn-boot run holds the lock {path} (waited {wait:.0f} s)",
                        kind=ErrorKind.LOCKED) from exc
                sleep(clock, LOCK_RETRY_S)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
