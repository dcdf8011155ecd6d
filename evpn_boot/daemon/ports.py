"""The daemon's view of the world: small protocols, one per effect.

Keeping these narrow is what lets the phase logic run under unit tests with
fakes (no root, no time passing) while the real adapters stay thin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

from evpn_boot.clock import Clock
from evpn_boot.config.model import Config
from evpn_boot.desired.model import DesiredState


@dataclass(frozen=True)
class Target:
    """One validated configuration and the desired state derived from it."""

    config: Config
    desired: DesiredState
    digest: str
    path: Path


#: Reads, validates and derives the configuration; raises ConfigError/PreflightError.
Loader = Callable[[], Target]


@dataclass(frozen=True)
class ConvergeReport:
    """What one apply + verify pass did."""

    operations: int                 # 0: the kernel already matched (adopted as is)
    summary: str = ""               # human-readable, e.g. "2 created, 1 modified"


class DriftWatch(Protocol):
    """Netlink notifications from one namespace; readable when something changed."""

    def fileno(self) -> int: ...

    def drain(self) -> bool:
        """Consume pending notifications; True when any may concern the desired state."""
        ...

    def close(self) -> None: ...


class Dataplane(Protocol):
    """The kernel side: netlink in the router and host namespaces."""

    def preflight(self, desired: DesiredState) -> None:
        """Raise PreflightError when this host cannot hold ``desired``; changes nothing."""
        ...

    def converge(self, desired: DesiredState) -> ConvergeReport:
        """Plan, apply and verify; raise EvpnBootError when it cannot."""
        ...

    def watch(self, desired: DesiredState) -> Sequence[DriftWatch]:
        """Subscribe to changes in every namespace ``desired`` touches."""
        ...


class FrrRuntime(Protocol):
    """FRR in its container in the router namespace (:class:`evpn_boot.frr.service.FrrService`)."""

    def up(self, desired: DesiredState) -> str:
        """Start FRR or reload it to ``desired``; what it did (an ``FrrAction``: "started" ...)."""
        ...

    def problem(self, desired: DesiredState) -> Optional[str]:
        """None when FRR is healthy, else what is wrong (container gone, daemon dead)."""
        ...

    def restart(self, desired: DesiredState) -> None: ...

    def sessions(self, desired: DesiredState) -> Mapping[str, str]:
        """Underlay neighbor address -> BGP state ("Established", "Active", ...)."""
        ...

    def release(self, desired: DesiredState) -> None:
        """Stop FRR gracefully for the handoff (graceful restart; kernel routes kept)."""
        ...


class Notifier(Protocol):
    """sd_notify (see :class:`evpn_boot.systemd.notify.Notifier`)."""

    @property
    def watchdog_interval(self) -> Optional[float]: ...

    def status(self, text: str) -> None: ...

    def ready(self, status: Optional[str] = None) -> None: ...

    def reloading(self, status: str = ...) -> None: ...

    def stopping(self, status: str = ...) -> None: ...

    def extend_timeout(self, seconds: float) -> None: ...

    def watchdog(self) -> None: ...


class Handoff(Protocol):
    """The in-cluster reconciler's handoff, stepped from the supervision loop."""

    @property
    def interval(self) -> float:
        """Seconds until the next :meth:`step` is wanted."""
        ...

    def step(self) -> bool:
        """Make progress (never blocks long); True once the node has been released."""
        ...


class HandoffFactory(Protocol):
    """Builds the handoff for a target; called with the callback that releases FRR.

    ``released=True``: the node was already released during this boot (see
    :class:`ReleaseLedger`); the handoff then only re-asserts that on the Node
    and never calls ``release``.
    """

    def __call__(self, target: Target, release: Callable[[], None], *,
                 released: bool = False) -> Optional[Handoff]: ...


class BootGate(Protocol):
    """Closes the gate that keeps OpenPERouter's pods off the node (before READY).

    Bounded: returns whether the gate is known closed and a line for the log;
    never raises for an unreachable API (:mod:`evpn_boot.k8s.boot_gate`).
    """

    def close(self, target: Target) -> tuple[bool, str]: ...


class ReleaseLedger(Protocol):
    """Remembers until the next reboot that the node was handed over."""

    def released(self, desired: DesiredState) -> Optional[str]:
        """None when not released during this boot, else when it was (for STATUS=)."""
        ...

    def record(self, target: Target) -> None:
        """Note the release; raise EvpnBootError when it cannot be written."""
        ...


class NodeHealthReport(Protocol):
    """The Node's EVPNReady condition and taint (:class:`evpn_boot.k8s.health.HealthReporter`)."""

    def update(self, healthy: bool, reason: str, message: str) -> None:
        """What the Node should say from now on (sent by :meth:`step`)."""
        ...

    @property
    def interval(self) -> Optional[float]:
        """Seconds until :meth:`step` is wanted; None while nothing is pending."""
        ...

    def step(self) -> None:
        """One bounded attempt to publish what is pending; never raises."""
        ...


#: Builds the health report for a target (None: ``[health] condition = false``).
HealthFactory = Callable[[Target], Optional[NodeHealthReport]]


class Metrics(Protocol):
    """The metrics file (:class:`evpn_boot.metrics.textfile.MetricsFile`)."""

    def bind(self, path: Optional[Path]) -> None: ...

    def set_phase(self, phase: str) -> None: ...

    def set_ready(self, degraded: bool) -> None: ...

    def set_degraded(self, degraded: bool) -> None: ...

    def set_sessions(self, sessions: Mapping[str, bool]) -> None: ...

    def repaired(self, seconds: float) -> None: ...

    def frr_restarted(self) -> None: ...


class NoMetrics:
    """Metrics that go nowhere (tests, and ``Ports`` built without a metrics file)."""

    def bind(self, path: Optional[Path]) -> None:
        """Nothing is ever written."""

    def set_phase(self, phase: str) -> None:
        """Dropped."""

    def set_ready(self, degraded: bool) -> None:
        """Dropped."""

    def set_degraded(self, degraded: bool) -> None:
        """Dropped."""

    def set_sessions(self, sessions: Mapping[str, bool]) -> None:
        """Dropped."""

    def repaired(self, seconds: float) -> None:
        """Dropped."""

    def frr_restarted(self) -> None:
        """Dropped."""


@dataclass
class Ports:
    """Everything the daemon talks to."""

    dataplane: Dataplane
    notifier: Notifier
    clock: Clock                                  # the raw clock; the Pulse wraps it
    frr: Optional[FrrRuntime] = None              # None: --no-frr (dataplane only)
    handoff: Optional[HandoffFactory] = None      # None: handoff disabled or unavailable
    ledger: Optional[ReleaseLedger] = None        # None: releases are not remembered
    gate: Optional[BootGate] = None               # None: no gate to close before READY
    health: Optional[HealthFactory] = None        # None: no Node condition/taint
    metrics: Metrics = field(default_factory=NoMetrics)
