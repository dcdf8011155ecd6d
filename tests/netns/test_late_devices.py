"""``run`` started before its interfaces exist, as on real hardware (netns tier).

The underlay NIC (a veth ``eth1`` in the throwaway "host" netns) is created
seconds after the daemon started; the index interface gets its IPv4 address
late (DHCP still running).  The daemon waits on netlink notifications, says
what it waits for, and becomes READY promptly once the interface is there; a
NIC that never comes fails clearly after ``runtime.device_timeout_s``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.daemon_proc import DaemonProcess, NotifyListener, daemon, node_config
from tests.support.netns import NetnsFactory, ip, list_netns

pytestmark = pytest.mark.root

LATE_S = 5.0
#: Generous: the figure itself comes from bench/bench_late_nic.py.
READY_AFTER_S = 3.0


def _config(netns: NetnsFactory, tmp_path: Path, timeout: float = 60,
            index_from: str = "") -> tuple[str, str, str, Path]:
    host, fabric = netns("host"), netns("fabric")
    router = netns.name("rt")
    text = node_config(host_netns=host, router_netns=router, workdir=tmp_path, vnis=[110],
                       runtime_extra=f"device_timeout_s = {timeout}\n")
    if index_from:
        text = text.replace("index = 3\n", f'index_from_interface = "{index_from}"\n', 1)
    config = tmp_path / "config.toml"
    config.write_text(text)
    return host, fabric, router, config


def _add_nic(host: str, fabric: str) -> float:
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "leaf0", "netns", fabric,
       netns=host)
    made = time.monotonic()
    ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    return made


def _waiting(notify: NotifyListener, proc: DaemonProcess, text: str) -> None:
    notify.until(lambda m: m.get("STATUS") == text, 30, repr(text), proc._ended)


def _ready_after(notify: NotifyListener, proc: DaemonProcess, since: float) -> float:
    message = proc.wait_ready(60)
    when = next(t for t, m in reversed(notify.messages) if m is message)
    assert message["STATUS"].startswith("ready: "), message
    return when - since


def _still_running_then_stop(proc: DaemonProcess) -> None:
    time.sleep(0.5)
    assert proc.proc.poll() is None, proc.output()
    proc.signal(15)
    assert proc.wait() == 0, proc.output()


def test_underlay_nic_appears_late(netns: NetnsFactory, tmp_path: Path,
                                   notify: NotifyListener) -> None:
    host, fabric, router, config = _config(netns, tmp_path)
    with daemon(config, notify, tmp_path / "run.log") as proc:
        _waiting(notify, proc, "waiting for underlay NIC eth1")
        extend = notify.until(lambda m: "EXTEND_TIMEOUT_USEC" in m, 10, "EXTEND_TIMEOUT_USEC",
                              proc._ended)
        assert int(extend["EXTEND_TIMEOUT_USEC"]) > 60 * 1e6, extend   # the wait + a margin
        started = proc.started
        time.sleep(max(0.0, started + LATE_S - time.monotonic()))
        assert proc.proc.poll() is None, proc.output()
        after = _ready_after(notify, proc, _add_nic(host, fabric))
        print(f"READY {after:.3f}s after the underlay NIC appeared")
        assert after < READY_AFTER_S, (after, proc.output())
        assert "eth1" in ip("-o", "link", "show", netns=router)
        _still_running_then_stop(proc)
    phases = notify.compact()
    assert phases[:3] == ["STATUS:validating configuration",
                          "STATUS:waiting for underlay NIC eth1",
                          "STATUS:preflight checks"], phases


def test_index_interface_address_appears_late(netns: NetnsFactory, tmp_path: Path,
                                              notify: NotifyListener) -> None:
    host, fabric, router, config = _config(netns, tmp_path, index_from="mgmt0")
    _add_nic(host, fabric)
    ip("link", "add", "mgmt0", "type", "veth", "peer", "name", "mgmt-peer", netns=host)
    ip("link", "set", "mgmt0", "up", netns=host)
    with daemon(config, notify, tmp_path / "run.log") as proc:
        _waiting(notify, proc, "waiting for an IPv4 address on index interface mgmt0")
        time.sleep(max(0.0, proc.started + LATE_S - time.monotonic()))
        assert proc.proc.poll() is None, proc.output()
        ip("addr", "add", "10.9.0.7/24", "dev", "mgmt0", netns=host)
        after = _ready_after(notify, proc, time.monotonic())
        print(f"READY {after:.3f}s after the index interface got its address")
        assert after < READY_AFTER_S, (after, proc.output())
        # Index 7 (the address's host part) shaped the VTEP: 100.65.0.0/24 network + 7.
        assert "inet 100.65.0.7/32" in ip("-o", "addr", "show", "dev", "lo", netns=router)
        _still_running_then_stop(proc)


def test_nic_that_never_appears_fails_clearly(netns: NetnsFactory, tmp_path: Path,
                                              notify: NotifyListener) -> None:
    _host, _fabric, router, config = _config(netns, tmp_path, timeout=2)
    with daemon(config, notify, tmp_path / "run.log") as proc:
        code = proc.wait(60)
        output = proc.output()
    assert code == 1, output
    assert "underlay NIC eth1 did not appear within 2s (runtime.device_timeout_s)" in output
    last = notify.messages[-1][1]
    assert last["STATUS"].startswith("failed: preflight failed, nothing was changed: "
                                     "underlay NIC eth1 did not appear"), last
    assert router not in list_netns()
