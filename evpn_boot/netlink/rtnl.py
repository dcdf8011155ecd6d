"""The rtnetlink vocabulary: every protocol number evpn-boot sends or reads, by name.

Names are the kernel's (``linux/netlink.h``, ``linux/rtnetlink.h``,
``linux/if_link.h``, ``linux/if_addr.h``, ``linux/net_namespace.h``) and
pyroute2's, so a request reads like the header it implements.  No other module
spells a message type, flag, attribute number or header layout.

Why not import pyroute2's own constants and message classes: importing
``pyroute2.netlink.rtnl`` costs ~0.12 s, about a third of a whole no-op
``apply`` (see docs/dataplane.md).  pyroute2 is the oracle instead:
``tests/unit/test_rtnl_vocabulary.py`` checks every name here against its
constants and attribute maps, and ``tests/unit/test_wire_encoding.py`` decodes
every encoded request with its message classes.
"""

from __future__ import annotations

import struct
from typing import Final

# ------------------------------------------------------------------ sockets
NETLINK_ROUTE: Final = 0
SOL_NETLINK: Final = 270
NETLINK_CAP_ACK: Final = 10      # errors echo only the request header
NETLINK_EXT_ACK: Final = 11      # errors carry the kernel's message text
SO_RCVBUFFORCE: Final = 33       # SOL_SOCKET option (not in Python's socket module)

# ----------------------------------------------------- headers and framing
#: struct nlmsghdr: length, type, flags, sequence, port id.
NLMSGHDR: Final = struct.Struct("=LHHLL")
NLMSG_HDRLEN: Final = NLMSGHDR.size
#: struct nlattr: length, type.
NLATTR: Final = struct.Struct("=HH")
#: struct ifinfomsg: family, (pad), type, index, flags, change.
IFINFOMSG: Final = struct.Struct("=BxHiII")
#: struct ifaddrmsg: family, prefixlen, flags, scope, index.
IFADDRMSG: Final = struct.Struct("=BBBBI")
#: struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
RTMSG: Final = struct.Struct("=BBBBBBBBI")
#: struct rtgenmsg (family), padded to 4 bytes, as RTM_GETNSID wants it.
RTGENMSG: Final = struct.Struct("=Bxxx")
#: struct nlmsgerr starts with the (negative) errno, then the request's header.
NLMSGERR_ERRNO: Final = struct.Struct("=i")

NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3

NLM_F_REQUEST: Final = 0x1
NLM_F_ACK: Final = 0x4
NLM_F_DUMP: Final = 0x300
NLM_F_EXCL: Final = 0x200
NLM_F_CREATE: Final = 0x400
#: In an ack (NLMSG_ERROR): only the request's header is echoed / TLVs follow.
NLM_F_CAPPED: Final = 0x100
NLM_F_ACK_TLVS: Final = 0x200
NLMSGERR_ATTR_MSG: Final = 1

NLA_F_NESTED: Final = 0x8000
NLA_TYPE_MASK: Final = 0x3FFF    # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

# ------------------------------------------------------------ message types
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_GETLINK: Final = 18
RTM_NEWADDR: Final = 20
RTM_DELADDR: Final = 21
RTM_GETADDR: Final = 22
RTM_NEWROUTE: Final = 24
RTM_GETROUTE: Final = 26
RTM_GETNSID: Final = 90

# ---------------------------------------------------- notification groups
RTMGRP_LINK: Final = 0x1
RTMGRP_IPV4_IFADDR: Final = 0x10
RTMGRP_IPV4_ROUTE: Final = 0x40
RTMGRP_IPV6_IFADDR: Final = 0x100
RTMGRP_IPV6_ROUTE: Final = 0x400

# ------------------------------------------------------------------- links
IFF_UP: Final = 0x1
#: ``lo`` is the first link of every namespace.
LOOPBACK_IFINDEX: Final = 1

IFLA_ADDRESS: Final = 1
IFLA_IFNAME: Final = 3
IFLA_MTU: Final = 4
IFLA_LINK: Final = 5
IFLA_MASTER: Final = 10
IFLA_OPERSTATE: Final = 16
IFLA_LINKINFO: Final = 18
IFLA_AF_SPEC: Final = 26
IFLA_GROUP: Final = 27
IFLA_NET_NS_FD: Final = 28
IFLA_EXT_MASK: Final = 29
IFLA_LINK_NETNSID: Final = 37

#: IFLA_OPERSTATE values (RFC 2863 operational states), named as ``ip link`` shows them.
IF_OPER_STATES: Final = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN",
                         4: "TESTING", 5: "DORMANT", 6: "UP"}

#: IFLA_EXT_MASK: leave the counters out of a dump (half of every message).
RTEXT_FILTER_SKIP_STATS: Final = 1 << 3

# Nested in IFLA_LINKINFO.
IFLA_INFO_KIND: Final = 1
IFLA_INFO_DATA: Final = 2
IFLA_INFO_SLAVE_KIND: Final = 4
IFLA_INFO_SLAVE_DATA: Final = 5

# IFLA_INFO_SLAVE_DATA of a bridge port.
IFLA_BRPORT_LEARNING: Final = 8
IFLA_BRPORT_NEIGH_SUPPRESS: Final = 32

# IFLA_AF_SPEC -> AF_INET6 -> ...
IFLA_INET6_ADDR_GEN_MODE: Final = 8
IN6_ADDR_GEN_MODE_NONE: Final = 1

# IFLA_INFO_DATA per kind.
IFLA_VXLAN_ID: Final = 1
IFLA_VXLAN_LINK: Final = 3       # u32 ifindex of the lower device
IFLA_VXLAN_LOCAL: Final = 4
IFLA_VXLAN_LEARNING: Final = 7
IFLA_VXLAN_PORT: Final = 15      # big-endian u16
IFLA_VXLAN_LOCAL6: Final = 17
IFLA_VRF_TABLE: Final = 1
IFLA_VLAN_ID: Final = 1          # u16
IFLA_MACVLAN_MODE: Final = 1
VETH_INFO_PEER: Final = 1        # a struct ifinfomsg, then the peer's attributes

#: IFLA_MACVLAN_MODE values by the names the configuration uses.
MACVLAN_MODES: Final = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}

# --------------------------------------------------------------- addresses
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
IFA_BROADCAST: Final = 4

RT_SCOPE_UNIVERSE: Final = 0
RT_SCOPE_LINK: Final = 253
RT_SCOPE_HOST: Final = 254

# ------------------------------------------------------------------ routes
RTA_DST: Final = 1
RTA_OIF: Final = 4
RTA_GATEWAY: Final = 5
RTA_PRIORITY: Final = 6
RTA_TABLE: Final = 15            # the real table id; rtm_table holds at most 255

RTN_UNICAST: Final = 1
RTN_UNREACHABLE: Final = 7
RTPROT_UNSPEC: Final = 0
RTPROT_STATIC: Final = 4
RT_TABLE_COMPAT: Final = 252     # rtm_table of a table id above 255
RT_TABLE_MAIN: Final = 254

# -------------------------------------------------------- namespace ids
NETNSA_NSID: Final = 1
NETNSA_FD: Final = 3
