"""FRR missing or crashing at boot: bounded retries, then a degraded READY (virtual time)."""

from __future__ import annotations

import logging

import pytest

from evpn_boot.daemon.ports import Ports
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.supervise import run_daemon
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import ErrorKind, EvpnBootError
from tests.daemon.fakes import (
    FakeClock,
    FakeDataplane,
    FakeFrr,
    FakeNotifier,
    FakeSignals,
    make_target,
)

MISSING = ("run FRR container ebt-frr: image localhost/nope:1 is not present (pull it, or "
           "build it with scripts/build-frr-image)")


class FailingFrr(FakeFrr):
    """``up`` fails ``failures`` times (as podman reports a missing image), then works."""

    def __init__(self, failures: int, kind: ErrorKind = ErrorKind.PREFLIGHT) -> None:
        super().__init__()
        self.failures = failures
        self.kind = kind

    def up(self, desired: DesiredState) -> str:
        if self.failures:
            self.failures -= 1
            self.broken = "container ebt-frr is gone"
            raise EvpnBootError(MISSING + "\ncontainer log:\nbgpd: fatal", kind=self.kind)
        return super().up(desired)


def _run(frr: FakeFrr, stop_at: float) -> tuple[int, FakeNotifier, FakeClock]:
    clock = FakeClock()
    notifier = FakeNotifier(None, clock)
    dataplane, signals = FakeDataplane(clock), FakeSignals()
    clock.at(stop_at, lambda: signals.post(15))
    ports = Ports(dataplane=dataplane, notifier=notifier, clock=clock, frr=frr)
    try:
        target = make_target(require="any-established", timeout=30)
        code = run_daemon(ports, lambda: target, Pulse(clock, notifier, signals))
    finally:
        signals.close()
        dataplane.close_all()
    return code, notifier, clock


def test_missing_image_is_retried_then_ready_degraded_after_the_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    frr = FailingFrr(failures=1000)
    code, notifier, _clock = _run(frr, stop_at=40)
    assert code == 0
    statuses = notifier.statuses()
    retries = [s for s in statuses if s.startswith("FRR failed to start (attempt ")]
    assert retries[0] == (f"FRR failed to start (attempt 1): {MISSING}; retrying in 2s")
    assert 2 <= len(retries) <= 5, retries          # bounded: 2, 4, 8, 15 s pauses
    ready = next(m for m, t in zip(notifier.messages, notifier.times) if "READY" in m)
    ready_at = notifier.times[notifier.messages.index(ready)]
    assert 14 <= ready_at <= 30, ready_at           # within readiness.timeout_s
    assert ready["STATUS"].startswith("degraded: ")
    assert f"FRR failed to start ({MISSING})" in ready["STATUS"]
    assert "ready anyway" in ready["STATUS"]
    assert "container log:\nbgpd: fatal" in caplog.text       # the journal gets the log lines
    assert "going on degraded so kubelet is not held" in caplog.text
    # Supervision keeps trying: the health check restarts FRR.
    assert frr.restarts >= 1


def test_a_late_image_is_picked_up_before_the_timeout() -> None:
    code, notifier, _clock = _run(FailingFrr(failures=2), stop_at=60)
    assert code == 0
    assert [s for s in notifier.statuses() if s.startswith("FRR failed")] == [
        f"FRR failed to start (attempt 1): {MISSING}; retrying in 2s",
        f"FRR failed to start (attempt 2): {MISSING}; retrying in 4s"]


def test_a_config_frr_rejects_is_not_retried() -> None:
    with pytest.raises(EvpnBootError):
        _run(FailingFrr(failures=1, kind=ErrorKind.FRR_REJECTED), stop_at=60)
