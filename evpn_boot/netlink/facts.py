"""Read the few machine facts that deriving the desired state needs."""

from __future__ import annotations

import ipaddress
import socket
from typing import Optional

from evpn_boot.config.model import Config
from evpn_boot.desired.addressing import index_from_address
from evpn_boot.desired.derive import NodeFacts, underlay_parent
from evpn_boot.errors import ErrorKind, EvpnBootError


def read_node_facts(config: Config, *, node_index: Optional[int] = None) -> NodeFacts:
    """Hostname, the interface-derived node index and the underlay MTU.

    Only reads; a missing interface is reported, never created.  ``node_index``
    (the CLI override) skips reading the index from an interface.
    """
    hostname = socket.gethostname()
    wanted = config.node.index_from_interface if node_index is None else None
    parent = underlay_parent(config.underlay)
    interface_index = node_index
    mtu: Optional[int] = None
    try:
        from pyroute2 import IPRoute  # imported here: slow, and only needed here
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EvpnBootError(f"pyroute2 is not installed: {exc}", kind=ErrorKind.PREFLIGHT) from exc
    host = config.runtime.host_netns
    try:
        ipr = IPRoute(netns=host, flags=0) if host else IPRoute()
    except OSError as exc:
        raise EvpnBootError(f"cannot open host network namespace {host!r}: {exc}",
                            kind=ErrorKind.PREFLIGHT) from exc
    with ipr:
        if wanted is not None:
            interface_index = _ipv4_host_part(ipr, wanted)
            if interface_index is None:
                raise EvpnBootError(
                    f"node.index_from_interface: interface {wanted!r} has no IPv4 address "
                    f"(or does not exist) in the host namespace",
                    kind=ErrorKind.PREFLIGHT)
        links = ipr.link_lookup(ifname=parent)
        if links:
            mtu = ipr.get_links(links[0])[0].get("mtu")
    return NodeFacts(hostname=hostname, interface_index=interface_index, underlay_mtu=mtu)


def _ipv4_host_part(ipr: object, ifname: str) -> Optional[int]:
    lookup = ipr.link_lookup(ifname=ifname)  # type: ignore[attr-defined]
    if not lookup:
        return None
    for msg in ipr.get_addr(index=lookup[0], family=socket.AF_INET):  # type: ignore[attr-defined]
        address = msg.get("address")
        prefix = msg["prefixlen"]
        return index_from_address(ipaddress.IPv4Interface(f"{address}/{prefix}"))
    return None
