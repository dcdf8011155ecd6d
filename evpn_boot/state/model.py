"""The ownership record: what evpn-boot took from, or added to, the host namespace.

Pure values (no I/O), shared by the planner (which must know which host links
are ours and what the moved NIC looked like) and :mod:`evpn_boot.state.store`
(which persists them).  Everything inside the router namespace is ours by
definition and is not recorded here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from evpn_boot.desired.model import IPInterface

#: Link group set on every host-side link evpn-boot creates, in the same netlink
#: message that creates it, so a link is never ours without the tag.
HOST_LINK_GROUP = 4243
STATE_VERSION = 1


@dataclass(frozen=True)
class NicRecord:
    """The underlay NIC as it was in the host namespace before we moved it."""

    name: str
    addresses: tuple[IPInterface, ...]
    mtu: int
    up: bool


@dataclass(frozen=True)
class Ownership:
    netns: str = ""
    host_netns: str = ""
    nic: Optional[NicRecord] = None
    host_links: tuple[str, ...] = field(default_factory=tuple)

    def with_host_links(self, names: tuple[str, ...]) -> Ownership:
        merged = tuple(sorted(set(self.host_links) | set(names)))
        return replace(self, host_links=merged)

    def to_dict(self) -> dict[str, Any]:
        nic = None
        if self.nic is not None:
            nic = {"name": self.nic.name, "mtu": self.nic.mtu, "up": self.nic.up,
                   "addresses": [str(a) for a in self.nic.addresses]}
        return {"version": STATE_VERSION, "netns": self.netns, "host_netns": self.host_netns,
                "nic": nic, "host_links": list(self.host_links)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ownership:
        nic = None
        raw = data.get("nic")
        if raw:
            nic = NicRecord(name=str(raw["name"]), mtu=int(raw["mtu"]), up=bool(raw["up"]),
                            addresses=tuple(ipaddress.ip_interface(a)
                                            for a in raw.get("addresses", ())))
        return cls(netns=str(data.get("netns", "")), host_netns=str(data.get("host_netns", "")),
                   nic=nic, host_links=tuple(str(n) for n in data.get("host_links", ())))
