"""The daemon's statuses reach `evpn-boot status` through <run_dir>/service.json."""

from __future__ import annotations

import os
from pathlib import Path

from evpn_boot.daemon.status_record import RecordingNotifier
from evpn_boot.state import service
from tests.daemon.fakes import FakeNotifier


def test_nothing_is_written_before_the_run_dir_is_known(tmp_path: Path) -> None:
    notifier = RecordingNotifier(FakeNotifier())
    notifier.status("validating configuration")
    assert list(tmp_path.iterdir()) == []
    notifier.bind(tmp_path)
    record = service.load(tmp_path)
    assert record is not None and record.status == "validating configuration"
    assert not record.ready and not record.degraded


def test_ready_and_degraded_are_recorded_and_forwarded(tmp_path: Path) -> None:
    inner = FakeNotifier()
    notifier = RecordingNotifier(inner)
    notifier.bind(tmp_path)
    notifier.status("waiting for BGP: any-established 0/1")
    notifier.ready("degraded: dataplane converged (0 operations), ... not met after 6s")
    record = service.load(tmp_path)
    assert record is not None
    assert (record.ready, record.degraded, record.pid) == (True, True, os.getpid())
    assert record.running
    assert record.status.startswith("degraded:")
    # The systemd side saw the same messages.
    assert inner.messages[-1]["READY"] == "1"
    assert inner.messages[-1]["STATUS"].startswith("degraded:")
    notifier.status("repaired drift: 1 operation")
    record = service.load(tmp_path)
    assert record is not None and record.ready and record.degraded
    assert record.status == "repaired drift: 1 operation"


def test_a_ready_status_is_not_degraded(tmp_path: Path) -> None:
    notifier = RecordingNotifier(FakeNotifier())
    notifier.bind(tmp_path)
    notifier.ready("ready: dataplane converged (3 operations), 1/1 Established")
    record = service.load(tmp_path)
    assert record is not None and record.ready and not record.degraded


def test_unreadable_record_is_no_record(tmp_path: Path) -> None:
    (tmp_path / service.SERVICE_FILE).write_text("{not json")
    assert service.load(tmp_path) is None
    assert service.load(tmp_path / "missing") is None
