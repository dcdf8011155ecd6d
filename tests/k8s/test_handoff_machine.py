"""The pure handoff state machine, backoff and publish patch."""

from __future__ import annotations

import logging
import random

import pytest

from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.client import Failure
from evpn_boot.k8s.handoff import (
    ANN_HANDOFF,
    ANN_OPENPE_NODEINDEX,
    ANN_STATE,
    Action,
    HandoffMachine,
    Identity,
    Phase,
    publish_patch,
    released_patch,
)

IDENTITY = Identity(node_name="node-a", config_digest="sha256:0123", netns="perouter",
                    node_index=3)


def node(annotations: dict[str, str], version: str = "7") -> dict[str, object]:
    return {"metadata": {"name": "node-a", "resourceVersion": version,
                         "annotations": annotations}}


def test_happy_path_phases_and_actions() -> None:
    machine = HandoffMachine(IDENTITY)
    seen = []
    for result in (None, node({ANN_STATE: "supervising"}), node({ANN_STATE: "supervising"}),
                   node({ANN_STATE: "supervising", ANN_HANDOFF: "requested"}), None, None):
        seen.append((machine.phase, machine.action))
        machine.succeeded(result)
    assert seen == [
        (Phase.WAITING_FOR_API, Action.PROBE),
        (Phase.PUBLISHING, Action.PUBLISH),
        (Phase.PUBLISHED, Action.WATCH),
        (Phase.PUBLISHED, Action.WATCH),
        (Phase.HANDOFF_REQUESTED, Action.RELEASE),
        (Phase.MARKING_RELEASED, Action.MARK_RELEASED),
    ]
    assert machine.done and machine.action is Action.NONE


def test_watch_republishes_when_annotations_vanish() -> None:
    machine = HandoffMachine(IDENTITY, Phase.PUBLISHED)
    notes = machine.succeeded(node({}))
    assert machine.phase is Phase.PUBLISHING
    assert "publishing again" in notes[0].message


def test_failures_are_reported_once_per_condition() -> None:
    machine = HandoffMachine(IDENTITY)
    first = machine.failed(Failure.UNREACHABLE, "connection refused")
    assert [n.level for n in first] == [logging.INFO]      # expected while booting
    assert machine.failed(Failure.UNREACHABLE, "connection refused again") == []
    changed = machine.failed(Failure.TLS, "certificate verify failed")
    assert len(changed) == 1 and changed[0].level == logging.WARNING
    assert "TLS failure" in changed[0].message
    assert machine.phase is Phase.WAITING_FOR_API           # failures never advance
    notes = machine.succeeded()
    assert [n.message for n in notes] == [
        "handoff: waiting-for-api: recovered (was TLS)",
        "handoff: waiting-for-api -> publishing: API server is ready"]
    # the same failure class in a new phase is a new condition
    assert len(machine.failed(Failure.UNREACHABLE, "down")) == 1
    assert machine.failed(Failure.UNREACHABLE, "down") == []


def test_release_hook_failure_is_its_own_condition() -> None:
    machine = HandoffMachine(IDENTITY, Phase.HANDOFF_REQUESTED)
    notes = machine.failed(None, "RuntimeError: podman stop failed")
    assert notes[0].level == logging.WARNING and "release hook failed" in notes[0].message
    assert machine.failed(None, "again") == []


def test_publish_patch_closes_the_gate_and_sets_our_nodeindex() -> None:
    patch, notes = publish_patch(IDENTITY, node({}))
    assert patch == {"metadata": {"resourceVersion": "7",
                                  "labels": {"evpn-boot.io/gate": "supervising"},
                                  "annotations": {
        "evpn-boot.io/state": "supervising",
        "evpn-boot.io/config-digest": "sha256:0123",
        "evpn-boot.io/netns": "perouter",
        "evpn-boot.io/node-index": "3",
        "openpe.io/nodeindex": "3"}}}
    assert notes == []
    patch, notes = publish_patch(IDENTITY, node({ANN_OPENPE_NODEINDEX: "3"}))
    assert patch["metadata"]["annotations"][ANN_OPENPE_NODEINDEX] == "3"
    assert notes == []
    # nodemarker got there first: ours wins, and the log says so.
    patch, notes = publish_patch(IDENTITY, node({ANN_OPENPE_NODEINDEX: "9"}))
    assert patch["metadata"]["annotations"][ANN_OPENPE_NODEINDEX] == "3"
    assert notes[0].level == logging.WARNING and "'9'" in notes[0].message


def test_publish_patch_clears_a_stale_request() -> None:
    patch, notes = publish_patch(IDENTITY, node({ANN_HANDOFF: "requested"}))
    assert patch["metadata"]["annotations"][ANN_HANDOFF] is None
    assert "stale" in notes[0].message


def test_released_patch() -> None:
    assert released_patch() == {"metadata": {"annotations": {ANN_STATE: "released"},
                                             "labels": {"evpn-boot.io/gate": "released"}}}


def test_backoff_is_bounded_jittered_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings):
        assert ceiling * 0.5 <= delay <= ceiling
    assert len(set(delays)) == len(delays)                  # jittered, not a fixed ladder
    backoff.reset()
    assert backoff.next_delay() <= 1.0
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(initial=0)


def test_state_machine_imports_no_networking() -> None:
    import subprocess
    import sys
    code = ("import sys, evpn_boot.k8s.handoff, evpn_boot.k8s.backoff; "
            "print(sorted(m for m in ('ssl', 'http.client', 'socket', 'yaml') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
