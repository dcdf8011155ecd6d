"""Write FRR's config dir atomically, with modes that keep passwords private.

Each file is written to a temporary name in the same directory, flushed and
renamed over the old one, so FRR (or ``frr-reload.py``) never reads a half
written file and a crash leaves either the old or the new version.  Nothing
here logs file contents: frr.conf may hold BGP passwords.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from evpn_boot import fsutil
from evpn_boot.errors import ErrorKind, EvpnBootError

#: frr.conf holding a password: root only.  Otherwise group-readable, so an
#: operator group can read the config without being root.
MODE_SECRET = 0o600
MODE_PLAIN = 0o640
DIR_MODE = 0o750


def ensure_dir(path: Path) -> None:
    """Create or verify the config dir (fsutil: ours, writable by no one else, no symlink)."""
    try:
        fsutil.ensure_private_dir(path, DIR_MODE)
    except OSError as exc:
        raise EvpnBootError(f"create FRR config dir {path}: {exc.strerror or exc}",
                            kind=ErrorKind.RUNTIME) from exc


def write_temp(directory: Path, name: str, text: str, mode: int) -> Path:
    """Write ``text`` to a fresh hidden file in ``directory`` created with ``mode``."""
    ensure_dir(directory)
    temp = directory / f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        # Created with its final mode: never readable by others, not even briefly.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # umask may have narrowed it
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise EvpnBootError(f"write {directory / name}: {exc.strerror or exc}",
                            kind=ErrorKind.RUNTIME) from exc
    return temp


def replace(temp: Path, target: Path) -> None:
    """Rename ``temp`` over ``target`` and make the rename durable."""
    try:
        os.replace(temp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise EvpnBootError(f"replace {target}: {exc.strerror or exc}",
                            kind=ErrorKind.RUNTIME) from exc


def current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvpnBootError(f"read {path}: {exc.strerror or exc}",
                            kind=ErrorKind.RUNTIME) from exc


def write_if_changed(path: Path, text: str, mode: int) -> bool:
    """Atomically write ``text`` unless the file already holds it (and has ``mode``)."""
    if current(path) == text:
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
        return False
    replace(write_temp(path.parent, path.name, text, mode), path)
    return True


def write_all(directory: Path, files: Mapping[str, str], modes: Mapping[str, int]) -> set[str]:
    """Write every file that changed; returns the names written."""
    return {name for name, text in files.items()
            if write_if_changed(directory / name, text, modes[name])}
