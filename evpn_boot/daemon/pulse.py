"""Waiting, signals and the watchdog: what every phase of the daemon shares.

All blocking goes through :meth:`Pulse.wait`, so a SIGTERM or SIGHUP is taken
in any phase (the signal handler writes to a wakeup fd that is part of every
wait) and the watchdog is pinged on time whatever the phase is doing.  The
Pulse is itself a :class:`~evpn_boot.clock.Clock`: the daemon hands it to the
adapters, so a podman call, ``frr-reload.py``, the FRR start poll or the run
lock wait through it too (see :mod:`evpn_boot.command`).
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Sequence
from typing import Optional, Protocol

from evpn_boot.clock import Clock
from evpn_boot.daemon.ports import Notifier

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNALS = (signal.SIGHUP,)


class Signals(Protocol):
    """Signals delivered to the process, readable as an fd."""

    def fileno(self) -> int: ...

    def take(self) -> list[int]:
        """The signal numbers received since the last call (non-blocking)."""
        ...


class SignalInbox:
    """Real signals: handlers are no-ops; ``signal.set_wakeup_fd`` carries the numbers.

    The wakeup fd receives one byte (the signal number) per signal, written by
    the interpreter's C-level handler, so nothing is lost between two waits.
    """

    def __init__(self, signums: Sequence[int] = (*STOP_SIGNALS, *RELOAD_SIGNALS)) -> None:
        self._rx, self._tx = socket.socketpair()
        self._rx.setblocking(False)
        self._tx.setblocking(False)
        self._previous = {s: signal.signal(s, self._noop) for s in signums}
        self._old_wakeup = signal.set_wakeup_fd(self._tx.fileno(), warn_on_full_buffer=False)

    @staticmethod
    def _noop(signum: int, frame: object) -> None:
        """The number arrives through the wakeup fd; nothing to do here."""

    def fileno(self) -> int:
        return self._rx.fileno()

    def take(self) -> list[int]:
        out: list[int] = []
        while True:
            try:
                data = self._rx.recv(256)
            except BlockingIOError:
                return out
            if not data:
                return out
            out.extend(data)

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._rx.close()
        self._tx.close()


class Pulse:
    """One place to wait: wakes for fds, signals and watchdog pings."""

    def __init__(self, clock: Clock, notifier: Notifier, signals: Signals) -> None:
        self.clock = clock
        self.notifier = notifier
        self.signals = signals
        self.stop_requested = False
        self.reload_requested = False
        interval = notifier.watchdog_interval
        self._watchdog_every = interval
        self._next_watchdog: Optional[float] = (
            clock.monotonic() if interval is not None else None)

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def watchdog_due(self) -> None:
        """Ping the watchdog when its time has come (call often)."""
        if self._next_watchdog is None or self._watchdog_every is None:
            return
        now = self.clock.monotonic()
        if now >= self._next_watchdog:
            self.notifier.watchdog()
            self._next_watchdog = now + self._watchdog_every

    def _absorb(self, signums: list[int]) -> None:
        for signum in signums:
            if signum in STOP_SIGNALS:
                log.info("received %s: stopping", signal.Signals(signum).name)
                self.stop_requested = True
            elif signum in RELOAD_SIGNALS:
                log.info("received SIGHUP: reloading the configuration")
                self.reload_requested = True

    def poll(self) -> None:
        """Take pending signals without blocking."""
        self._absorb(self.signals.take())
        self.watchdog_due()

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        """Wait for ``fds`` (or a signal, or ``timeout``); returns the readable ``fds``.

        Returns early, with no fds, when a signal arrived: callers check
        :attr:`stop_requested` / :attr:`reload_requested`.
        """
        if self._next_watchdog is not None:
            until_ping = max(0.0, self._next_watchdog - self.clock.monotonic())
            timeout = until_ping if timeout is None else min(timeout, until_ping)
        sigfd = self.signals.fileno()
        ready = self.clock.wait([*fds, sigfd], None if timeout is None else max(0.0, timeout))
        if sigfd in ready:
            self._absorb(self.signals.take())
        self.watchdog_due()
        return [fd for fd in ready if fd != sigfd]
