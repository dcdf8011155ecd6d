"""Write a small JSON record atomically: a crash leaves the old file or the new one.

The directory is created or verified by :func:`evpn_boot.fsutil.ensure_private_dir`
(owned by us, writable by no one else, no symlink).  Temp file in the same
directory, flushed and fsynced, given its final mode, renamed over the target,
and (``durable``) the directory fsynced so the rename survives a power loss.
Used by every record evpn-boot keeps (ownership, release, service status).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from evpn_boot import fsutil


def write_json(path: Path, data: Any, *, mode: int, dir_mode: int = 0o700,
               durable: bool = True) -> None:
    """Raises OSError (UnsafePathError for a directory others control); the caller
    names the record in its own error."""
    directory = path.parent
    fsutil.ensure_private_dir(directory, dir_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
