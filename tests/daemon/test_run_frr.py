"""``evpn-boot run`` with real FRR (podman, the local image) and a native FRR leaf.

    host netns: eth1 192.168.11.3 ---- leaf netns: to-node 192.168.11.2, FRR AS 64512
    router netns (made by run): eth1 moved in, FRR container AS 64514

Readiness ``any-established``: READY=1 must wait for the leaf session, and
come degraded after ``timeout_s`` when the leaf stays down.  The FRR container
is removed by the fixture whatever happens.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.frr.conftest import build_image, frr_image, podman_env  # noqa: F401 - fixtures
from tests.frr.native import NativeFrr, have_native_frr
from tests.support.daemon_proc import EVPN_BOOT, NotifyListener, daemon, node_config
from tests.support.netns import NetnsFactory, ip

pytestmark = [pytest.mark.frr, pytest.mark.slow,
              pytest.mark.skipif(not have_native_frr(),
                                 reason="FRR is not installed on this host (zebra, bgpd)")]

LEAF_CONF = """frr defaults traditional
hostname leaf
router bgp 64512
 bgp router-id 10.0.0.100
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.168.11.3 remote-as 64514
 neighbor 192.168.11.3 timers connect 1
 address-family ipv4 unicast
  neighbor 192.168.11.3 activate
 exit-address-family
 address-family l2vpn evpn
  neighbor 192.168.11.3 activate
 exit-address-family
exit
"""


@dataclass
class Fabric:
    host: str
    leaf: str
    router: str
    config: Path
    container: str
    natives: list[NativeFrr] = field(default_factory=list)

    def start_leaf(self) -> NativeFrr:
        frr = NativeFrr(self.leaf, LEAF_CONF)
        self.natives.append(frr)
        frr.start()
        return frr

    def container_running(self) -> bool:
        proc = subprocess.run(["podman", "container", "inspect", self.container],
                              capture_output=True, text=True, check=False)
        return proc.returncode == 0 and bool(json.loads(proc.stdout)[0]["State"]["Running"])


@pytest.fixture
def fabric(netns: NetnsFactory, tmp_path: Path, frr_image: str) -> Iterator[Fabric]:  # noqa: F811
    host, leaf = netns("host"), netns("leaf")
    router = netns.name("rt")
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "to-node", "netns", leaf,
       netns=host)
    ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    ip("addr", "add", "192.168.11.2/24", "dev", "to-node", netns=leaf)
    ip("link", "set", "to-node", "up", netns=leaf)
    made = Fabric(host, leaf, router, tmp_path / "config.toml", f"ebt-frr-{router}")
    try:
        yield made
    finally:
        for native in made.natives:
            native.stop()
        subprocess.run(["podman", "rm", "--force", "--ignore", "--time", "0", made.container],
                       capture_output=True, check=False, timeout=120)


def _write(fabric: Fabric, tmp_path: Path, timeout_s: float) -> None:
    fabric.config.write_text(node_config(
        host_netns=fabric.host, router_netns=fabric.router, workdir=tmp_path, vnis=[110],
        require="any-established", timeout_s=timeout_s))


def _leaf_state(leaf: NativeFrr) -> str:
    summary = leaf.vtysh("show bgp summary json") or {}
    for family in summary.values():
        peer = (family.get("peers") or {}).get("192.168.11.3")
        if peer:
            return str(peer.get("state"))
    return "absent"


def test_ready_waits_for_the_leaf_session(fabric: Fabric, notify: NotifyListener,
                                          tmp_path: Path) -> None:
    _write(fabric, tmp_path, timeout_s=300)
    with daemon(fabric.config, notify, tmp_path / "run1.log", args=()) as proc:
        waiting = "STATUS:waiting for BGP: readiness any-established: 0/1 underlay sessions"
        notify.until(lambda m: m.get("STATUS", "").startswith(waiting[7:]), 180,
                     "the readiness wait", proc._ended)
        assert fabric.container_running()
        # The leaf is down: no READY=1 however long we look (here 3 s).
        with pytest.raises(AssertionError, match="no READY=1 within"):
            proc.wait_ready(timeout=3)
        leaf = fabric.start_leaf()
        ready = proc.wait_ready(timeout=120)
        assert notify.compact()[:5] == [
            "STATUS:validating configuration",
            "STATUS:preflight checks",
            "STATUS:applying dataplane (1 L2 VNIs, 0 L3 VNIs)",
            "STATUS:starting FRR",
            "STATUS:waiting for BGP: any-established, up to 300s (1 underlay neighbors)",
        ]
        assert ready["STATUS"].startswith("ready: dataplane converged ("), ready
        assert "FRR started" in ready["STATUS"]
        assert ready["STATUS"].endswith("readiness any-established: 1/1 underlay sessions "
                                        "Established")
        assert _leaf_state(leaf) == "Established"
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.output()
    # SIGTERM left FRR and its session alone.
    assert fabric.container_running()
    time.sleep(2)
    assert _leaf_state(leaf) == "Established"

    mark = len(notify.messages)
    with daemon(fabric.config, notify, tmp_path / "run2.log", args=()) as second:
        again = second.wait_ready(timeout=120)
        assert "(0 operations, 1 L2 VNIs" in again["STATUS"], second.output()
        assert "FRR unchanged" in again["STATUS"]
        assert "1/1 underlay sessions Established" in again["STATUS"]
        second.signal(signal.SIGTERM)
        assert second.wait() == 0
    assert notify.compact(mark)[-2:] == ["READY", "STOPPING"]


def test_degraded_ready_after_timeout_then_frr_restarted(
        fabric: Fabric, notify: NotifyListener, tmp_path: Path) -> None:
    _write(fabric, tmp_path, timeout_s=6)
    with daemon(fabric.config, notify, tmp_path / "run.log", args=()) as proc:
        ready = proc.wait_ready(timeout=180)
        waited_from = next(t for t, m in notify.messages
                           if m.get("STATUS", "").startswith("waiting for BGP: any-established"))
        ready_at = notify.messages[-1][0]
        assert ready_at - waited_from >= 6
        assert ready["STATUS"].startswith("degraded: dataplane converged ("), ready
        assert ready["STATUS"].endswith(
            "readiness any-established: 0/1 underlay sessions Established not met after 6s; "
            "ready anyway")
        assert "readiness any-established not met after 6s" in proc.output()

        # `evpn-boot status` says so too (not only systemd's STATUS= and the journal).
        shown = subprocess.run([*EVPN_BOOT, "-c", str(fabric.config), "status", "--json"],
                               capture_output=True, text=True, check=True, timeout=120)
        service = json.loads(shown.stdout)["service"]
        assert (service["state"], service["ready"], service["degraded"], service["running"]) == (
            "degraded", True, True, True), service
        assert service["status"] == ready["STATUS"]
        shown = subprocess.run([*EVPN_BOOT, "-c", str(fabric.config), "status"],
                               capture_output=True, text=True, check=True, timeout=120)
        assert "service: degraded (pid" in shown.stdout, shown.stdout

        # FRR health: the container disappears -> the supervisor brings it back.
        subprocess.run(["podman", "rm", "--force", "--time", "0", fabric.container],
                       capture_output=True, check=True, timeout=120)
        notify.until(lambda m: m.get("STATUS", "").startswith("restarting FRR: container"),
                     60, "the FRR restart", proc._ended)
        deadline = time.monotonic() + 120
        while not fabric.container_running():
            assert time.monotonic() < deadline, proc.output()
            time.sleep(0.5)
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.output()


PASSIVE_LEAF_CONF = LEAF_CONF.replace(" neighbor 192.168.11.3 timers connect 1\n",
                                      " neighbor 192.168.11.3 passive\n")


@pytest.mark.parametrize("version", ["8.4", "10.3"])
def test_ready_follows_a_late_passive_leaf_within_seconds(
        fabric: Fabric, notify: NotifyListener, tmp_path: Path, version: str) -> None:
    """The leaf never connects (passive) and comes up 5 s after FRR started: only
    the node's retry brings the session up.  FRR's traditional profile retries
    after 120 s; the rendered ``timers connect`` (5 s by default) makes it seconds.
    The node runs FRR ``version`` (its image); the leaf is the host's 8.4."""
    assert " passive" in PASSIVE_LEAF_CONF
    fabric.config.write_text(node_config(
        host_netns=fabric.host, router_netns=fabric.router, workdir=tmp_path, vnis=[110],
        require="any-established", timeout_s=300, image=build_image(version)))
    with daemon(fabric.config, notify, tmp_path / "run.log", args=()) as proc:
        notify.until(lambda m: m.get("STATUS", "").startswith("waiting for BGP"), 180,
                     "the readiness wait", proc._ended)
        time.sleep(5)
        leaf = NativeFrr(fabric.leaf, PASSIVE_LEAF_CONF)
        fabric.natives.append(leaf)
        leaf.start()
        leaf_up = time.monotonic()
        proc.wait_ready(timeout=150)
        latency = notify.messages[-1][0] - leaf_up
        print(f"FRR {version} node: READY {latency:.1f} s after the passive leaf's bgpd "
              f"answered")
        # One connect retry (5 s) plus the session's setup, not FRR's 120 s.
        assert latency < 12, f"READY came {latency:.1f} s after the leaf came up"
        assert _leaf_state(leaf) == "Established"
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.output()
