"""Real adapters: the daemon's ports bound to the netlink, FRR/podman and k8s packages.

Composition only: each adapter hands the call to the package that owns the
behaviour (netlink talks netlink, :class:`evpn_boot.frr.service.FrrService` is
FRR's health, restart and release policy, k8s talks to the API), passing the
daemon's clock so every wait inside goes through its pulse.  Imports are local
so ``evpn-boot run --help`` stays fast and a missing optional piece fails with a
message naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Optional

from evpn_boot.clock import Clock
from evpn_boot.config.model import Config
from evpn_boot.daemon.ports import (
    ConvergeReport,
    DriftWatch,
    FrrRuntime,
    Handoff,
    NodeHealthReport,
    Notifier,
    Target,
)
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import ErrorKind, EvpnBootError

# ------------------------------------------------------------------- dataplane


class NetlinkDataplane:
    """Dataplane onto :mod:`evpn_boot.netlink.engine` (observe, plan, apply, verify)."""

    def __init__(self, clock: Optional[Clock] = None) -> None:
        self.clock = clock      # waits for the run lock

    def preflight(self, desired: DesiredState) -> None:
        # The engine's converge runs the same checks under its lock; running them
        # first, alone, is what lets the daemon say "preflight failed" (exit 1)
        # before anything is touched.
        from evpn_boot.netlink import engine, preflight
        from evpn_boot.plan import diff
        from evpn_boot.state import store
        ownership = store.load(desired.runtime.state_dir)
        observed = engine.observe(desired, ownership)
        preflight.check(desired, observed, ownership, diff.diff(desired, observed, ownership))

    def converge(self, desired: DesiredState) -> ConvergeReport:
        from evpn_boot.netlink import engine
        from evpn_boot.plan.render import counts_text
        result = engine.converge(desired, clock=self.clock)
        return ConvergeReport(result.operations, counts_text(result.changes))

    def watch(self, desired: DesiredState) -> Sequence[DriftWatch]:
        from evpn_boot.netlink import events
        try:
            return events.watch(desired)
        except OSError as exc:
            raise EvpnBootError(f"subscribe to netlink notifications in "
                                f"{desired.runtime.netns!r}/{desired.runtime.host_netns!r}: "
                                f"{exc}") from exc


def wait_for_devices(config: Config, pulse: Pulse, notifier: Notifier) -> None:
    """Wait (bounded) for the interfaces ``config`` needs (:mod:`daemon.devices`).

    Returns early when a stop was requested: the next phase sees it.
    """
    from evpn_boot.config.underlay import optional_nics
    from evpn_boot.daemon import devices
    from evpn_boot.netlink.arrival import Arrivals, Awaited
    wanted = [Awaited(name, role, ipv4) for name, role, ipv4 in devices.awaited_names(config)]
    rt = config.runtime
    try:
        watch = Arrivals(rt.host_netns, rt.netns, wanted)
    except OSError as exc:
        raise EvpnBootError(f"cannot open host network namespace {rt.host_netns!r}: {exc}",
                            kind=ErrorKind.PREFLIGHT) from exc
    try:
        devices.await_devices(watch, pulse, notifier, rt.device_timeout_s,
                              optional=optional_nics(config.underlay, config.readiness.require))
    finally:
        watch.close()


# ------------------------------------------------------------------------- FRR


def frr_service(clock: Clock) -> FrrRuntime:
    """The FRR port: :class:`evpn_boot.frr.service.FrrService`, waiting on ``clock``."""
    from evpn_boot.frr.service import FrrService
    return FrrService(clock=clock)


# --------------------------------------------------------------------- handoff


class K8sHandoff:
    """Handoff onto :class:`evpn_boot.k8s.controller.HandoffController`."""

    def __init__(self, target: Target, release: Callable[[], None], clock: Clock, *,
                 released: bool = False) -> None:
        from evpn_boot.k8s.controller import HandoffController, controller_for, identity_for
        from evpn_boot.k8s.handoff import Phase
        controller: Optional[HandoffController]
        if released:
            # Released earlier in this boot: only re-assert state=released.
            d = target.desired
            controller = HandoffController(
                identity_for(d.node.name, target.digest, d.runtime.netns, d.node.index),
                _Hook(release), kubeconfig_path=target.config.handoff.kubeconfig,
                phase=Phase.MARKING_RELEASED)
        else:
            controller = controller_for(True, target.config.handoff.kubeconfig, target.desired,
                                        target.digest, _Hook(release))
        assert controller is not None
        self.controller = controller
        self.clock = clock
        self._due: Optional[float] = 0.0

    @property
    def interval(self) -> float:
        if self._due is None:
            return 3600.0
        return max(0.0, self._due - self.clock.monotonic())

    def step(self) -> bool:
        self._due = self.controller.step(self.clock.monotonic())
        return self.controller.done


class _Hook:
    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    def on_release(self) -> None:
        self._release()


class K8sHandoffFactory:
    """The HandoffFactory for the real daemon; its handoffs read time from ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(self, target: Target, release: Callable[[], None], *,
                 released: bool = False) -> Optional[Handoff]:
        return K8sHandoff(target, release, self.clock, released=released)


class K8sBootGate:
    """BootGate onto :func:`evpn_boot.k8s.boot_gate.close_gate` (waits through ``clock``)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def close(self, target: Target) -> tuple[bool, str]:
        from evpn_boot.k8s.boot_gate import close_gate
        from evpn_boot.k8s.controller import identity_for
        d = target.desired
        node = identity_for(d.node.name, target.digest, d.runtime.netns, d.node.index)
        outcome = close_gate(node.node_name, node.node_index, clock=self.clock,
                             timeout=target.config.handoff.gate_timeout_s,
                             kubeconfig_path=target.config.handoff.kubeconfig)
        return outcome.closed, outcome.message


# ------------------------------------------------------------------ node health


class K8sHealth:
    """NodeHealthReport onto :class:`evpn_boot.k8s.health.HealthReporter`."""

    def __init__(self, target: Target, clock: Clock) -> None:
        from evpn_boot.k8s.health import HealthReporter
        cfg = target.config
        self.clock = clock
        self.reporter = HealthReporter(
            target.desired.node.name, kubeconfig_path=cfg.handoff.kubeconfig,
            taint=cfg.health.taint, taint_kubeconfig=cfg.health.taint_kubeconfig)
        self._due: Optional[float] = None

    def update(self, healthy: bool, reason: str, message: str) -> None:
        from evpn_boot.k8s.health import NodeHealth
        now = self.clock.monotonic()
        self.reporter.update(NodeHealth(healthy, reason, message), now)
        self._due = now if self.reporter.pending else None

    @property
    def interval(self) -> Optional[float]:
        if self._due is None:
            return None
        return max(0.0, self._due - self.clock.monotonic())

    def step(self) -> None:
        self._due = self.reporter.step(self.clock.monotonic())


class K8sHealthFactory:
    """The HealthFactory of the real daemon: None when ``[health] condition = false``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(self, target: Target) -> Optional[NodeHealthReport]:
        if not target.config.health.condition:
            return None
        return K8sHealth(target, self.clock)


# ---------------------------------------------------------------- release ledger


class RunDirLedger:
    """ReleaseLedger onto :mod:`evpn_boot.state.release` (a file in ``runtime.run_dir``)."""

    def released(self, desired: DesiredState) -> Optional[str]:
        from evpn_boot.state import release
        return release.released_at(desired.runtime.run_dir)

    def record(self, target: Target) -> None:
        from datetime import datetime, timezone

        from evpn_boot.state import release
        rt = target.desired.runtime
        release.save(rt.run_dir, release.ReleaseRecord(
            released_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            netns=rt.netns, frr_container=rt.frr_container, config_digest=target.digest))
