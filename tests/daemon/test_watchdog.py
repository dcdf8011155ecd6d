"""The watchdog is never late, whatever ``evpn-boot run`` is waiting for.

The real daemon runs with ``WATCHDOG_USEC`` = 4 s (pings due every second)
against a real ``NOTIFY_SOCKET`` and is made to wait in every phase that can
wait long:

* apply: the test holds the run lock for 4 s (the daemon must wait for it);
* frr: the FRR image's start script sleeps 5 s before starting FRR, so the
  start poll (``podman exec vtysh``) waits that long;
* readiness: no BGP neighbor answers, so it polls sessions until ``timeout_s``;
* supervise: the container is removed, the health check restarts it, slowly
  again.

A reader thread timestamps every datagram as it arrives.  No gap between two
``WATCHDOG=1`` may exceed WatchdogSec/2 (systemd kills the service at
WatchdogSec).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from tests.frr.conftest import frr_image, podman_env  # noqa: F401 - fixtures
from tests.support.daemon_proc import DaemonProcess, Message, NotifyListener, node_config
from tests.support.netns import NetnsFactory, ip

pytestmark = [pytest.mark.frr, pytest.mark.slow]

#: Short, so the test is quick, yet long enough that a busy shared CI machine
#: (kernel namespace cleanup holding the rtnl lock during the apply, 2 cores)
#: does not make one netlink pass look like a starved pulse.
WATCHDOG_SEC = 4.0
LOCK_HELD_S = 4.0
FRR_START_DELAY_S = 5


class Recorder:
    """Reads the notify socket in a thread, so each message is timed on arrival."""

    def __init__(self, listener: NotifyListener) -> None:
        self.listener = listener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            self.listener.receive(0.1)

    def until(self, predicate: Callable[[Message], bool], timeout: float, what: str,
              proc: DaemonProcess, since: int = 0) -> int:
        """Index of the first message from ``since`` on that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, (_, message) in enumerate(self.listener.messages[since:], start=since):
                if predicate(message):
                    return i
            ended = proc._ended()
            assert not ended, f"no {what}: {ended}"
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout}s; got {self.listener.compact()}\n"
                             f"{proc.output()[-3000:]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def status_starts(prefix: str) -> Callable[[Message], bool]:
    return lambda m: m.get("STATUS", "").startswith(prefix)


def late_pings(messages: list[tuple[float, Message]], limit: float) -> list[str]:
    """Every gap between two WATCHDOG=1 above ``limit``, with the statuses it spans."""
    late: list[str] = []
    last_ping, spanned = None, ["start"]
    for when, message in messages:
        if "STATUS" in message:
            spanned.append(message["STATUS"][:60])
        if "WATCHDOG" in message:
            if last_ping is not None and when - last_ping > limit:
                late.append(f"{when - last_ping:.2f}s without WATCHDOG=1 during {spanned}")
            last_ping, spanned = when, spanned[-1:]
    return late


@pytest.fixture
def slow_image(frr_image: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """The test FRR image, whose start script first sleeps FRR_START_DELAY_S."""
    tag = f"localhost/evpn-boot-frr-slow:{os.getpid()}"
    (tmp_path / "Containerfile").write_text(
        f"FROM {frr_image}\n"
        f'CMD ["/bin/sh", "-c", "sleep {FRR_START_DELAY_S}; exec /usr/lib/frr/docker-start"]\n')
    subprocess.run(["podman", "build", "--quiet", "--tag", tag, str(tmp_path)],
                   capture_output=True, text=True, check=True, timeout=300)
    try:
        yield tag
    finally:
        subprocess.run(["podman", "rmi", "--force", tag], capture_output=True, check=False,
                       timeout=120)


def test_watchdog_is_never_late(netns: NetnsFactory, tmp_path: Path, slow_image: str) -> None:
    host, leaf = netns("host"), netns("leaf")
    router = netns.name("rt")
    container = f"ebt-frr-{router}"
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "to-node", "netns", leaf,
       netns=host)
    ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    config = tmp_path / "config.toml"
    config.write_text(node_config(
        host_netns=host, router_netns=router, workdir=tmp_path, vnis=[110],
        require="any-established", timeout_s=3,
    ).replace('image = "localhost/evpn-boot-frr:8.4"', f'image = "{slow_image}"'))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    lock_fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)           # another run holds the lock

    listener = NotifyListener(tmp_path / "notify.sock")
    recorder = Recorder(listener)
    proc = DaemonProcess(config, listener, tmp_path / "run.log", args=(),
                         env={"WATCHDOG_USEC": str(int(WATCHDOG_SEC * 1e6))})
    try:
        recorder.until(status_starts("applying dataplane"), 60, "the apply phase", proc)
        time.sleep(LOCK_HELD_S)
        os.close(lock_fd)
        lock_fd = -1
        ready = recorder.until(lambda m: "READY" in m, 180, "READY=1", proc)
        assert listener.messages[ready][1]["STATUS"].startswith("degraded: "), \
            listener.compact()
        # Supervision: FRR disappears; the health check restarts it (slowly).
        subprocess.run(["podman", "rm", "--force", "--time", "0", container],
                       capture_output=True, check=True, timeout=120)
        restarting = recorder.until(status_starts("restarting FRR: container"), 60,
                                    "the FRR restart", proc, since=ready)
        recorder.until(status_starts("degraded: dataplane converged"), 120,
                       "the status after the restart", proc, since=restarting)
        proc.signal(signal.SIGTERM)
        assert proc.proc.wait(60) == 0, proc.output()
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)
        proc.stop()
        recorder.close()
        while listener.receive(0.05) is not None:
            pass
        listener.close()
        subprocess.run(["podman", "rm", "--force", "--ignore", "--time", "0", container],
                       capture_output=True, check=False, timeout=120)

    messages = list(listener.messages)
    pings = [when for when, m in messages if "WATCHDOG" in m]
    phases = listener.compact()
    for expected in ("STATUS:applying dataplane", "STATUS:starting FRR",
                     "STATUS:waiting for BGP", "READY", "STATUS:restarting FRR", "STOPPING"):
        assert any(p.startswith(expected) for p in phases), (expected, phases)
    log = (tmp_path / "run.log").read_text()
    late = late_pings(messages, WATCHDOG_SEC / 2)
    assert not late, "\n".join([*late, "daemon log:", log[-3000:]])
    took = messages[-1][0] - messages[0][0]
    assert len(pings) >= took / (WATCHDOG_SEC / 2), (len(pings), took)
