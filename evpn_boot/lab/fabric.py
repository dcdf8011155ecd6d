"""Build and remove the lab fabric (``evpn-boot lab``) in its own namespaces.

The lab's description is pure (:mod:`evpn_boot.lab.topology`); this module turns
it into kernel objects with evpn-boot's own netlink code: namespaces with
:mod:`evpn_boot.netlink.nsfd` (``unshare``/``mount`` in this process, nothing
forked that could time out under load), sysctls through the namespace's
``/proc/sys``, links, addresses and routes as messages from
:mod:`evpn_boot.netlink.encode`.  It never touches the machine's own namespace:
every object lives in a namespace the lab created, so removing the lab is
deleting those namespaces (a few ms each; the kernel drops what was inside).

Every failure is an :class:`EvpnBootError` that names the object ("lab: create
vxlan vni100 in evlab-leaf: File exists"), never a bare ``OSError``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager

from evpn_boot.desired.model import BridgePort, LinkKind, VrfInfo, VxlanInfo
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab.topology import Link, Topology
from evpn_boot.netlink import encode, nsfd, preflight, rtnl, sysctl, wire
from evpn_boot.netlink.observe import RawLink, dump_links, get_link

VXLAN_PORT = 4789


def list_namespaces() -> list[str]:
    """Names under /run/netns (what ``ip netns list`` shows)."""
    return nsfd.list_names()


def kernel_supports_vrf(prefix: str) -> bool:
    """Can this kernel create a VRF?  Tried in a scratch namespace, removed again."""
    try:
        return not preflight.probe_kinds({LinkKind.VRF}, scratch_prefix=f"{prefix}probe-")
    except OSError as exc:
        raise EvpnBootError(f"lab: probing the kernel for VRF support: {exc}") from exc


@contextmanager
def _socket(netns: str) -> Iterator[wire.Socket]:
    """An rtnetlink socket in an existing lab namespace (never creates one)."""
    if not netns or not nsfd.exists(netns):
        raise EvpnBootError(f"lab: network namespace {netns!r} does not exist")
    try:
        sock = wire.open_socket(netns)
    except OSError as exc:
        raise EvpnBootError(f"lab: cannot open network namespace {netns!r}: {exc}") from exc
    with sock:
        yield sock


def _call(sock: wire.Socket, what: str, msg_type: int, flags: int, body: bytes) -> None:
    try:
        sock.call(msg_type, flags, body)
    except OSError as exc:
        raise EvpnBootError(f"lab: {what}: {exc}") from exc


def _index(sock: wire.Socket, ifname: str, netns: str) -> int:
    try:
        link = get_link(sock, ifname)
    except OSError as exc:
        raise EvpnBootError(f"lab: looking up {ifname!r} in {netns!r}: {exc}") from exc
    if link is None:
        raise EvpnBootError(f"lab: no link {ifname!r} in network namespace {netns!r}")
    return link.index


def create_namespace(name: str) -> None:
    try:
        nsfd.create(name)
    except FileExistsError:
        raise EvpnBootError(f"lab: network namespace {name!r} already exists "
                            "(run `evpn-boot lab down` first)", kind=ErrorKind.PREFLIGHT) from None
    except OSError as exc:
        raise EvpnBootError(f"lab: cannot create network namespace {name!r}: {exc}") from exc


def build_fabric(topo: Topology) -> None:
    """Create the lab's namespaces and everything in them.

    Raises EvpnBootError naming the object that failed; the caller removes the
    partial lab (the namespaces are recorded before anything is created in them).
    """
    existing = set(list_namespaces())
    for ns in topo.namespaces:
        if ns in existing:
            raise EvpnBootError(f"lab: network namespace {ns!r} already exists "
                                "(run `evpn-boot lab down` first)", kind=ErrorKind.PREFLIGHT)
        create_namespace(ns)
    for setting in topo.sysctls:
        try:
            sysctl.write_many(setting.netns, [(setting.key, setting.value)])
        except OSError as exc:
            raise EvpnBootError(f"lab: set sysctl {setting.key}={setting.value} in "
                                f"{setting.netns}: {exc}") from exc
    for link in topo.links:
        _add_link(link)
    for link in topo.links:
        if link.master is not None:
            set_master(link.netns, link.name, link.master)
        if link.kind == "vxlan":
            # EVPN fills the FDB; ARP is answered from type-2 routes.
            _set_vxlan_port(link)
    _add_addresses(topo)
    for ns in topo.namespaces:
        with _socket(ns) as sock:
            for raw in _dump(sock, ns):
                _call(sock, f"set link {raw.name} up in {ns}", rtnl.RTM_NEWLINK, 0,
                      encode.link(index=raw.index, up=True))
    _add_routes(topo)


def _dump(sock: wire.Socket, netns: str) -> list[RawLink]:
    try:
        return dump_links(sock)
    except OSError as exc:
        raise EvpnBootError(f"lab: listing the links of {netns!r}: {exc}") from exc


def _add_link(link: Link) -> None:
    what = f"create {link.kind} {link.name} in {link.netns}"
    with _socket(link.netns) as sock:
        if link.kind == "veth":
            assert link.peer_name is not None and link.peer_netns is not None
            try:
                fd = nsfd.open_fd(link.peer_netns)
            except OSError as exc:
                raise EvpnBootError(f"lab: {what}: peer namespace {link.peer_netns!r}: "
                                    f"{exc}") from exc
            try:
                peer = encode.veth_peer(link.peer_name, netns_fd=fd)
                _call(sock, what, rtnl.RTM_NEWLINK, encode.CREATE,
                      encode.link(link.name, extra=[encode.linkinfo("veth", peer)]))
            finally:
                os.close(fd)
            return
        data: wire.Attrs = []
        if link.kind == "vrf":
            assert link.table is not None
            data = encode.vrf_data(VrfInfo(table=link.table))
        elif link.kind == "vxlan":
            assert link.vni is not None and link.local is not None
            data = encode.vxlan_data(VxlanInfo(vni=link.vni, local=ipaddress.ip_address(
                link.local), port=VXLAN_PORT, learning=False, link=""))
        _call(sock, what, rtnl.RTM_NEWLINK, encode.CREATE,
              encode.link(link.name, extra=[encode.linkinfo(link.kind, data or None)]))
        if link.kind == "vxlan":
            _call(sock, f"set addrgenmode of {link.name}", rtnl.RTM_NEWLINK, 0,
                  encode.link(link.name, extra=[encode.addrgenmode_none()]))


def _set_vxlan_port(link: Link) -> None:
    with _socket(link.netns) as sock:
        _call(sock, f"set bridge port flags of {link.name} in {link.netns}",
              rtnl.RTM_NEWLINK, 0, encode.set_bridge_port(
                  link.name, BridgePort(learning=False, neigh_suppress=True)))


def _add_addresses(topo: Topology) -> None:
    for addr in topo.addresses:
        with _socket(addr.netns) as sock:
            index = _index(sock, addr.ifname, addr.netns)
            _call(sock, f"add address {addr.cidr} to {addr.ifname} in {addr.netns}",
                  rtnl.RTM_NEWADDR, encode.CREATE,
                  encode.address(ipaddress.ip_interface(addr.cidr), index))


def _add_routes(topo: Topology) -> None:
    for route in topo.routes:
        with _socket(route.netns) as sock:
            dst = ipaddress.ip_network(route.dst)
            if route.gateway is not None:
                body = encode.unicast_route(dst, gateway=ipaddress.ip_address(route.gateway))
            else:
                assert route.dev is not None
                body = encode.unicast_route(dst, oif=_index(sock, route.dev, route.netns))
            _call(sock, f"add route {route.dst} in {route.netns}", rtnl.RTM_NEWROUTE,
                  encode.CREATE, body)


def set_master(netns: str, ifname: str, master: str) -> None:
    """Enslave ``ifname`` to ``master`` and set it up (also attaches the pod to our bridge)."""
    with _socket(netns) as sock:
        index = _index(sock, ifname, netns)
        _call(sock, f"enslave {ifname} to {master} in {netns}", rtnl.RTM_NEWLINK, 0,
              encode.link(index=index, master=_index(sock, master, netns)))
        _call(sock, f"set {ifname} up in {netns}", rtnl.RTM_NEWLINK, 0,
              encode.link(index=index, up=True))


def remove_namespaces(names: list[str]) -> list[str]:
    """Delete the given namespaces that exist; returns the ones deleted."""
    present = set(list_namespaces())
    gone = []
    for ns in names:
        if ns in present:
            try:
                nsfd.delete(ns)
            except OSError as exc:
                raise EvpnBootError(f"lab: cannot delete network namespace {ns!r}: {exc}"
                                    ) from exc
            gone.append(ns)
    return gone


def describe(netns: str) -> list[tuple[str, str, str]]:
    """(name, kind, operstate) of every link in ``netns``, for ``lab status``."""
    with _socket(netns) as sock:
        return [(raw.name, raw.kind or "-",
                 rtnl.IF_OPER_STATES.get(raw.operstate, "?").lower())
                for raw in _dump(sock, netns)]
