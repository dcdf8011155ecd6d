"""A dual-homed fabric in namespaces: two leaves, one remote VTEP, the node on both.

    h1 10.110.0.1/24 -- br-hs-110 (host netns)   router netns (made by evpn-boot)
                                                  br-pe-110 + vni110, VTEP 100.65.0.1
                              eth1 (moved in)                 eth2 (moved in)
                                |  unnumbered, BFD             |  unnumbered, BFD
                  leafa (native FRR, AS 64512)     leafb (native FRR, AS 64513)
                                |  unnumbered, BFD             |  unnumbered, BFD
                         to-a  remote (native FRR, AS 64520)  to-b
                               VTEP 100.65.0.9, br-pe-110 10.110.0.2/24 + vni110

Every BGP session is unnumbered (IPv6 link-local, IPv4 routes over extended
next-hop): no link carries an IPv4 address of the fabric.  The node's NICs hold
an address and an MTU of their own before the move, so teardown has something
to give back.  Used by tests/frr/test_dual_homed.py and bench/bench_failover.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from evpn_boot.desired.model import FrrModel, FrrNeighbor
from evpn_boot.frr.render import render_frr_conf
from tests.frr.conftest import CONTAINERS_CONF
from tests.frr.native import NativeFrr
from tests.support.netns import NetnsFactory, ip, run

LEAVES = {"leafa": (64512, "10.0.0.101", "eth1", "to-a"),
          "leafb": (64513, "10.0.0.102", "eth2", "to-b")}
REMOTE_VTEP = "100.65.0.9"
NODE_VTEP = "100.65.0.1"
REMOTE_HOST = "10.110.0.2"
#: What the NICs hold on the host before the move (teardown gives it back).
NIC_ADDRESSES = {"eth1": "198.51.100.3/24", "eth2": "fd00:99::3/64"}
NIC_MTU = {"eth1": 1500, "eth2": 1600}
DAEMONS = ("zebra", "bgpd", "bfdd")


def leaf_conf(name: str) -> str:
    asn, router_id, _, _ = LEAVES[name]
    return f"""frr defaults traditional
hostname {name}
ip forwarding
ipv6 forwarding
router bgp {asn}
 bgp router-id {router_id}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor to-node interface remote-as external
 neighbor to-node timers connect 2
 neighbor to-node bfd
 neighbor to-remote interface remote-as external
 neighbor to-remote timers connect 2
 neighbor to-remote bfd
 address-family ipv4 unicast
  neighbor to-node activate
  neighbor to-remote activate
 exit-address-family
 address-family l2vpn evpn
  neighbor to-node activate
  neighbor to-remote activate
 exit-address-family
exit
"""


def remote_conf() -> str:
    """The remote VTEP, dual-homed too, rendered by evpn-boot's own templates."""
    model = FrrModel(
        hostname="remote", asn=64520, router_id=ipaddress.IPv4Address("10.0.0.10"),
        vtep=ipaddress.IPv4Interface(f"{REMOTE_VTEP}/32"), router_mac="02:00:00:00:00:09",
        neighbors=tuple(FrrNeighbor(None, "external", bfd=True, interface=dev,
                                    connect_retry_s=2) for dev in ("to-a", "to-b")),
        allowas_in=False, multipath_relax=True)
    return render_frr_conf(model, {})


NODE_TOML = """
[node]
index = 1
name = "node-a"
[runtime]
netns = "{pe}"
host_netns = "{host}"
state_dir = "{tmp}/state"
run_dir = "{tmp}/run"
device_timeout_s = {device_timeout_s}
[frr]
image = "{image}"
config_dir = "{tmp}/frr"
container_name = "{container}"
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
nics = ["eth1", "eth2"]
[underlay.bfd]
detect_multiplier = 3
receive_interval_ms = 300
transmit_interval_ms = 300
[[underlay.neighbors]]
interface = "eth1"
asn = "external"
bfd = true
[[underlay.neighbors]]
interface = "eth2"
asn = "external"
bfd = true
[[l2vni]]
vni = 110
host_bridge = true
[readiness]
require = "{require}"
timeout_s = {timeout_s}
[handoff]
enabled = false
"""


class DualFabric:
    """The namespaces, links and FRR instances above; ``cleanup`` removes the FRRs."""

    def __init__(self, netns: NetnsFactory, tmp: Path, image: str) -> None:
        self.tmp = tmp
        self.image = image
        self.host = netns("host")
        self.leaves = {name: netns(name) for name in LEAVES}
        self.remote = netns("remote")
        self.h1 = netns("h1")
        self.pe = netns.name("pe")
        self.container = f"{self.pe}-frr"
        self.config = tmp / "config.toml"
        self.frr: dict[str, NativeFrr] = {}

    # ------------------------------------------------------------------ build
    def wire(self) -> None:
        # The leaves send router advertisements (FRR does on unnumbered links):
        # once teardown gives the NICs back, a host that takes them would gain
        # default routes the leaves offer, which are not evpn-boot's doing.
        for scope in ("all", "default"):
            run("sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_ra=0", netns=self.host)
        for name, (_, _, nic, remote_dev) in LEAVES.items():
            leaf = self.leaves[name]
            self.plug_nic(nic)
            ip("link", "add", remote_dev, "type", "veth", "peer", "name", "to-remote",
               "netns", leaf, netns=self.remote)
            ip("link", "set", remote_dev, "up", netns=self.remote)
            ip("link", "set", "to-remote", "up", netns=leaf)
            run("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=leaf)
            run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", netns=leaf)
        r = self.remote
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=r)
        ip("addr", "add", f"{REMOTE_VTEP}/32", "dev", "lo", netns=r)
        ip("link", "add", "br-pe-110", "type", "bridge", netns=r)
        ip("link", "add", "vni110", "type", "vxlan", "id", "110", "local", REMOTE_VTEP,
           "dstport", "4789", "nolearning", netns=r)
        ip("link", "set", "vni110", "master", "br-pe-110", netns=r)
        ip("addr", "add", f"{REMOTE_HOST}/24", "dev", "br-pe-110", netns=r)
        for dev in ("br-pe-110", "vni110"):
            ip("link", "set", dev, "up", netns=r)

    def plug_nic(self, nic: str) -> None:
        """The host NIC ``nic`` (a veth to its leaf) appears, with its address and MTU."""
        leaf = self.leaves[leaf_of(nic)]
        ip("link", "add", nic, "type", "veth", "peer", "name", "to-node", "netns", leaf,
           netns=self.host)
        ip("link", "set", nic, "mtu", str(NIC_MTU[nic]), netns=self.host)
        # No broadcast (as `ip addr add` leaves it): the NIC record keeps that,
        # so teardown gives the address back without one (docs/dataplane.md).
        ip("addr", "add", NIC_ADDRESSES[nic], "dev", nic, netns=self.host)
        ip("link", "set", nic, "up", netns=self.host)
        ip("link", "set", "to-node", "up", netns=leaf)

    def unplug_nic(self, nic: str) -> None:
        """The host NIC ``nic`` is gone (not there yet at boot, in the test)."""
        ip("link", "del", nic, netns=self.host)

    def start_frr(self, name: str) -> NativeFrr:
        """(Re)start the FRR of ``leafa``, ``leafb`` or ``remote``."""
        ns = self.remote if name == "remote" else self.leaves[name]
        conf = remote_conf() if name == "remote" else leaf_conf(name)
        frr = NativeFrr(ns, conf, daemons=DAEMONS)
        self.frr[name] = frr
        frr.start()
        return frr

    def write_config(self, require: str = "any-established", timeout_s: float = 120,
                     device_timeout_s: float = 90) -> None:
        self.config.write_text(NODE_TOML.format(
            pe=self.pe, host=self.host, tmp=self.tmp, image=self.image,
            container=self.container, require=require, timeout_s=timeout_s,
            device_timeout_s=device_timeout_s))

    def plug_workload(self) -> None:
        """h1, a workload on the L2 VNI: a veth into the host bridge apply made."""
        ip("link", "add", "h1p", "type", "veth", "peer", "name", "eth0", "netns", self.h1,
           netns=self.host)
        ip("link", "set", "h1p", "master", "br-hs-110", "up", netns=self.host)
        ip("addr", "add", "10.110.0.1/24", "dev", "eth0", netns=self.h1)
        ip("link", "set", "eth0", "up", netns=self.h1)

    def unplug_workload(self) -> None:
        """Remove h1's veth: the host's own link, which teardown rightly leaves alone."""
        ip("link", "del", "h1p", netns=self.host)

    # ---------------------------------------------------------------- evpn-boot
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

    def sessions(self) -> dict[str, str]:
        """The node's underlay sessions (neighbor -> state), read from its FRR."""
        proc = self.podman("exec", self.container, "vtysh", "-c", "show bgp summary json")
        try:
            data = json.loads(proc.stdout or "{}")
        except ValueError:
            return {}
        peers: dict[str, str] = {}
        for family in data.values():
            if isinstance(family, dict):
                for peer, info in (family.get("peers") or {}).items():
                    peers[peer] = str(info.get("state"))
        return peers

    def podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        return subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    # ------------------------------------------------------------------ probes
    def vtep_nexthops(self) -> int:
        """How many next hops the router namespace's kernel has towards the remote VTEP."""
        out = ip("route", "show", f"{REMOTE_VTEP}/32", netns=self.pe, check=False)
        if not out.strip():
            return 0
        return max(1, len(re.findall(r"nexthop", out)))

    def active_uplink(self) -> str:
        """The uplink the kernel picks now for the VXLAN flow to the remote VTEP."""
        out = ip("route", "get", REMOTE_VTEP, "from", NODE_VTEP, netns=self.pe)
        found = re.search(r" dev (\S+)", out)
        assert found, out
        return found.group(1)

    def leaf_paths(self, name: str) -> list[str]:
        """Every AS path in the leaf's ipv4 unicast and l2vpn evpn tables."""
        frr = self.frr[name]
        paths: list[str] = []
        v4 = frr.vtysh("show bgp ipv4 unicast json") or {}
        for routes in (v4.get("routes") or {}).values():
            paths += [str(p.get("path", "")) for p in routes]
        evpn = frr.vtysh("show bgp l2vpn evpn json") or {}
        for rd, entries in evpn.items():
            if not isinstance(entries, dict) or ":" not in rd:
                continue
            for route in entries.values():
                if isinstance(route, dict):
                    for group in route.get("paths", []):
                        for p in (group if isinstance(group, list) else [group]):
                            paths.append(str((p.get("aspath") or {}).get("string", "")
                                             if isinstance(p.get("aspath"), dict)
                                             else p.get("path", "")))
        return paths

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; node sessions "
                                     f"{self.sessions()}\n{self.diagnose()}")
            time.sleep(0.5)

    def diagnose(self) -> str:
        """Why a session is not up: BGP state and last reset, BFD, link-local neighbors."""
        keep = ("BGP neighbor", "BGP state", "Last reset", "reset due", "Connections")
        out = []
        for command in ("show bgp neighbors", "show bfd peers brief", "show interface brief"):
            text = self.podman("exec", self.container, "vtysh", "-c", command).stdout
            lines = text.splitlines() if "neighbors" not in command else [
                line for line in text.splitlines() if any(k in line for k in keep)]
            out.append(f"node> {command}\n" + "\n".join(lines[:40]))
        for name, frr in self.frr.items():
            text = frr.vtysh_raw("show bgp neighbors").stdout
            out.append(f"{name}> show bgp neighbors\n" + "\n".join(
                line for line in text.splitlines() if any(k in line for k in keep)))
        out.append("node addresses:\n" + ip("-br", "addr", netns=self.pe, check=False))
        return "\n".join(out)

    def both_up(self) -> bool:
        s = self.sessions()
        return s.get("eth1") == s.get("eth2") == "Established"

    # ----------------------------------------------------------------- failures
    def kill_leaf(self, name: str) -> None:
        """The leaf dies as a whole: its FRR SIGKILLed and its forwarding gone with it
        (a killed zebra leaves its routes in the kernel, which a real reboot does not)."""
        self.frr[name].stop()
        leaf = self.leaves[name]
        for family in ("-4", "-6"):
            ip(family, "route", "flush", "proto", "bgp", netns=leaf, check=False)

    def hang_leaf(self, name: str) -> None:
        """The leaf goes silent: its FRR stopped (SIGSTOP: no FIN, no BFD), its
        forwarding gone (BGP routes flushed); :meth:`start_frr` after ``stop``."""
        for pid in self.frr[name].pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        leaf = self.leaves[name]
        for family in ("-4", "-6"):
            ip(family, "route", "flush", "proto", "bgp", netns=leaf, check=False)

    def uplink_tx(self) -> dict[str, int]:
        """Packets sent so far by each uplink in the router namespace."""
        links = json.loads(ip("-j", "-s", "link", "show", netns=self.pe))
        return {link["ifname"]: int(link["stats64"]["tx"]["packets"]) for link in links
                if link["ifname"] in {nic for _, _, nic, _ in LEAVES.values()}}

    def cleanup(self) -> None:
        self.podman("rm", "--force", "--ignore", "--time", "0", self.container)
        for frr in self.frr.values():
            frr.stop()


@dataclass(frozen=True)
class Round:
    """One failure while h1 pings the remote host every ``interval`` s."""

    what: str
    nic: str              # the uplink that carried the flow (its TX counter grew)
    route_nic: str        # the one `ip route get` named
    tx: dict[str, int]    # packets each uplink sent in the second before the failure
    sent: int
    received: int
    loss_s: float         # lost x interval


def ping_loss(fabric: DualFabric, event: Callable[[str], None], *, interval: float = 0.01,
              before: float = 1.5, after: float = 4.0) -> tuple[str, dict[str, int], int, int]:
    """Ping the remote host from h1 every ``interval`` s; ``before`` s in, fire
    ``event`` on the uplink whose TX counter grew most in the last second (the
    one the VXLAN flow really uses); (that uplink, TX deltas, sent, received)."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", fabric.h1, "ping", "-n", "-q", "-i", str(interval),
         "-W", "1", "-w", str(math.ceil(before + after)), REMOTE_HOST],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(before - 1.0)
        start = fabric.uplink_tx()
        time.sleep(1.0)
        end = fabric.uplink_tx()
        tx = {nic: end[nic] - start.get(nic, 0) for nic in end}
        busiest = max(tx, key=lambda nic: tx[nic])
        event(busiest)
        out, _ = proc.communicate(timeout=before + after + 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert found, out
    return busiest, tx, int(found.group(1)), int(found.group(2))


def leaf_of(nic: str) -> str:
    return next(name for name, (_, _, n, _) in LEAVES.items() if n == nic)


#: The failures: ``uplink`` set down in the router namespace (carrier stays up
#: on the leaf's side: BFD or the local link state takes it out); ``leaf`` its
#: FRR SIGKILLed and its BGP routes flushed (the leaf's kernel closes the TCP
#: sessions, so the node's bgpd learns at once); ``hang`` its FRR SIGSTOPped and
#: its routes flushed (a leaf that stops forwarding and talking without a word:
#: only BFD, 300 ms x 3, can tell).
EVENTS = ("uplink", "leaf", "hang")


def fail_and_measure(fabric: DualFabric, what: str, *, recover: bool = True,
                     interval: float = 0.01) -> Round:
    """Fail (one of :data:`EVENTS`) the uplink or leaf the VXLAN flow uses now,
    measure the ping loss, undo it and (``recover``) wait for both sessions and
    ECMP again."""
    route_nic = fabric.active_uplink()

    def fail(nic: str) -> None:
        if what == "uplink":
            ip("link", "set", nic, "down", netns=fabric.pe)
        elif what == "leaf":
            fabric.kill_leaf(leaf_of(nic))
        else:
            fabric.hang_leaf(leaf_of(nic))

    nic, tx, sent, received = ping_loss(fabric, fail, interval=interval)
    if what == "uplink":
        ip("link", "set", nic, "up", netns=fabric.pe)
    else:
        fabric.frr[leaf_of(nic)].stop()
        fabric.start_frr(leaf_of(nic))
    if recover:
        fabric.wait(fabric.both_up, "both uplinks Established again")
        fabric.wait(lambda: fabric.vtep_nexthops() == 2, "ECMP to the remote VTEP again")
    return Round(what, nic, route_nic, tx, sent, received, (sent - received) * interval)
