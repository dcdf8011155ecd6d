"""Read the few machine facts that deriving the desired state needs."""

from __future__ import annotations

import ipaddress
import socket
from typing import Optional

from evpn_boot.config.model import Config
from evpn_boot.config.underlay import underlay_parents
from evpn_boot.desired.derive import NodeFacts
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.netlink import nsfd, wire
from evpn_boot.netlink.observe import dump_addresses, get_link
from evpn_boot.rules.addressing import index_from_address


def read_node_facts(config: Config, *, node_index: Optional[int] = None) -> NodeFacts:
    """Hostname, the interface-derived node index and the underlay MTU.

    Only reads; a missing interface is reported, never created.  ``node_index``
    (the CLI override) skips reading the index from an interface.  Once the
    underlay NIC has been moved into the router namespace it is read there, so
    the derived MTUs do not change after the first apply.
    """
    hostname = socket.gethostname()
    wanted = config.node.index_from_interface if node_index is None else None
    parents = underlay_parents(config.underlay)
    interface_index = node_index
    host = config.runtime.host_netns
    # Single-link requests, not dumps: a dump of thousands of links costs a
    # noticeable part of a no-op apply, and only a few links matter here.
    try:
        with wire.open_socket(host) as sock:
            found = {p: get_link(sock, p) for p in parents}
            index_link = get_link(sock, wanted) if wanted is not None else None
            index_addresses = dump_addresses(sock) if index_link is not None else {}
    except OSError as exc:
        raise EvpnBootError(f"cannot open host network namespace {host!r}: {exc}",
                            kind=ErrorKind.PREFLIGHT) from exc
    if (None in found.values() or (wanted is not None and index_link is None)) \
            and nsfd.exists(config.runtime.netns):
        with wire.open_socket(config.runtime.netns) as sock:
            for p in parents:
                if found[p] is None:
                    found[p] = get_link(sock, p)
            if wanted is not None and index_link is None:
                index_link = get_link(sock, wanted)
                if index_link is not None:
                    index_addresses = dump_addresses(sock)
    if wanted is not None:
        interface_index = None
        if index_link is not None:
            for address in index_addresses.get(index_link.index, ()):
                if isinstance(address, ipaddress.IPv4Interface):
                    interface_index = index_from_address(address)
                    break
        if interface_index is None:
            raise EvpnBootError(
                f"node.index_from_interface: interface {wanted!r} has no IPv4 address "
                f"(or does not exist) in the host namespace",
                kind=ErrorKind.PREFLIGHT)
    # Several uplinks: the VXLAN MTU must fit the smallest of them.
    mtus = [link.mtu for link in found.values() if link is not None and link.mtu is not None]
    mtu = min(mtus) if mtus else None
    return NodeFacts(hostname=hostname, interface_index=interface_index, underlay_mtu=mtu)


def uplink_states(netns: str, names: tuple[str, ...]) -> dict[str, str]:
    """Each uplink's operational state in the router namespace ("up", "down", ...,
    "absent"); every one "absent" when the namespace does not exist.  Reads only."""
    from evpn_boot.netlink.rtnl import IF_OPER_STATES
    if not nsfd.exists(netns):
        return dict.fromkeys(names, "absent")
    with wire.open_socket(netns) as sock:
        links = {name: get_link(sock, name) for name in names}
    return {name: ("absent" if link is None
                   else IF_OPER_STATES.get(link.operstate, "UNKNOWN").lower())
            for name, link in links.items()}
