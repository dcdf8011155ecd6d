"""The underlay's uplinks, read off its configuration (pure).

Validation (which names are taken) and derivation (which links to build) both
need them, so they live with the model they read.  A node has one uplink per
leaf: a NIC moved into the router namespace, or a VLAN/macvlan made on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from evpn_boot.config.model import (
    MacvlanUnderlay,
    ReadinessRequire,
    UnderlayConfig,
    VlanUnderlay,
)

Sub = Union[VlanUnderlay, MacvlanUnderlay]


@dataclass(frozen=True)
class Uplink:
    """One underlay link: ``name`` in the router namespace, made on (or being) ``parent``."""

    name: str
    parent: str
    #: "nic", "vlan" or "macvlan": the config section it comes from.
    section: str
    #: Position in a list of tables (None: a single table or a NIC); for error paths.
    position: Optional[int] = None
    sub: Optional[Sub] = None

    @property
    def path(self) -> tuple[Union[str, int], ...]:
        """Where it is configured, as a key path (``underlay.vlan[1]``)."""
        base: tuple[Union[str, int], ...] = ("underlay", self.section)
        return base if self.position is None else (*base, self.position)


def _sub_name(sub: Sub) -> str:
    if isinstance(sub, VlanUnderlay):
        return sub.name or f"{sub.parent}.{sub.id}"
    return sub.name or f"ul-{sub.parent}"


def uplinks(underlay: UnderlayConfig) -> list[Uplink]:
    """Every uplink, in configuration order."""
    if underlay.nic is not None:
        return [Uplink(underlay.nic, underlay.nic, "nic")]
    if underlay.nics is not None:
        return [Uplink(n, n, "nics", i) for i, n in enumerate(underlay.nics)]
    section = "vlan" if underlay.vlan is not None else "macvlan"
    given: Union[Sub, list[VlanUnderlay], list[MacvlanUnderlay], None] = (
        underlay.vlan if underlay.vlan is not None else underlay.macvlan)
    assert given is not None
    if isinstance(given, list):
        subs: list[Sub] = list(given)
        return [Uplink(_sub_name(s), s.parent, section, i, s) for i, s in enumerate(subs)]
    return [Uplink(_sub_name(given), given.parent, section, None, given)]


def underlay_parents(underlay: UnderlayConfig) -> list[str]:
    """Every host NIC the underlay uses, once each."""
    return list(dict.fromkeys(u.parent for u in uplinks(underlay)))


def optional_nics(underlay: UnderlayConfig, require: ReadinessRequire) -> tuple[str, ...]:
    """The NICs a boot may go on without, as long as one of them is there.

    Only ``nics`` (one NIC per leaf) under ``any-established``: one Established
    session is all that readiness asks for, so a NIC that is late or broken at
    boot must not keep the node (and kubelet) down; drift repair moves it in when
    it appears.  ``all-established`` asks for every uplink: a missing NIC stays
    a preflight failure there (a VLAN/macvlan parent too: nothing to make it on).
    """
    if require is not ReadinessRequire.ANY_ESTABLISHED or underlay.nics is None \
            or len(underlay.nics) < 2:
        return ()
    return tuple(underlay.nics)
