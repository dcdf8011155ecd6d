"""A Notifier that also records every status in ``<run_dir>/service.json``.

It wraps the systemd notifier, so the daemon reports each status once and both
systemd (STATUS=, READY=1) and ``evpn-boot status`` see the same text.  The
run directory is known only once the configuration is loaded: until
:meth:`RecordingNotifier.bind` is called nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from evpn_boot.daemon.ports import Notifier
from evpn_boot.state import service
from evpn_boot.state.service import ServiceState


class RecordingNotifier:
    def __init__(self, inner: Notifier) -> None:
        self.inner = inner
        self.run_dir: Optional[Path] = None
        self._ready = False
        self._degraded = False
        self._last = ""

    def bind(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._record(self._last)

    def _record(self, text: str) -> None:
        self._last = text
        if self.run_dir is not None and text:
            service.save(self.run_dir, service.ServiceStatus(
                pid=os.getpid(), status=text, ready=self._ready, degraded=self._degraded,
                updated=service.now()))

    @property
    def watchdog_interval(self) -> Optional[float]:
        return self.inner.watchdog_interval

    def status(self, text: str) -> None:
        self.inner.status(text)
        self._record(text)

    def ready(self, status: Optional[str] = None) -> None:
        self.inner.ready(status)
        self._ready = True
        if status is not None:
            self._degraded = ServiceState.heading(status) is ServiceState.DEGRADED
        self._record(status or self._last)

    def reloading(self, status: str = "reloading configuration") -> None:
        self.inner.reloading(status)
        self._record(status)

    def stopping(self, status: str = "stopping") -> None:
        self.inner.stopping(status)
        self._record(status)

    def extend_timeout(self, seconds: float) -> None:
        self.inner.extend_timeout(seconds)

    def watchdog(self) -> None:
        self.inner.watchdog()
