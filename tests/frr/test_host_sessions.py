"""The rendered host session between real FRRs: host speakers sharing one ASN
reach each other's pods (as-override), the host end of each veth is announced
(traffic sourced from it comes back), and a host's default route is refused.

    hostA AS 64515 (10.244.0.0/24)        hostB AS 64515 (10.244.1.0/24, and 0.0.0.0/0)
      | 192.169.10.3                        | 192.169.10.4
      | 192.169.10.1                        | 192.169.10.1
    nodeA AS 64514 --- leaf AS 64512 --- nodeB AS 64514

This kernel has no VRF, so each node runs its rendered ``router bgp 64514 vrf
red`` block (the session, its policy, its networks) in the default VRF, with an
underlay session to the leaf in the same instance.  The nodes run FRR 8.4
(native) or 10.3 (image); hosts and leaf are native 8.4 (frr-k8s's FRR stands
in as a plain FRR with no allowas-in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union

import pytest

from evpn_boot.config.load import parse_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.frr.render import render_frr_conf
from tests.frr.container_frr import ContainerFrr
from tests.frr.native import NativeFrr, have_native_frr
from tests.support.configs import NODE_UNDERLAY
from tests.support.netns import NetnsFactory, ip, run

pytestmark = [pytest.mark.frr, pytest.mark.slow,
              pytest.mark.skipif(not have_native_frr(),
                                 reason="FRR is not installed on this host (zebra, bgpd)")]

Frr = Union[NativeFrr, ContainerFrr]

NODE_TOML = """
[node]
index = {index}
""" + NODE_UNDERLAY + """
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
host_asn = 64515
"""


def node_conf(index: int, leaf: str) -> str:
    """Node ``index``'s rendered host-session block, moved to the default VRF,
    plus its prefix lists and an underlay session to ``leaf``."""
    desired = derive(parse_config(NODE_TOML.format(index=index).encode(), "node"),
                     NodeFacts(hostname=f"node{index}"))
    assert desired.frr is not None
    text = render_frr_conf(desired.frr, {})
    lines = text.splitlines()
    policy = [ln for ln in lines if ln.startswith(("ip prefix-list", "ipv6 prefix-list"))]
    start = lines.index("router bgp 64514 vrf red")
    end = lines.index("exit", start)
    block = lines[start:end]
    evpn = block.index(" address-family l2vpn evpn")
    block = block[:evpn]                                  # no EVPN without a VRF
    block[0] = "router bgp 64514"
    v4 = block.index(" address-family ipv4 unicast")
    block[v4:v4] = [f" neighbor {leaf} remote-as 64512", f" neighbor {leaf} timers connect 1"]
    af = block.index(" address-family ipv4 unicast")
    block[af + 1:af + 1] = [f"  neighbor {leaf} activate", f"  neighbor {leaf} allowas-in"]
    return "\n".join(["frr defaults traditional", f"hostname node{index}", *policy,
                      *block, " exit-address-family", "exit", ""])


def host_conf(pod_cidr: str, *, default_route: bool = False) -> str:
    extra = "\n  network 0.0.0.0/0" if default_route else ""
    return f"""frr defaults traditional
router bgp 64515
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 192.169.10.1 remote-as 64514
 neighbor 192.169.10.1 timers connect 1
 address-family ipv4 unicast
  network {pod_cidr}{extra}
 exit-address-family
exit
"""


LEAF_CONF = """frr defaults traditional
router bgp 64512
 no bgp ebgp-requires-policy
 neighbor 10.1.1.2 remote-as 64514
 neighbor 10.1.2.2 remote-as 64514
exit
"""


@dataclass
class Fab:
    ns: dict[str, str]
    frr: dict[str, Frr]


def _wire(netns: NetnsFactory) -> dict[str, str]:
    ns = {role: netns(role) for role in ("hosta", "nodea", "leaf", "nodeb", "hostb")}
    links = [("hosta", "ha0", "192.169.10.3/24", "nodea", "na0", "192.169.10.1/24"),
             ("hostb", "hb0", "192.169.10.4/24", "nodeb", "nb0", "192.169.10.1/24"),
             ("nodea", "na1", "10.1.1.2/24", "leaf", "la1", "10.1.1.1/24"),
             ("nodeb", "nb1", "10.1.2.2/24", "leaf", "lb1", "10.1.2.1/24")]
    for left, ldev, laddr, right, rdev, raddr in links:
        ip("link", "add", ldev, "type", "veth", "peer", "name", rdev, "netns", ns[right],
           netns=ns[left])
        for side, dev, addr in ((left, ldev, laddr), (right, rdev, raddr)):
            ip("addr", "add", addr, "dev", dev, netns=ns[side])
            ip("link", "set", dev, "up", netns=ns[side])
    for role, pod in (("hosta", "10.244.0.1/24"), ("hostb", "10.244.1.1/24")):
        # The pod network: a veth pair inside the host (no dummy links here).
        ip("link", "add", "pod0", "type", "veth", "peer", "name", "pod1", netns=ns[role])
        ip("addr", "add", pod, "dev", "pod0", netns=ns[role])
        for dev in ("pod0", "pod1", "lo"):
            ip("link", "set", dev, "up", netns=ns[role])
    for role in ("nodea", "nodeb", "leaf"):
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=ns[role])
    return ns


@pytest.fixture(params=["8.4", "10.3"])
def fab(request: pytest.FixtureRequest, netns: NetnsFactory) -> Iterator[Fab]:
    image = request.getfixturevalue("frr_image_10") if request.param == "10.3" else None
    ns = _wire(netns)
    confs = {"hosta": host_conf("10.244.0.0/24"),
             "hostb": host_conf("10.244.1.0/24", default_route=True),
             "leaf": LEAF_CONF, "nodea": node_conf(1, "10.1.1.1"),
             "nodeb": node_conf(2, "10.1.2.1")}
    frr: dict[str, Frr] = {}
    try:
        for role, conf in confs.items():
            if image is not None and role.startswith("node"):
                frr[role] = ContainerFrr(ns[role], conf, image)
            else:
                frr[role] = NativeFrr(ns[role], conf)
            frr[role].start()
        yield Fab(ns, frr)
    finally:
        for f in frr.values():
            f.stop()


def kernel_route(fab: Fab, role: str, prefix: str) -> str:
    return ip("route", "show", prefix, netns=fab.ns[role]).strip()


def bgp_prefixes(frr: Frr) -> dict[str, Any]:
    doc = frr.vtysh("show bgp ipv4 unicast json") or {}
    routes: dict[str, Any] = doc.get("routes", {})
    return routes


def ping(fab: Fab, role: str, source: str, target: str) -> bool:
    proc = run("ping", "-c", "2", "-W", "2", "-I", source, target, netns=fab.ns[role],
               check=False)
    return proc.returncode == 0


def test_shared_host_asn_pods_reach_each_other(fab: Fab) -> None:
    host_a = fab.frr["hosta"]
    # Node B's pod route reaches host A through both nodes (AS path
    # 64514 64512 64514 64515 before the override) and is installed.
    host_a.wait(lambda: "via 192.169.10.1" in kernel_route(fab, "hosta", "10.244.1.0/24"),
                "host A installs node B's pod route", timeout=60)
    path = bgp_prefixes(host_a)["10.244.1.0/24"][0]["path"]
    assert "64515" not in path.split(), path        # overridden by our ASN
    assert ping(fab, "hosta", "10.244.0.1", "10.244.1.1")
    # The host end of each veth is announced (/32): traffic sourced from it
    # (192.169.10.3 -> 192.169.10.4, the same /24 on both nodes) comes back.
    host_a.wait(lambda: "via 192.169.10.1" in kernel_route(fab, "hosta", "192.169.10.4"),
                "host A learns host B's veth /32", timeout=30)
    assert ping(fab, "hosta", "192.169.10.3", "192.169.10.4")
    # Graceful restart: the leaf was told the node keeps its forwarding state.
    gr = (fab.frr["leaf"].vtysh("show bgp neighbors 10.1.1.2 json") or {}).get(
        "10.1.1.2", {}).get("gracefulRestartInfo", {})
    assert gr.get("ipv4Unicast", {}).get("fBit") is True, gr
    # Host B's default route stops at node B's inbound filter.
    assert "0.0.0.0/0" not in bgp_prefixes(fab.frr["nodeb"])
    assert "0.0.0.0/0" not in bgp_prefixes(fab.frr["leaf"])
    assert "10.244.1.0/24" in bgp_prefixes(fab.frr["nodeb"])

    # Control: without as-override, host A drops the route (AS-path loop).
    fab.frr["nodea"].configure("router bgp 64514", "address-family ipv4 unicast",
                               "no neighbor 192.169.10.3 as-override")
    fab.frr["nodea"].vtysh_raw("clear bgp ipv4 unicast 192.169.10.3 soft out")
    host_a.wait(lambda: kernel_route(fab, "hosta", "10.244.1.0/24") == "",
                "host A drops node B's pod route without as-override", timeout=60)


def test_node_conf_keeps_the_rendered_policy() -> None:
    """What the fabric above runs is the rendered block, not a hand-written one."""
    conf = node_conf(1, "10.1.1.1")
    for line in ("  neighbor 192.169.10.3 as-override",
                 "  neighbor 192.169.10.3 prefix-list evpn-boot-red-host-in in",
                 "  network 192.169.10.3/32",
                 "ip prefix-list evpn-boot-red-host-in seq 5 deny 0.0.0.0/0"):
        assert line in conf.splitlines()
    assert not re.search(r"vrf|l2vpn", conf)
