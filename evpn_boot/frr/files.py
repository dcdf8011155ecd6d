"""Write FRR's config dir atomically, with modes that keep passwords private.

Every file goes through :func:`evpn_boot.state.atomic.write_text` (temp file in
the same directory, fsync, rename, directory fsync), so FRR (or
``frr-reload.py``) never reads a half written file and a crash leaves either
the old or the new version.  Nothing here logs file contents: frr.conf may hold
BGP passwords.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from evpn_boot import fsutil
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import atomic

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


def write(path: Path, text: str, mode: int, check: Optional[atomic.Check] = None) -> None:
    """Atomically replace ``path``; ``check`` (FRR's parser) sees the very file renamed.

    An error of ``check`` propagates as it is, and nothing was replaced.
    """
    try:
        atomic.write_text(path, text, mode=mode, dir_mode=DIR_MODE, check=check)
    except OSError as exc:
        raise EvpnBootError(f"write {path}: {exc.strerror or exc}",
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
    write(path, text, mode)
    return True


def write_all(directory: Path, files: Mapping[str, str], modes: Mapping[str, int]) -> set[str]:
    """Write every file that changed; returns the names written."""
    return {name for name, text in files.items()
            if write_if_changed(directory / name, text, modes[name])}
