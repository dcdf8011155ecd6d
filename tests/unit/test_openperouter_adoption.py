"""The adoption table: OpenPERouter's dataplane rules as data, our derivation held against them.

OpenPERouter adopts what it finds in the router namespace only where it would
have built the same (docs/openperouter.md); anything else it changes, deletes
or re-creates.  Each rule below is stated from its source (v0.2.0 and main,
2026-08: the files named) as an independent formula, not with our code.  The
rules are identical in both versions; ``RULES`` keeps them per version so that
a future difference has a place.  A deliberate difference is listed in
``DIFFERENCES`` with what adoption does with it, and asserted to be what we do.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

import pytest

from evpn_boot.config.load import parse_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import DesiredState, LinkKind, LinkSpec, Side, VxlanInfo
from evpn_boot.rules import addressing

Net = Any


def _host(pool: Net, i: int) -> Any:          # go-cidr's Host(): network address + i
    return pool.network_address + i


def _veth(pool: Net, index: int) -> tuple[str, str]:
    """internal/ipam/ipam.go vethIPsForFamily: (router side, host side)."""
    pe = 0 if pool.network_address.packed[-1] != 0 else 1
    return (f"{_host(pool, pe)}/{pool.prefixlen}",
            f"{_host(pool, pe + index + 1)}/{pool.prefixlen}")


def _gateway_mac(vni: int) -> str:
    """internal/hostnetwork/bridge.go ensureBridgeFixedMacAddress: 00:f3 + BE int32(vni+1)."""
    return ":".join(f"{b:02x}" for b in bytes([0x00, 0xF3]) + (vni + 1).to_bytes(4, "big"))


RULES_V0_2: dict[str, Callable[..., Any]] = {
    # internal/ipam/ipam.go
    "vtep": lambda pool, i: f"{_host(pool, i)}/{pool.max_prefixlen}",
    "router_id": lambda pool, i: str(_host(pool, i + 1)),
    "veth": _veth,
    # internal/hostnetwork/veth.go vethNamesFromVNI (L3 and L2 alike)
    "veth_names": lambda vni: (f"host-e-{vni}", f"pe-e-{vni}"),
    # bridge.go, vxlan.go, host_bridge.go
    "bridge": lambda vni: f"br-pe-{vni}",
    "vxlan": lambda vni: f"vni{vni}",
    "host_bridge": lambda vni: f"br-hs-{vni}",
    # vxlan.go checkVXLanConfigured: else the VXLAN is deleted and re-created
    "vxlan_link": lambda: "lo",
    "vxlan_learning": lambda: False,
    "gateway_mac": _gateway_mac,
    # vni.go SetupL3VNI passes setAddrGenModeNone to the bridge, SetupL2VNI does not;
    # setupVXLan always sets it; createHostBridge never does.
    "addrgen_none": lambda role: {"l3_bridge": True, "l2_bridge": False, "vxlan": True,
                                  "host_bridge": False}[role],
    # vni.go VXLanOverhead, vni_l3vpn_common.go setVethMTUForTunnelOverhead
    "veth_mtu": lambda underlay_mtu: underlay_mtu - 50,
    # underlay.go: the moved device's link group
    "underlay_group": lambda: 4242,
}
RULES = {"v0.2": RULES_V0_2, "main": dict(RULES_V0_2)}

#: Deliberate differences: (rule, what we do, what adoption does with it).
DIFFERENCES = {
    "veth_mtu_ipv6": ("underlay MTU - 70 on an IPv6 VTEP (the real VXLAN-over-IPv6 overhead)",
                      "OpenPERouter raises both veth ends to underlay - 50 (no flap)"),
    "vrf_table": ("1000 + VNI, or l3vni.table", "an existing VRF is kept with its table"),
    "l2_veth_without_host_bridge": ("no veth pair when host_bridge = false",
                                    "OpenPERouter adds host-e-/pe-e-<vni>, the host end loose"),
    "mtu_on_bridge_and_vxlan": ("underlay MTU - overhead on br-pe-/vni<N>",
                                "OpenPERouter does not set these MTUs: kept"),
    "l3_bridge_mac": ("the router MAC on every L3 VNI bridge", "no MAC is set there: kept"),
}

CONFIG = """
[node]
index = {index}

[underlay]
asn = 64514
vtep_cidr = "{vtep}"
router_id_cidr = "10.0.0.0/24"
nic = "eth1"
mtu = 1500
{frr}
[[underlay.neighbors]]
address = "{neighbor}"
asn = 64512

[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "{local}"
local_cidr_v6 = "{local6}"
host_asn = 64515

[[l2vni]]
vni = 110
vrf = "red"
host_bridge = true
gateway_ips = ["192.170.1.1/24"]
"""

POOLS = [  # (local_cidr, local_cidr_v6): last byte 0 and not 0
    ("192.169.10.0/24", "fd00:10::/64"),
    ("192.169.10.64/26", "fd00:10::40/122"),
    ("10.1.2.128/25", "fd00:10::100/120"),
    ("172.16.0.4/30", "fd00:10::/126"),
]


def desired_for(index: int, local: str, local6: str, vtep: str = "100.65.0.0/24"
                ) -> DesiredState:
    ipv6 = vtep.count(":") > 0
    text = CONFIG.format(index=index, vtep=vtep, local=local, local6=local6,
                         neighbor="fd00:1::1" if ipv6 else "192.168.11.2",
                         frr='[frr]\nversion = "10.6"\n' if ipv6 else "")
    return derive(parse_config(text.encode()), NodeFacts(hostname="n"))


def addresses(spec: LinkSpec) -> list[str]:
    return [str(a) for a in spec.addresses or ()]


@pytest.mark.parametrize("version", sorted(RULES))
@pytest.mark.parametrize(("local", "local6"), POOLS)
@pytest.mark.parametrize("index", [0, 1])
def test_addresses_are_openperouters(version: str, local: str, local6: str, index: int) -> None:
    rules = RULES[version]
    desired = desired_for(index, local, local6)
    v4, v6 = ipaddress.ip_network(local), ipaddress.ip_network(local6)
    assert str(desired.node.vtep) == rules["vtep"](ipaddress.ip_network("100.65.0.0/24"), index)
    assert str(desired.node.router_id) == rules["router_id"](
        ipaddress.ip_network("10.0.0.0/24"), index)
    host_name, pe_name = rules["veth_names"](100)
    (pe4, host4), (pe6, host6) = rules["veth"](v4, index), rules["veth"](v6, index)
    assert addresses(desired.link(Side.ROUTER, pe_name)) == [pe4, pe6]
    assert addresses(desired.link(Side.HOST, host_name)) == [host4, host6]


def test_the_last_byte_rule_both_ways() -> None:
    # Stated on one example each, so the formula above cannot drift unseen.
    assert _veth(ipaddress.ip_network("192.169.10.0/24"), 1) == ("192.169.10.1/24",
                                                                 "192.169.10.3/24")
    assert _veth(ipaddress.ip_network("192.169.10.64/26"), 1) == ("192.169.10.64/26",
                                                                  "192.169.10.66/26")
    assert addressing.veth_router_side(ipaddress.ip_network("192.169.10.64/26")) == \
        ipaddress.ip_interface("192.169.10.64/26")


@pytest.mark.parametrize("version", sorted(RULES))
def test_links_are_openperouters(version: str) -> None:
    rules = RULES[version]
    desired = desired_for(1, *POOLS[0])
    for vni, bridge_role in ((100, "l3_bridge"), (110, "l2_bridge")):
        bridge = desired.link(Side.ROUTER, rules["bridge"](vni))
        assert bridge.addrgenmode_none is rules["addrgen_none"](bridge_role)
        vxlan = desired.link(Side.ROUTER, rules["vxlan"](vni))
        assert isinstance(vxlan.info, VxlanInfo)
        assert vxlan.info.link == rules["vxlan_link"]()
        assert vxlan.info.learning is rules["vxlan_learning"]()
        assert vxlan.info.local == desired.node.vtep.ip
        assert vxlan.addrgenmode_none is rules["addrgen_none"]("vxlan")
        host_name, pe_name = rules["veth_names"](vni)
        assert desired.link(Side.ROUTER, pe_name).kind is LinkKind.VETH
        assert desired.link(Side.HOST, host_name).kind is LinkKind.VETH
        assert desired.link(Side.ROUTER, pe_name).mtu == rules["veth_mtu"](1500)
    l2 = desired.link(Side.ROUTER, rules["bridge"](110))
    assert l2.mac == rules["gateway_mac"](110) == "00:f3:00:00:00:6f"
    host_bridge = desired.link(Side.HOST, rules["host_bridge"](110))
    assert host_bridge.addrgenmode_none is rules["addrgen_none"]("host_bridge")
    assert desired.link(Side.ROUTER, "eth1").group == rules["underlay_group"]()


@pytest.mark.parametrize("vni", [1, 110, 255, 65535, 16777215])
def test_gateway_mac_for_any_vni(vni: int) -> None:
    assert addressing.anycast_gateway_mac(vni) == RULES["main"]["gateway_mac"](vni)


def test_deliberate_differences_are_what_we_do() -> None:
    assert set(DIFFERENCES) == {"veth_mtu_ipv6", "vrf_table", "l2_veth_without_host_bridge",
                                "mtu_on_bridge_and_vxlan", "l3_bridge_mac"}
    v6 = desired_for(1, *POOLS[0], vtep="fd00:65::/64")
    assert v6.link(Side.ROUTER, "pe-e-100").mtu == 1500 - 70 != RULES["main"]["veth_mtu"](1500)
    v4 = desired_for(1, *POOLS[0])
    assert v4.link(Side.ROUTER, "red").info == type(v4.link(Side.ROUTER, "red").info)(table=1100)
    assert v4.link(Side.ROUTER, "br-pe-100").mac == v4.node.router_mac
    assert v4.link(Side.ROUTER, "vni100").mtu == 1450
    no_bridge = derive(parse_config(CONFIG.format(
        index=1, vtep="100.65.0.0/24", local=POOLS[0][0], local6=POOLS[0][1],
        neighbor="192.168.11.2", frr="").replace("host_bridge = true", "host_bridge = false")
        .encode()), NodeFacts(hostname="n"))
    assert not [link for link in no_bridge.links if link.name.endswith("-e-110")]
