"""Every number in evpn-boot's rtnetlink vocabulary is pyroute2's number for that name.

:mod:`evpn_boot.netlink.rtnl` spells the protocol itself (importing pyroute2
costs the no-op budget); pyroute2 is the reference it must agree with, name by
name.  A wrong number here would make every request built with it wrong.
"""

from __future__ import annotations

import socket
from typing import Any

import pyroute2.netlink as nl
import pyroute2.netlink.rtnl as rt
import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ifinfmsg.plugins.vlan import vlan
from pyroute2.netlink.rtnl.ifinfmsg.plugins.vrf import vrf
from pyroute2.netlink.rtnl.ifinfmsg.plugins.vxlan import vxlan
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from evpn_boot.netlink import rtnl


def attribute_numbers(cls: Any) -> dict[str, int]:
    """name -> type number of a pyroute2 attribute map (explicit or by position)."""
    numbers = {}
    for position, entry in enumerate(cls.nla_map):
        if isinstance(entry[0], int):
            numbers[entry[1]] = entry[0]
        else:
            numbers[entry[0]] = position
    return numbers


def _inet6() -> Any:
    return ifinfmsg.af_spec_inet.inet6


#: Which pyroute2 table defines each attribute family of ours (longest prefix wins).
ATTRIBUTE_TABLES: dict[str, Any] = {
    "IFLA_": ifinfmsg,
    "IFLA_INFO_": ifinfmsg.ifinfo,
    "IFLA_BRPORT_": ifinfmsg.ifinfo.bridge_slave_data,
    "IFLA_INET6_": _inet6(),
    "IFLA_VXLAN_": vxlan,
    "IFLA_VRF_": vrf,
    "IFLA_VLAN_": vlan,
    "IFLA_MACVLAN_": ifinfmsg.ifinfo.macvlan_data,
    "VETH_INFO_": ifinfmsg.ifinfo.veth_data,
    "IFA_": ifaddrmsg,
    "RTA_": rtmsg,
}
#: Plain constants: pyroute2 module that defines the same name.
CONSTANT_MODULES = {"RTM_": rt, "RTMGRP_": rt, "NLM_F_": nl, "NLMSG_": nl, "NLA_F_": nl,
                    "NETLINK_": nl, "SOL_NETLINK": nl}
#: Values pyroute2 keeps in lowercase tables.
VALUE_TABLES = {"RTN_": rt.rt_type, "RTPROT_": rt.rt_proto, "RT_SCOPE_": rt.rt_scope}


#: Names pyroute2 does not export: the values of the kernel headers that define them.
KERNEL_ONLY = {
    "NETLINK_CAP_ACK": 10, "NLMSG_HDRLEN": 16,                  # linux/netlink.h
    "NLMSGERR_ATTR_MSG": 1,                                     # enum nlmsgerr_attrs
    "NLA_TYPE_MASK": 0xFFFF & ~(nl.NLA_F_NESTED | nl.NLA_F_NET_BYTEORDER),
    "IN6_ADDR_GEN_MODE_NONE": 1,                                # enum in6_addr_gen_mode
    "RT_TABLE_COMPAT": 252, "RT_TABLE_MAIN": 254, "LOOPBACK_IFINDEX": 1,
    "NETNSA_NSID": 1, "NETNSA_FD": 3,                           # linux/net_namespace.h
    "RTEXT_FILTER_SKIP_STATS": 1 << 3,                          # linux/rtnetlink.h
    "SO_RCVBUFFORCE": getattr(socket, "SO_RCVBUFFORCE", 33),    # asm-generic/socket.h
}


def ours() -> dict[str, int]:
    return {name: value for name, value in vars(rtnl).items()
            if name.isupper() and isinstance(value, int) and name not in KERNEL_ONLY}


def table_for(name: str) -> Any:
    prefixes = [p for p in ATTRIBUTE_TABLES if name.startswith(p)]
    return ATTRIBUTE_TABLES[max(prefixes, key=len)] if prefixes else None


@pytest.mark.parametrize("name", sorted(n for n in ours() if table_for(n) is not None))
def test_attribute_number_matches_pyroute2(name: str) -> None:
    numbers = attribute_numbers(table_for(name))
    assert name in numbers, f"pyroute2 has no attribute {name} where we expect it"
    assert getattr(rtnl, name) == numbers[name]


@pytest.mark.parametrize("name", sorted(n for n in ours() if any(
    n.startswith(p) for p in CONSTANT_MODULES)))
def test_constant_matches_pyroute2(name: str) -> None:
    module = next(m for p, m in CONSTANT_MODULES.items() if name.startswith(p))
    assert getattr(rtnl, name) == getattr(module, name)


@pytest.mark.parametrize("name", sorted(n for n in ours() if any(
    n.startswith(p) for p in VALUE_TABLES)))
def test_value_matches_pyroute2(name: str) -> None:
    prefix = next(p for p in VALUE_TABLES if name.startswith(p))
    assert getattr(rtnl, name) == VALUE_TABLES[prefix][name[len(prefix):].lower()]


@pytest.mark.parametrize("name", sorted(KERNEL_ONLY))
def test_kernel_only_names_have_the_header_values(name: str) -> None:
    assert getattr(rtnl, name) == KERNEL_ONLY[name]


def test_the_rest_matches_pyroute2() -> None:
    import pyroute2.netlink.rtnl.ifinfmsg as ifinf
    assert rtnl.IFF_UP == ifinf.IFF_UP
    assert ifinf.state_by_code == rtnl.IF_OPER_STATES
    assert rtnl.MACVLAN_MODES == {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8,
                                  "source": 16}
    # Header layouts: pyroute2's struct formats describe the same sizes.
    assert rtnl.NLMSGHDR.size == 16 and rtnl.IFINFOMSG.size == 16
    assert (rtnl.IFADDRMSG.size, rtnl.RTMSG.size, rtnl.RTGENMSG.size) == (8, 12, 4)


def test_every_name_is_checked() -> None:
    checked = {n for n in ours() if table_for(n) is not None
               or any(n.startswith(p) for p in (*CONSTANT_MODULES, *VALUE_TABLES))}
    assert set(ours()) - checked == {"IFF_UP"}
