"""Per-node addresses from pool CIDRs and the node index (pure).

The plan is OpenPERouter's (``internal/ipam/ipam.go``), so that its controller
derives the same values at the same node index and adopts our links unchanged:
VTEP = vtep_cidr network + N; router id = router_id_cidr network + N + 1; L3 VNI
veth: router side = the network address of local_cidr, unless its last byte is 0,
then the next one; host side = router side + N + 1.  Every result is checked to
lie inside its CIDR (docs/openperouter.md, the adoption table).
"""

from __future__ import annotations

import ipaddress
from typing import Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: Default VRF table id = VNI + this (tables 0 and 252-255 are the kernel's).
VRF_TABLE_BASE = 1000


class AddressPlanError(ValueError):
    """A derived address does not fit its CIDR (the node index is too large)."""


def offset_address(cidr: IPNetwork, offset: int, *, what: str,
                   usable_only: bool = False) -> IPAddress:
    """``cidr``'s network address + ``offset``, which must stay inside ``cidr``.

    With ``usable_only`` the network and broadcast addresses of an IPv4 CIDR
    shorter than /31 are refused too: they cannot be assigned to an interface.
    """
    if offset >= cidr.num_addresses:
        raise AddressPlanError(
            f"{what}: offset {offset} is outside {cidr} ({cidr.num_addresses} addresses)")
    address = cidr.network_address + offset
    if usable_only and cidr.version == 4 and cidr.prefixlen < 31 and (
            address in (cidr.network_address, cidr.broadcast_address)):
        raise AddressPlanError(
            f"{what}: {address} is the network or broadcast address of {cidr}")
    return address


def vtep_address(vtep_cidr: IPNetwork, index: int) -> IPInterface:
    address = offset_address(vtep_cidr, index, what="VTEP address (vtep_cidr + index)")
    return ipaddress.ip_interface(f"{address}/{address.max_prefixlen}")


def router_id(router_id_cidr: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    address = offset_address(router_id_cidr, index + 1,
                             what="router id (router_id_cidr + index + 1)")
    assert isinstance(address, ipaddress.IPv4Address)
    return address


def veth_router_offset(local_cidr: IPNetwork) -> int:
    """0 (the network address itself) unless its last byte is 0, then 1: OpenPERouter's rule."""
    return 1 if local_cidr.network_address.packed[-1] == 0 else 0


def veth_router_side(local_cidr: IPNetwork) -> IPInterface:
    address = offset_address(local_cidr, veth_router_offset(local_cidr),
                             what="veth router side (local_cidr network, +1 if it ends in 0)")
    return ipaddress.ip_interface(f"{address}/{local_cidr.prefixlen}")


def veth_host_side(local_cidr: IPNetwork, index: int) -> IPInterface:
    """Router side + index + 1; never the broadcast address (OpenPERouter would assign it)."""
    address = offset_address(local_cidr, veth_router_offset(local_cidr) + index + 1,
                             what="veth host side (router side + index + 1)", usable_only=True)
    if address == local_cidr.network_address:
        raise AddressPlanError(f"veth host side: {address} is the network address")
    return ipaddress.ip_interface(f"{address}/{local_cidr.prefixlen}")


def subinterface_address(cidr: IPNetwork, offset: int, index: int) -> IPInterface:
    address = offset_address(cidr, offset + index,
                             what="underlay address (address_cidr + address_offset + index)",
                             usable_only=True)
    return ipaddress.ip_interface(f"{address}/{cidr.prefixlen}")


def router_mac(vtep: IPAddress) -> str:
    """A stable, locally administered unicast MAC unique per VTEP.

    02:54 followed by the last four bytes of the VTEP address: the VTEP is
    unique in the fabric, so the router MAC is too.
    """
    tail = vtep.packed[-4:]
    return "02:54:" + ":".join(f"{b:02x}" for b in tail)


#: First two bytes of OpenPERouter's L2 gateway MAC (``internal/hostnetwork/bridge.go``).
GATEWAY_MAC_HEADER = b"\x00\xf3"


def anycast_gateway_mac(vni: int) -> str:
    """The L2 VNI gateway MAC, identical on every node (distributed anycast gateway).

    OpenPERouter's: 00:f3 followed by VNI + 1 as a big-endian 32-bit number, so
    that its controller finds the MAC it would set and leaves the bridge alone.
    """
    mac = GATEWAY_MAC_HEADER + (vni + 1).to_bytes(4, "big")
    return ":".join(f"{b:02x}" for b in mac)


def vrf_table(vni: int) -> int:
    return VRF_TABLE_BASE + vni


def index_from_address(address: ipaddress.IPv4Interface) -> int:
    """The host part of an interface address, as a node index."""
    return int(address.ip) & int(address.hostmask)
