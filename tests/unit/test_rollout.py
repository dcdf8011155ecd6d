"""The handoff rollout's decisions, from snapshots (pure: no API, no clock)."""

from __future__ import annotations

import dataclasses

import pytest

from evpn_boot.rollout.decide import NodeView, Settings, Stage, decide
from evpn_boot.rollout.selector import SelectorError, matches

IMAGES = ("reg/openperouter/router:v0.2.0",)
SETTINGS = Settings(max_in_flight=1, images=IMAGES, stuck_after_s=300)


def ready(name: str, index: str, **changes: object) -> NodeView:
    """A supervising node that may be handed over."""
    base = NodeView(name=name, state="supervising", gate_closed=True, node_index=index,
                    openpe_index=index, images=frozenset(IMAGES), resources=True)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def stages(nodes: list[NodeView], **kwargs: object) -> dict[str, tuple[str, str]]:
    decision = decide(nodes, SETTINGS, paused=bool(kwargs.get("paused")), now=1000.0)
    return {s.name: (s.stage.value, s.reason) for s in decision.nodes}


def test_one_at_a_time_in_name_order() -> None:
    nodes = [ready("c", "2"), ready("a", "0"), ready("b", "1")]
    assert decide(nodes, SETTINGS, paused=False, now=0).request == ("a",)
    wide = dataclasses.replace(SETTINGS, max_in_flight=2)
    assert decide(nodes, wide, paused=False, now=0).request == ("a", "b")


def test_in_flight_nodes_take_the_slots() -> None:
    nodes = [ready("a", "0", requested=True, requested_at=990.0), ready("b", "1")]
    decision = decide(nodes, SETTINGS, paused=False, now=1000.0)
    assert decision.request == () and decision.in_flight == 1
    released = [ready("a", "0", state="released", gate_closed=False, requested_at=990.0,
                      router_ready=False), ready("b", "1")]
    assert decide(released, SETTINGS, paused=False, now=1000.0).request == ()
    done = [dataclasses.replace(released[0], router_ready=True), ready("b", "1")]
    assert decide(done, SETTINGS, paused=False, now=1000.0).request == ("b",)


def test_a_router_that_never_gets_ready_stops_the_rollout_and_says_so() -> None:
    wide = dataclasses.replace(SETTINGS, max_in_flight=3)
    nodes = [ready("a", "0", state="released", gate_closed=False, requested_at=100.0,
                   router_ready=False), ready("b", "1")]
    decision = decide(nodes, wide, paused=False, now=1000.0)
    assert decision.request == () and decision.stopped_by == ("a",)
    assert decision.nodes[0].stage is Stage.STUCK
    assert "router pod not Ready 900s after the request" in decision.nodes[0].reason
    assert decision.summary().startswith("stopped at a: ")


def test_a_node_that_never_releases_is_stuck_too() -> None:
    nodes = [ready("a", "0", requested=True, requested_at=100.0)]
    assert stages(nodes)["a"] == ("stuck", "evpn-boot has not released 900s after the "
                                           "request")


def test_pause_requests_nothing() -> None:
    decision = decide([ready("a", "0")], SETTINGS, paused=True, now=0)
    assert decision.request == () and decision.summary() == "paused: 1 eligible"


@pytest.mark.parametrize(("change", "reason"), [
    ({"hold": True}, "held"),
    ({"gate_closed": False}, "gate evpn-boot.io/gate is not 'supervising'"),
    ({"openpe_index": "7"}, "openpe.io/nodeindex is '7', evpn-boot uses '0'"),
    ({"resources": False}, "no OpenPERouter Underlay selects this node"),
    ({"images": frozenset()}, "images not on the node: reg/openperouter/router:v0.2.0"),
])
def test_preconditions_block_with_a_reason(change: dict[str, object], reason: str) -> None:
    stage, why = stages([ready("a", "0", **change)])["a"]
    assert stage == "blocked" and why.startswith(reason)


def test_an_index_conflict_blocks_the_node_and_names_the_other() -> None:
    got = stages([ready("a", "4"), NodeView(name="x", openpe_index="4")])
    assert got["a"] == ("blocked", "openpe.io/nodeindex 4 is also on x")
    assert got["x"][0] == "not-evpn-boot"


def test_a_rebooted_node_waits_for_evpn_boot_then_repeats() -> None:
    # After the reboot: the gate was closed before kubelet, state still says released.
    rebooted = ready("a", "0", state="released", requested_at=10.0, router_ready=None)
    assert stages([rebooted])["a"][0] == "booting"
    # evpn-boot republished supervising (and cleared the old request): eligible again.
    assert decide([ready("a", "0")], SETTINGS, paused=False, now=1000.0).request == ("a",)


def test_foreign_and_booting_nodes_are_left_alone() -> None:
    got = stages([NodeView(name="plain"), ready("a", "0", state="starting")])
    assert got["plain"][0] == "not-evpn-boot" and got["a"][0] == "booting"


def test_label_selectors() -> None:
    labels = {"zone": "a", "role": "edge"}
    assert matches(None, labels) and matches({}, labels)
    assert matches({"matchLabels": {"zone": "a"}}, labels)
    assert not matches({"matchLabels": {"zone": "b"}}, labels)
    assert matches({"matchExpressions": [{"key": "role", "operator": "In",
                                          "values": ["edge", "core"]}]}, labels)
    assert matches({"matchExpressions": [{"key": "gone", "operator": "NotIn",
                                          "values": ["x"]}]}, labels)
    assert not matches({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]},
                       labels)
    assert matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)
    with pytest.raises(SelectorError, match="'Gt'"):
        matches({"matchExpressions": [{"key": "zone", "operator": "Gt"}]}, labels)
