"""Directories evpn-boot writes into as root: created private, verified, never via a symlink.

A file written as root is only as safe as the directory it lands in.  If anyone
but root can write to that directory, or to one above it, they can plant a
symlink where evpn-boot is about to write (``run_dir/lock`` -> ``/etc/passwd``)
or swap the directory itself.  :func:`open_verified_dir` therefore walks the
path from ``/`` one component at a time with ``openat`` and checks each one:

* the directory itself is never a symlink, is owned by the user running
  evpn-boot (root, in production) and is writable by no one else;
* every directory above it is owned by root (or that user) and is writable by
  no one else, except a root-owned sticky directory such as ``/tmp`` (others
  cannot move or replace entries there);
* a symlink above it (``/var/run`` -> ``/run``) is followed only when root owns
  it; a symlink owned by anyone else is refused.

Missing components are created with the requested mode (0700 unless the caller
says otherwise).  Once a path passed, only root can change it, so later
operations by path are as safe as through the returned descriptor.
Every refusal is an :class:`UnsafePathError` naming the path and the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from pathlib import Path, PurePosixPath

from evpn_boot.errors import ErrorKind, EvpnBootError

PRIVATE_DIR_MODE = 0o700
_MAX_SYMLINKS = 40  # as the kernel's own lookup limit
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(EvpnBootError):
    """A directory evpn-boot would write into can be changed by someone else."""

    kind = ErrorKind.PREFLIGHT


def _trusted_uid(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _check_ancestor(where: str, st: os.stat_result, target: Path) -> None:
    if not _trusted_uid(st.st_uid):
        raise UnsafePathError(f"{target}: {where} is owned by uid {st.st_uid}, not root; "
                              "evpn-boot does not write below it")
    writable = stat.S_IMODE(st.st_mode) & 0o022
    sticky_root = st.st_uid == 0 and st.st_mode & stat.S_ISVTX
    if writable and not sticky_root:
        raise UnsafePathError(f"{target}: {where} is writable by group or others "
                              f"(mode {stat.S_IMODE(st.st_mode):o}); evpn-boot does not "
                              "write below it")


def _check_final(st: os.stat_result, target: Path) -> None:
    if st.st_uid != os.geteuid():
        raise UnsafePathError(f"{target} is owned by uid {st.st_uid}, not by the user running "
                              f"evpn-boot (uid {os.geteuid()}); refusing to use it")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise UnsafePathError(f"{target} is writable by group or others (mode "
                              f"{stat.S_IMODE(st.st_mode):o}); chmod go-w it")


def open_verified_dir(path: Path, *, mode: int = PRIVATE_DIR_MODE, create: bool = True) -> int:
    """A descriptor of directory ``path`` after the checks above; the caller closes it.

    ``create``: make missing components with ``mode``; otherwise a missing one
    raises FileNotFoundError.
    """
    target = Path(path)
    if not target.is_absolute():
        raise UnsafePathError(f"{target} is not an absolute path")
    walk = _Walk(target, mode, create)
    try:
        walk.run()
    except BaseException:
        os.close(walk.fd)
        raise
    return walk.fd


class _Walk:
    """One component at a time from ``/``: ``fd`` is the directory reached so far."""

    def __init__(self, target: Path, mode: int, create: bool) -> None:
        self.target, self.mode, self.create = target, mode, create
        self.parts = deque(PurePosixPath(target).parts[1:])
        self.fd = os.open("/", _DIR_FLAGS)
        self.where = "/"
        self.hops = 0

    def run(self) -> None:
        _check_ancestor(self.where, os.fstat(self.fd), self.target)
        while self.parts:
            name = self.parts.popleft()
            final = not self.parts
            try:
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except FileNotFoundError:
                if not self.create:
                    raise
                st = _make(self.fd, name, self.mode)
            if stat.S_ISLNK(st.st_mode):
                self._through_symlink(name, st, final)
            elif not stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(f"{self.target}: {os.path.join(self.where, name)} is "
                                      "not a directory")
            else:
                self._enter(name, final)

    def _enter(self, name: str, final: bool) -> None:
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):   # swapped under us
                raise UnsafePathError(f"{self.target}: {os.path.join(self.where, name)} "
                                      "changed while being checked") from None
            raise
        os.close(self.fd)
        self.fd, self.where = child, os.path.join(self.where, name)
        st = os.fstat(self.fd)
        if final:
            _check_final(st, self.target)
        else:
            _check_ancestor(self.where, st, self.target)

    def _through_symlink(self, name: str, st: os.stat_result, final: bool) -> None:
        """Follow a root-owned symlink above the target; refuse every other one."""
        link = os.path.join(self.where, name)
        if final:
            raise UnsafePathError(f"{self.target} is a symlink; evpn-boot does not write "
                                  "through symlinks (name the directory itself)")
        if st.st_uid != 0:
            raise UnsafePathError(f"{self.target}: {link} is a symlink owned by uid "
                                  f"{st.st_uid}, not root")
        self.hops += 1
        if self.hops > _MAX_SYMLINKS:
            raise UnsafePathError(f"{self.target}: too many symlinks")
        destination = os.readlink(name, dir_fd=self.fd)
        self.parts.extendleft(reversed(PurePosixPath(destination).parts))
        if destination.startswith("/"):
            self.parts.popleft()  # the leading "/"
            os.close(self.fd)
            self.fd, self.where = os.open("/", _DIR_FLAGS), "/"


def _make(dir_fd: int, name: str, mode: int) -> os.stat_result:
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
    except FileExistsError:
        pass  # made meanwhile: checked like any other
    else:
        # umask may have narrowed the mode (never widened): set it exactly.
        child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            os.fchmod(child, mode)
        finally:
            os.close(child)
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def ensure_private_dir(path: Path, mode: int = PRIVATE_DIR_MODE) -> None:
    """Create (``mode``) or verify directory ``path``; see the module docstring."""
    os.close(open_verified_dir(path, mode=mode))


def open_private_file(dir_fd: int, name: str, flags: int, mode: int = 0o600, *,
                      shown: str = "") -> int:
    """Open ``name`` in a verified directory, never through a symlink.

    An existing file must be a regular file owned by the user running evpn-boot.
    ``shown`` is the path messages name (default: ``name``).
    """
    shown = shown or name
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode,
                     dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{shown} is a symlink; evpn-boot does not open files "
                                  "through symlinks") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(st.st_mode) else \
            f"owned by uid {st.st_uid}"
        raise UnsafePathError(f"{shown} is {what}; it is not evpn-boot's")
    return fd
