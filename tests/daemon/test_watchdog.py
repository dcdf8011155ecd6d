"""The watchdog is never late, whatever ``evpn-boot run`` is waiting for.

The real daemon runs with ``WATCHDOG_USEC`` = 4 s (pings due every second)
against a real ``NOTIFY_SOCKET`` and is made to wait in every phase that can
wait long:

* devices: the underlay NIC appears only 3 s after the daemon said it waits for it;
* apply: the test holds the run lock for 4 s (the daemon must wait for it);
* frr: the FRR image's start script sleeps 5 s before starting FRR, so the
  start poll (``podman exec vtysh``) waits that long;
* readiness: no BGP neighbor answers, so it polls sessions until ``timeout_s``;
* supervise: the container is removed, the health check restarts it, slowly
  again.

A reader thread timestamps every datagram as it arrives.  No gap between two
``WATCHDOG=1`` may exceed WatchdogSec/2 (systemd kills the service at
WatchdogSec), except for time the kernel itself stalled every netlink caller:
a probe thread asks the kernel for a namespace's links every 50 ms, and a
gap is excused by the probe's stalls (requests over 0.5 s) inside it.  On a
busy machine the namespace cleanup worker holds the rtnl lock for seconds
(seen: 15 s), and no user-space pacing can serve the watchdog through that;
the pulse's own waits (lock, FRR start, readiness, restart) stay unexcused.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import struct
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
NIC_LATE_S = 3.0
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


class KernelStallProbe:
    """Times a tiny RTM_GETLINK dump in ``netns`` every 50 ms, from its own thread.

    Records (start, end) of every request slower than ``STALL_S``: time in
    which any netlink caller (the daemon included) was held by the kernel.
    """

    STALL_S = 0.5
    _RTM_GETLINK, _NLM_F_REQUEST, _NLM_F_DUMP, _NLMSG_DONE = 18, 1, 0x300, 3
    _CLONE_NEWNET = 0x40000000

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.stalls: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _socket_in_netns(self) -> socket.socket:
        # setns() in this thread only: the test's own namespace is never touched.
        fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, self._CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)

    def _run(self) -> None:
        sock = self._socket_in_netns()
        request = struct.pack("=LHHLL", 32, self._RTM_GETLINK,
                              self._NLM_F_REQUEST | self._NLM_F_DUMP, 1, 0) + bytes(16)
        with sock:
            while not self._stop.wait(0.05):
                start = time.monotonic()
                sock.send(request)
                while True:
                    data = sock.recv(65536)
                    if struct.unpack_from("=LH", data)[1] == self._NLMSG_DONE:
                        break
                end = time.monotonic()
                if end - start > self.STALL_S:
                    self.stalls.append((start, end))

    def stalled_within(self, start: float, end: float) -> float:
        """Seconds of [start, end] the kernel held netlink callers."""
        return sum(max(0.0, min(end, e) - max(start, s)) for s, e in self.stalls)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def status_starts(prefix: str) -> Callable[[Message], bool]:
    return lambda m: m.get("STATUS", "").startswith(prefix)


def late_pings(messages: list[tuple[float, Message]], limit: float,
               probe: KernelStallProbe) -> tuple[list[str], list[str]]:
    """Gaps between two WATCHDOG=1 above ``limit`` (with the statuses they span):
    (late, excused by a kernel stall inside the gap)."""
    late: list[str] = []
    excused: list[str] = []
    last_ping, spanned = None, ["start"]
    for when, message in messages:
        if "STATUS" in message:
            spanned.append(message["STATUS"][:60])
        if "WATCHDOG" in message:
            if last_ping is not None and when - last_ping > limit:
                stalled = probe.stalled_within(last_ping, when)
                line = (f"{when - last_ping:.2f}s without WATCHDOG=1 (kernel stalled netlink "
                        f"{stalled:.2f}s of it) during {spanned}")
                (excused if when - last_ping - stalled <= limit else late).append(line)
            last_ping, spanned = when, spanned[-1:]
    return late, excused


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
    probe = KernelStallProbe(leaf)
    proc = DaemonProcess(config, listener, tmp_path / "run.log", args=(),
                         env={"WATCHDOG_USEC": str(int(WATCHDOG_SEC * 1e6))})
    try:
        recorder.until(status_starts("waiting for underlay NIC eth1"), 60, "the NIC wait", proc)
        time.sleep(NIC_LATE_S)
        ip("link", "add", "eth1", "type", "veth", "peer", "name", "to-node", "netns", leaf,
           netns=host)
        ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
        ip("link", "set", "eth1", "up", netns=host)
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
        probe.close()
        while listener.receive(0.05) is not None:
            pass
        listener.close()
        subprocess.run(["podman", "rm", "--force", "--ignore", "--time", "0", container],
                       capture_output=True, check=False, timeout=120)

    messages = list(listener.messages)
    pings = [when for when, m in messages if "WATCHDOG" in m]
    phases = listener.compact()
    for expected in ("STATUS:waiting for underlay NIC eth1", "STATUS:applying dataplane",
                     "STATUS:starting FRR", "STATUS:waiting for BGP", "READY",
                     "STATUS:restarting FRR", "STOPPING"):
        assert any(p.startswith(expected) for p in phases), (expected, phases)
    log = (tmp_path / "run.log").read_text()
    late, excused = late_pings(messages, WATCHDOG_SEC / 2, probe)
    for line in excused:
        print(f"excused: {line}")
    assert not late, "\n".join([*late, "daemon log:", log[-3000:]])
    took = messages[-1][0] - messages[0][0]
    assert len(pings) >= took / (WATCHDOG_SEC / 2), (len(pings), took)
