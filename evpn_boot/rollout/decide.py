"""Which nodes to hand over now, and where each node stands.

A node moves ``eligible -> requested -> released -> done``; the controller
writes ``evpn-boot.io/handoff=requested`` (and when), evpn-boot on the node
releases, opens the gate and marks ``released``, OpenPERouter's DaemonSets
start their pods there, and the node is done once the router pod is Ready.
A reboot brings the node back to ``supervising`` (evpn-boot republishes and
closes the gate), so it becomes eligible again and the handoff repeats.

At most ``max_in_flight`` nodes are between requested and done.  A node that
does not get there within ``stuck_after_s`` stops the whole rollout (it still
counts as in flight, and nothing new is requested while any node is stuck):
an OpenPERouter that cannot take one node over should not be given the next.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional


class Stage(enum.Enum):
    FOREIGN = "not-evpn-boot"        # no evpn-boot on this node: nothing to do
    BOOTING = "booting"              # evpn-boot has not published supervising yet
    BLOCKED = "blocked"              # supervising, but a precondition is missing
    ELIGIBLE = "eligible"            # may be requested when a slot is free
    REQUESTED = "requested"          # waiting for evpn-boot to release
    RELEASED = "released"            # waiting for OpenPERouter's router pod to be Ready
    DONE = "done"
    STUCK = "stuck"                  # requested/released for too long: rollout stopped


IN_FLIGHT = {Stage.REQUESTED, Stage.RELEASED, Stage.STUCK}


@dataclass(frozen=True)
class NodeView:
    """One Node as the driver read it, already interpreted (names in the driver)."""

    name: str
    state: Optional[str] = None            # evpn-boot.io/state
    requested: bool = False                # evpn-boot.io/handoff == requested
    requested_at: Optional[float] = None   # when the controller requested (epoch s)
    gate_closed: bool = False              # evpn-boot.io/gate == supervising
    node_index: Optional[str] = None       # evpn-boot.io/node-index
    openpe_index: Optional[str] = None     # openpe.io/nodeindex
    hold: bool = False                     # evpn-boot.io/handoff-hold set by an admin
    images: frozenset[str] = frozenset()   # every name in .status.images
    resources: bool = False                # an OpenPERouter Underlay selects this node
    router_ready: Optional[bool] = None    # None: no router pod on the node


@dataclass(frozen=True)
class Settings:
    max_in_flight: int = 1
    images: tuple[str, ...] = ()
    stuck_after_s: float = 600.0


@dataclass(frozen=True)
class NodeStatus:
    name: str
    stage: Stage
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    request: tuple[str, ...]
    nodes: tuple[NodeStatus, ...]
    paused: bool
    stopped_by: tuple[str, ...] = field(default=())

    @property
    def in_flight(self) -> int:
        return sum(1 for n in self.nodes if n.stage in IN_FLIGHT)

    def summary(self) -> str:
        """One line for logs and ``status``."""
        counts = Counter(n.stage for n in self.nodes)
        parts = [f"{counts[s]} {s.value}" for s in Stage if counts[s] and s is not Stage.FOREIGN]
        head = "paused" if self.paused else (
            "stopped at " + ", ".join(self.stopped_by) if self.stopped_by else "rolling")
        if not self.paused and not self.stopped_by and counts[Stage.ELIGIBLE] == 0 \
                and self.in_flight == 0:
            head = "idle"
        return f"{head}: " + (", ".join(parts) or "no evpn-boot nodes")


def classify(node: NodeView, others: Sequence[NodeView], settings: Settings,
             now: float) -> NodeStatus:
    """Where ``node`` stands (``others``: every other Node, for index conflicts)."""
    if node.state is None:
        return NodeStatus(node.name, Stage.FOREIGN)
    age = None if node.requested_at is None else now - node.requested_at
    late = f"{age:.0f}s after the request" if age is not None and \
        age > settings.stuck_after_s else ""
    if node.state == "released":
        return _released(node, late)
    if node.state != "supervising":
        return NodeStatus(node.name, Stage.BOOTING, f"evpn-boot.io/state is {node.state!r}")
    if node.requested:
        return (NodeStatus(node.name, Stage.STUCK, f"evpn-boot has not released {late}")
                if late else
                NodeStatus(node.name, Stage.REQUESTED, "waiting for evpn-boot to release"))
    reason = next((why for why in _blockers(node, others, settings) if why), "")
    return NodeStatus(node.name, Stage.BLOCKED if reason else Stage.ELIGIBLE, reason)


def _released(node: NodeView, late: str) -> NodeStatus:
    if node.gate_closed:
        # The gate closes at boot before evpn-boot republishes: a reboot.
        return NodeStatus(node.name, Stage.BOOTING, "rebooted after a release: gate closed, "
                                                    "waiting for evpn-boot to publish "
                                                    "supervising")
    if node.router_ready:
        return NodeStatus(node.name, Stage.DONE)
    what = ("no OpenPERouter router pod" if node.router_ready is None
            else "OpenPERouter router pod not Ready")
    return (NodeStatus(node.name, Stage.STUCK, f"{what} {late}") if late
            else NodeStatus(node.name, Stage.RELEASED, what))


def _blockers(node: NodeView, others: Sequence[NodeView],
              settings: Settings) -> Iterator[str]:
    """Why ``node`` may not be requested yet, most fundamental first ("" = no reason)."""
    yield "held (evpn-boot.io/handoff-hold)" if node.hold else ""
    yield ("" if node.gate_closed else
           "gate evpn-boot.io/gate is not 'supervising' (OpenPERouter's pods may run here)")
    yield ("" if node.openpe_index == node.node_index else
           f"openpe.io/nodeindex is {node.openpe_index!r}, evpn-boot uses {node.node_index!r}")
    clash = sorted(o.name for o in others
                   if o.openpe_index is not None and o.openpe_index == node.openpe_index)
    yield f"openpe.io/nodeindex {node.openpe_index} is also on {', '.join(clash)}" \
        if clash else ""
    yield "" if node.resources else "no OpenPERouter Underlay selects this node"
    missing = [i for i in settings.images if i not in node.images]
    yield "images not on the node: " + ", ".join(missing) if missing else ""


def decide(nodes: Sequence[NodeView], settings: Settings, *, paused: bool,
           now: float) -> Decision:
    """The requests to make now (sorted by node name) and every node's status."""
    ordered = sorted(nodes, key=lambda n: n.name)
    statuses = tuple(classify(n, [o for o in ordered if o.name != n.name], settings, now)
                     for n in ordered)
    stuck = tuple(s.name for s in statuses if s.stage is Stage.STUCK)
    in_flight = sum(1 for s in statuses if s.stage in IN_FLIGHT)
    free = 0 if paused or stuck else max(0, settings.max_in_flight - in_flight)
    request = tuple(s.name for s in statuses if s.stage is Stage.ELIGIBLE)[:free]
    return Decision(request=request, nodes=statuses, paused=paused, stopped_by=stuck)
