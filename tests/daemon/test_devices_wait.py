"""The late-interface wait's logic, with fakes and virtual time (the netns tier runs it)."""

from __future__ import annotations

import contextlib
import os

import pytest

from evpn_boot.daemon.devices import await_devices, can_go_without
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.errors import PreflightError
from tests.daemon.fakes import FakeClock, FakeNotifier, FakeSignals


class _Missing:
    def __init__(self, text: str) -> None:
        self.text = text
        self.name = text.rsplit(maxsplit=1)[-1]

    def describe(self) -> str:
        return self.text


class FakeArrivals:
    """A pipe for the netlink socket; ``arrive()`` makes the NIC present."""

    def __init__(self, always: tuple[str, ...] = ()) -> None:
        self.r, self.w = os.pipe()
        self.present = False
        self.looks = 0
        self.always = always            # still missing after arrive()

    def fileno(self) -> int:
        return self.r

    def arrive(self) -> None:
        self.present = True
        os.write(self.w, b"x")

    def missing(self) -> list[_Missing]:
        self.looks += 1
        if self.present:
            os.set_blocking(self.r, False)
            with contextlib.suppress(BlockingIOError):
                os.read(self.r, 64)         # consumed, as Arrivals drains its socket
        gone = [_Missing(f"underlay NIC {n}") for n in self.always]
        return gone if self.present else [_Missing("underlay NIC eth1"), *gone]

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


def _setup(watchdog: float | None = None) -> tuple[FakeClock, FakeNotifier, FakeSignals, Pulse]:
    clock = FakeClock()
    notifier = FakeNotifier(watchdog, clock)
    signals = FakeSignals()
    return clock, notifier, signals, Pulse(clock, notifier, signals)


def test_waits_on_the_event_and_keeps_the_watchdog_and_start_timeout_fed() -> None:
    clock, notifier, signals, pulse = _setup(watchdog=2.0)
    watch = FakeArrivals()
    clock.at(25.0, watch.arrive)
    try:
        assert await_devices(watch, pulse, notifier, 90.0) is True
    finally:
        watch.close()
        signals.close()
    assert clock.elapsed() == pytest.approx(25.0)
    assert notifier.statuses() == ["waiting for underlay NIC eth1"]
    extends = [m for m in notifier.messages if "EXTEND_TIMEOUT_USEC" in m]
    assert len(extends) == 3                     # at 0, 10 and 20 s
    assert int(extends[0]["EXTEND_TIMEOUT_USEC"]) == 120 * 10**6   # 90 s + margin
    pings = [t for t, m in zip(notifier.times, notifier.messages) if "WATCHDOG" in m]
    assert max(b - a for a, b in zip(pings, pings[1:])) <= 2.0
    assert watch.looks < 40                      # woken by time and the event, no spinning


def test_fails_after_the_timeout_naming_the_interface() -> None:
    clock, notifier, signals, pulse = _setup()
    watch = FakeArrivals()
    try:
        with pytest.raises(PreflightError, match="underlay NIC eth1 did not appear within 3s"):
            await_devices(watch, pulse, notifier, 3.0)
    finally:
        watch.close()
        signals.close()
    assert clock.elapsed() == pytest.approx(3.0)


def test_stop_signal_ends_the_wait() -> None:
    clock, notifier, signals, pulse = _setup()
    watch = FakeArrivals()
    clock.at(4.0, lambda: signals.post(15))
    try:
        assert await_devices(watch, pulse, notifier, 90.0) is False
    finally:
        watch.close()
        signals.close()
    assert clock.elapsed() == pytest.approx(4.0)


def test_any_established_goes_on_after_the_timeout_without_one_uplink() -> None:
    clock, notifier, signals, pulse = _setup()
    watch = FakeArrivals(always=("eth2",))
    clock.at(1.0, watch.arrive)
    try:
        assert await_devices(watch, pulse, notifier, 5.0, optional=("eth1", "eth2")) is True
    finally:
        watch.close()
        signals.close()
    assert clock.elapsed() == pytest.approx(5.0)     # the whole timeout: eth2 had its chance
    assert notifier.statuses() == [
        "waiting for underlay NIC eth1, underlay NIC eth2",
        "waiting for underlay NIC eth2",
        "underlay NIC eth2 missing after 5s: going on with the other uplinks "
        "(readiness any-established); moved in when it appears"]


def test_no_uplink_at_all_still_fails_under_any_established() -> None:
    _, notifier, signals, pulse = _setup()
    watch = FakeArrivals(always=("eth2",))
    try:
        with pytest.raises(PreflightError, match=r"(?s)eth1 did not appear.*eth2 did not"):
            await_devices(watch, pulse, notifier, 3.0, optional=("eth1", "eth2"))
    finally:
        watch.close()
        signals.close()


def test_can_go_without_needs_every_missing_one_optional() -> None:
    nic2, index = _Missing("underlay NIC eth2"), _Missing("index interface eth0")
    assert can_go_without([nic2], ("eth1", "eth2"))
    assert not can_go_without([nic2, index], ("eth1", "eth2"))
    assert not can_go_without([nic2], ())                 # single-homed / all-established
    assert not can_go_without([], ("eth1", "eth2"))
