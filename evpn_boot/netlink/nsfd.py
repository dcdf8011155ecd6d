"""Named network namespaces (``/run/netns/NAME``): enter, create, delete.

Done with ``setns(2)``/``unshare(2)``/``mount(2)`` through libc because Python
3.9-3.11 has no ``os.setns`` and importing pyroute2 costs ~0.2 s on a path that
must stay fast.  Unlike pyroute2's ``IPRoute(netns=...)``, nothing here ever
creates a namespace by accident: only :func:`create` does.

A namespace is entered only by the calling thread and always left again in a
``finally``; sockets and files opened meanwhile stay bound to it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def _is_namespace(target: str) -> bool:
    """A real namespace file is an nsfs bind mount: its device differs from /run's.

    A plain file with the same device is what a ``create`` killed between making
    the file and mounting it leaves behind (setns on it fails with EINVAL).
    """
    try:
        return os.stat(target).st_dev != os.stat(os.path.dirname(target)).st_dev
    except FileNotFoundError:
        return False


def exists(name: str) -> bool:
    return not name or _is_namespace(path(name))


def open_fd(name: str) -> int:
    """An fd of namespace ``name`` ("" = the caller's current namespace)."""
    return os.open(path(name) if name else "/proc/thread-self/ns/net", os.O_RDONLY)


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with this thread inside ``name`` ("" = stay where we are)."""
    if not name:
        yield
        return
    target = os.open(path(name), os.O_RDONLY)   # FileNotFoundError when missing
    origin = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(origin)
    finally:
        os.close(target)
        os.close(origin)


def _prepare_run_dir() -> None:
    # Same as iproute2: /run/netns must be a shared mount so the namespace
    # mounts propagate to every mount namespace (podman, systemd units).
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    ok = _libc.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None)
    if ok != 0 and ctypes.get_errno() == 22:   # EINVAL: not a mount point yet
        _check(_libc.mount(NETNS_RUN_DIR.encode(), NETNS_RUN_DIR.encode(), b"none",
                           MS_BIND | MS_REC, None), "bind-mount /run/netns")
        _check(_libc.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None),
               "make /run/netns shared")


def create(name: str) -> None:
    """Create ``/run/netns/NAME`` (EEXIST when it already exists)."""
    _prepare_run_dir()
    target = path(name)
    if os.path.exists(target) and not _is_namespace(target):
        os.unlink(target)   # left by a create that was killed before its mount
    fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    origin = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            try:
                _check(_libc.mount(b"/proc/thread-self/ns/net", target.encode(), b"none",
                                   MS_BIND, None), f"bind-mount {target}")
            finally:
                _setns(origin)
        except OSError:
            os.unlink(target)
            raise
    finally:
        os.close(origin)


def delete(name: str) -> None:
    """Unmount and remove ``/run/netns/NAME``; missing is fine."""
    target = path(name)
    if not os.path.exists(target):
        return
    _libc.umount2(target.encode(), MNT_DETACH)
    with suppress(FileNotFoundError):
        os.unlink(target)


def list_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []
