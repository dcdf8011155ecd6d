"""Human and JSON renderings of a Plan.

One line per operation, prefixed the way configuration tools print a dry run:
``+`` create, ``-`` delete, ``~`` change in place, ``=`` already in sync (shown
with ``verbose``).  Replacements are a ``-`` line that says why in words
followed by the ``+`` line that re-creates the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evpn_boot.plan.model import Action, Op, Plan

_PREFIX = {
    Action.CREATE_NETNS: "+", Action.CREATE: "+", Action.ADD_ADDR: "+",
    Action.ADD_ROUTE: "+", Action.DELETE: "-", Action.DEL_ADDR: "-",
    Action.SET: "~", Action.SYSCTL: "~", Action.MOVE_NIC: "~",
}


def counts_text(counts: Mapping[str, int]) -> str:
    """Op counts by action, e.g. ``2 create, 1 set`` (the one change summary format).

    Used by ``plan``, ``apply``, the daemon's log and status lines alike.
    """
    return ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))


def op_text(op: Op) -> str:
    where = f"{op.side.value}/{op.name}"
    action = op.action
    if action is Action.CREATE_NETNS:
        text = f"netns {op.name}"
    elif action is Action.SYSCTL:
        text = f"sysctl {op.side.value}:{op.name} {op.changes[0].old} -> {op.value}"
    elif action is Action.MOVE_NIC:
        text = f"move {op.name} from the host namespace into the router namespace"
    elif action is Action.CREATE:
        assert op.spec is not None
        text = f"link {where} ({_describe(op)})"
    elif action is Action.DELETE:
        text = f"link {where}"
    elif action is Action.SET:
        text = f"link {where}: " + ", ".join(f"{c.attr} {c.old} -> {c.new}" for c in op.changes)
    elif action in (Action.ADD_ADDR, Action.DEL_ADDR):
        text = f"address {op.address} on {where}"
    else:
        assert op.route is not None
        text = (f"route {op.route.type.value} {op.route.dst} table {op.route.table} "
                f"metric {op.route.metric} ({op.side.value})")
    if op.reason:
        text += f" [{op.reason}]"
    return f"{_PREFIX[action]} {text}"


def _describe(op: Op) -> str:
    spec = op.spec
    assert spec is not None
    parts = [spec.kind.value]
    info = getattr(spec.info, "__dataclass_fields__", {})
    for name in info:
        if name in ("peer_side", "parent_side"):
            continue
        parts.append(f"{name} {getattr(spec.info, name)}")
    if spec.master:
        parts.append(f"master {spec.master}")
    if spec.mtu:
        parts.append(f"mtu {spec.mtu}")
    if spec.mac:
        parts.append(f"mac {spec.mac}")
    if spec.addresses:
        parts.append("addresses " + " ".join(str(a) for a in spec.addresses))
    if op.peer is not None:
        parts.append(f"peer in {op.peer.side.value} namespace")
    return ", ".join(parts)


def plan_to_text(plan: Plan, *, verbose: bool = False) -> str:
    lines = [op_text(op) for op in plan.ops]
    if verbose:
        lines += [f"= {name}" for name in plan.unchanged]
    if plan.empty:
        lines.append(f"in sync: nothing to do ({len(plan.unchanged)} objects checked)")
    else:
        lines.append(f"{len(plan.ops)} changes pending ({counts_text(plan.summary())}); "
                     f"{len(plan.unchanged)} objects in sync")
    return "\n".join(lines)


def op_to_dict(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {"action": op.action.value, "side": op.side.value, "name": op.name,
                           "stage": op.stage, "text": op_text(op)}
    if op.changes:
        out["changes"] = [{"attr": c.attr, "old": c.old, "new": c.new} for c in op.changes]
    if op.address is not None:
        out["address"] = str(op.address)
    if op.value:
        out["value"] = op.value
    if op.reason:
        out["reason"] = op.reason
    if op.spec is not None and op.action is Action.CREATE:
        out["kind"] = op.spec.kind.value
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {"in_sync": plan.empty, "ops": [op_to_dict(op) for op in plan.ops],
            "unchanged": list(plan.unchanged), "summary": plan.summary()}
