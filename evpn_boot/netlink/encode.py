"""Specs -> rtnetlink message bodies: the one place a link, address or route is encoded.

Every request evpn-boot sends is built here, for create, set, move and delete
alike, from the same values the plan holds (:class:`LinkSpec`,
:class:`IPInterface`, :class:`RouteSpec`), with the names of
:mod:`evpn_boot.netlink.rtnl`.  Callers pass what only they know (ifindices,
namespace fds); nothing here does I/O.

How each kind is created (its ``IFLA_INFO_DATA``) is one function per kind in
:data:`KIND_DATA`: an L2 VNI's bridge is ``IFLA_INFO_KIND "bridge"`` with no
data, its VXLAN is :func:`vxlan_data`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Optional

from evpn_boot.desired.model import (
    BridgeInfo,
    BridgePort,
    IPAddress,
    IPInterface,
    IPNetwork,
    KindInfo,
    LinkSpec,
    MacvlanInfo,
    RouteSpec,
    VethInfo,
    VlanInfo,
    VrfInfo,
    VxlanInfo,
)
from evpn_boot.netlink import rtnl
from evpn_boot.netlink.wire import (
    Attrs,
    AttrValue,
    be16,
    encode_attrs,
    ifaddr,
    ifinfo,
    rtmsg,
    u8,
    u16,
)
from evpn_boot.plan.diff import effective_group

#: Flags of every creating request: fail rather than modify an existing object.
CREATE = rtnl.NLM_F_CREATE | rtnl.NLM_F_EXCL


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


# -------------------------------------------------------------- kind data
def vxlan_data(info: VxlanInfo) -> Attrs:
    local = rtnl.IFLA_VXLAN_LOCAL if info.local.version == 4 else rtnl.IFLA_VXLAN_LOCAL6
    attrs: Attrs = [(rtnl.IFLA_VXLAN_ID, info.vni), (local, info.local.packed),
                    (rtnl.IFLA_VXLAN_PORT, be16(info.port)),
                    (rtnl.IFLA_VXLAN_LEARNING, u8(info.learning))]
    if info.link:
        # Only ever "lo", created with the VXLAN in the router namespace.
        if info.link != "lo":
            raise ValueError(f"VXLAN lower device {info.link!r}: only 'lo' is supported")
        attrs.append((rtnl.IFLA_VXLAN_LINK, rtnl.LOOPBACK_IFINDEX))
    return attrs


def vrf_data(info: VrfInfo) -> Attrs:
    return [(rtnl.IFLA_VRF_TABLE, info.table)]


def vlan_data(info: VlanInfo) -> Attrs:
    return [(rtnl.IFLA_VLAN_ID, u16(info.vlan_id))]


def macvlan_data(info: MacvlanInfo) -> Attrs:
    return [(rtnl.IFLA_MACVLAN_MODE, rtnl.MACVLAN_MODES.get(info.mode,
                                                           rtnl.MACVLAN_MODES["bridge"]))]


def bridge_data(_info: BridgeInfo) -> Attrs:
    return []          # a bridge with the kernel's defaults


#: IFLA_INFO_DATA of a created link, by the type of its kind info.  A veth's
#: data is its peer (see :func:`veth_peer`); loopback and physical links are
#: never created.
KIND_DATA: dict[type, Callable[..., Attrs]] = {
    VxlanInfo: vxlan_data, VrfInfo: vrf_data, VlanInfo: vlan_data,
    MacvlanInfo: macvlan_data, BridgeInfo: bridge_data,
}


def veth_peer(name: str, peer: Optional[LinkSpec] = None,
              netns_fd: Optional[int] = None) -> Attrs:
    """VETH_INFO_PEER: the far end ``name`` (its own ifinfomsg and attributes, from
    ``peer``), made in the same message, in ``netns_fd``'s namespace if given."""
    attrs: Attrs = [(rtnl.IFLA_IFNAME, name)]
    if peer is not None:
        if peer.mtu:
            attrs.append((rtnl.IFLA_MTU, peer.mtu))
        group = effective_group(peer)
        if group is not None:
            attrs.append((rtnl.IFLA_GROUP, group))
    if netns_fd is not None:
        attrs.append((rtnl.IFLA_NET_NS_FD, netns_fd))
    return [(rtnl.VETH_INFO_PEER, ifinfo() + encode_attrs(attrs))]


def kind_data(info: KindInfo, peer: Optional[LinkSpec] = None,
              peer_netns_fd: Optional[int] = None) -> Attrs:
    if isinstance(info, VethInfo):
        return veth_peer(info.peer, peer, peer_netns_fd)
    encoder = KIND_DATA.get(type(info))
    return encoder(info) if encoder is not None else []


def linkinfo(kind: str, data: Optional[Attrs] = None, port: Optional[BridgePort] = None,
             ) -> tuple[int, AttrValue]:
    """IFLA_LINKINFO: the kind, its data, and (for a bridge port) the port's flags."""
    info: Attrs = [(rtnl.IFLA_INFO_KIND, kind)]
    if data:
        info.append((rtnl.IFLA_INFO_DATA, data))
    if port is not None:
        info += bridge_port_info(port)
    return (rtnl.IFLA_LINKINFO, info)


def bridge_port_info(port: BridgePort) -> Attrs:
    return [(rtnl.IFLA_INFO_SLAVE_KIND, "bridge"), (rtnl.IFLA_INFO_SLAVE_DATA, [
        (rtnl.IFLA_BRPORT_LEARNING, u8(port.learning)),
        (rtnl.IFLA_BRPORT_NEIGH_SUPPRESS, u8(port.neigh_suppress))])]


def addrgenmode_none() -> tuple[int, AttrValue]:
    """IFLA_AF_SPEC -> AF_INET6 -> IFLA_INET6_ADDR_GEN_MODE none (no link-local address)."""
    return (rtnl.IFLA_AF_SPEC, [(socket.AF_INET6, [
        (rtnl.IFLA_INET6_ADDR_GEN_MODE, u8(rtnl.IN6_ADDR_GEN_MODE_NONE))])])


# ------------------------------------------------------------------ links
def link(name: Optional[str] = None, *, index: int = 0, up: Optional[bool] = None,
         mtu: Optional[int] = None, mac: Optional[str] = None, group: Optional[int] = None,
         master: Optional[int] = None, parent: Optional[int] = None,
         netns_fd: Optional[int] = None, extra: Optional[Attrs] = None) -> bytes:
    """One RTM_NEWLINK/RTM_DELLINK body: the link by ``index`` or ``name``, and what to set.

    ``up`` None leaves the state alone; ``master`` 0 releases the link from its
    master; ``netns_fd`` moves it (or creates it) in that namespace.
    """
    attrs: Attrs = []
    if name is not None:
        attrs.append((rtnl.IFLA_IFNAME, name))
    if mtu:
        attrs.append((rtnl.IFLA_MTU, mtu))
    if mac:
        attrs.append((rtnl.IFLA_ADDRESS, mac_bytes(mac)))
    if group is not None:
        attrs.append((rtnl.IFLA_GROUP, group))
    if master is not None:
        attrs.append((rtnl.IFLA_MASTER, master))
    if parent is not None:
        attrs.append((rtnl.IFLA_LINK, parent))
    if netns_fd is not None:
        attrs.append((rtnl.IFLA_NET_NS_FD, netns_fd))
    attrs += extra or []
    flags = rtnl.IFF_UP if up else 0
    change = rtnl.IFF_UP if up is not None else 0
    return ifinfo(index, flags, change) + encode_attrs(attrs)


def create_link(spec: LinkSpec, *, index: int = 0, master: Optional[int] = None,
                parent: Optional[int] = None, netns_fd: Optional[int] = None,
                peer: Optional[LinkSpec] = None, peer_netns_fd: Optional[int] = None) -> bytes:
    """The RTM_NEWLINK that creates ``spec``: name, MTU, MAC, group and master in one message.

    It is created up only when no addrgenmode switch must come first (see
    :mod:`evpn_boot.netlink.apply`); bridge-port flags are sent too, though the
    kernel applies them only from a later message (:func:`set_bridge_port`).
    """
    port = spec.brport if spec.master else None
    info = linkinfo(spec.kind.value, kind_data(spec.info, peer, peer_netns_fd), port)
    return link(spec.name, index=index, up=spec.up and not spec.addrgenmode_none,
                mtu=spec.mtu, mac=spec.mac, group=effective_group(spec), master=master,
                parent=parent, netns_fd=netns_fd, extra=[info])


def set_bridge_port(name: str, port: BridgePort) -> bytes:
    return link(name, extra=[(rtnl.IFLA_LINKINFO, bridge_port_info(port))])


def set_up(name: str) -> bytes:
    return link(name, up=True)


def configure_created(spec: LinkSpec, *, master: Optional[int] = None) -> bytes:
    """What a creating message cannot do: addrgenmode none, the far veth end's master."""
    return link(spec.name, master=master,
                extra=[addrgenmode_none()] if spec.addrgenmode_none else None)


def change_link(spec: LinkSpec, changed: set[str], *, master: Optional[int]) -> Optional[bytes]:
    """The RTM_NEWLINK setting exactly the ``changed`` attributes, or None if none applies.

    ``changed`` holds plan change names (:class:`evpn_boot.plan.model.Change`):
    master, mtu, mac, group and addrgenmode are set here; "bridge-port" and
    "state" are separate requests (:func:`set_bridge_port`, :func:`set_up`).
    ``master`` is the ifindex of ``spec.master`` (0: no master, i.e. release).
    """
    mtu = spec.mtu if "mtu" in changed else None
    mac = spec.mac if "mac" in changed else None
    group = (effective_group(spec) or 0) if "group" in changed else None
    master_index = master if "master" in changed else None
    extra = [addrgenmode_none()] if "addrgenmode" in changed else None
    if not (mtu or mac or group is not None or master_index is not None or extra):
        return None
    return link(spec.name, master=master_index, mtu=mtu, mac=mac, group=group, extra=extra)


def delete_link(name: Optional[str] = None, index: int = 0) -> bytes:
    return link(name, index=index)


def move_link(index: int, netns_fd: int) -> bytes:
    return link(index=index, netns_fd=netns_fd)


def dump_links(name: Optional[str] = None) -> bytes:
    """RTM_GETLINK (a dump, or one link by ``name``) without the counters."""
    return link(name, extra=[(rtnl.IFLA_EXT_MASK, rtnl.RTEXT_FILTER_SKIP_STATS)])


# -------------------------------------------------------------- addresses
def address(addr: IPInterface, index: int, broadcast: Optional[str] = None) -> bytes:
    """RTM_NEWADDR/RTM_DELADDR body: local = peer address; IPv4 broadcast ``broadcast``
    ("" = none; None = the standard one, below /31)."""
    family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    attrs: Attrs = [(rtnl.IFA_LOCAL, addr.ip.packed), (rtnl.IFA_ADDRESS, addr.ip.packed)]
    if addr.version == 4 and broadcast:
        attrs.append((rtnl.IFA_BROADCAST, socket.inet_aton(broadcast)))
    elif addr.version == 4 and broadcast is None and addr.network.prefixlen < 31:
        attrs.append((rtnl.IFA_BROADCAST, addr.network.broadcast_address.packed))
    scope = rtnl.RT_SCOPE_HOST if addr.ip.is_loopback else rtnl.RT_SCOPE_UNIVERSE
    return ifaddr(family, addr.network.prefixlen, index, scope) + encode_attrs(attrs)


def dump_addresses() -> bytes:
    return ifaddr(socket.AF_UNSPEC, 0, 0)


# ----------------------------------------------------------------- routes
def route(spec: RouteSpec) -> bytes:
    """RTM_NEWROUTE body of an unreachable route (the only type evpn-boot installs)."""
    family = socket.AF_INET if spec.dst.version == 4 else socket.AF_INET6
    attrs: Attrs = [(rtnl.RTA_TABLE, spec.table), (rtnl.RTA_PRIORITY, spec.metric)]
    if spec.dst.prefixlen:
        attrs.append((rtnl.RTA_DST, spec.dst.network_address.packed))
    return rtmsg(family, spec.dst.prefixlen, spec.table, rtnl.RTN_UNREACHABLE,
                 protocol=rtnl.RTPROT_STATIC) + encode_attrs(attrs)


def unicast_route(dst: IPNetwork, *, gateway: Optional[IPAddress] = None,
                  oif: Optional[int] = None) -> bytes:
    """RTM_NEWROUTE body of a main-table route: via ``gateway``, or on-link out of ``oif``.

    The product installs none (FRR does); the lab's hosts need their default routes.
    """
    family = socket.AF_INET if dst.version == 4 else socket.AF_INET6
    attrs: Attrs = [(rtnl.RTA_TABLE, rtnl.RT_TABLE_MAIN)]
    if dst.prefixlen:
        attrs.append((rtnl.RTA_DST, dst.network_address.packed))
    if gateway is not None:
        attrs.append((rtnl.RTA_GATEWAY, gateway.packed))
    if oif is not None:
        attrs.append((rtnl.RTA_OIF, oif))
    scope = rtnl.RT_SCOPE_UNIVERSE if gateway is not None else rtnl.RT_SCOPE_LINK
    return rtmsg(family, dst.prefixlen, rtnl.RT_TABLE_MAIN, rtnl.RTN_UNICAST, scope=scope,
                 protocol=rtnl.RTPROT_STATIC) + encode_attrs(attrs)


def dump_routes() -> bytes:
    return rtmsg(socket.AF_UNSPEC, 0, 0, 0, protocol=rtnl.RTPROT_UNSPEC)


# ------------------------------------------------------ namespace ids
def nsid_request(netns_fd: int) -> bytes:
    """RTM_GETNSID body: which id the socket's namespace gives the one at ``netns_fd``."""
    return rtnl.RTGENMSG.pack(socket.AF_UNSPEC) + encode_attrs([(rtnl.NETNSA_FD, netns_fd)])
