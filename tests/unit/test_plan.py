"""Plan goldens: tests/plan_cases/<case>/{config.toml, observed.json, ownership.json, plan.txt}.

``observed.json`` lists kernel links in a compact form (see ``_link``); the test
derives the desired state from ``config.toml``, diffs it against the observed
state and compares the rendered plan with ``plan.txt``.  Regenerate with
``EVPN_BOOT_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest

from evpn_boot.config.load import load_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import (
    BridgeInfo,
    BridgePort,
    LinkKind,
    LinkSpec,
    LoopbackInfo,
    PhysicalInfo,
    Side,
    VethInfo,
    VxlanInfo,
)
from evpn_boot.plan.diff import diff
from evpn_boot.plan.model import Action, ObservedLink, ObservedState
from evpn_boot.plan.render import plan_to_dict, plan_to_text
from evpn_boot.state.model import Ownership

CASES = Path(__file__).parent.parent / "plan_cases"


def _link(raw: dict[str, Any]) -> ObservedLink:
    kind = LinkKind(raw["kind"])
    side = Side(raw.get("side", "router"))
    info: Any = {
        LinkKind.BRIDGE: BridgeInfo,
        LinkKind.VXLAN: lambda: VxlanInfo(vni=raw["vni"], local=ipaddress.ip_address(
            raw.get("local", "100.65.0.3")), port=raw.get("port", 4789), learning=False,
            link=raw.get("link", "lo")),
        LinkKind.VETH: lambda: VethInfo(peer=raw["peer"], peer_side=Side(raw["peer_side"])),
        LinkKind.LOOPBACK: LoopbackInfo,
        LinkKind.PHYSICAL: PhysicalInfo,
    }[kind]()
    brport = raw.get("brport")
    spec = LinkSpec(
        name=raw["name"], side=side, kind=kind, info=info, up=raw.get("up", True),
        master=raw.get("master"), mtu=raw.get("mtu", 1450), mac=raw.get("mac"),
        addresses=tuple(ipaddress.ip_interface(a) for a in raw.get("addresses", ())),
        addrgenmode_none=raw.get("addrgen_none", kind in (LinkKind.BRIDGE, LinkKind.VXLAN)),
        group=raw.get("group", 0),
        brport=BridgePort(*brport) if brport is not None else None)
    return ObservedLink(spec, ifindex=raw.get("ifindex", 10), kind_name=raw.get("kind_name", ""))


def load_case(case: Path) -> tuple[Any, ObservedState, Ownership]:
    loaded = load_config(case / "config.toml")
    desired = derive(loaded.config, NodeFacts(hostname="node", underlay_mtu=1500))
    raw = json.loads((case / "observed.json").read_text())
    links = {(link.spec.side, link.spec.name): link for link in map(_link, raw["links"])}
    sysctls = {(Side.ROUTER, s.key): s.value for s in desired.sysctls} \
        if raw.get("netns_exists", True) and raw.get("sysctls_ok", True) else {}
    observed = ObservedState(netns_exists=raw.get("netns_exists", True), links=links,
                             sysctls=sysctls)
    own_path = case / "ownership.json"
    ownership = Ownership.from_dict(json.loads(own_path.read_text())) if own_path.exists() \
        else Ownership()
    return desired, observed, ownership


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_plan_golden(case: str) -> None:
    desired, observed, ownership = load_case(CASES / case)
    text = plan_to_text(diff(desired, observed, ownership), verbose=True) + "\n"
    golden = CASES / case / "plan.txt"
    if os.environ.get("EVPN_BOOT_UPDATE_GOLDEN") or not golden.exists():
        golden.write_text(text)
    assert text == golden.read_text()


def test_in_sync_case_is_empty_and_json_says_so() -> None:
    desired, observed, ownership = load_case(CASES / "l2-in-sync")
    plan = diff(desired, observed, ownership)
    assert plan.empty
    assert plan_to_dict(plan)["in_sync"] is True


def test_drift_plan_repairs_in_place_without_deleting() -> None:
    desired, observed, ownership = load_case(CASES / "l2-drift")
    plan = diff(desired, observed, ownership)
    actions = {op.action for op in plan.ops}
    assert Action.DELETE not in actions
    sets = {op.name: {c.attr for c in op.changes} for op in plan.by_action(Action.SET)}
    assert sets["vni110"] == {"master"}
    assert sets["br-pe-120"] == {"mtu"}
    assert [str(op.address) for op in plan.by_action(Action.ADD_ADDR)] == ["100.65.0.3/32"]
    assert [op.name for op in plan.by_action(Action.CREATE)] == ["vni120"]


def test_replacement_says_why_in_words() -> None:
    desired, observed, ownership = load_case(CASES / "l2-vni-changed")
    plan = diff(desired, observed, ownership)
    deletes = {op.name: op for op in plan.by_action(Action.DELETE)}
    # Undesired router links and owned host links go; vni120 is replaced.
    assert set(deletes) == {"vni120", "vni999", "br-hs-999"}
    assert "cannot change in place" in deletes["vni120"].reason
    assert "vxlan vni 121 -> 120" in deletes["vni120"].reason
    assert deletes["vni999"].reason == "not in the configuration"
    order = [(op.action, op.name) for op in plan.ops]
    assert order.index((Action.DELETE, "vni120")) < order.index((Action.CREATE, "vni120"))


def test_foreign_host_links_are_never_deleted() -> None:
    desired, observed, ownership = load_case(CASES / "l2-foreign-host")
    plan = diff(desired, observed, ownership)
    assert all(op.side is Side.ROUTER for op in plan.by_action(Action.DELETE))
    from evpn_boot.plan.diff import collisions
    assert collisions(desired, observed, ownership) == [
        "host link 'br-hs-110' already exists and was not created by evpn-boot"]


def test_crashed_nic_move_gets_recorded_addresses_back() -> None:
    desired, observed, ownership = load_case(CASES / "l2-nic-moved-crash")
    plan = diff(desired, observed, ownership)
    adds = [(op.name, str(op.address)) for op in plan.by_action(Action.ADD_ADDR)]
    assert ("eth1", "192.168.11.3/24") in adds
    assert not plan.by_action(Action.MOVE_NIC)


def test_stages_are_monotonic_and_masters_first() -> None:
    desired, observed, ownership = load_case(CASES / "l2-fresh")
    plan = diff(desired, observed, ownership)
    stages = [op.stage for op in plan.ops]
    assert stages == sorted(stages)
    created = [op.name for op in plan.by_action(Action.CREATE)]
    assert created.index("br-pe-110") < created.index("vni110")
    assert created.index("br-pe-110") < created.index("pe-e-110")
    assert plan.ops[0].action is Action.CREATE_NETNS
