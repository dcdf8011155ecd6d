"""sd_notify and logging glue: real datagram sockets, both senders, both log targets."""

from __future__ import annotations

import io
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from evpn_boot.systemd import logs
from evpn_boot.systemd.notify import Notifier, datagram_sender, watchdog_usec


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    try:
        yield str(path), sock
    finally:
        sock.close()


def _recv(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


@pytest.mark.parametrize("prefer_libsystemd", [True, False])
def test_notifier_speaks_the_protocol(notify_socket: tuple[str, socket.socket],
                                      prefer_libsystemd: bool) -> None:
    if prefer_libsystemd:
        pytest.importorskip("systemd.daemon", reason="systemd-python is not installed")
    path, sock = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier.from_environment(env, prefer_libsystemd=prefer_libsystemd)
    # Children must not inherit the socket (podman would send its own READY=1).
    assert "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env
    assert notifier.watchdog_interval == 1.0
    notifier.status("applying dataplane\n(2 VNIs)")
    assert _recv(sock) == {"STATUS": "applying dataplane (2 VNIs)"}
    notifier.ready("ready: ok")
    assert _recv(sock) == {"READY": "1", "STATUS": "ready: ok"}
    notifier.reloading()
    got = _recv(sock)
    assert got["RELOADING"] == "1" and int(got["MONOTONIC_USEC"]) > 0
    notifier.extend_timeout(1.5)
    assert _recv(sock) == {"EXTEND_TIMEOUT_USEC": "1500000"}
    notifier.watchdog()
    assert _recv(sock) == {"WATCHDOG": "1"}
    notifier.stopping("bye")
    assert _recv(sock) == {"STOPPING": "1", "STATUS": "bye"}
    assert "NOTIFY_SOCKET" not in env


def test_abstract_socket_address() -> None:
    name = f"evpn-boot-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert datagram_sender("@" + name)("READY=1")
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_no_socket_means_no_op() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready("x")          # must not raise


def test_watchdog_pid_must_match() -> None:
    assert watchdog_usec({"WATCHDOG_USEC": "10"}, 7) == 10
    assert watchdog_usec({"WATCHDOG_USEC": "10", "WATCHDOG_PID": "7"}, 7) == 10
    assert watchdog_usec({"WATCHDOG_USEC": "10", "WATCHDOG_PID": "8"}, 7) is None
    assert watchdog_usec({"WATCHDOG_USEC": "x"}, 7) is None
    assert watchdog_usec({}, 7) is None


def test_stderr_logging_renders_fields() -> None:
    out = io.StringIO()
    assert logs.setup_logging("debug", environ={}, stream=out) == "stderr"
    try:
        logs.set_phase("apply")
        log = logging.getLogger("evpn_boot.test")
        log.info("vxlan created", extra=logs.fields(vni=110))
        log.debug("neighbor up", extra=logs.fields(phase="readiness", neighbor="192.168.11.2"))
        logs.set_level("warning")
        log.info("hidden")
    finally:
        logs.set_phase("startup")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO vxlan created phase=apply vni=110")
    assert lines[1].endswith("DEBUG neighbor up phase=readiness neighbor=192.168.11.2")


def test_journal_logging_passes_fields() -> None:
    journal = pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    sent: list[tuple[str, dict[str, object]]] = []
    handler = journal.JournalHandler(
        sender_function=lambda MESSAGE, **kw: sent.append((MESSAGE, kw)))  # noqa: N803
    handler.addFilter(logs.PhaseFilter())
    log = logging.getLogger("evpn_boot.test.journal")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        logs.set_phase("supervise")
        log.warning("drift repaired", extra=logs.fields(vni=120, vrf="red"))
    finally:
        log.removeHandler(handler)
        logs.set_phase("startup")
    (msg, fields), = sent
    assert msg == "drift repaired"
    assert fields["EVPN_PHASE"] == "supervise"
    assert fields["EVPN_VNI"] == "120" and fields["EVPN_VRF"] == "red"


def test_journal_chosen_only_when_stderr_is_the_journal(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w") as stream:
        st = os.fstat(stream.fileno())
        assert logs.stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream)
        assert not logs.stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:1"}, stream)
        assert not logs.stderr_is_journal({}, stream)
