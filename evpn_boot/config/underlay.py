"""The underlay's interface names, read off its configuration (pure).

Validation (which names are taken) and derivation (which links to build) both
need them, so they live with the model they read.
"""

from __future__ import annotations

from evpn_boot.config.model import UnderlayConfig


def underlay_link_name(underlay: UnderlayConfig) -> str:
    """The link the underlay runs on: the NIC itself, or the VLAN/macvlan made on it."""
    if underlay.nic is not None:
        return underlay.nic
    if underlay.vlan is not None:
        return underlay.vlan.name or f"{underlay.vlan.parent}.{underlay.vlan.id}"
    assert underlay.macvlan is not None
    return underlay.macvlan.name or f"ul-{underlay.macvlan.parent}"


def underlay_parent(underlay: UnderlayConfig) -> str:
    """The host NIC the underlay uses (moved, or the parent of a sub-interface)."""
    if underlay.nic is not None:
        return underlay.nic
    sub = underlay.vlan or underlay.macvlan
    assert sub is not None
    return sub.parent
