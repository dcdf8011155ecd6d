"""pyroute2 as the oracle of the hand-rolled wire format (no root needed).

The executor (:mod:`evpn_boot.netlink.apply`) builds every request with
:mod:`evpn_boot.netlink.encode`; here its transport is replaced by a recorder and
each request, framed exactly as the socket would send it, is decoded with
pyroute2's own message classes.  The decoded fields must be the values the
plan asked for: if encode.py put an attribute at the wrong type number, with the
wrong width or byte order, or nested it wrongly, pyroute2 reads something else.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from evpn_boot.config.load import parse_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import (
    BridgePort,
    DesiredState,
    LinkKind,
    LinkSpec,
    LoopbackInfo,
    MacvlanInfo,
    PhysicalInfo,
    Side,
    VethInfo,
    VlanInfo,
    VrfInfo,
    VxlanInfo,
)
from evpn_boot.errors import EvpnBootError
from evpn_boot.netlink import apply as apply_mod
from evpn_boot.netlink import encode, rtnl, wire
from evpn_boot.netlink.apply import Executor
from evpn_boot.plan.diff import diff
from evpn_boot.plan.model import Action, Change, ObservedLink, ObservedState, Op, Plan
from evpn_boot.state.model import HOST_LINK_GROUP, Ownership

BASE = """
[node]
index = 3
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
{underlay}
[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
host_asn = 64515
[[l2vni]]
vni = 110
vrf = "red"
host_bridge = true
gateway_ips = ["10.110.0.1/24"]
[[l2vni]]
vni = 120
[runtime]
netns = "ebt-unused-r"
host_netns = "ebt-unused-h"
"""
MACVLAN = 'macvlan = { parent = "eth0", address_cidr = "192.168.20.0/24", address_offset = 10 }'
VLAN = 'vlan = { parent = "eth0", id = 42, address_cidr = "192.168.30.0/24" }'
#: Indices the fake kernel gives: host links by name, then new ones from 100 up.
HOST_INDEX = {"eth0": 2}


def desired_for(underlay: str) -> DesiredState:
    config = parse_config(BASE.format(underlay=underlay).encode())
    return derive(config, NodeFacts(hostname="node", underlay_mtu=1500))


def host_parent(name: str) -> ObservedLink:
    spec = LinkSpec(name, Side.HOST, LinkKind.PHYSICAL, PhysicalInfo(), up=True, mtu=1500,
                    addresses=(), group=0)
    return ObservedLink(spec, HOST_INDEX[name], "")


class Recorder(Executor):
    """The real executor with the socket replaced by a list; indices from a counter."""

    def __init__(self, plan: Plan, observed: ObservedState) -> None:
        # "" = this process's namespace: only its fd is opened, nothing is sent.
        super().__init__(plan, observed, "", "", record_host_links=lambda names: None,
                         record_nic=lambda: None)
        self.sent: list[tuple[Side, wire.Request]] = []
        self._fake = 100

    def _run(self, side: Side, requests: list[wire.Request], *,
             ignore_missing: bool = False) -> None:
        self.sent += [(side, request) for request in requests]

    def _refresh(self, side: Side) -> None:
        for op in self.plan.ops:
            for spec in (op.spec, op.peer):
                if spec is not None and op.action is Action.CREATE \
                        and spec.name not in self.index[spec.side]:
                    self._fake += 1
                    self.index[spec.side][spec.name] = self._fake


def tree(nla: Any) -> Any:
    """A decoded pyroute2 message or attribute as plain dicts (attribute name -> value)."""
    if not isinstance(nla, dict) or "attrs" not in nla:
        return nla
    out: dict[str, Any] = {k: v for k, v in nla.items() if k not in ("attrs", "header")}
    for name, value, *_flags in nla["attrs"]:
        assert name not in out, f"attribute {name} sent twice"
        out[name] = tree(value)
    return out


def decode(side: Side, request: wire.Request) -> dict[str, Any]:
    cls = {rtnl.RTM_NEWLINK: ifinfmsg, rtnl.RTM_DELLINK: ifinfmsg,
           rtnl.RTM_NEWADDR: ifaddrmsg, rtnl.RTM_DELADDR: ifaddrmsg,
           rtnl.RTM_NEWROUTE: rtmsg}[request.msg_type]
    data = wire.frame(request.msg_type, request.flags | rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK,
                      7, request.body)
    msg = cls(data)
    msg.decode()
    assert msg["header"]["length"] == len(data)
    assert msg["header"]["type"] == request.msg_type
    assert msg["header"]["sequence_number"] == 7
    decoded = tree(msg)
    decoded["_side"] = side
    decoded["_flags"] = msg["header"]["flags"]
    return decoded


def run_plan(plan: Plan, observed: ObservedState) -> tuple[Recorder, list[dict[str, Any]]]:
    recorder = Recorder(plan, observed)
    recorder.run()
    return recorder, [decode(side, request) for side, request in recorder.sent]


def links_named(msgs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [m for m in msgs if m.get("IFLA_IFNAME") == name and "ifi_type" in m]


@pytest.fixture(params=["macvlan", "vlan"])
def fresh(request: pytest.FixtureRequest) -> tuple[DesiredState, Recorder,
                                                   list[dict[str, Any]]]:
    desired = desired_for(MACVLAN if request.param == "macvlan" else VLAN)
    links = {(Side.HOST, "eth0"): host_parent("eth0"),
             (Side.ROUTER, "lo"): ObservedLink(LinkSpec("lo", Side.ROUTER, LinkKind.LOOPBACK,
                                                        LoopbackInfo(), up=False, addresses=()),
                                               1, "")}
    sysctls = {(s.side, s.key): s.value for s in desired.sysctls}
    observed = ObservedState(netns_exists=True, links=links, sysctls=sysctls)
    plan = diff(desired, observed, Ownership())
    recorder, msgs = run_plan(plan, observed)
    return desired, recorder, msgs


def expected_info_data(spec: LinkSpec, recorder: Recorder) -> dict[str, Any]:
    info = spec.info
    if isinstance(info, VxlanInfo):
        return {"IFLA_VXLAN_ID": info.vni, "IFLA_VXLAN_LOCAL": str(info.local),
                "IFLA_VXLAN_PORT": info.port, "IFLA_VXLAN_LEARNING": int(info.learning),
                "IFLA_VXLAN_LINK": 1}
    if isinstance(info, VrfInfo):
        return {"IFLA_VRF_TABLE": info.table}
    if isinstance(info, VlanInfo):
        return {"IFLA_VLAN_ID": info.vlan_id}
    if isinstance(info, MacvlanInfo):
        return {"IFLA_MACVLAN_MODE": info.mode}
    return {}


def test_every_created_link_decodes_to_its_spec(fresh: Any) -> None:
    desired, recorder, msgs = fresh
    kinds = set()
    for spec in desired.links:
        if spec.kind in (LinkKind.LOOPBACK, LinkKind.PHYSICAL):
            continue
        if isinstance(spec.info, VethInfo) and spec.side is Side.HOST:
            continue    # created inside its router end's message, checked there
        creates = [m for m in links_named(msgs, spec.name)
                   if m["_flags"] & rtnl.NLM_F_CREATE]
        assert len(creates) == 1, spec.name
        msg = creates[0]
        kinds.add(spec.kind)
        assert msg["_flags"] & rtnl.NLM_F_EXCL
        linkinfo = msg["IFLA_LINKINFO"]
        assert linkinfo["IFLA_INFO_KIND"] == spec.kind.value
        assert msg.get("IFLA_MTU") == spec.mtu
        group = spec.group if spec.group is not None else (
            HOST_LINK_GROUP if spec.side is Side.HOST else None)
        assert msg.get("IFLA_GROUP") == group, spec.name
        if spec.master:
            assert msg["IFLA_MASTER"] == recorder.index[spec.side][spec.master] > 0
        else:
            assert "IFLA_MASTER" not in msg
        # Up in the creating message only when no addrgenmode switch must come first.
        up = spec.up and not spec.addrgenmode_none
        assert (msg["flags"], msg["change"]) == (1 if up else 0, 1), spec.name
        data = expected_info_data(spec, recorder)
        if data:
            assert linkinfo["IFLA_INFO_DATA"] == data, spec.name
        if isinstance(spec.info, (VlanInfo, MacvlanInfo)):
            # Sent in the host namespace (parent looked up there), landing in ours.
            assert msg["_side"] is Side.HOST
            assert msg["IFLA_LINK"] == HOST_INDEX[spec.info.parent]
            assert msg["IFLA_NET_NS_FD"] >= 0 and msg["index"] == 0
        elif spec.side is Side.ROUTER:
            assert msg["_side"] is Side.ROUTER
            assert msg["index"] == recorder.index[Side.ROUTER][spec.name]
        if isinstance(spec.info, VethInfo):
            peer_spec = next(s for s in desired.links if s.name == spec.info.peer)
            peer = linkinfo["IFLA_INFO_DATA"]["VETH_INFO_PEER"]
            assert peer["IFLA_IFNAME"] == peer_spec.name
            assert peer.get("IFLA_MTU") == peer_spec.mtu
            assert peer["IFLA_GROUP"] == HOST_LINK_GROUP
            if spec.info.peer_side is not spec.side:
                assert peer["IFLA_NET_NS_FD"] >= 0
    assert {LinkKind.BRIDGE, LinkKind.VXLAN, LinkKind.VETH, LinkKind.VRF} <= kinds
    assert kinds & {LinkKind.MACVLAN, LinkKind.VLAN}


def test_after_create_requests_decode_to_addrgenmode_ports_up_and_addresses(
        fresh: Any) -> None:
    desired, recorder, msgs = fresh
    for spec in desired.links:
        if spec.kind in (LinkKind.PHYSICAL, LinkKind.LOOPBACK):
            continue
        followups = [m for m in links_named(msgs, spec.name)
                     if not m["_flags"] & rtnl.NLM_F_CREATE]
        if spec.addrgenmode_none:
            assert any(m.get("IFLA_AF_SPEC") == {"AF_INET6": {"IFLA_INET6_ADDR_GEN_MODE": 1}}
                       for m in followups), spec.name
        far_end = isinstance(spec.info, VethInfo) and spec.side is Side.HOST
        if spec.up and (spec.addrgenmode_none or far_end):
            assert any((m["flags"], m["change"]) == (1, 1) for m in followups), spec.name
        if spec.brport is not None and spec.master:
            ports = [m["IFLA_LINKINFO"] for m in followups if "IFLA_LINKINFO" in m]
            assert ports == [{"IFLA_INFO_SLAVE_KIND": "bridge", "IFLA_INFO_SLAVE_DATA": {
                "IFLA_BRPORT_LEARNING": int(spec.brport.learning),
                "IFLA_BRPORT_NEIGH_SUPPRESS": int(spec.brport.neigh_suppress)}}], spec.name
        for address in spec.addresses or ():
            [msg] = [m for m in msgs if "prefixlen" in m
                     and m.get("IFA_LOCAL", m.get("IFA_ADDRESS")) == str(address.ip)
                     and m["index"] == recorder.index[spec.side].get(spec.name, -1)]
            assert msg["family"] == (socket.AF_INET if address.version == 4
                                     else socket.AF_INET6)
            assert msg["prefixlen"] == address.network.prefixlen
            assert msg["IFA_ADDRESS"] == str(address.ip)
            assert msg["_side"] is spec.side
            assert msg["_flags"] & rtnl.NLM_F_CREATE
            if address.version == 4 and address.network.prefixlen < 31:
                assert msg["IFA_BROADCAST"] == str(address.network.broadcast_address)
            assert msg["scope"] == (254 if address.ip.is_loopback else 0)


def test_route_add_decodes_to_an_unreachable_default_in_the_vrf_table(fresh: Any) -> None:
    desired, _recorder, msgs = fresh
    routes = [m for m in msgs if "dst_len" in m]
    assert len(routes) == len(desired.routes) > 0
    for route, msg in zip(desired.routes, routes):
        assert msg["type"] == 7       # RTN_UNREACHABLE
        assert msg["RTA_TABLE"] == route.table and msg["table"] == 252    # RT_TABLE_COMPAT
        assert msg["RTA_PRIORITY"] == route.metric
        assert msg["dst_len"] == 0 and "RTA_DST" not in msg
        assert msg["proto"] == 4 and msg["_flags"] & rtnl.NLM_F_CREATE
    v6 = wire.Request(rtnl.RTM_NEWROUTE, encode.CREATE, encode.route(replace(
        desired.routes[0], dst=ipaddress.ip_network("2001:db8::/32"), table=100)))
    msg = decode(Side.ROUTER, v6)
    assert (msg["family"], msg["dst_len"], msg["table"], msg["RTA_TABLE"]) == (
        socket.AF_INET6, 32, 100, 100)
    assert msg["RTA_DST"] == "2001:db8::"


def test_in_place_changes_decode_to_exactly_the_changed_attributes() -> None:
    desired = desired_for(MACVLAN)
    by_name = {s.name: s for s in desired.links}
    vxlan = replace(by_name["vni110"], mac="02:00:00:aa:bb:cc", group=7)
    host_br = by_name["br-hs-110"]
    observed = ObservedState(netns_exists=True, links={
        (s.side, s.name): ObservedLink(s, 10 + i, s.kind.value)
        for i, s in enumerate(desired.links)})
    ops = (
        Op(Action.SET, Side.ROUTER, "vni110", spec=vxlan, changes=(
            Change("master", "br-pe-120", "br-pe-110"), Change("mtu", "1400", "1450"),
            Change("mac", "none", "02:00:00:aa:bb:cc"), Change("group", "0", "7"),
            Change("bridge-port", "x", "y"), Change("state", "down", "up"),
            Change("addrgenmode", "eui64", "none"))),
        Op(Action.SET, Side.HOST, "br-hs-110", spec=host_br,
           changes=(Change("group", "0", str(HOST_LINK_GROUP)),)),
        Op(Action.DELETE, Side.ROUTER, "vni999", stage=3),
        Op(Action.DEL_ADDR, Side.ROUTER, "lo", stage=3,
           address=ipaddress.ip_interface("100.65.0.9/32")),
    )
    recorder, msgs = run_plan(Plan(ops=ops), observed)
    index = recorder.index
    [delete] = [m for m in msgs if m.get("IFLA_IFNAME") == "vni999"]
    assert delete["index"] == 0 and set(delete) - {"_side", "_flags"} >= {"IFLA_IFNAME"}
    [deladdr] = [m for m in msgs if "prefixlen" in m]
    assert (deladdr["IFA_LOCAL"], deladdr["prefixlen"], deladdr["index"]) == (
        "100.65.0.9", 32, index[Side.ROUTER]["lo"])
    assert deladdr["scope"] == 0
    vx = links_named(msgs, "vni110")
    attrs, port, up = vx
    assert attrs["IFLA_MASTER"] == index[Side.ROUTER]["br-pe-110"]
    assert attrs["IFLA_MTU"] == vxlan.mtu and attrs["IFLA_GROUP"] == 7
    assert attrs["IFLA_ADDRESS"] == "02:00:00:aa:bb:cc"
    assert attrs["IFLA_AF_SPEC"] == {"AF_INET6": {"IFLA_INET6_ADDR_GEN_MODE": 1}}
    assert (attrs["flags"], attrs["change"]) == (0, 0)
    assert port["IFLA_LINKINFO"]["IFLA_INFO_SLAVE_DATA"] == {
        "IFLA_BRPORT_LEARNING": 0, "IFLA_BRPORT_NEIGH_SUPPRESS": 1}
    assert (up["flags"], up["change"]) == (1, 1) and "IFLA_MASTER" not in up
    [hbr] = links_named(msgs, "br-hs-110")
    assert hbr["_side"] is Side.HOST and hbr["IFLA_GROUP"] == HOST_LINK_GROUP
    assert set(hbr) - {"_side", "_flags"} == {"IFLA_IFNAME", "IFLA_GROUP", "family",
                                                "ifi_type", "index", "flags", "change",
                                                "state", "__align"}


def test_brport_values_follow_the_spec_not_a_constant() -> None:
    desired = desired_for(MACVLAN)
    spec = next(s for s in desired.links if s.name == "vni120")
    flipped = replace(spec, brport=BridgePort(learning=True, neigh_suppress=False))
    observed = ObservedState(netns_exists=True, links={
        (s.side, s.name): ObservedLink(s, 10 + i, s.kind.value)
        for i, s in enumerate(desired.links)})
    op = Op(Action.SET, Side.ROUTER, "vni120", spec=flipped,
            changes=(Change("bridge-port", "a", "b"),))
    _recorder, msgs = run_plan(Plan(ops=(op,)), observed)
    [port] = links_named(msgs, "vni120")
    assert port["IFLA_LINKINFO"]["IFLA_INFO_SLAVE_DATA"] == {
        "IFLA_BRPORT_LEARNING": 1, "IFLA_BRPORT_NEIGH_SUPPRESS": 0}


def test_every_plan_action_has_an_executor_step() -> None:
    assert set(apply_mod.STEPS) == set(Action)


def test_an_op_without_an_executor_step_is_refused_before_anything_is_sent(
        monkeypatch: pytest.MonkeyPatch, fresh: Any) -> None:
    desired, _recorder, _msgs = fresh
    observed = ObservedState(netns_exists=True, links={})
    plan = diff(desired, observed, Ownership())
    assert plan.by_action(Action.ADD_ROUTE)
    monkeypatch.delitem(apply_mod.STEPS, Action.ADD_ROUTE)
    recorder = Recorder(plan, observed)
    with pytest.raises(EvpnBootError, match="no executor step for add-route"):
        recorder.run()
    assert recorder.sent == []


def test_lab_routes_decode_to_main_table_unicast_routes() -> None:
    via = decode(Side.HOST, wire.Request(rtnl.RTM_NEWROUTE, encode.CREATE, encode.unicast_route(
        ipaddress.ip_network("0.0.0.0/0"), gateway=ipaddress.ip_address("192.168.10.254"))))
    assert (via["type"], via["table"], via["RTA_TABLE"], via["scope"], via["proto"]) == (
        1, 254, 254, 0, 4)                      # RTN_UNICAST, main, universe, static
    assert via["RTA_GATEWAY"] == "192.168.10.254" and via["dst_len"] == 0
    assert "RTA_DST" not in via and "RTA_OIF" not in via
    onlink = decode(Side.HOST, wire.Request(rtnl.RTM_NEWROUTE, encode.CREATE,
                                            encode.unicast_route(
        ipaddress.ip_network("10.244.0.0/24"), oif=5)))
    assert (onlink["RTA_DST"], onlink["dst_len"], onlink["RTA_OIF"], onlink["scope"]) == (
        "10.244.0.0", 24, 5, 253)               # RT_SCOPE_LINK
    assert "RTA_GATEWAY" not in onlink


@pytest.mark.parametrize("up", [True, False])
def test_teardown_requests_decode_to_the_recorded_nic(up: bool) -> None:
    restore = decode(Side.HOST, wire.Request(rtnl.RTM_NEWLINK, 0, encode.link(
        index=7, up=up, mtu=1400, group=0)))
    assert (restore["index"], restore["flags"], restore["change"]) == (7, int(up), 1)
    assert (restore["IFLA_MTU"], restore["IFLA_GROUP"]) == (1400, 0)
    assert "IFLA_IFNAME" not in restore
    move = decode(Side.ROUTER, wire.Request(rtnl.RTM_NEWLINK, 0, encode.move_link(7, 9)))
    assert (move["index"], move["IFLA_NET_NS_FD"], move["change"]) == (7, 9, 0)
    gone = decode(Side.HOST, wire.Request(rtnl.RTM_DELLINK, 0, encode.delete_link(index=7)))
    assert gone["index"] == 7 and set(gone) - {"_side", "_flags"} == {
        "family", "ifi_type", "index", "flags", "change", "state", "__align"}
    restored = decode(Side.HOST, wire.Request(rtnl.RTM_NEWADDR, encode.CREATE, encode.address(
        ipaddress.ip_interface("192.168.11.3/24"), 7)))
    assert (restored["IFA_LOCAL"], restored["IFA_ADDRESS"], restored["IFA_BROADCAST"]) == (
        "192.168.11.3", "192.168.11.3", "192.168.11.255")
    assert (restored["index"], restored["prefixlen"], restored["scope"]) == (7, 24, 0)
    # As recorded: none at all, or the one the host had.
    bare = decode(Side.HOST, wire.Request(rtnl.RTM_NEWADDR, encode.CREATE, encode.address(
        ipaddress.ip_interface("192.168.11.3/24"), 7, "")))
    assert "IFA_BROADCAST" not in bare
    other = decode(Side.HOST, wire.Request(rtnl.RTM_NEWADDR, encode.CREATE, encode.address(
        ipaddress.ip_interface("192.168.11.3/24"), 7, "192.168.11.7")))
    assert other["IFA_BROADCAST"] == "192.168.11.7"


class ProbeSocket:
    """Records what preflight's probes send; the parent lookup answers index 42."""

    def __init__(self) -> None:
        self.sent: list[wire.Request] = []

    def call(self, msg_type: int, flags: int, body: bytes) -> None:
        self.sent.append(wire.Request(msg_type, flags, body))


@pytest.mark.parametrize(("kind", "data"), [
    (LinkKind.VRF, {"IFLA_VRF_TABLE": 10}),
    (LinkKind.VXLAN, {"IFLA_VXLAN_ID": 1, "IFLA_VXLAN_PORT": 4789}),
    (LinkKind.VLAN, {"IFLA_VLAN_ID": 2}),
    (LinkKind.MACVLAN, {"IFLA_MACVLAN_MODE": "bridge"}),
    (LinkKind.VETH, None),
])
def test_preflight_probes_decode_to_one_link_of_their_kind(
        monkeypatch: pytest.MonkeyPatch, kind: LinkKind, data: Any) -> None:
    from evpn_boot.netlink import preflight
    monkeypatch.setattr(preflight, "get_link", lambda sock, name: type("L", (), {"index": 42}))
    sock = ProbeSocket()
    assert preflight._probe(sock, kind)  # type: ignore[arg-type]
    *parents, probe = [decode(Side.ROUTER, request) for request in sock.sent]
    assert probe["IFLA_IFNAME"] == f"probe-{kind.value}" and probe["_flags"] & rtnl.NLM_F_EXCL
    assert probe["IFLA_LINKINFO"]["IFLA_INFO_KIND"] == kind.value
    if kind is LinkKind.VETH:
        peer = probe["IFLA_LINKINFO"]["IFLA_INFO_DATA"]["VETH_INFO_PEER"]
        assert peer["IFLA_IFNAME"] == "probe1"
    else:
        assert probe["IFLA_LINKINFO"]["IFLA_INFO_DATA"] == data
    if kind in (LinkKind.VLAN, LinkKind.MACVLAN):
        [parent] = parents
        assert parent["IFLA_IFNAME"] == "probep" and probe["IFLA_LINK"] == 42
        assert parent["IFLA_LINKINFO"]["IFLA_INFO_DATA"]["VETH_INFO_PEER"][
            "IFLA_IFNAME"] == "probeq"
    else:
        assert parents == [] and "IFLA_LINK" not in probe
