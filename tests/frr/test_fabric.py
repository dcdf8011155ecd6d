"""The frr tier: a small EVPN fabric in namespaces, with real FRR and podman.

    h1 10.110.0.1/24 - host netns (throwaway)   router netns (made by `evpn-boot apply`)
                       br-hs-110 ------------ br-pe-110 + vni110, VTEP 100.65.0.1, FRR in podman
                                      eth1 192.168.11.3 (moved from the host netns)
                                        |
                             leaf (native FRR, AS 64512, routes the underlay)
                                        |
                            remote (native FRR, AS 64520, VTEP 100.65.0.9)
                                 br-pe-110 10.110.0.2/24 + vni110

L2 only: this kernel has no VRF.  One test walks the states in order, because
each step needs the previous one (and a fabric costs ~20 s to bring up).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional, Union

import pytest

from evpn_boot.desired.model import FrrModel, FrrNeighbor
from evpn_boot.frr.render import render_frr_conf
from tests.frr.conftest import CONTAINERS_CONF
from tests.frr.container_frr import ContainerFrr
from tests.frr.native import NativeFrr, have_native_frr
from tests.support.configs import NODE_UNDERLAY
from tests.support.netns import NetnsFactory, ip, run

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
 neighbor 192.168.12.3 remote-as 64520
 address-family ipv4 unicast
  neighbor 192.168.11.3 activate
  neighbor 192.168.12.3 activate
 exit-address-family
 address-family l2vpn evpn
  neighbor 192.168.11.3 activate
  neighbor 192.168.12.3 activate
 exit-address-family
exit
"""

NODE_TOML = """
[node]
index = 1
name = "node-a"
[runtime]
netns = "{pe}"
host_netns = "{host}"
state_dir = "{tmp}/state"
run_dir = "{tmp}/run"
[frr]
image = "{image}"
config_dir = "{tmp}/frr"
container_name = "{container}"
raw_config = "{raw}"
""" + NODE_UNDERLAY + """
[[l2vni]]
vni = 110
host_bridge = true
[readiness]
require = "applied"
"""


def remote_conf() -> str:
    model = FrrModel(
        hostname="remote", asn=64520, router_id=ipaddress.IPv4Address("10.0.0.10"),
        vtep=ipaddress.IPv4Interface("100.65.0.9/32"), router_mac="02:00:00:00:00:09",
        neighbors=(FrrNeighbor(ipaddress.IPv4Address("192.168.12.2"), 64512),),
        allowas_in=False)
    return render_frr_conf(model, {})


class Fabric:
    def __init__(self, netns: NetnsFactory, tmp: Path, image: str,
                 leaf_image: Optional[str] = None) -> None:
        self.tmp = tmp
        self.host = netns("host")
        self.leaf = netns("leaf")
        self.remote = netns("remote")
        self.h1 = netns("h1")
        self.pe = netns.name("pe")                  # `apply` creates it
        self.container = f"{self.pe}-frr"
        self.image = image
        self.config = tmp / "config.toml"
        #: The leaf's FRR image (another version than the node's), or None: native.
        self.leaf_image = leaf_image
        self.natives: list[Union[NativeFrr, ContainerFrr]] = []

    def wire(self) -> None:
        ip("link", "add", "eth1", "type", "veth", "peer", "name", "to-node",
           "netns", self.leaf, netns=self.host)
        ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=self.host)
        ip("link", "set", "eth1", "up", netns=self.host)
        ip("link", "add", "eth0", "type", "veth", "peer", "name", "to-remote",
           "netns", self.leaf, netns=self.remote)
        for dev, addr in (("to-node", "192.168.11.2/24"), ("to-remote", "192.168.12.2/24")):
            ip("addr", "add", addr, "dev", dev, netns=self.leaf)
            ip("link", "set", dev, "up", netns=self.leaf)
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=self.leaf)
        # The remote VTEP, built by hand (it stands for any EVPN speaker).
        r = self.remote
        ip("addr", "add", "192.168.12.3/24", "dev", "eth0", netns=r)
        ip("link", "set", "eth0", "up", netns=r)
        ip("addr", "add", "100.65.0.9/32", "dev", "lo", netns=r)
        ip("link", "add", "br-pe-110", "type", "bridge", netns=r)
        ip("link", "add", "vni110", "type", "vxlan", "id", "110", "local", "100.65.0.9",
           "dstport", "4789", "nolearning", netns=r)
        ip("link", "set", "vni110", "master", "br-pe-110", netns=r)
        ip("addr", "add", "10.110.0.2/24", "dev", "br-pe-110", netns=r)
        for dev in ("br-pe-110", "vni110"):
            ip("link", "set", dev, "up", netns=r)

    def start_natives(self) -> None:
        for ns, conf in ((self.leaf, LEAF_CONF), (self.remote, remote_conf())):
            frr: Union[NativeFrr, ContainerFrr] = NativeFrr(ns, conf)
            if ns == self.leaf and self.leaf_image is not None:
                frr = ContainerFrr(ns, conf, self.leaf_image)
            self.natives.append(frr)
            frr.start()

    def write_config(self, raw: str = "") -> None:
        self.config.write_text(NODE_TOML.format(
            pe=self.pe, host=self.host, tmp=self.tmp, image=self.image,
            container=self.container, raw=raw.replace("\n", "\\n")))

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        proc = subprocess.run([sys.executable, "-m", "evpn_boot.cli.main", "-c",
                               str(self.config), *args], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
        if check:
            assert proc.returncode == 0, f"evpn-boot {' '.join(args)}:\n{proc.stdout}\n" \
                                         f"{proc.stderr}"
        return proc

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.cli("status", "--json").stdout)
        return doc

    def session(self, doc: dict[str, Any], neighbor: str = "192.168.11.2") -> dict[str, Any]:
        found = [s for s in doc["bgp"]["sessions"] if s["neighbor"] == neighbor]
        return found[0] if found else {}

    def wait_status(self, predicate: Any, what: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        doc = self.status()
        while not predicate(doc):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last status:\n"
                                     f"{json.dumps(doc, indent=1)[:3000]}")
            time.sleep(1)
            doc = self.status()
        return doc

    def podman(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        return subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                              timeout=120, check=check)

    def cleanup(self) -> None:
        self.podman("rm", "--force", "--ignore", "--time", "0", self.container)
        for frr in self.natives:
            frr.stop()


@pytest.fixture(params=["node 8.4, leaf 10.3", "node 10.3, leaf 8.4"])
def fabric(request: pytest.FixtureRequest, netns: NetnsFactory, tmp_path: Path,
           frr_image: str) -> Iterator[Fabric]:
    """The node's FRR on one version, the leaf on the other (8.4 native, 10.3 image)."""
    image_10 = request.getfixturevalue("frr_image_10")
    if request.param.startswith("node 8.4"):
        fab = Fabric(netns, tmp_path, frr_image, leaf_image=image_10)
    else:
        fab = Fabric(netns, tmp_path, image_10)
    try:
        fab.wire()
        fab.start_natives()
        fab.write_config()
        yield fab
    finally:
        fab.cleanup()                 # the netns fixture then deletes every namespace


def vxlan_tx(fab: Fabric) -> int:
    out = ip("-s", "-j", "link", "show", "vni110", netns=fab.pe)
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def vtep_route(fab: Fabric) -> bool:
    """The kernel of the router namespace routes the remote VTEP (installed by BGP)."""
    return "100.65.0.9" in ip("route", "show", "100.65.0.9/32", netns=fab.pe, check=False)


def evpn_routes(frr: Union[NativeFrr, ContainerFrr], route_type: str) -> str:
    return frr.vtysh_raw(f"show bgp l2vpn evpn route type {route_type}").stdout


def test_fabric_lifecycle(fabric: Fabric) -> None:
    fab = fabric
    remote = fab.natives[1]
    # 0. Nothing applied yet: status says the container is absent, no sessions.
    doc = fab.status()
    assert doc["frr"]["exists"] is False and doc["bgp"]["sessions"] == []

    # 1. apply: dataplane + FRR in podman; the underlay session comes up.
    fab.cli("apply")
    doc = fab.wait_status(lambda d: fab.session(d).get("established"), "underlay Established")
    assert doc["frr"]["running"] is True and doc["dataplane"]["in_sync"] is True
    first_start = doc["frr"]["started_at"]
    mode = (fab.tmp / "frr" / "frr.conf").stat().st_mode & 0o777
    assert mode == 0o640                              # no password in this config

    # 2. EVPN: type-3 both ways, the remote VTEP in the node's flood list.
    doc = fab.wait_status(lambda d: any(v["vni"] == 110 and "100.65.0.9" in v["remote_vteps"]
                                        for v in d["evpn"]["vnis"]), "remote VTEP on VNI 110")
    remote.wait(lambda: "100.65.0.1" in evpn_routes(remote, "multicast"), "type-3 from node")

    # 3. Traffic between the hosts crosses VXLAN; MACs become type-2 routes.
    #    A workload in its own namespace, plugged into the host bridge apply made.
    ip("link", "add", "h1p", "type", "veth", "peer", "name", "eth0", "netns", fab.h1,
       netns=fab.host)
    ip("link", "set", "h1p", "master", "br-hs-110", "up", netns=fab.host)
    ip("addr", "add", "10.110.0.1/24", "dev", "eth0", netns=fab.h1)
    ip("link", "set", "eth0", "up", netns=fab.h1)
    before = vxlan_tx(fab)
    ping = run("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.110.0.2", netns=fab.h1,
               check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert vxlan_tx(fab) >= before + 3, "pings did not leave through vni110"
    remote.wait(lambda: "100.65.0.1" in evpn_routes(remote, "macip"), "type-2 from node")
    doc = fab.status()
    vni = next(v for v in doc["evpn"]["vnis"] if v["vni"] == 110)
    assert vni["macs"] >= 2                            # local host MAC + remote MAC

    # 4. A config change is reloaded in place: same container, session not reset.
    sess = fab.session(doc)
    fab.write_config(raw="ip prefix-list evpn-boot-test seq 5 permit 10.0.0.0/8 le 32")
    fab.cli("apply")
    running = fab.podman("exec", fab.container, "vtysh", "-c", "show running-config").stdout
    assert "ip prefix-list evpn-boot-test" in running
    doc = fab.status()
    after = fab.session(doc)
    assert doc["frr"]["started_at"] == first_start     # not restarted
    assert after["established"] and after["established_count"] == sess["established_count"]
    assert after["uptime_ms"] >= sess["uptime_ms"]

    # 5. FRR stopped: status shows it; apply restarts it and the session returns.
    fab.podman("stop", "--time", "2", fab.container, check=True)
    doc = fab.status()
    assert doc["frr"]["running"] is False and doc["bgp"]["sessions"] == []
    fab.cli("apply")
    fab.wait_status(lambda d: d["frr"]["running"] and fab.session(d).get("established"),
                    "session back after restart")

    # 6. FRR killed (SIGKILL to the container's init): recovered by podman's restart
    #    policy or by the next apply, whichever comes first; sessions come back.
    #    Graceful restart: the leaf was told our forwarding state survives
    #    (preserve-fw-state), and zebra -K keeps the BGP route to the remote
    #    VTEP in the kernel while FRR restarts (without -K, zebra's start sweeps it).
    leaf = fab.natives[0]
    gr = (leaf.vtysh("show bgp neighbors 192.168.11.3 json") or {}).get(
        "192.168.11.3", {}).get("gracefulRestartInfo", {})
    assert gr.get("ipv4Unicast", {}).get("fBit") is True, gr
    # The restart time the leaf keeps our routes for is ours (frr.restart_time_s),
    # long enough for the reconciler's router pod after the handoff.
    assert gr.get("timers", {}).get("receivedRestartTimer") == 300, gr
    assert vtep_route(fab), "no BGP route to the remote VTEP before the kill"
    gaps: list[float] = []
    watching = threading.Event()
    watching.set()

    def watch() -> None:
        while watching.is_set():
            if not vtep_route(fab):
                gaps.append(time.monotonic())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    pid = fab.status()["frr"]["pid"]
    os.kill(pid, 9)
    fab.cli("apply")
    doc = fab.wait_status(lambda d: d["frr"]["running"] and fab.session(d).get("established"),
                          "session back after kill")
    time.sleep(3)
    watching.clear()
    watcher.join()
    assert not gaps, f"the remote VTEP's route left the kernel {len(gaps)} times during restart"
    assert doc["frr"]["pid"] != pid
    remote.wait(lambda: "100.65.0.1" in evpn_routes(remote, "multicast"), "type-3 again")
