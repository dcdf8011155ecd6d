"""The handoff contract as a pure state machine (no I/O, no clock).

Phases, in order (docs/handoff.md has the contract for reconciler authors)::

    waiting-for-api --readyz ok--> publishing --annotations patched--> published
    published --GET Node shows evpn-boot.io/handoff=requested--> handoff-requested
    handoff-requested --release hook returned--> marking-released
    marking-released --state=released patched--> released (terminal)

A phase only ever advances on success.  A failure keeps the phase and is
reported as a :class:`Note` only when its *condition* (phase + failure class)
differs from the last one reported, so an API server that stays down for an
hour produces one log line, not one per retry; recovery is reported once too.
The driver (:mod:`evpn_boot.k8s.controller`) performs the actions and logs the
notes.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any, Optional

from evpn_boot.k8s.failures import Failure
from evpn_boot.k8s.gate import (
    ANN_OPENPE_NODEINDEX,
    GATE_CLOSED,
    LABEL_GATE,
    annotations_of,
    open_labels,
)

PREFIX = "evpn-boot.io/"
ANN_STATE = PREFIX + "state"
ANN_CONFIG_DIGEST = PREFIX + "config-digest"
ANN_NETNS = PREFIX + "netns"
ANN_NODE_INDEX = PREFIX + "node-index"
ANN_HANDOFF = PREFIX + "handoff"

STATE_SUPERVISING = "supervising"
STATE_RELEASED = "released"
HANDOFF_REQUESTED = "requested"


class Phase(enum.Enum):
    WAITING_FOR_API = "waiting-for-api"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    HANDOFF_REQUESTED = "handoff-requested"
    MARKING_RELEASED = "marking-released"
    RELEASED = "released"


class Action(enum.Enum):
    """What the driver must do next in the current phase."""

    PROBE = "probe /readyz"
    PUBLISH = "publish annotations"      # GET Node, then merge-PATCH with its resourceVersion
    WATCH = "watch for handoff request"  # GET Node
    RELEASE = "release (stop FRR gracefully)"
    MARK_RELEASED = "mark released"      # merge-PATCH state=released
    NONE = "nothing (released)"


_ACTIONS = {
    Phase.WAITING_FOR_API: Action.PROBE,
    Phase.PUBLISHING: Action.PUBLISH,
    Phase.PUBLISHED: Action.WATCH,
    Phase.HANDOFF_REQUESTED: Action.RELEASE,
    Phase.MARKING_RELEASED: Action.MARK_RELEASED,
    Phase.RELEASED: Action.NONE,
}

#: Failures that are expected while a node boots (API not up, kubelet not yet
#: bootstrapped): reported at INFO, everything else at WARNING.
_EXPECTED_WHILE_WAITING = {Failure.UNREACHABLE, Failure.NO_KUBECONFIG}


@dataclass(frozen=True)
class Identity:
    """What evpn-boot publishes about itself on its Node."""

    node_name: str
    config_digest: str
    netns: str
    node_index: int


@dataclass(frozen=True)
class Note:
    """A log line the driver should emit (level from :mod:`logging`)."""

    level: int
    message: str


def publish_patch(identity: Identity, node: dict[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    """The merge patch that publishes ``identity`` on ``node`` (as just read).

    It carries the Node's resourceVersion, so the API server rejects it with 409
    if anything changed the Node since it was read; the patch is then rebuilt
    from a fresh GET.  That precondition matters because publishing also deletes
    a stale ``evpn-boot.io/handoff`` request (one left from a previous boot must
    not release a node whose reconciler is not running yet): the reconciler's
    request is level-triggered and made again once it sees ``supervising``.
    """
    current = annotations_of(node)
    notes: list[Note] = []
    annotations: dict[str, Optional[str]] = {
        ANN_STATE: STATE_SUPERVISING,
        ANN_CONFIG_DIGEST: identity.config_digest,
        ANN_NETNS: identity.netns,
        ANN_NODE_INDEX: str(identity.node_index),
    }
    if ANN_HANDOFF in current:
        annotations[ANN_HANDOFF] = None
        notes.append(Note(logging.INFO, f"handoff: clearing a stale {ANN_HANDOFF}="
                                        f"{current[ANN_HANDOFF]!r} from before this run"))
    existing = current.get(ANN_OPENPE_NODEINDEX)
    annotations[ANN_OPENPE_NODEINDEX] = str(identity.node_index)
    if existing is not None and existing != str(identity.node_index):
        # nodemarker's index: no OpenPERouter pod runs here while the gate is
        # closed (evpn_boot.k8s.gate), so evpn-boot's index replaces it.
        notes.append(Note(logging.WARNING, (
            f"handoff: Node {identity.node_name} had {ANN_OPENPE_NODEINDEX}={existing!r}; "
            f"set to evpn-boot's node index {identity.node_index} (the gate is closed, "
            "so no OpenPERouter component has used it on this node)")))
    metadata: dict[str, Any] = {"annotations": annotations,
                                "labels": {LABEL_GATE: GATE_CLOSED}}
    version = (node.get("metadata") or {}).get("resourceVersion")
    if version:
        metadata["resourceVersion"] = version
    return {"metadata": metadata}, notes


def released_patch() -> dict[str, Any]:
    """state=released and the gate opened, in one patch: OpenPERouter's pods may start."""
    return {"metadata": {"annotations": {ANN_STATE: STATE_RELEASED}, "labels": open_labels()}}


class HandoffMachine:
    """The phase, and what has been reported; advanced by the driver's results."""

    def __init__(self, identity: Identity, phase: Phase = Phase.WAITING_FOR_API) -> None:
        self.identity = identity
        self.phase = phase
        self._condition: Optional[tuple[Phase, str]] = None

    @property
    def action(self) -> Action:
        return _ACTIONS[self.phase]

    @property
    def done(self) -> bool:
        return self.phase is Phase.RELEASED

    def succeeded(self, node: Optional[dict[str, Any]] = None) -> list[Note]:
        """The current action worked; ``node`` is the Node read by PUBLISH/WATCH."""
        notes = self._recovered()
        phase = self.phase
        if phase is Phase.WAITING_FOR_API:
            notes += self._advance(Phase.PUBLISHING, "API server is ready")
        elif phase is Phase.PUBLISHING:
            notes += self._advance(Phase.PUBLISHED, f"annotations published on Node "
                                                    f"{self.identity.node_name}")
        elif phase is Phase.PUBLISHED and node is not None:
            annotations = annotations_of(node)
            if annotations.get(ANN_HANDOFF) == HANDOFF_REQUESTED:
                notes += self._advance(Phase.HANDOFF_REQUESTED,
                                       f"{ANN_HANDOFF}={HANDOFF_REQUESTED} seen")
            elif annotations.get(ANN_STATE) != STATE_SUPERVISING:
                notes += self._advance(Phase.PUBLISHING, f"{ANN_STATE} is "
                                                         f"{annotations.get(ANN_STATE)!r}, "
                                                         "publishing again")
        elif phase is Phase.HANDOFF_REQUESTED:
            notes += self._advance(Phase.MARKING_RELEASED,
                                   "FRR stopped gracefully, dataplane left in place")
        elif phase is Phase.MARKING_RELEASED:
            notes += self._advance(Phase.RELEASED,
                                   f"{ANN_STATE}={STATE_RELEASED} published; "
                                   "no longer supervising")
        return notes

    def failed(self, failure: Optional[Failure], message: str) -> list[Note]:
        """The current action failed; reported only if the condition changed.

        ``failure`` is None for a failure of the release hook itself.
        """
        key = failure.name if failure is not None else "RELEASE_HOOK"
        condition = (self.phase, key)
        if condition == self._condition:
            return []
        self._condition = condition
        expected = self.phase is Phase.WAITING_FOR_API and failure in _EXPECTED_WHILE_WAITING
        what = failure.value if failure is not None else "release hook failed"
        return [Note(logging.INFO if expected else logging.WARNING,
                     f"handoff: {self.phase.value}: {what}: {message}; will retry")]

    def _recovered(self) -> list[Note]:
        if self._condition is None:
            return []
        phase, key = self._condition
        self._condition = None
        return [Note(logging.INFO, f"handoff: {phase.value}: recovered (was {key})")]

    def _advance(self, phase: Phase, why: str) -> list[Note]:
        old, self.phase = self.phase, phase
        return [Note(logging.INFO, f"handoff: {old.value} -> {phase.value}: {why}")]
