"""Persist the ownership record atomically, and the one-run-at-a-time lock.

The record lives in ``<state_dir>/state.json`` (mode 0600, written to a temp
file, fsynced and renamed, so a crash leaves either the old or the new record,
never a torn one).  The lock is ``flock(2)`` on ``<run_dir>/lock``: the kernel
releases it when the process dies, even on SIGKILL, so a crash never leaves a
stale lock behind.

Both directories are opened through :mod:`evpn_boot.fsutil` (created 0700,
owner and mode checked, no symlink anywhere), and both files with
``O_NOFOLLOW``: a ``lock`` planted as a symlink to another file is refused, not
truncated.  A record that is unreadable, not JSON of our schema, or not a
private file of ours is never trusted: it is reported (exit 8) with the command
that recovers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from evpn_boot import fsutil
from evpn_boot.clock import REAL_CLOCK, Clock, sleep
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import atomic
from evpn_boot.state.model import Ownership, StateFormatError

STATE_FILE = "state.json"
LOCK_FILE = "lock"
#: The record is a few hundred bytes; a larger file is not ours.
_STATE_MAX_BYTES = 1024 * 1024
#: How ``teardown --discard-state`` keeps a refused record for people to read.
DISCARDED_SUFFIX = ".discarded"


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def _refused(path: Path, why: str) -> EvpnBootError:
    return EvpnBootError(
        f"state file {path} {why}: evpn-boot does not trust it.  Inspect it; "
        f"`evpn-boot teardown --discard-state` sets it aside (as {path.name}"
        f"{DISCARDED_SUFFIX}) and removes what evpn-boot can find without it",
        kind=ErrorKind.STATE)


def read_record(path: Path) -> object | None:
    """The JSON in ``path`` (None when absent), read without following a symlink.

    Its directory is verified first (:func:`evpn_boot.fsutil.open_verified_dir`).
    Raises ValueError naming why the file cannot be evpn-boot's.
    """
    try:
        dir_fd = fsutil.open_verified_dir(path.parent, create=False)
    except FileNotFoundError:
        return None
    except fsutil.UnsafePathError as exc:
        raise ValueError(f"is in a directory evpn-boot does not trust ({exc})") from None
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("is a symlink") from None
        raise ValueError(f"cannot be opened ({exc.strerror})") from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("is not a regular file")
        if st.st_uid != os.geteuid():
            raise ValueError(f"is owned by uid {st.st_uid}, not by evpn-boot's user")
        if stat.S_IMODE(st.st_mode) & 0o022:
            raise ValueError(f"is writable by group or others (mode "
                             f"{stat.S_IMODE(st.st_mode):o})")
        data = handle.read(_STATE_MAX_BYTES + 1)
    if len(data) > _STATE_MAX_BYTES:
        raise ValueError(f"is larger than {_STATE_MAX_BYTES} bytes")
    try:
        parsed: object = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError):
        raise ValueError("is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc.msg} at line {exc.lineno})") from None
    return parsed


def load(state_dir: Path) -> Ownership:
    """The recorded ownership; an empty record when there is none yet."""
    path = state_path(state_dir)
    try:
        data = read_record(path)
    except ValueError as exc:
        raise _refused(path, str(exc)) from None
    if data is None:
        return Ownership()
    try:
        return Ownership.from_dict(data)
    except StateFormatError as exc:
        raise _refused(path, f"is not an evpn-boot ownership record ({exc})") from None


def save(state_dir: Path, ownership: Ownership) -> None:
    path = state_path(state_dir)
    try:
        atomic.write_json(path, ownership.to_dict(), mode=0o600, dir_mode=0o700)
    except OSError as exc:
        raise EvpnBootError(f"writing state file {path}: {exc}") from exc


def remove(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(state_dir).unlink()


def discard(state_dir: Path) -> Path | None:
    """Set a refused record aside (``state.json.discarded``); the new name, or None."""
    path = state_path(state_dir)
    aside = path.with_name(path.name + DISCARDED_SUFFIX)
    try:
        fsutil.ensure_private_dir(state_dir)
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvpnBootError(f"setting aside state file {path}: {exc}") from exc
    return aside


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
        dir_fd = fsutil.open_verified_dir(run_dir)
    except OSError as exc:
        raise EvpnBootError(f"opening lock directory {run_dir}: {exc}") from exc
    try:
        fd = fsutil.open_private_file(dir_fd, LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600,
                                      shown=str(path))
    except OSError as exc:
        raise EvpnBootError(f"opening lock file {path}: {exc}") from exc
    finally:
        os.close(dir_fd)
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
