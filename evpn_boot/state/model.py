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
    #: IPv4 address -> the broadcast it had ("" = none), as the host set it
    #: (``brd +``, none, or another); an address not listed (a record written
    #: before this was kept) gets the standard broadcast back.
    broadcasts: tuple[tuple[str, str], ...] = ()

    def broadcast_of(self, address: IPInterface) -> Optional[str]:
        """The broadcast to restore ``address`` with: an address, "" (none) or None
        (unknown: the standard one)."""
        return dict(self.broadcasts).get(str(address))


@dataclass(frozen=True)
class Ownership:
    netns: str = ""
    host_netns: str = ""
    #: Every NIC moved in (one per uplink), as the host had it.
    nics: tuple[NicRecord, ...] = ()
    host_links: tuple[str, ...] = field(default_factory=tuple)

    def nic_named(self, name: str) -> Optional[NicRecord]:
        for nic in self.nics:
            if nic.name == name:
                return nic
        return None

    def with_nics(self, records: tuple[NicRecord, ...]) -> Ownership:
        """Add the records of NICs not recorded yet (a recorded one is never rewritten)."""
        new = tuple(r for r in records if self.nic_named(r.name) is None)
        return replace(self, nics=self.nics + new) if new else self

    def with_host_links(self, names: tuple[str, ...]) -> Ownership:
        merged = tuple(sorted(set(self.host_links) | set(names)))
        return replace(self, host_links=merged)

    def to_dict(self) -> dict[str, Any]:
        nics = [_nic_dict(n) for n in self.nics]
        # "nic" (the first) is what a single-homed record always held; "nics"
        # lists every one, so a dual-homed node's record is still read by both.
        return {"version": STATE_VERSION, "netns": self.netns, "host_netns": self.host_netns,
                "nic": nics[0] if nics else None, "nics": nics,
                "host_links": list(self.host_links)}

    @classmethod
    def from_dict(cls, data: object) -> Ownership:
        """Parse a record strictly; StateFormatError names the first field that is off."""
        if not isinstance(data, dict):
            raise StateFormatError("not a JSON object")
        version = data.get("version", STATE_VERSION)   # absent in hand-written records
        if version != STATE_VERSION or isinstance(version, bool):
            raise StateFormatError(f"version {version!r:.20}, expected {STATE_VERSION}")
        unknown = set(data) - {"version", "netns", "host_netns", "nic", "nics", "host_links"}
        if unknown:
            raise StateFormatError(f"unknown keys {', '.join(sorted(map(str, unknown)))}")
        netns = _name(data.get("netns", ""), "netns", empty_ok=True)
        host_netns = _name(data.get("host_netns", ""), "host_netns", empty_ok=True)
        links = data.get("host_links", [])
        if not isinstance(links, list):
            raise StateFormatError("host_links is not a list")
        if "nics" in data:
            raw_nics = data["nics"]
            if not isinstance(raw_nics, list):
                raise StateFormatError("nics is not a list")
            nics = tuple(_nic(n, f"nics[{i}]") for i, n in enumerate(raw_nics))
        else:
            first = data.get("nic")
            nics = () if first is None else (_nic(first, "nic"),)
        return cls(netns=netns, host_netns=host_netns, nics=nics,
                   host_links=tuple(_name(n, "host_links[]") for n in links))


class StateFormatError(ValueError):
    """A state record that is not evpn-boot's schema."""


def _name(value: object, field_name: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty_ok) or len(value) > 15 or \
            any(c in "/:" or c.isspace() or not c.isprintable() for c in value):
        raise StateFormatError(f"{field_name} is not a name: {value!r:.40}")
    return value


def _nic_dict(nic: NicRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": nic.name, "mtu": nic.mtu, "up": nic.up,
                           "addresses": [str(a) for a in nic.addresses]}
    if nic.broadcasts:
        doc["broadcasts"] = dict(nic.broadcasts)
    return doc


def _broadcasts(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise StateFormatError(f"{where}.broadcasts is not an object of strings")
    try:
        for key, value in raw.items():
            ipaddress.IPv4Interface(key)
            if value:
                ipaddress.IPv4Address(value)
    except ValueError as exc:
        raise StateFormatError(f"{where}.broadcasts: {exc}") from None
    return tuple(sorted(raw.items()))


def _nic(raw: object, where: str) -> NicRecord:
    if not isinstance(raw, dict):
        raise StateFormatError(f"{where} is not an object")
    mtu, up, addresses = raw.get("mtu"), raw.get("up"), raw.get("addresses", [])
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not 0 < mtu < 2**32:
        raise StateFormatError(f"{where}.mtu is not an MTU: {mtu!r:.40}")
    if not isinstance(up, bool):
        raise StateFormatError(f"{where}.up is not true/false")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise StateFormatError(f"{where}.addresses is not a list of strings")
    try:
        parsed = tuple(ipaddress.ip_interface(a) for a in addresses)
    except ValueError as exc:
        raise StateFormatError(f"{where}.addresses: {exc}") from None
    return NicRecord(name=_name(raw.get("name"), f"{where}.name"), mtu=mtu, up=up,
                     addresses=parsed,
                     broadcasts=_broadcasts(raw.get("broadcasts", {}), where))
