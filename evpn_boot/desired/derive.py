"""Config + node facts -> DesiredState (pure).

The only inputs are the validated configuration and :class:`NodeFacts`, the few
values that come from the machine (node index when read from an interface,
hostname, the underlay NIC's MTU).  Gathering those is the netlink package's job.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import Optional

from evpn_boot.config.model import (
    Config,
    L2VniConfig,
    L3VniConfig,
    UnderlayConfig,
    VlanUnderlay,
)
from evpn_boot.config.underlay import Uplink, optional_nics, uplinks
from evpn_boot.desired.model import (
    UNDERLAY_LINK_GROUP,
    BfdTimers,
    BridgeInfo,
    BridgePort,
    DesiredState,
    FrrL2Vni,
    FrrModel,
    FrrNeighbor,
    FrrVrf,
    IPInterface,
    LinkKind,
    LinkSpec,
    LoopbackInfo,
    MacvlanInfo,
    NodeValues,
    PhysicalInfo,
    RouteSpec,
    Runtime,
    Side,
    SysctlSpec,
    VethInfo,
    VlanInfo,
    VrfInfo,
    VxlanInfo,
)
from evpn_boot.rules import addressing, names
from evpn_boot.rules.addressing import AddressPlanError

__all__ = ["DeriveError", "NodeFacts", "derive", "derive_node"]

DEFAULT_UNDERLAY_MTU = 1500
VXLAN_OVERHEAD_V4 = 50
VXLAN_OVERHEAD_V6 = 70

#: FRR's own BFD timers (bfdd's defaults).
FRR_BFD_MULTIPLIER = 3
FRR_BFD_INTERVAL_MS = 300

_VXLAN_PORT = BridgePort(learning=False, neigh_suppress=True)
_PLAIN_PORT = BridgePort(learning=True, neigh_suppress=False)

ROUTER_SYSCTLS: tuple[SysctlSpec, ...] = (
    SysctlSpec(Side.ROUTER, "net/ipv4/ip_forward", "1"),
    SysctlSpec(Side.ROUTER, "net/ipv6/conf/all/forwarding", "1"),
    SysctlSpec(Side.ROUTER, "net/ipv4/conf/all/rp_filter", "0"),
    SysctlSpec(Side.ROUTER, "net/ipv4/conf/default/rp_filter", "0"),
    SysctlSpec(Side.ROUTER, "net/ipv4/conf/all/arp_accept", "1"),
    SysctlSpec(Side.ROUTER, "net/ipv4/conf/default/arp_accept", "1"),
    SysctlSpec(Side.ROUTER, "net/ipv6/conf/all/keep_addr_on_down", "1"),
    # Only kernels >= 5.18 have it; EVPN's ND suppression benefits where present.
    SysctlSpec(Side.ROUTER, "net/ipv6/conf/all/accept_untracked_na", "1", required=False),
)


@dataclass(frozen=True)
class NodeFacts:
    """Values read from the machine that derivation needs."""

    hostname: str
    #: Host part of ``node.index_from_interface``'s IPv4 address, when configured.
    interface_index: Optional[int] = None
    #: MTU of the underlay NIC (or the parent of a VLAN/macvlan), when known.
    underlay_mtu: Optional[int] = None


class DeriveError(ValueError):
    """The configuration cannot produce a desired state for this node."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def node_index(config: Config, facts: NodeFacts) -> int:
    if config.node.index is not None:
        return config.node.index
    if facts.interface_index is None:
        raise DeriveError([f"node.index_from_interface: no IPv4 address found on "
                           f"{config.node.index_from_interface!r}"])
    return facts.interface_index


def derive_node(config: Config, facts: NodeFacts) -> NodeValues:
    index = node_index(config, facts)
    try:
        vtep = addressing.vtep_address(config.underlay.vtep_cidr, index)
        rid = addressing.router_id(config.underlay.router_id_cidr, index)
    except AddressPlanError as exc:
        raise DeriveError([f"underlay: node index {index}: {exc}"]) from None
    return NodeValues(
        index=index,
        name=config.node.name or facts.hostname,
        vtep=vtep,
        router_id=rid,
        router_mac=(config.node.router_mac or addressing.router_mac(vtep.ip)).lower(),
    )


def derive(config: Config, facts: NodeFacts) -> DesiredState:
    """The whole desired state for this node; raises DeriveError listing every problem."""
    node = derive_node(config, facts)
    problems: list[str] = []
    underlay_mtu = config.underlay.mtu or facts.underlay_mtu or DEFAULT_UNDERLAY_MTU
    overhead = VXLAN_OVERHEAD_V6 if node.vtep.version == 6 else VXLAN_OVERHEAD_V4
    vxlan_mtu = underlay_mtu - overhead

    # The VTEP lives on the router namespace's loopback.
    links: list[LinkSpec] = [
        LinkSpec("lo", Side.ROUTER, LinkKind.LOOPBACK, LoopbackInfo(), addresses=(node.vtep,)),
    ]
    underlay_links = [_underlay_link(config.underlay, uplink, node.index, problems)
                      for uplink in uplinks(config.underlay)]
    links.extend(underlay_links)
    routes: list[RouteSpec] = []
    vrf_tables = {l3.vrf: l3.table or addressing.vrf_table(l3.vni) for l3 in config.l3vni}
    vrfs: list[FrrVrf] = []
    for i, l3 in enumerate(config.l3vni):
        try:
            vrf_links, vrf_routes, frr_vrf = _l3vni(l3, vrf_tables[l3.vrf], node, vxlan_mtu,
                                                   config.underlay.vxlan_port)
        except AddressPlanError as exc:
            problems.append(f"l3vni[{i}] (vni {l3.vni}): node index {node.index}: {exc}")
            continue
        links.extend(vrf_links)
        routes.extend(vrf_routes)
        vrfs.append(frr_vrf)
    for l2 in config.l2vni:
        links.extend(_l2vni(l2, node, vxlan_mtu, config.underlay.vxlan_port))
    if problems:
        raise DeriveError(problems)
    vrfs = [_with_gateway_subnets(v, config) for v in vrfs]

    frr = FrrModel(
        hostname=node.name,
        asn=config.underlay.asn,
        router_id=node.router_id,
        vtep=node.vtep,
        router_mac=node.router_mac,
        neighbors=tuple(FrrNeighbor(
            address=n.address, interface=n.interface, asn=n.asn, bfd=n.bfd,
            password_file=n.password_file, port=n.port, hold_time=n.hold_time,
            keepalive_time=n.keepalive_time, ebgp_multihop=n.ebgp_multihop,
            connect_retry_s=n.connect_retry_s)
            for n in config.underlay.neighbors),
        bfd_timers=_bfd_timers(config.underlay),
        multipath_relax=_leaves_differ(config.underlay),
        no_transit=not config.underlay.transit and len(config.underlay.neighbors) > 1,
        inline_nexthops=len(config.underlay.neighbors) > 1,
        vrfs=tuple(vrfs),
        l2vnis=tuple(FrrL2Vni(vni=l2.vni, vrf=l2.vrf) for l2 in config.l2vni),
        raw_config=config.frr.raw_config,
        restart_time_s=config.frr.restart_time_s,
    )
    return DesiredState(
        node=node,
        runtime=Runtime(
            netns=config.runtime.netns,
            host_netns=config.runtime.host_netns,
            state_dir=config.runtime.state_dir,
            run_dir=config.runtime.run_dir,
            frr_image=config.frr.image,
            frr_config_dir=config.frr.config_dir,
            frr_container=config.frr.container_name,
        ),
        links=tuple(links),
        routes=tuple(routes),
        sysctls=ROUTER_SYSCTLS,
        frr=frr,
        underlay=underlay_links[0].name,
        uplinks=tuple(link.name for link in underlay_links),
        optional_nics=optional_nics(config.underlay, config.readiness.require),
        l3_vnis=tuple(l3.vni for l3 in config.l3vni),
        l2_vnis=tuple(l2.vni for l2 in config.l2vni),
    )


def _bfd_timers(underlay: UnderlayConfig) -> BfdTimers | None:
    """The timers that differ from FRR's (300 ms x 3): FRR does not print its
    defaults back, so spelling them out would be a change on every reload."""
    b = underlay.bfd

    def set_(value: int | None, default: int) -> int | None:
        return None if value == default else value
    timers = BfdTimers(detect_multiplier=set_(b.detect_multiplier, FRR_BFD_MULTIPLIER),
                       receive_interval_ms=set_(b.receive_interval_ms, FRR_BFD_INTERVAL_MS),
                       transmit_interval_ms=set_(b.transmit_interval_ms, FRR_BFD_INTERVAL_MS))
    return None if timers == BfdTimers() else timers


def _leaves_differ(underlay: UnderlayConfig) -> bool:
    """Several leaves that are (or may be, "external") in different ASNs."""
    asns = {n.asn for n in underlay.neighbors}
    return len(underlay.neighbors) > 1 and (len(asns) > 1 or "external" in asns)


def _underlay_link(underlay: UnderlayConfig, uplink: Uplink, index: int,
                   problems: list[str]) -> LinkSpec:
    # Never addrgenmode none: the kernel's IPv6 link-local address is what BGP
    # unnumbered (RFC 5549) peers over.
    if uplink.sub is None:
        # Moved NIC: keeps the addresses it had on the host (recorded for teardown).
        return LinkSpec(uplink.name, Side.ROUTER, LinkKind.PHYSICAL, PhysicalInfo(),
                        mtu=underlay.mtu, addresses=None, group=UNDERLAY_LINK_GROUP)
    sub = uplink.sub
    addresses: tuple[IPInterface, ...] = ()
    if sub.address_cidr is not None:
        try:
            addresses = (addressing.subinterface_address(sub.address_cidr, sub.address_offset,
                                                         index),)
        except AddressPlanError as exc:
            where = ".".join(map(str, uplink.path)) if uplink.position is None else \
                f"underlay.{uplink.section}[{uplink.position}]"
            problems.append(f"{where}.address_cidr: node index {index}: {exc}")
    if isinstance(sub, VlanUnderlay):
        info: VlanInfo | MacvlanInfo = VlanInfo(parent=sub.parent, vlan_id=sub.id)
        kind = LinkKind.VLAN
    else:
        info = MacvlanInfo(parent=sub.parent)
        kind = LinkKind.MACVLAN
    return LinkSpec(uplink.name, Side.ROUTER, kind, info, mtu=underlay.mtu, addresses=addresses,
                    group=UNDERLAY_LINK_GROUP)


def _vxlan_link(vni: int, node: NodeValues, mtu: int, port: int) -> LinkSpec:
    return LinkSpec(
        names.vxlan_name(vni), Side.ROUTER, LinkKind.VXLAN,
        VxlanInfo(vni=vni, local=node.vtep.ip, port=port, learning=False, link="lo"),
        master=names.bridge_name(vni), mtu=mtu, addrgenmode_none=True, brport=_VXLAN_PORT)


def _l3vni(l3: L3VniConfig, table: int, node: NodeValues, mtu: int, port: int,
           ) -> tuple[list[LinkSpec], list[RouteSpec], FrrVrf]:
    router_side = addressing.veth_router_side(l3.local_cidr)
    host_side = addressing.veth_host_side(l3.local_cidr, node.index)
    router_addrs: list[IPInterface] = [router_side]
    host_addrs: list[IPInterface] = [host_side]
    host_v6 = None
    if l3.local_cidr_v6 is not None:
        router_addrs.append(addressing.veth_router_side(l3.local_cidr_v6))
        host_v6_if = addressing.veth_host_side(l3.local_cidr_v6, node.index)
        host_addrs.append(host_v6_if)
        host_v6 = host_v6_if.ip
    rveth, hveth = names.router_veth_name(l3.vni), names.host_veth_name(l3.vni)
    links = [
        LinkSpec(l3.vrf, Side.ROUTER, LinkKind.VRF, VrfInfo(table=table)),
        LinkSpec(names.bridge_name(l3.vni), Side.ROUTER, LinkKind.BRIDGE, BridgeInfo(),
                 master=l3.vrf, mtu=mtu, mac=node.router_mac, addrgenmode_none=True),
        _vxlan_link(l3.vni, node, mtu, port),
        LinkSpec(rveth, Side.ROUTER, LinkKind.VETH, VethInfo(peer=hveth, peer_side=Side.HOST),
                 master=l3.vrf, mtu=mtu, addresses=tuple(router_addrs)),
        LinkSpec(hveth, Side.HOST, LinkKind.VETH, VethInfo(peer=rveth, peer_side=Side.ROUTER),
                 mtu=mtu, addresses=tuple(host_addrs)),
    ]
    routes = [RouteSpec(Side.ROUTER, table, ipaddress.ip_network("0.0.0.0/0")),
              RouteSpec(Side.ROUTER, table, ipaddress.ip_network("::/0"))]
    assert isinstance(router_side.ip, ipaddress.IPv4Address)
    assert isinstance(host_side.ip, ipaddress.IPv4Address)
    frr_vrf = FrrVrf(name=l3.vrf, vni=l3.vni, host_asn=l3.host_asn,
                     host_neighbor=host_side.ip, local_address=router_side.ip,
                     host_neighbor_v6=host_v6, import_rts=tuple(l3.import_rts),
                     export_rts=tuple(l3.export_rts),
                     networks=tuple(ipaddress.ip_network(a.ip) for a in host_addrs),
                     host_allowed=(None if l3.host_allowed_prefixes is None
                                   else tuple(l3.host_allowed_prefixes)),
                     host_max_prefixes=l3.host_max_prefixes)
    return links, routes, frr_vrf


def _with_gateway_subnets(vrf: FrrVrf, config: Config) -> FrrVrf:
    """Add the subnets of the L2 VNI gateways in ``vrf``: without their type-5
    routes, L3-only VTEPs and border leaves would see only the hosts' /32s."""
    subnets = [gw.network for l2 in config.l2vni if l2.vrf == vrf.name for gw in l2.gateway_ips]
    merged = tuple(dict.fromkeys((*vrf.networks, *subnets)))
    return dataclasses.replace(vrf, networks=merged)


def _l2vni(l2: L2VniConfig, node: NodeValues, mtu: int, port: int) -> list[LinkSpec]:
    bridge = names.bridge_name(l2.vni)
    links = [
        LinkSpec(bridge, Side.ROUTER, LinkKind.BRIDGE, BridgeInfo(), master=l2.vrf, mtu=mtu,
                 mac=addressing.anycast_gateway_mac(l2.vni) if l2.gateway_ips else None,
                 # Link-local kept, as OpenPERouter does since its NDP flake (#342).
                 addresses=tuple(l2.gateway_ips)),
        _vxlan_link(l2.vni, node, mtu, port),
    ]
    if l2.host_bridge is not False:
        host_bridge = (names.host_bridge_name(l2.vni) if l2.host_bridge is True
                       else str(l2.host_bridge))
        rveth, hveth = names.router_l2_veth_name(l2.vni), names.host_l2_veth_name(l2.vni)
        links += [
            LinkSpec(host_bridge, Side.HOST, LinkKind.BRIDGE, BridgeInfo(), mtu=mtu),
            LinkSpec(rveth, Side.ROUTER, LinkKind.VETH,
                     VethInfo(peer=hveth, peer_side=Side.HOST), master=bridge, mtu=mtu,
                     brport=_PLAIN_PORT),
            LinkSpec(hveth, Side.HOST, LinkKind.VETH,
                     VethInfo(peer=rveth, peer_side=Side.ROUTER), master=host_bridge, mtu=mtu,
                     brport=_PLAIN_PORT),
        ]
    return links
