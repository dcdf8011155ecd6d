"""Persistent netlink subscriptions for the daemon's drift detection.

The daemon keeps one subscribed socket per namespace for its whole
supervision (so no change between two looks is missed), selects on their fds
next to its other wake-ups, and asks :meth:`NetlinkWatch.drain` whether what
arrived can concern the desired state.

In the router namespace everything belongs to evpn-boot, so every link,
address and route notification counts.  In the host namespace (busy on a real
node: CNI creates and deletes pod veths all the time) only notifications about
links evpn-boot manages there, by name, and addresses on them, by index, count.
A receive-queue overflow (ENOBUFS: notifications were lost) always counts.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Optional

from evpn_boot.desired.model import DesiredState, LinkKind, Side
from evpn_boot.netlink import observe as observe_mod
from evpn_boot.netlink import wire
from evpn_boot.netlink.rtnl import (
    IFLA_IFNAME,
    NLMSGHDR,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)

ROUTER_GROUPS = (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE
                 | RTMGRP_IPV6_ROUTE)
HOST_GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR


class NetlinkWatch:
    """One namespace's notifications; ``names`` None means all of them matter."""

    def __init__(self, netns: str, groups: int, names: Optional[Iterable[str]] = None) -> None:
        self.netns = netns
        self.names = None if names is None else frozenset(names)
        self._sock = wire.open_socket(netns, groups=groups)
        self._sock.sock.setblocking(False)
        self._indexes: set[int] = set()
        if self.names is not None:
            # A separate socket: dump replies must not mix with notifications.
            with wire.open_socket(netns) as dump:
                self._indexes = {raw.index for raw in observe_mod.dump_links(dump)
                                 if raw.name in self.names}

    def fileno(self) -> int:
        return self._sock.sock.fileno()

    def drain(self) -> bool:
        """Read every pending notification; True when any may concern us."""
        relevant = False
        while True:
            try:
                data = self._sock.sock.recv(1 << 20)
            except BlockingIOError:
                return relevant
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    relevant = True          # lost notifications: re-plan to be sure
                    continue
                raise
            if not data:
                return relevant
            relevant = self._scan(data) or relevant

    def _scan(self, data: bytes) -> bool:
        relevant = False
        offset = 0
        while offset + NLMSGHDR.size <= len(data):
            length, msg_type, _flags, _seq, _pid = NLMSGHDR.unpack_from(data, offset)
            if length < NLMSGHDR.size:
                break
            message = memoryview(data)[offset:offset + length]
            offset += (length + 3) & ~3
            if self.names is None:
                relevant = True
            elif msg_type in (RTM_NEWLINK, RTM_DELLINK):
                relevant = self._link(message, msg_type) or relevant
            elif msg_type in (RTM_NEWADDR, RTM_DELADDR):
                index = wire.address_header(message)[4]
                relevant = relevant or index in self._indexes
        return relevant

    def _link(self, message: memoryview, msg_type: int) -> bool:
        index = wire.link_header(message)[2]
        attrs = wire.parse_attrs(message, wire.IFINFO_ATTRS, len(message))
        name = wire.as_str(attrs[IFLA_IFNAME]) if IFLA_IFNAME in attrs else ""
        assert self.names is not None
        if name not in self.names:
            return index in self._indexes      # renamed away from one of ours
        if msg_type == RTM_NEWLINK:
            self._indexes.add(index)
        else:
            self._indexes.discard(index)
        return True

    def close(self) -> None:
        self._sock.close()


def host_names(desired: DesiredState) -> set[str]:
    """Links evpn-boot manages in the host namespace (and the NIC it moves out of it)."""
    return {s.name for s in desired.links
            if s.side is Side.HOST or s.kind is LinkKind.PHYSICAL}


def watch(desired: DesiredState) -> list[NetlinkWatch]:
    """Subscriptions for the router and host namespaces of ``desired``."""
    rt = desired.runtime
    router = NetlinkWatch(rt.netns, ROUTER_GROUPS)
    try:
        host = NetlinkWatch(rt.host_netns, HOST_GROUPS, host_names(desired))
    except BaseException:
        router.close()
        raise
    return [router, host]
