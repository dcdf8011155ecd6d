"""The late-interface wait's logic, with fakes and virtual time (the netns tier runs it)."""

from __future__ import annotations

import os

import pytest

from evpn_boot.daemon.devices import await_devices
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.errors import PreflightError
from tests.daemon.fakes import FakeClock, FakeNotifier, FakeSignals


class _Missing:
    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        return self.text


class FakeArrivals:
    """A pipe for the netlink socket; ``arrive()`` makes the NIC present."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.present = False
        self.looks = 0

    def fileno(self) -> int:
        return self.r

    def arrive(self) -> None:
        self.present = True
        os.write(self.w, b"x")

    def missing(self) -> list[_Missing]:
        self.looks += 1
        return [] if self.present else [_Missing("underlay NIC eth1")]

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
