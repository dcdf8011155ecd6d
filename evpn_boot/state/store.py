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
import time
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def locked(run_dir: Path, *, wait: float = 10.0) -> Iterator[None]:
    """Hold the run lock; wait up to ``wait`` seconds, then fail with kind LOCKED."""
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EvpnBootError(f"opening lock file {path}: {exc}") from exc
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise EvpnBootError(f"locking {path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise EvpnBootError(
                        f"another evpn-boot run holds the lock {path} (waited {wait:.0f} s)",
                        kind=ErrorKind.LOCKED) from exc
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
