"""The running service's last reported status, for ``evpn-boot status``.

systemd keeps the STATUS= line, but ``evpn-boot status`` must not depend on
systemd (it also runs where evpn-boot is started by hand, in a container, or
inspected after the service stopped).  So every status the daemon reports is
also written to ``<run_dir>/service.json``: the phase text, whether READY=1 was
sent, and whether readiness was degraded (the condition not met in time).
Written atomically (temp file, rename); readers tolerate its absence.
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from evpn_boot import fsutil
from evpn_boot.state import atomic, store

SERVICE_FILE = "service.json"


class ServiceState(enum.Enum):
    """What ``evpn-boot status`` calls the service.

    ``ready`` and ``degraded`` also head the daemon's STATUS= lines (``degraded:
    FRR restart failed: ...``): :meth:`line` writes such a line and
    :meth:`heading` reads it back, so the words live here only.
    """

    UNKNOWN = "unknown"        # no record: ``run`` has not run this boot
    STARTING = "starting"      # running, READY=1 not sent yet
    READY = "ready"
    DEGRADED = "degraded"      # READY=1 sent, but the readiness condition was not met
    STOPPED = "stopped"        # the recorded process is gone

    def line(self, text: str) -> str:
        """A STATUS= line headed by this state."""
        return f"{self.value}: {text}"

    @classmethod
    def heading(cls, line: str) -> Optional[ServiceState]:
        """The state a STATUS= line is headed by, if any."""
        head = line.split(":", 1)[0]
        return next((state for state in cls if state.value == head), None)


@dataclass(frozen=True)
class ServiceStatus:
    pid: int
    status: str
    ready: bool
    degraded: bool
    updated: float          # time.time()

    @classmethod
    def from_dict(cls, data: Any) -> ServiceStatus:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls(pid=int(data["pid"]), status=str(data["status"]), ready=bool(data["ready"]),
                   degraded=bool(data["degraded"]), updated=float(data["updated"]))

    @property
    def running(self) -> bool:
        return Path(f"/proc/{self.pid}").exists()

    @property
    def state(self) -> ServiceState:
        if not self.running:
            return ServiceState.STOPPED
        if self.ready:
            return ServiceState.DEGRADED if self.degraded else ServiceState.READY
        return ServiceState.STARTING


def save(run_dir: Path, status: ServiceStatus) -> None:
    """Best effort: a status that cannot be written must not stop the service.

    Not fsynced: it changes with every status and is only for people.
    """
    with contextlib.suppress(OSError, fsutil.UnsafePathError):
        atomic.write_json(run_dir / SERVICE_FILE, asdict(status), mode=0o644, dir_mode=0o700,
                          durable=False)


def load(run_dir: Path) -> Optional[ServiceStatus]:
    try:
        data = store.read_record(run_dir / SERVICE_FILE)   # no symlink, ours, in a checked dir
        return None if data is None else ServiceStatus.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def now() -> float:
    return time.time()
