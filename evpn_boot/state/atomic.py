"""Write a file atomically: a crash leaves the old file or the new one, never half of one.

The one writer of every file evpn-boot keeps (the ownership, release and
service records, FRR's config dir).  The directory is created or verified by
:func:`evpn_boot.fsutil.ensure_private_dir` (owned by us, writable by no one
else, no symlink on the way).  A temp file in the same directory, created
private (never readable by others, not even briefly) and given its final mode,
flushed and fsynced, optionally checked, renamed over the target, and
(``durable``) the directory fsynced so the rename survives a power loss.  The
temp file's name ends in ``.<pid>.tmp`` so the next start can remove what a
killed run left (:mod:`evpn_boot.frr.stale`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from evpn_boot import fsutil

#: Looks at the complete temp file before it replaces the target; raises to refuse it.
Check = Callable[[Path], None]


def write_text(path: Path, text: str, *, mode: int, dir_mode: int = 0o700,
               durable: bool = True, check: Optional[Check] = None) -> None:
    """Replace ``path`` with ``text``; ``check`` sees the exact file that is renamed.

    Raises OSError (UnsafePathError for a directory others control; the caller
    names the file in its own error) or whatever ``check`` raises; either way
    the temp file is gone and ``path`` untouched.
    """
    directory = path.parent
    fsutil.ensure_private_dir(directory, dir_mode)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp",
                                dir=directory)
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)      # mkstemp made it 0600
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if check is not None:
            check(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_json(path: Path, data: Any, *, mode: int, dir_mode: int = 0o700,
               durable: bool = True) -> None:
    """:func:`write_text` of ``data`` as indented, key-sorted JSON."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True), mode=mode,
               dir_mode=dir_mode, durable=durable)
