"""What ``run`` exposes to Prometheus, rendered in the text exposition format (pure)
and written atomically for node_exporter's textfile collector.

node_exporter reads every ``*.prom`` file of its ``--collector.textfile.directory``
at each scrape; the file is replaced by rename (the temporary name ends in
``.tmp``, which the collector ignores), so a scrape never sees half a file.
Metrics are process-local: counters start at 0 with each ``run`` (Prometheus
handles the reset as a counter restart).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from evpn_boot.state import atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Values:
    """One snapshot of every metric."""

    phase: str = "validate"
    ready: bool = False
    degraded: bool = False
    #: underlay neighbor -> session Established
    sessions: Mapping[str, bool] = field(default_factory=dict)
    drift_repairs: int = 0
    last_repair_s: Optional[float] = None
    frr_restarts: int = 0


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(v: Values) -> str:
    """The exposition text of ``v`` (HELP and TYPE lines, one sample per line)."""
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    metric("evpn_boot_phase", "gauge", "The phase evpn-boot run is in (1 for the current one).",
           [(f'{{phase="{_label(v.phase)}"}}', 1)])
    metric("evpn_boot_ready", "gauge", "1 once READY=1 was sent to systemd.",
           [("", int(v.ready))])
    metric("evpn_boot_degraded", "gauge",
           "1 while the readiness condition does not hold (READY was sent degraded, or "
           "sessions went down later).", [("", int(v.degraded))])
    metric("evpn_boot_bgp_session_established", "gauge",
           "1 when the underlay BGP session to this neighbor is Established.",
           [(f'{{neighbor="{_label(n)}"}}', int(up)) for n, up in sorted(v.sessions.items())])
    metric("evpn_boot_drift_repairs_total", "counter",
           "Dataplane repairs that changed something, since this run started.",
           [("", v.drift_repairs)])
    if v.last_repair_s is not None:
        metric("evpn_boot_last_repair_seconds", "gauge",
               "Duration of the last dataplane repair that changed something.",
               [("", round(v.last_repair_s, 6))])
    metric("evpn_boot_frr_restarts_total", "counter",
           "FRR restarts by the health check, since this run started.", [("", v.frr_restarts)])
    return "\n".join(out) + "\n"


class MetricsFile:
    """The daemon's metrics; every change rewrites the file (when one is configured)."""

    def __init__(self) -> None:
        self.path: Optional[Path] = None
        self.values = Values()
        self._written = ""
        self._failed = False

    def bind(self, path: Optional[Path]) -> None:
        """Where to write (``[metrics] textfile``); None: nowhere."""
        self.path = path
        self._write()

    def set_phase(self, phase: str) -> None:
        self._set(replace(self.values, phase=phase))

    def set_ready(self, degraded: bool) -> None:
        self._set(replace(self.values, ready=True, degraded=degraded))

    def set_degraded(self, degraded: bool) -> None:
        self._set(replace(self.values, degraded=degraded))

    def set_sessions(self, sessions: Mapping[str, bool]) -> None:
        self._set(replace(self.values, sessions=dict(sessions)))

    def repaired(self, seconds: float) -> None:
        v = self.values
        self._set(replace(v, drift_repairs=v.drift_repairs + 1, last_repair_s=seconds))

    def frr_restarted(self) -> None:
        self._set(replace(self.values, frr_restarts=self.values.frr_restarts + 1))

    def _set(self, values: Values) -> None:
        if values != self.values:
            self.values = values
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        text = render(self.values)
        if text == self._written:
            return
        try:
            atomic.write_text(self.path, text, mode=0o644, dir_mode=0o755, durable=False)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write metrics file %s: %s (metrics.textfile)", self.path, exc)
            self._failed = True
            return
        self._failed = False
        self._written = text
