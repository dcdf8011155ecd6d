"""sd_notify: tell the service manager about readiness, status, reloads and liveness.

Uses ``systemd.daemon.notify`` (libsystemd's ``sd_notify``) when the
``systemd-python`` module is installed, and otherwise speaks the protocol
itself: one ``KEY=VALUE\\n`` datagram to the ``AF_UNIX`` socket named by
``NOTIFY_SOCKET`` (a leading ``@`` means the Linux abstract namespace).

``NOTIFY_SOCKET`` is taken out of the process environment when the notifier is
created, so the children evpn-boot starts (podman, conmon, FRR) cannot report
readiness on the service's behalf: podman's default ``--sdnotify=conmon`` would
otherwise send its own ``READY=1``/``MAINPID=`` for the container.  libsystemd
reads the variable on every call, so it is put back for the duration of each
call only (the daemon is single-threaded around notifications).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, MutableMapping
from typing import Callable, Optional

log = logging.getLogger(__name__)

#: Sends one notification payload; returns whether it was delivered.
Sender = Callable[[str], bool]

_env_lock = threading.Lock()


def _monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def socket_address(value: str) -> str:
    """``NOTIFY_SOCKET`` as a socket address: ``@name`` is the abstract ``\\0name``."""
    if value.startswith("@"):
        return "\0" + value[1:]
    return value


def datagram_sender(address: str) -> Sender:
    """The plain-protocol sender: one datagram per message to ``address``."""
    target = socket_address(address)

    def send(payload: str) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload.encode("utf-8"), target)
        except OSError as exc:
            log.debug("sd_notify to %s failed: %s", address, exc)
            return False
        return True

    return send


def libsystemd_sender(address: str) -> Optional[Sender]:
    """A sender through ``systemd.daemon.notify``, or None when the module is absent.

    libsystemd reads ``NOTIFY_SOCKET`` from the C environment, which only
    ``os.environ`` writes through to.
    """
    try:
        from systemd.daemon import notify as sd_notify
    except ImportError:
        return None

    environ = os.environ

    def send(payload: str) -> bool:
        with _env_lock:
            previous = environ.get("NOTIFY_SOCKET")
            environ["NOTIFY_SOCKET"] = address
            try:
                return bool(sd_notify(payload))
            finally:
                if previous is None:
                    del environ["NOTIFY_SOCKET"]
                else:
                    environ["NOTIFY_SOCKET"] = previous

    return send


class Notifier:
    """What the daemon tells systemd.  Every method is a no-op outside systemd."""

    def __init__(self, sender: Optional[Sender], *, watchdog_usec: Optional[int] = None) -> None:
        self._sender = sender
        self._watchdog_usec = watchdog_usec

    @classmethod
    def from_environment(cls, environ: Optional[MutableMapping[str, str]] = None, *,
                         prefer_libsystemd: bool = True) -> Notifier:
        """Read (and remove) ``NOTIFY_SOCKET``/``WATCHDOG_*`` from the environment."""
        env: MutableMapping[str, str] = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", "")
        watchdog = watchdog_usec(env, os.getpid())
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if not address:
            return cls(None, watchdog_usec=watchdog)
        sender = libsystemd_sender(address) if prefer_libsystemd else None
        return cls(sender or datagram_sender(address), watchdog_usec=watchdog)

    @property
    def enabled(self) -> bool:
        return self._sender is not None

    @property
    def watchdog_interval(self) -> Optional[float]:
        """Seconds between ``WATCHDOG=1`` pings (a quarter of ``WatchdogSec=``), or None.

        A quarter, so that a ping delayed by up to one more interval (a slice of
        a subprocess, a netlink pass) still leaves half of ``WatchdogSec=`` spare.
        """
        if self._watchdog_usec is None or self._sender is None:
            return None
        return self._watchdog_usec / 4 / 1_000_000

    def send(self, *fields: tuple[str, str]) -> bool:
        """Send ``KEY=VALUE`` fields in one message; newlines in values are flattened."""
        if self._sender is None:
            return False
        payload = "\n".join(f"{k}={v.replace(chr(10), ' ')}" for k, v in fields)
        return self._sender(payload)

    def status(self, text: str) -> None:
        self.send(("STATUS", text))

    def ready(self, status: Optional[str] = None) -> None:
        fields = [("READY", "1")]
        if status is not None:
            fields.append(("STATUS", status))
        self.send(*fields)

    def reloading(self, status: str = "reloading configuration") -> None:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the
        # reload to this request; older versions ignore the field.
        self.send(("RELOADING", "1"), ("MONOTONIC_USEC", str(_monotonic_usec())),
                  ("STATUS", status))

    def stopping(self, status: str = "stopping") -> None:
        self.send(("STOPPING", "1"), ("STATUS", status))

    def extend_timeout(self, seconds: float) -> None:
        """Ask for ``seconds`` more before systemd's start/stop timeout fires."""
        self.send(("EXTEND_TIMEOUT_USEC", str(int(seconds * 1_000_000))))

    def watchdog(self) -> None:
        self.send(("WATCHDOG", "1"))


def watchdog_usec(environ: Mapping[str, str], pid: int) -> Optional[int]:
    """``WATCHDOG_USEC`` when it is meant for ``pid`` (``WATCHDOG_PID`` absent or equal)."""
    raw = environ.get("WATCHDOG_USEC", "")
    if not raw:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner:
        try:
            if int(owner) != pid:
                return None
        except ValueError:
            return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring malformed WATCHDOG_USEC=%r", raw)
        return None
    return usec if usec > 0 else None
