"""Ordering of plan operations (pure).

Stages run in this order, and each stage's reason is a kernel constraint:

0. the router namespace must exist before anything is created in it;
1. sysctls before links, so new links inherit the namespace defaults;
2. the NIC moves before addresses are put back on it;
3. deletions before creations, so a replaced link's name is free again;
4-6. VRFs, then bridges (enslaved to VRFs), then ports (VXLAN, veth, VLAN,
   macvlan) created directly with their master: a master must exist first;
7. in-place changes, after every master they may point at exists;
8. addresses, on links that now exist;
9. routes last: they need their table's VRF and an up device.
"""

from __future__ import annotations

from evpn_boot.desired.model import LinkKind
from evpn_boot.plan.model import Action, Op

_CREATE_STAGE = {LinkKind.VRF: 4, LinkKind.BRIDGE: 5}

_STAGE = {
    Action.CREATE_NETNS: 0,
    Action.SYSCTL: 1,
    Action.MOVE_NIC: 2,
    Action.DELETE: 3,
    Action.DEL_ADDR: 3,
    Action.SET: 7,
    Action.ADD_ADDR: 8,
    Action.ADD_ROUTE: 9,
}


def stage_of(op: Op) -> int:
    if op.action is Action.CREATE:
        assert op.spec is not None
        return _CREATE_STAGE.get(op.spec.kind, 6)
    return _STAGE[op.action]
