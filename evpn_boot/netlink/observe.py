"""Kernel -> ObservedState: one dump per object kind per namespace.

Links (one ``RTM_GETLINK`` dump: kind, VXLAN/VRF/VLAN settings, master, MTU,
MAC, group, bridge-port flags and addrgenmode all arrive in it), addresses (one
``RTM_GETADDR`` dump), routes (one ``RTM_GETROUTE`` dump, only when the desired
state has routes) and sysctls (read through ``/proc/sys`` of the namespace).
Only the attributes the planner compares are decoded.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Optional

from evpn_boot.desired.model import (
    BridgeInfo,
    BridgePort,
    DesiredState,
    IPInterface,
    KindInfo,
    LinkKind,
    LinkSpec,
    LoopbackInfo,
    MacvlanInfo,
    PhysicalInfo,
    RouteSpec,
    RouteType,
    Side,
    VethInfo,
    VlanInfo,
    VrfInfo,
    VxlanInfo,
)
from evpn_boot.netlink import encode, nsfd, sysctl, wire
from evpn_boot.netlink.rtnl import (
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_LOCAL,
    IFF_UP,
    IFLA_ADDRESS,
    IFLA_AF_SPEC,
    IFLA_BRPORT_LEARNING,
    IFLA_BRPORT_NEIGH_SUPPRESS,
    IFLA_GROUP,
    IFLA_IFNAME,
    IFLA_INET6_ADDR_GEN_MODE,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_INFO_SLAVE_DATA,
    IFLA_LINK,
    IFLA_LINK_NETNSID,
    IFLA_LINKINFO,
    IFLA_MACVLAN_MODE,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_OPERSTATE,
    IFLA_VLAN_ID,
    IFLA_VRF_TABLE,
    IFLA_VXLAN_ID,
    IFLA_VXLAN_LEARNING,
    IFLA_VXLAN_LINK,
    IFLA_VXLAN_LOCAL,
    IFLA_VXLAN_LOCAL6,
    IFLA_VXLAN_PORT,
    IN6_ADDR_GEN_MODE_NONE,
    MACVLAN_MODES,
    NETNSA_NSID,
    RTA_PRIORITY,
    RTA_TABLE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNSID,
    RTM_GETROUTE,
    RTN_UNREACHABLE,
)
from evpn_boot.netlink.wire import as_str, as_u32, nested
from evpn_boot.plan.model import ObservedLink, ObservedState

_KINDS = {"vrf": LinkKind.VRF, "bridge": LinkKind.BRIDGE, "vxlan": LinkKind.VXLAN,
          "veth": LinkKind.VETH, "vlan": LinkKind.VLAN, "macvlan": LinkKind.MACVLAN}
_MACVLAN_MODE_NAMES = {value: name for name, value in MACVLAN_MODES.items()}


class RawLink:
    """The decoded fields of one link, before names are resolved."""

    __slots__ = ("addrgen_none", "brport", "flags", "group", "index", "info_data", "kind",
                 "link", "link_netnsid", "mac", "master", "mtu", "name", "operstate")

    def __init__(self, msg: memoryview) -> None:
        _fam, _type, self.index, self.flags, _chg = wire.link_header(msg)
        attrs = wire.parse_attrs(msg, wire.IFINFO_ATTRS, len(msg))
        self.name = as_str(attrs[IFLA_IFNAME])
        self.mtu = as_u32(attrs[IFLA_MTU]) if IFLA_MTU in attrs else None
        self.master = as_u32(attrs[IFLA_MASTER]) if IFLA_MASTER in attrs else 0
        self.group = as_u32(attrs[IFLA_GROUP]) if IFLA_GROUP in attrs else 0
        self.link = as_u32(attrs[IFLA_LINK]) if IFLA_LINK in attrs else 0
        state = attrs.get(IFLA_OPERSTATE)
        self.operstate = state[0] if state is not None else 0
        self.link_netnsid = (wire.as_s32(attrs[IFLA_LINK_NETNSID])
                             if IFLA_LINK_NETNSID in attrs else None)
        mac = attrs.get(IFLA_ADDRESS)
        self.mac = ":".join(f"{b:02x}" for b in bytes(mac)) if mac is not None else None
        self.kind = ""
        self.info_data: dict[int, memoryview] = {}
        self.brport: Optional[BridgePort] = None
        if IFLA_LINKINFO in attrs:
            info = nested(attrs[IFLA_LINKINFO])
            if IFLA_INFO_KIND in info:
                self.kind = as_str(info[IFLA_INFO_KIND])
            if IFLA_INFO_DATA in info:
                self.info_data = nested(info[IFLA_INFO_DATA])
            if IFLA_INFO_SLAVE_DATA in info:
                port = nested(info[IFLA_INFO_SLAVE_DATA])
                if IFLA_BRPORT_LEARNING in port:
                    self.brport = BridgePort(
                        learning=bool(port[IFLA_BRPORT_LEARNING][0]),
                        neigh_suppress=bool(port.get(IFLA_BRPORT_NEIGH_SUPPRESS, b"\0")[0]))
        self.addrgen_none = False
        if IFLA_AF_SPEC in attrs:
            inet6 = nested(attrs[IFLA_AF_SPEC]).get(socket.AF_INET6)
            if inet6 is not None:
                mode = nested(inet6).get(IFLA_INET6_ADDR_GEN_MODE)
                self.addrgen_none = mode is not None and mode[0] == IN6_ADDR_GEN_MODE_NONE


def _info(raw: RawLink, names: dict[int, str]) -> tuple[LinkKind, KindInfo]:  # noqa: PLR0911
    data = raw.info_data
    if raw.name == "lo":
        return LinkKind.LOOPBACK, LoopbackInfo()
    kind = _KINDS.get(raw.kind)
    if kind is LinkKind.VXLAN:
        if IFLA_VXLAN_LOCAL in data:
            local: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                bytes(data[IFLA_VXLAN_LOCAL]))
        else:
            local = ipaddress.IPv6Address(bytes(data[IFLA_VXLAN_LOCAL6])) \
                if IFLA_VXLAN_LOCAL6 in data else ipaddress.IPv4Address(0)
        port = wire.as_be16(data[IFLA_VXLAN_PORT]) if IFLA_VXLAN_PORT in data else 0
        learning = bool(data[IFLA_VXLAN_LEARNING][0]) if IFLA_VXLAN_LEARNING in data else True
        lower = as_u32(data[IFLA_VXLAN_LINK]) if IFLA_VXLAN_LINK in data else 0
        return kind, VxlanInfo(vni=as_u32(data[IFLA_VXLAN_ID]), local=local, port=port,
                               learning=learning,
                               link=names.get(lower, f"#{lower}") if lower else "")
    if kind is LinkKind.VRF:
        return kind, VrfInfo(table=as_u32(data[IFLA_VRF_TABLE]) if IFLA_VRF_TABLE in data
                             else 0)
    if kind is LinkKind.BRIDGE:
        return kind, BridgeInfo()
    if kind is LinkKind.VETH:
        # The peer's name is only known when it lives in the same namespace;
        # across namespaces the caller resolves it (see _resolve_veth_peers).
        same_ns = raw.link_netnsid is None
        return kind, VethInfo(peer=names.get(raw.link, "") if same_ns else "",
                              peer_side=Side.ROUTER)
    if kind is LinkKind.VLAN:
        vid = wire.as_u16(data[IFLA_VLAN_ID]) if IFLA_VLAN_ID in data else 0
        return kind, VlanInfo(parent="", vlan_id=vid)
    if kind is LinkKind.MACVLAN:
        mode = as_u32(data[IFLA_MACVLAN_MODE]) if IFLA_MACVLAN_MODE in data \
            else MACVLAN_MODES["bridge"]
        return kind, MacvlanInfo(parent="", mode=_MACVLAN_MODE_NAMES.get(mode, str(mode)))
    return LinkKind.PHYSICAL, PhysicalInfo()


def dump_links(sock: wire.Socket) -> list[RawLink]:
    # Without counters: they are half of each message and the planner never reads them.
    return [RawLink(msg) for _t, msg in sock.dump(RTM_GETLINK, encode.dump_links())]


def get_link(sock: wire.Socket, name: str) -> Optional[RawLink]:
    """One link by name (one request, no dump), or None when there is none."""
    try:
        return RawLink(sock.get(RTM_GETLINK, encode.dump_links(name)))
    except wire.NetlinkError as exc:
        if exc.errno == errno.ENODEV:
            return None
        raise


def dump_addresses(sock: wire.Socket) -> dict[int, list[IPInterface]]:
    """ifindex -> addresses, from one RTM_GETADDR dump."""
    found: dict[int, list[IPInterface]] = {}
    for _t, msg in sock.dump(RTM_GETADDR, encode.dump_addresses()):
        family, prefixlen, _flags, _scope, index = wire.address_header(msg)
        attrs = wire.parse_attrs(msg, wire.IFADDR_ATTRS, len(msg))
        # IPv4: IFA_LOCAL is the address itself (IFA_ADDRESS the peer's on p2p links).
        raw = attrs.get(IFA_LOCAL) if family == socket.AF_INET else None
        if raw is None:
            raw = attrs.get(IFA_ADDRESS)
        if raw is None:
            continue
        address = ipaddress.ip_address(bytes(raw))
        found.setdefault(index, []).append(ipaddress.ip_interface(f"{address}/{prefixlen}"))
    return found


def dump_broadcasts(sock: wire.Socket) -> dict[int, dict[str, str]]:
    """ifindex -> {IPv4 address: its broadcast, "" for none}, for the NIC record."""
    found: dict[int, dict[str, str]] = {}
    for _t, msg in sock.dump(RTM_GETADDR, encode.dump_addresses()):
        family, prefixlen, _flags, _scope, index = wire.address_header(msg)
        if family != socket.AF_INET:
            continue
        attrs = wire.parse_attrs(msg, wire.IFADDR_ATTRS, len(msg))
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is None:
            continue
        brd = attrs.get(IFA_BROADCAST)
        key = f"{ipaddress.IPv4Address(bytes(raw))}/{prefixlen}"
        found.setdefault(index, {})[key] = (
            str(ipaddress.IPv4Address(bytes(brd))) if brd is not None else "")
    return found


def dump_routes(sock: wire.Socket, side: Side) -> tuple[RouteSpec, ...]:
    """Default routes of type unreachable (the only routes evpn-boot manages)."""
    routes = []
    for _t, msg in sock.dump(RTM_GETROUTE, encode.dump_routes()):
        family, dst_len, _s, _t2, table, _p, _sc, rtype, _f = wire.route_header(msg)
        if rtype != RTN_UNREACHABLE or dst_len != 0:
            continue
        attrs = wire.parse_attrs(msg, wire.RTMSG_ATTRS, len(msg))
        if RTA_TABLE in attrs:
            table = as_u32(attrs[RTA_TABLE])
        metric = as_u32(attrs[RTA_PRIORITY]) if RTA_PRIORITY in attrs else 0
        dst = ipaddress.ip_network("0.0.0.0/0" if family == socket.AF_INET else "::/0")
        routes.append(RouteSpec(side, table, dst, RouteType.UNREACHABLE, metric))
    return tuple(routes)


def links_to_specs(raws: list[RawLink], side: Side,
                   addresses: dict[int, list[IPInterface]]) -> dict[tuple[Side, str],
                                                                    ObservedLink]:
    names = {raw.index: raw.name for raw in raws}
    out: dict[tuple[Side, str], ObservedLink] = {}
    for raw in raws:
        kind, info = _info(raw, names)
        spec = LinkSpec(
            name=raw.name, side=side, kind=kind, info=info, up=bool(raw.flags & IFF_UP),
            master=names.get(raw.master) if raw.master else None, mtu=raw.mtu, mac=raw.mac,
            addresses=tuple(addresses.get(raw.index, ())), addrgenmode_none=raw.addrgen_none,
            group=raw.group, brport=raw.brport if raw.master else None)
        out[(side, raw.name)] = ObservedLink(spec, raw.index, raw.kind,
                                             peer_index=raw.link if kind is LinkKind.VETH else 0)
    return out


def _resolve_veth_peers(links: dict[tuple[Side, str], ObservedLink]) -> None:
    """Name the cross-namespace peer of each veth (router <-> host) by ifindex."""
    from dataclasses import replace
    by_index = {(key[0], link.ifindex): link for key, link in links.items()}
    for key, link in list(links.items()):
        info = link.spec.info
        if not isinstance(info, VethInfo) or info.peer:
            if isinstance(info, VethInfo):
                links[key] = replace(link, spec=replace(link.spec, info=VethInfo(
                    peer=info.peer, peer_side=key[0])))
            continue
        other = Side.HOST if key[0] is Side.ROUTER else Side.ROUTER
        peer = by_index.get((other, link.peer_index))
        if peer is not None and peer.peer_index == link.ifindex:
            links[key] = replace(link, spec=replace(link.spec, info=VethInfo(
                peer=peer.spec.name, peer_side=other)))


def netnsid_of(sock: wire.Socket, netns: str) -> Optional[int]:
    """The id ``sock``'s namespace gives ``netns`` ("" = ours), None when it has none.

    A link whose parent (or veth peer) lives in another namespace names that
    namespace only by this id (``IFLA_LINK_NETNSID``).
    """
    fd = nsfd.open_fd(netns)
    try:
        reply = sock.get(RTM_GETNSID, encode.nsid_request(fd))
    finally:
        os.close(fd)
    attrs = wire.parse_attrs(reply, wire.RTGEN_ATTRS, len(reply))
    nsid = wire.as_s32(attrs[NETNSA_NSID]) if NETNSA_NSID in attrs else -1
    return nsid if nsid >= 0 else None


def _resolve_parents(links: dict[tuple[Side, str], ObservedLink], raws: list[RawLink],
                     host_names: dict[int, str], host_nsid: Optional[int]) -> None:
    """Name the parent of each VLAN/macvlan of the router namespace.

    A parent in the same namespace is named from it (``parent_side`` router); a
    parent in the host namespace is named from the host's links, but only when
    the link's netnsid is the host's (an id from elsewhere leaves it unnamed, so
    the planner sees a different parent and replaces the link).
    """
    from dataclasses import replace
    names = {raw.index: raw.name for raw in raws}
    for raw in raws:
        link = links.get((Side.ROUTER, raw.name))
        if link is None or not isinstance(link.spec.info, (VlanInfo, MacvlanInfo)):
            continue
        if raw.link_netnsid is None:
            parent, side = names.get(raw.link, ""), Side.ROUTER
        elif host_nsid is not None and raw.link_netnsid == host_nsid:
            parent, side = host_names.get(raw.link, ""), Side.HOST
        else:
            parent, side = "", Side.HOST
        info = replace(link.spec.info, parent=parent, parent_side=side)
        links[(Side.ROUTER, raw.name)] = replace(link, spec=replace(link.spec, info=info))


def observe(desired: DesiredState, *, host_names: Optional[set[str]] = None) -> ObservedState:
    """Read the router and host namespaces.

    Every link of the router namespace is read; from the host namespace only the
    links named in the desired state or in ``host_names`` (the ownership record)
    are kept, so a busy host does not slow the diff down.
    """
    runtime = desired.runtime
    links: dict[tuple[Side, str], ObservedLink] = {}
    routes: tuple[RouteSpec, ...] = ()
    exists = nsfd.exists(runtime.netns)
    router_raws: list[RawLink] = []
    host_nsid: Optional[int] = None
    if exists:
        with wire.open_socket(runtime.netns) as sock:
            router_raws = dump_links(sock)
            addresses = dump_addresses(sock)
            if desired.routes:
                routes = dump_routes(sock, Side.ROUTER)
            if any(raw.kind in ("vlan", "macvlan") and raw.link_netnsid is not None
                   for raw in router_raws):
                host_nsid = netnsid_of(sock, runtime.host_netns)
        links.update(links_to_specs(router_raws, Side.ROUTER, addresses))
    wanted_host = {s.name for s in desired.links if s.side is Side.HOST}
    wanted_host |= {s.name for s in desired.links if s.kind is LinkKind.PHYSICAL}
    wanted_host |= {str(getattr(s.info, 'parent', '')) for s in desired.links} - {''}
    wanted_host |= host_names or set()
    with wire.open_socket(runtime.host_netns) as sock:
        all_host = dump_links(sock)
        raws = [raw for raw in all_host if raw.name in wanted_host]
        addresses = dump_addresses(sock) if raws else {}
    links.update(links_to_specs(raws, Side.HOST, addresses))
    _resolve_veth_peers(links)
    _resolve_parents(links, router_raws, {raw.index: raw.name for raw in all_host}, host_nsid)
    sysctls: dict[tuple[Side, str], Optional[str]] = {}
    if exists:
        sysctls = {(s.side, s.key): v for s, v in
                   zip(desired.sysctls, sysctl.read_many(runtime.netns,
                                                         [s.key for s in desired.sysctls]))}
    return ObservedState(netns_exists=exists, links=links, routes=routes, sysctls=sysctls)
