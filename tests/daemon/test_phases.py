"""Unit tests of the daemon's phase logic, with fakes and virtual time (no root)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

from evpn_boot.daemon.ports import Ports, Target
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.service import Options
from evpn_boot.daemon.supervise import run_daemon
from evpn_boot.errors import ConfigError, EvpnBootError, PreflightError
from tests.daemon.fakes import (
    FakeClock,
    FakeDataplane,
    FakeFrr,
    FakeHandoff,
    FakeNotifier,
    FakeSignals,
    make_target,
)


@dataclass
class Rig:
    clock: FakeClock
    notifier: FakeNotifier
    dataplane: FakeDataplane
    frr: Optional[FakeFrr]
    signals: FakeSignals
    targets: list[Target]          # what successive loads return (last one repeats)
    handoff_after: Optional[int] = None
    handoff_done_after: Optional[int] = None
    handoffs: Optional[list[FakeHandoff]] = None

    def loader(self) -> Target:
        item = self.targets[0] if len(self.targets) == 1 else self.targets.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def run(self, options: Optional[Options] = None) -> int:
        handoffs: list[FakeHandoff] = []
        self.handoffs = handoffs

        def factory(target: Target, release: Callable[[], None]) -> FakeHandoff:
            made = FakeHandoff(release, self.handoff_after or 1, self.handoff_done_after)
            handoffs.append(made)
            return made

        ports = Ports(dataplane=self.dataplane, notifier=self.notifier, clock=self.clock,
                      frr=self.frr, handoff=factory if self.handoff_after else None)
        pulse = Pulse(self.clock, self.notifier, self.signals)
        return run_daemon(ports, self.loader, pulse, options)

    def at(self, when: float, action: Callable[[], None]) -> None:
        self.clock.at(when, action)

    def stop_at(self, when: float) -> None:
        self.at(when, lambda: self.signals.post(signal.SIGTERM))


def _rig(target: Target, *, frr: bool = False, watchdog: Optional[float] = None) -> Rig:
    clock = FakeClock()
    return Rig(clock, FakeNotifier(watchdog, clock), FakeDataplane(clock),
               FakeFrr() if frr else None, FakeSignals(), [target])


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.signals.close()
        rig.dataplane.close_all()


@pytest.fixture
def rig_for(rigs: list[Rig]) -> Callable[..., Rig]:
    def make(target: Target, **kw: object) -> Rig:
        rig = _rig(target, **kw)  # type: ignore[arg-type]
        rigs.append(rig)
        return rig
    return make


def test_applied_sequence_without_frr(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied"))
    rig.stop_at(30)
    assert rig.run() == 0
    assert rig.notifier.kinds() == [
        "STATUS:validating configuration",
        "STATUS:preflight checks",
        "STATUS:applying dataplane (2 L2 VNIs, 0 L3 VNIs)",
        "READY",
        "STOPPING",
    ]
    ready = next(m for m in rig.notifier.messages if "READY" in m)
    assert ready["STATUS"] == ("ready: dataplane converged (5 operations, 2 L2 VNIs, 0 L3 VNIs), "
                               "FRR not managed (--no-frr), readiness applied")
    assert rig.notifier.messages[-1]["STATUS"] == "stopping: dataplane and FRR left in place"
    assert len(rig.dataplane.converged) == 1      # no drift: no repair pass
    assert all(w.closed for w in rig.dataplane.watches)


def test_ready_withheld_until_a_session_is_established(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("any-established", timeout=120), frr=True)
    assert rig.frr is not None
    frr = rig.frr
    rig.at(7.5, lambda: setattr(frr, "state", {"192.168.11.2": "Established"}))
    rig.stop_at(60)
    assert rig.run() == 0
    kinds = rig.notifier.kinds()
    assert kinds[:6] == [
        "STATUS:validating configuration",
        "STATUS:preflight checks",
        "STATUS:applying dataplane (2 L2 VNIs, 0 L3 VNIs)",
        "STATUS:starting FRR",
        "STATUS:waiting for BGP: any-established, up to 120s (1 underlay neighbors)",
        "STATUS:waiting for BGP: readiness any-established: 0/1 underlay sessions Established",
    ]
    assert kinds[6] == "READY"
    ready_at = rig.notifier.times[rig.notifier.messages.index(
        next(m for m in rig.notifier.messages if "READY" in m))]
    assert 7.5 <= ready_at <= 8.6
    ready = next(m for m in rig.notifier.messages if "READY" in m)
    assert ready["STATUS"].startswith("ready: ")
    assert "FRR started" in ready["STATUS"]
    assert "1/1 underlay sessions Established" in ready["STATUS"]
    extends = [m for m in rig.notifier.messages if "EXTEND_TIMEOUT_USEC" in m]
    assert extends, "no EXTEND_TIMEOUT_USEC during the wait"
    assert int(extends[-1]["EXTEND_TIMEOUT_USEC"]) > 100 * 1_000_000


def test_degraded_ready_after_timeout_then_recovers(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("all-established", timeout=20), frr=True)
    assert rig.frr is not None
    frr = rig.frr
    frr.state = {"192.168.11.2": "Active"}
    rig.at(40, lambda: setattr(frr, "state", {"192.168.11.2": "Established"}))
    rig.stop_at(60)
    assert rig.run() == 0
    msgs = rig.notifier.messages
    i = next(i for i, m in enumerate(msgs) if "READY" in m)
    assert 20 <= rig.notifier.times[i] <= 21.1
    assert msgs[i]["STATUS"].startswith("degraded: ")
    assert "not met after 20s; ready anyway" in msgs[i]["STATUS"]
    later = [m["STATUS"] for m in msgs[i + 1:] if "STATUS" in m and "STOPPING" not in m]
    assert later and later[-1].startswith("ready: ")
    assert "1/1 underlay sessions Established" in later[-1]


def test_drift_is_repaired_on_the_event(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied"))
    rig.at(10, lambda: rig.dataplane.drift(ops=2))
    rig.stop_at(400)
    assert rig.run() == 0
    times = [t for t, _ in rig.dataplane.converged]
    assert times[0] == 0
    # Repaired one debounce after the event; then the 300 s safety resync.
    assert 10 <= times[1] <= 10.1
    assert len(times) == 3 and 310 <= times[2] <= 311


def test_failed_repair_backs_off_and_reports(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied"))

    def drift_that_fails() -> None:
        rig.dataplane.failures_left = 3
        rig.dataplane.drift()

    rig.at(10, drift_that_fails)
    rig.stop_at(30)
    assert rig.run() == 0
    times = [round(t, 2) for t, _ in rig.dataplane.converged]
    assert times == [0, 10.02, 11.02, 13.02, 17.02]     # 1, 2, 4 s back-off
    statuses = rig.notifier.statuses()
    failed = "degraded: dataplane repair failed: apply link vni110"
    assert any(s.startswith(failed) for s in statuses)
    assert statuses[-2].startswith("ready: ")          # restored before STOPPING


def test_sighup_with_bad_config_keeps_the_running_one(rig_for: Callable[..., Rig]) -> None:
    good = make_target("applied")
    rig = rig_for(good)
    bad = ConfigError("test.toml", ["l2vni[0].vni (line 3): must be >= 1", "x: y"])
    rig.targets = [good, bad]   # type: ignore[list-item]
    rig.at(5, lambda: rig.signals.post(signal.SIGHUP))
    rig.stop_at(10)
    assert rig.run() == 0
    assert rig.notifier.kinds()[3:] == ["READY", "RELOADING", "READY", "STOPPING"]
    rejected = [m for m in rig.notifier.messages if "READY" in m][1]["STATUS"]
    assert rejected == (f"reload rejected: test.toml: l2vni[0].vni (line 3): must be >= 1 "
                        f"(+1 more); running configuration {good.digest} kept")
    assert [d for _, d in rig.dataplane.converged] == [good.desired]


def test_sighup_with_new_config_applies_it(rig_for: Callable[..., Rig]) -> None:
    old, new = make_target("applied"), make_target("applied", extra_vni=130)
    rig = rig_for(old, frr=True)
    rig.targets = [old, new]

    def hup() -> None:
        rig.dataplane.pending_ops = 2
        rig.signals.post(signal.SIGHUP)

    rig.at(5, hup)
    rig.at(8, rig.dataplane.drift)
    rig.stop_at(10)
    assert rig.run() == 0
    assert [d for _, d in rig.dataplane.converged][:2] == [old.desired, new.desired]
    assert rig.dataplane.converged[2][1] == new.desired      # drift repaired against the new one
    assert rig.frr is not None and rig.frr.ups == [old.desired, new.desired]
    ready = [m for m in rig.notifier.messages if "READY" in m][1]["STATUS"]
    assert ready.startswith("ready: dataplane converged (2 operations, 3 L2 VNIs")
    assert "FRR reloaded" in ready


def test_reload_that_fails_to_apply_restores_the_old_config(rig_for: Callable[..., Rig]) -> None:
    old, new = make_target("applied"), make_target("applied", extra_vni=130)
    rig = rig_for(old)
    rig.targets = [old, new]

    def hup() -> None:
        rig.dataplane.failures_left = 1
        rig.signals.post(signal.SIGHUP)

    rig.at(5, hup)
    rig.stop_at(10)
    assert rig.run() == 0
    assert [d for _, d in rig.dataplane.converged] == [old.desired, new.desired, old.desired]
    status = [m for m in rig.notifier.messages if "READY" in m][1]["STATUS"]
    assert status.startswith("degraded: reload failed: apply link vni110")


def test_frr_death_is_repaired(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied"), frr=True)
    assert rig.frr is not None
    frr = rig.frr
    rig.at(12, lambda: setattr(frr, "broken", "container evpn-boot-frr is gone"))
    rig.stop_at(30)
    assert rig.run() == 0
    assert frr.restarts == 1
    assert "STATUS:restarting FRR: container evpn-boot-frr is gone" in rig.notifier.kinds()


def test_handoff_releases_frr_and_stops_supervising(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied", handoff=True), frr=True)
    rig.handoff_after = 3
    assert rig.run() == 0
    assert rig.frr is not None and rig.frr.released == 1
    assert rig.handoffs and rig.handoffs[0].steps == 3
    assert rig.notifier.statuses()[-1].startswith("released to the in-cluster reconciler")


def test_nothing_is_repaired_after_release(rig_for: Callable[..., Rig]) -> None:
    """Between releasing FRR and marking the Node released, FRR stays stopped."""
    rig = rig_for(make_target("applied", handoff=True), frr=True)
    assert rig.frr is not None
    frr = rig.frr
    rig.handoff_after, rig.handoff_done_after = 2, 20        # marking takes ~36 s of retries
    frr.release = lambda desired: setattr(frr, "broken", "container stopped")  # type: ignore[method-assign]
    rig.at(5, rig.dataplane.drift)
    rig.at(6, lambda: rig.signals.post(signal.SIGHUP))
    assert rig.run() == 0
    assert frr.restarts == 0
    assert len(rig.dataplane.converged) == 1
    assert "RELOADING" not in rig.notifier.kinds()


def test_handoff_disabled_in_config_is_not_built(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("applied", handoff=False))
    rig.handoff_after = 1
    rig.stop_at(5)
    assert rig.run() == 0
    assert rig.handoffs == []


def test_invalid_config_touches_nothing(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target())
    rig.targets = [ConfigError("test.toml", ["underlay.asn: required key is missing"])]  # type: ignore[list-item]
    with pytest.raises(ConfigError) as err:
        rig.run()
    assert err.value.exit_code == 2
    assert rig.dataplane.converged == [] and rig.dataplane.preflighted == []
    assert rig.notifier.statuses()[-1] == (
        "failed: test.toml: underlay.asn: required key is missing")


def test_preflight_failure_touches_nothing(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target())
    rig.dataplane.preflight_error = "underlay NIC 'eth1' not found in the host namespace"
    with pytest.raises(PreflightError) as err:
        rig.run()
    assert err.value.exit_code == 1
    assert rig.dataplane.converged == []
    assert rig.notifier.statuses()[-1].startswith("failed: underlay NIC 'eth1' not found")


def test_apply_failure_is_a_runtime_error(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target())
    rig.dataplane.failures_left = 1
    with pytest.raises(EvpnBootError) as err:
        rig.run()
    assert err.value.exit_code == 4
    assert not any("READY" in m for m in rig.notifier.messages)


def test_watchdog_pings_at_half_interval(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target(), watchdog=5.0)
    rig.stop_at(31)
    assert rig.run() == 0
    pings = [t for m, t in zip(rig.notifier.messages, rig.notifier.times) if "WATCHDOG" in m]
    assert pings[0] == 0
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert len(pings) >= 6 and all(g <= 5.0 + 1e-6 for g in gaps)


def test_sigterm_during_readiness_wait_never_sends_ready(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(make_target("any-established", timeout=120), frr=True)
    rig.stop_at(15)
    assert rig.run() == 0
    assert "READY" not in rig.notifier.kinds()
    assert rig.notifier.kinds()[-1] == "STOPPING"
    assert rig.clock.elapsed() < 17
