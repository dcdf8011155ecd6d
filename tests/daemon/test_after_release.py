"""The release is remembered for the boot: unit tests with fakes, and the record file."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest

from evpn_boot.daemon.ports import Handoff, Ports, Target
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.supervise import run_daemon
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import EvpnBootError
from evpn_boot.state import release
from tests.daemon.fakes import (
    FakeClock,
    FakeDataplane,
    FakeFrr,
    FakeHandoff,
    FakeNotifier,
    FakeSignals,
    make_target,
)


class FakeLedger:
    def __init__(self, since: Optional[str] = None) -> None:
        self.since = since
        self.records: list[str] = []

    def released(self, desired: DesiredState) -> Optional[str]:
        return self.since

    def record(self, target: Target) -> None:
        self.records.append(target.digest)
        self.since = "2026-01-01T00:00:00+00:00"


class Rig:
    def __init__(self, ledger: FakeLedger, handoff_done_after: int = 1) -> None:
        self.clock = FakeClock()
        self.notifier = FakeNotifier(None, self.clock)
        self.dataplane = FakeDataplane(self.clock)
        self.frr = FakeFrr()
        self.signals = FakeSignals()
        self.ledger = ledger
        self.done_after = handoff_done_after
        self.handoffs: list[tuple[FakeHandoff, bool]] = []

    def factory(self, target: Target, release_: Callable[[], None], *,
                released: bool = False) -> Optional[Handoff]:
        made = FakeHandoff(release_, 1 if not released else 10**6, self.done_after)
        self.handoffs.append((made, released))
        return made

    def run(self) -> int:
        ports = Ports(dataplane=self.dataplane, notifier=self.notifier, clock=self.clock,
                      frr=self.frr, handoff=self.factory, ledger=self.ledger)
        pulse = Pulse(ports.clock, ports.notifier, self.signals)
        return run_daemon(ports, lambda: make_target("applied", handoff=True), pulse)


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.signals.close()
        rig.dataplane.close_all()


def test_release_is_recorded_after_frr_stopped(rigs: list[Rig]) -> None:
    rig = Rig(FakeLedger())
    rigs.append(rig)
    order: list[str] = []
    rig.frr.release = lambda desired: order.append("frr")  # type: ignore[method-assign]
    record = rig.ledger.record
    rig.ledger.record = lambda target: (order.append("record"), record(target))[1]  # type: ignore[method-assign]
    assert rig.run() == 0
    assert order == ["frr", "record"]


def test_restart_after_release_touches_nothing(rigs: list[Rig]) -> None:
    rig = Rig(FakeLedger("2026-01-01T00:00:00+00:00"), handoff_done_after=3)
    rigs.append(rig)
    assert rig.run() == 0
    assert rig.frr.ups == [] and rig.frr.released == 0
    assert rig.dataplane.converged == [] and rig.dataplane.preflighted == []
    assert rig.dataplane.watches == []
    assert [r for _, r in rig.handoffs] == [True]          # only re-asserts released
    assert rig.handoffs[0][0].steps == 3
    assert rig.notifier.kinds()[:2] == ["STATUS:validating configuration", "READY"]
    assert rig.notifier.statuses()[-1].startswith(
        "released to the in-cluster reconciler at 2026-01-01T00:00:00+00:00 (this boot)")


def test_restart_after_release_stops_on_sigterm(rigs: list[Rig]) -> None:
    rig = Rig(FakeLedger("2026-01-01T00:00:00+00:00"), handoff_done_after=10**6)
    rigs.append(rig)
    rig.clock.at(7, lambda: rig.signals.post(signal.SIGTERM))
    assert rig.run() == 0
    assert rig.frr.ups == [] and rig.dataplane.converged == []
    assert "STOPPING" in rig.notifier.kinds()


def test_record_round_trip_and_clear(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert release.load(run_dir) is None
    record = release.ReleaseRecord("2026-01-01T00:00:00+00:00", "perouter", "evpn-boot-frr",
                                   "sha256:ab")
    release.save(run_dir, record)
    assert release.load(run_dir) == record
    assert json.loads((run_dir / "released.json").read_text())["netns"] == "perouter"
    assert release.clear(run_dir) is True
    assert release.clear(run_dir) is False
    assert release.load(run_dir) is None


def test_unreadable_record_counts_as_released_with_a_way_out(tmp_path: Path) -> None:
    tmp_path.joinpath("released.json").write_text("{not json")
    with pytest.raises(EvpnBootError, match="evpn-boot teardown"):
        release.load(tmp_path)
