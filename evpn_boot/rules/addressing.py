"""Per-node addresses from pool CIDRs and the node index (pure).

The plan (DESIGN.md): VTEP = vtep_cidr network + N; router id = router_id_cidr
network + N + 1; L3 VNI veth: router side = first usable address of local_cidr,
host side = network + N + 2.  Every result is checked to lie inside its CIDR.
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


def veth_router_side(local_cidr: IPNetwork) -> IPInterface:
    address = offset_address(local_cidr, 1, what="veth router side (local_cidr + 1)",
                             usable_only=True)
    return ipaddress.ip_interface(f"{address}/{local_cidr.prefixlen}")


def veth_host_side(local_cidr: IPNetwork, index: int) -> IPInterface:
    address = offset_address(local_cidr, index + 2,
                             what="veth host side (local_cidr + index + 2)", usable_only=True)
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


def anycast_gateway_mac(vni: int) -> str:
    """The L2 VNI gateway MAC: identical on every node (distributed anycast gateway)."""
    return "02:65:76:" + ":".join(f"{b:02x}" for b in vni.to_bytes(3, "big"))


def vrf_table(vni: int) -> int:
    return VRF_TABLE_BASE + vni


def index_from_address(address: ipaddress.IPv4Interface) -> int:
    """The host part of an interface address, as a node index."""
    return int(address.ip) & int(address.hostmask)
