"""Interfaces that appear late at boot: the underlay NIC, the index interface's address.

On real hardware the NIC may show up seconds after udev started (firmware
load, renaming) and the interface the node index is read from may still be
waiting for DHCP.  :class:`Arrivals` subscribes to link and IPv4 address
notifications of the host namespace *before* its first look, so nothing that
happens between the look and the wait is missed; the daemon then waits on its
fd through the pulse (no polling sleeps) and asks :meth:`Arrivals.missing`
again after each notification.

An interface already moved into the router namespace by an earlier run counts
as present (with its addresses, which moved along).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from evpn_boot.netlink import nsfd, wire
from evpn_boot.netlink.observe import dump_addresses, get_link
from evpn_boot.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_LINK


@dataclass(frozen=True)
class Awaited:
    """One interface to wait for; ``ipv4``: it must also carry an IPv4 address."""

    name: str
    role: str                  # "underlay NIC", "index interface" (for STATUS= and errors)
    ipv4: bool = False

    def describe(self) -> str:
        if self.ipv4:
            return f"an IPv4 address on {self.role} {self.name}"
        return f"{self.role} {self.name}"


class Arrivals:
    """Subscribed to the host namespace; see the module docstring."""

    def __init__(self, host_netns: str, router_netns: str, wanted: Sequence[Awaited]) -> None:
        self.host_netns = host_netns
        self.router_netns = router_netns
        self.wanted = tuple(wanted)
        self._sock = wire.open_socket(host_netns, groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR)
        self._sock.sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.sock.fileno()

    def _drain(self) -> None:
        while True:
            try:
                if not self._sock.sock.recv(1 << 20):
                    return
            except BlockingIOError:
                return
            except OSError:
                continue           # ENOBUFS: notifications lost; the look below re-reads

    def missing(self) -> list[Awaited]:
        """What is still absent (after consuming every pending notification)."""
        self._drain()
        left = list(self.wanted)
        spaces = [self.host_netns]
        if nsfd.exists(self.router_netns):
            spaces.append(self.router_netns)
        for netns in spaces:
            if not left:
                break
            with wire.open_socket(netns) as sock:
                left = [w for w in left if not _present(sock, w)]
        return left

    def close(self) -> None:
        self._sock.close()


def _present(sock: wire.Socket, wanted: Awaited) -> bool:
    link = get_link(sock, wanted.name)
    if link is None:
        return False
    if not wanted.ipv4:
        return True
    return any(isinstance(a, ipaddress.IPv4Interface)
               for a in dump_addresses(sock).get(link.index, ()))
