"""Waits go through the caller's clock: a subprocess, the run lock, a plain sleep.

The daemon's pulse is such a clock; here a counting clock stands in for it and
shows it keeps being called (so it could ping the watchdog) while the wait lasts.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, Optional

import pytest

from evpn_boot import command
from evpn_boot.clock import RealClock, sleep
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import store


class SlicingClock(RealClock):
    """Real time, but no wait longer than ``slice_s``; counts waits; runs a hook."""

    def __init__(self, slice_s: float = 0.05,
                 on_wait: Optional[Callable[[int], None]] = None) -> None:
        self.slice_s = slice_s
        self.waits = 0
        self.on_wait = on_wait

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        self.waits += 1
        if self.on_wait is not None:
            self.on_wait(self.waits)
        limit = self.slice_s if timeout is None else min(timeout, self.slice_s)
        return super().wait(fds, limit)


def test_command_output_and_code_while_the_clock_ticks() -> None:
    clock = SlicingClock()
    done = command.run(["sh", "-c", "sleep 0.3; echo out; echo err >&2; exit 3"],
                       timeout=10, clock=clock)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert clock.waits >= 5          # 0.3 s in slices of 0.05 s: the caller kept control


def test_command_timeout_kills_the_child() -> None:
    began = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as err:
        command.run(["sh", "-c", "echo $$; exec sleep 30"], timeout=0.3, clock=SlicingClock())
    assert time.monotonic() - began < 5
    pid = int(err.value.output)
    assert not Path(f"/proc/{pid}").exists()      # killed and reaped


def test_command_missing_binary_raises_like_subprocess() -> None:
    with pytest.raises(FileNotFoundError):
        command.run(["/nonexistent/evpn-boot-tool"], timeout=1)


def test_sleep_lasts_however_often_the_wait_returns_early() -> None:
    clock = SlicingClock(slice_s=0.02)
    began = time.monotonic()
    sleep(clock, 0.2)
    assert time.monotonic() - began >= 0.2
    assert clock.waits >= 5


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Another run holds ``tmp_path/lock``; returns the function that lets it go."""
    fd = os.open(tmp_path / store.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    released = []

    def release() -> None:
        if not released:
            released.append(True)
            os.close(fd)

    yield release
    release()


def test_lock_wait_goes_through_the_clock_then_fails_locked(
        tmp_path: Path, held_lock: Callable[[], None]) -> None:
    clock = SlicingClock()
    with pytest.raises(EvpnBootError) as err, store.locked(tmp_path, wait=0.3, clock=clock):
        pass
    assert err.value.kind is ErrorKind.LOCKED
    assert "another evpn-boot run holds the lock" in str(err.value)
    assert clock.waits >= 3


def test_lock_taken_once_the_holder_lets_go(tmp_path: Path,
                                            held_lock: Callable[[], None]) -> None:
    clock = SlicingClock(on_wait=lambda n: held_lock() if n == 3 else None)
    with store.locked(tmp_path, wait=10, clock=clock):
        assert (tmp_path / store.LOCK_FILE).read_text() == f"{os.getpid()}\n"
    assert clock.waits == 3
