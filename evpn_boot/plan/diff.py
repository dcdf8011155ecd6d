"""DesiredState x ObservedState (+ ownership record) -> Plan.  Pure.

Rules:

* Everything in the router namespace is ours: links there that are not desired
  are deleted (except ``lo`` and the moved NIC, which only ``teardown`` returns).
* In the host namespace only links that carry our tag *and* are recorded in the
  ownership state are ours; anything else is never touched (a desired name held
  by a foreign link is a preflight error, see :func:`collisions`).
* Mutable attributes (master, MTU, MAC, up, group, bridge-port flags,
  addrgenmode, addresses) are changed in place; an attribute the kernel cannot
  change (link kind, VXLAN id/local/port, VRF table, VLAN id, veth peer) makes
  the link be deleted and re-created, and the op's ``reason`` says so.
* The moved NIC's addresses and MTU come from the ownership record once it
  exists, so an apply killed between moving the NIC and re-adding its addresses
  still converges.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

from evpn_boot.desired.model import (
    DesiredState,
    IPInterface,
    LinkKind,
    LinkSpec,
    Side,
    VethInfo,
)
from evpn_boot.plan.model import Action, Change, ObservedLink, ObservedState, Op, Plan
from evpn_boot.plan.order import stage_of
from evpn_boot.state.model import HOST_LINK_GROUP, NicRecord, Ownership

#: Reason of a sysctl op the kernel may not have (skipped there, not an error).
OPTIONAL = "optional"
_LINK_LOCAL_V6 = ipaddress.ip_network("fe80::/10")
_LOOPBACK_KEEP = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def owned_host_link(link: ObservedLink, ownership: Ownership) -> bool:
    return link.spec.group == HOST_LINK_GROUP and link.spec.name in ownership.host_links


def collisions(desired: DesiredState, observed: ObservedState,
               ownership: Ownership) -> list[str]:
    """Desired host-side names held by links evpn-boot did not create."""
    found = []
    for spec in desired.links:
        if spec.side is not Side.HOST:
            continue
        link = observed.get(Side.HOST, spec.name)
        if link is not None and not owned_host_link(link, ownership):
            found.append(f"host link {spec.name!r} already exists and was not created by "
                         f"evpn-boot")
    return found


def nic_record(desired: DesiredState, observed: ObservedState, ownership: Ownership,
               nic: LinkSpec) -> Optional[NicRecord]:
    """What to give back at teardown: the recorded NIC, else how the host has it now."""
    recorded = ownership.nic_named(nic.name)
    if recorded is not None:
        return recorded
    host = observed.get(Side.HOST, nic.name)
    if host is None:
        return None
    addresses = tuple(a for a in host.spec.addresses or ()
                      if not (a.version == 6 and a.ip in _LINK_LOCAL_V6))
    return NicRecord(name=nic.name, addresses=addresses,
                     mtu=host.spec.mtu or 1500, up=host.spec.up)


def nic_records(desired: DesiredState, observed: ObservedState,
                ownership: Ownership) -> tuple[NicRecord, ...]:
    """:func:`nic_record` of every NIC the underlay moves in, where known."""
    records = (nic_record(desired, observed, ownership, spec) for spec in _underlay_nics(desired))
    return tuple(r for r in records if r is not None)


def _underlay_nics(desired: DesiredState) -> list[LinkSpec]:
    return [spec for spec in desired.links if spec.kind is LinkKind.PHYSICAL]


def diff(desired: DesiredState, observed: ObservedState, ownership: Ownership) -> Plan:
    """The ordered ops that take ``observed`` to ``desired`` (see the module rules)."""
    ops: list[Op] = []
    if not observed.netns_exists:
        ops.append(Op(Action.CREATE_NETNS, Side.ROUTER, desired.runtime.netns))
    ops += _sysctl_ops(desired, observed)
    wanted = {spec.key: spec for spec in desired.links}
    links = dict(observed.links)
    ops += _underlay_nic(desired, observed, ownership, wanted, links)
    ops += _undesired_deletes(links, wanted, ownership)
    link_ops, unchanged = _desired_link_ops(desired, wanted, links)
    ops += link_ops
    ops += _route_ops(desired, observed)
    staged = sorted((_staged(op) for op in ops), key=lambda op: op.stage)
    return Plan(ops=tuple(staged), unchanged=tuple(unchanged))


def _sysctl_ops(desired: DesiredState, observed: ObservedState) -> list[Op]:
    ops = []
    for sysctl in desired.sysctls:
        current = observed.sysctls.get((sysctl.side, sysctl.key))
        if current is None and not sysctl.required and observed.netns_exists:
            continue    # this kernel does not have the knob
        if current != sysctl.value:
            ops.append(Op(Action.SYSCTL, sysctl.side, sysctl.key, value=sysctl.value,
                          changes=(Change("value", current or "unset", sysctl.value),),
                          reason="" if sysctl.required else OPTIONAL))
    return ops


def _underlay_nic(desired: DesiredState, observed: ObservedState, ownership: Ownership,
                  wanted: dict[tuple[Side, str], LinkSpec],
                  links: dict[tuple[Side, str], ObservedLink]) -> list[Op]:
    """Want each moved NIC as the host had it; plan the move of those still there.

    Updates ``wanted`` and ``links`` in place: after a planned move, the NIC is
    treated as already in the router namespace (down, without addresses), so
    the link pass re-adds its addresses and brings it up.
    """
    ops = []
    for underlay in _underlay_nics(desired):
        nic = nic_record(desired, observed, ownership, underlay)
        if nic is None:
            continue
        wanted[underlay.key] = _with(underlay, addresses=nic.addresses,
                                     mtu=underlay.mtu or nic.mtu)
        if underlay.key in links or (Side.HOST, underlay.name) not in links:
            continue
        moved = links.pop((Side.HOST, underlay.name))
        links[underlay.key] = ObservedLink(
            _with(moved.spec, side=Side.ROUTER, addresses=(), up=False),
            ifindex=moved.ifindex, kind_name=moved.kind_name)
        ops.append(Op(Action.MOVE_NIC, Side.ROUTER, underlay.name, spec=underlay))
    return ops


def _undesired_deletes(links: dict[tuple[Side, str], ObservedLink],
                       wanted: dict[tuple[Side, str], LinkSpec],
                       ownership: Ownership) -> list[Op]:
    """Delete what is ours and not desired; never ``lo``, the NIC or foreign host links."""
    ops = []
    for key, old in sorted(links.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
        side, name = key
        if key in wanted:
            continue
        if side is Side.ROUTER and (name == "lo" or old.spec.kind is LinkKind.PHYSICAL):
            continue    # the moved NIC goes back only at teardown
        if side is Side.HOST and not owned_host_link(old, ownership):
            continue
        if _is_peer_of_deleted(old, links, wanted):
            continue
        ops.append(Op(Action.DELETE, side, name, reason="not in the configuration"))
    return ops


def _desired_link_ops(desired: DesiredState, wanted: dict[tuple[Side, str], LinkSpec],
                      links: dict[tuple[Side, str], ObservedLink]
                      ) -> tuple[list[Op], list[str]]:
    """Create, replace or change each desired link; also the '=' list of links in sync."""
    ops: list[Op] = []
    unchanged: list[str] = []
    replaced: set[tuple[Side, str]] = set()
    for spec in desired.links:
        want = wanted[spec.key]
        link = _current(want, links.get(spec.key))
        if link is not None:
            why = _immutable_difference(want, link)
            if why:
                ops.append(Op(Action.DELETE, want.side, want.name,
                              reason=f"replaced: {why} cannot change in place"))
                replaced.add(spec.key)
                link = None
        if link is None:
            ops += _missing_link_ops(want, wanted, links, replaced)
            continue
        changes = _mutable_changes(want, link)
        if replaced and want.master is not None and (want.side, want.master) in replaced \
                and not any(c.attr == "master" for c in changes):
            changes.append(Change("master", want.master, f"{want.master} (re-created)"))
        if changes:
            ops.append(Op(Action.SET, want.side, want.name, spec=want, changes=tuple(changes)))
        address_ops = _address_ops(want, link)
        ops += address_ops
        if not changes and not address_ops:
            unchanged.append(f"{want.side.value}/{want.name}")
    return ops, unchanged


def _current(want: LinkSpec, link: Optional[ObservedLink]) -> Optional[ObservedLink]:
    """The observed link; a namespace not created yet has a loopback, down, bare."""
    if link is None and want.kind is LinkKind.LOOPBACK:
        return ObservedLink(_with(want, up=False, addresses=()), ifindex=1, kind_name="")
    return link


def _missing_link_ops(want: LinkSpec, wanted: dict[tuple[Side, str], LinkSpec],
                      links: dict[tuple[Side, str], ObservedLink],
                      replaced: set[tuple[Side, str]]) -> list[Op]:
    """Ops for a desired link that does not exist (or was just planned for replacement)."""
    if want.kind is LinkKind.PHYSICAL:
        return []    # preflight reports a missing NIC
    if want.kind is not LinkKind.VETH or want.side is not Side.HOST:
        return [_create(want, wanted, "re-created" if want.key in replaced else "")]
    # A host veth end is created (or re-created) together with its router end.
    router_end = _veth_peer(want)
    if router_end in wanted and (router_end not in links or router_end in replaced):
        return []
    replaced.add(router_end)
    return [Op(Action.DELETE, Side.ROUTER, router_end[1],
               reason="replaced: its veth peer is missing"),
            _create(wanted[router_end], wanted, "re-created with its peer")]


def _address_ops(want: LinkSpec, link: ObservedLink) -> list[Op]:
    """Add the missing managed addresses, remove the extra ones (None = unmanaged)."""
    if want.addresses is None:
        return []
    observed_addrs = set(_managed_addresses(link, want))
    ops = [Op(Action.ADD_ADDR, want.side, want.name, address=address)
           for address in sorted(set(want.addresses) - observed_addrs, key=str)]
    ops += [Op(Action.DEL_ADDR, want.side, want.name, address=address)
            for address in sorted(observed_addrs - set(want.addresses), key=str)]
    return ops


def _route_ops(desired: DesiredState, observed: ObservedState) -> list[Op]:
    routes_now = set(observed.routes)
    return [Op(Action.ADD_ROUTE, route.side, str(route.dst), route=route)
            for route in desired.routes if route not in routes_now]


def _staged(op: Op) -> Op:
    from dataclasses import replace
    return replace(op, stage=stage_of(op))


def _with(spec: LinkSpec, **changes: object) -> LinkSpec:
    from dataclasses import replace
    return replace(spec, **changes)  # type: ignore[arg-type]


def _veth_peer(spec: LinkSpec) -> tuple[Side, str]:
    assert isinstance(spec.info, VethInfo)
    return (spec.info.peer_side, spec.info.peer)


def _is_peer_of_deleted(link: ObservedLink, links: dict[tuple[Side, str], ObservedLink],
                        wanted: dict[tuple[Side, str], LinkSpec]) -> bool:
    """A host veth end vanishes with its router end: one delete suffices."""
    if link.spec.side is not Side.HOST or not isinstance(link.spec.info, VethInfo):
        return False
    router_end = (Side.ROUTER, link.spec.info.peer)
    return router_end in links and router_end not in wanted


def _create(spec: LinkSpec, wanted: dict[tuple[Side, str], LinkSpec], reason: str) -> Op:
    peer = None
    if spec.kind is LinkKind.VETH:
        peer = wanted.get(_veth_peer(spec))
    return Op(Action.CREATE, spec.side, spec.name, spec=spec, peer=peer, reason=reason)


def _immutable_difference(want: LinkSpec, link: ObservedLink) -> str:
    have = link.spec
    if want.kind is LinkKind.PHYSICAL or want.kind is LinkKind.LOOPBACK:
        return ""
    if have.kind is not want.kind:
        return f"kind {link.kind_name or 'physical'} -> {want.kind.value}"
    if have.info != want.info:
        fields = getattr(want.info, "__dataclass_fields__", {})
        differ = [f"{want.kind.value} {k} {_shown(getattr(have.info, k))} -> "
                  f"{_shown(getattr(want.info, k))}"
                  for k in fields if getattr(have.info, k) != getattr(want.info, k)]
        return ", ".join(differ)
    return ""


def _shown(value: object) -> str:
    return "none" if value == "" else str(value)


def effective_group(want: LinkSpec) -> Optional[int]:
    """The link group ``want`` must carry: its own, else our ownership tag on host links."""
    if want.group is not None:
        return want.group
    return HOST_LINK_GROUP if want.side is Side.HOST else None


def _mutable_changes(want: LinkSpec, link: ObservedLink) -> list[Change]:
    have = link.spec
    changes: list[Change] = []

    def check(attr: str, old: object, new: object) -> None:
        if new is not None and old != new:
            changes.append(Change(attr, "none" if old is None else str(old), str(new)))

    if want.kind is not LinkKind.LOOPBACK and (have.master or "") != (want.master or ""):
        changes.append(Change("master", have.master or "none", want.master or "none"))
    check("mtu", have.mtu, want.mtu)
    check("mac", have.mac, want.mac)
    check("group", have.group, effective_group(want))
    if want.addrgenmode_none and not have.addrgenmode_none:
        changes.append(Change("addrgenmode", "eui64", "none"))
    if want.brport is not None and have.brport != want.brport:
        old = have.brport
        changes.append(Change(
            "bridge-port",
            "none" if old is None else f"learning {_onoff(old.learning)} neigh_suppress "
                                       f"{_onoff(old.neigh_suppress)}",
            f"learning {_onoff(want.brport.learning)} neigh_suppress "
            f"{_onoff(want.brport.neigh_suppress)}"))
    if want.up and not have.up:
        changes.append(Change("state", "down", "up"))
    return changes


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def _managed_addresses(link: ObservedLink, want: LinkSpec) -> list[IPInterface]:
    keep = []
    for address in link.spec.addresses or ():
        if address.version == 6 and address.ip in _LINK_LOCAL_V6:
            continue
        if want.kind is LinkKind.LOOPBACK and any(address.ip in n for n in _LOOPBACK_KEEP):
            continue
        keep.append(address)
    return keep
