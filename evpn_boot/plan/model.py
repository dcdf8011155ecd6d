"""The Plan and the observed state it is computed from (pure values).

The observer (:mod:`evpn_boot.netlink.observe`) fills :class:`ObservedState` with
the same :class:`~evpn_boot.desired.model.LinkSpec` values the desired state
uses, so the diff compares like with like.  A :class:`Plan` is an ordered tuple
of small :class:`Op` values; the executor (:mod:`evpn_boot.netlink.apply`) runs
them and the renderer (:mod:`evpn_boot.plan.render`) prints them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from evpn_boot.desired.model import IPInterface, LinkSpec, RouteSpec, Side


@dataclass(frozen=True)
class ObservedLink:
    spec: LinkSpec
    ifindex: int
    #: The kernel's kind string ("" for a physical NIC); spec.kind is the nearest LinkKind.
    kind_name: str
    #: For veths: the peer's ifindex and whether the peer is in another namespace.
    peer_index: int = 0


@dataclass(frozen=True)
class ObservedState:
    netns_exists: bool
    links: dict[tuple[Side, str], ObservedLink] = field(default_factory=dict)
    routes: tuple[RouteSpec, ...] = ()
    #: (side, key) -> current value, None when the kernel has no such knob.
    sysctls: dict[tuple[Side, str], Optional[str]] = field(default_factory=dict)

    def get(self, side: Side, name: str) -> Optional[ObservedLink]:
        return self.links.get((side, name))


class Action(enum.Enum):
    CREATE_NETNS = "create-netns"
    SYSCTL = "sysctl"
    MOVE_NIC = "move-nic"
    DELETE = "delete"
    DEL_ADDR = "del-addr"
    CREATE = "create"
    SET = "set"
    ADD_ADDR = "add-addr"
    ADD_ROUTE = "add-route"


@dataclass(frozen=True)
class Change:
    """One attribute changed in place: rendered ``attr old -> new``."""

    attr: str
    old: str
    new: str


@dataclass(frozen=True)
class Op:
    action: Action
    side: Side
    name: str
    #: CREATE/SET: the wanted link; MOVE_NIC: the link in the router namespace.
    spec: Optional[LinkSpec] = None
    #: CREATE of a veth pair: the far end's spec (created in the same message).
    peer: Optional[LinkSpec] = None
    changes: tuple[Change, ...] = ()
    address: Optional[IPInterface] = None
    route: Optional[RouteSpec] = None
    value: str = ""
    #: Why, in words (e.g. why a link is replaced rather than modified).
    reason: str = ""
    stage: int = 0

    def changed(self, attr: str) -> bool:
        return any(c.attr == attr for c in self.changes)


@dataclass(frozen=True)
class Plan:
    ops: tuple[Op, ...]
    #: "side/name" of every desired object already in sync (the '=' lines).
    unchanged: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.ops

    def by_action(self, action: Action) -> list[Op]:
        return [op for op in self.ops if op.action is action]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.action.value] = counts.get(op.action.value, 0) + 1
        return counts
