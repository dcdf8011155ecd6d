"""Plan -> kernel: run the ops of a Plan as batches of netlink requests.

Ops of one stage are independent, so each stage is one pipelined batch per
namespace (see :mod:`evpn_boot.netlink.wire`).  Links in the router namespace
are created with an ifindex chosen here (the namespace is entirely ours), so a
port can name its bridge as master in the same batch that creates the bridge's
siblings, without a round trip to learn the bridge's index.

A link that wants ``addrgenmode none`` is created down, switched to mode none,
and only then brought up: bringing it up first would give it an IPv6
link-local address that mode none does not take back.

Failures of single requests are collected and reported together at the end,
so one bad object does not stop the others.  Every message body comes from
:mod:`evpn_boot.netlink.encode`; this module only decides order, namespaces and
ifindices.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from evpn_boot.desired.model import (
    IPInterface,
    LinkKind,
    LinkSpec,
    MacvlanInfo,
    Side,
    VethInfo,
    VlanInfo,
)
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.netlink import encode, nsfd, rtnl, sysctl, wire
from evpn_boot.netlink.encode import CREATE
from evpn_boot.netlink.observe import dump_links
from evpn_boot.netlink.wire import Request
from evpn_boot.plan.diff import OPTIONAL
from evpn_boot.plan.model import Action, ObservedState, Op, Plan
from evpn_boot.plan.render import counts_text


@dataclass
class ApplyResult:
    """What an apply did; ``changes`` counts ops by action."""

    changes: dict[str, int] = field(default_factory=dict)
    ops: int = 0

    @property
    def changed(self) -> bool:
        return self.ops > 0

    @property
    def operations(self) -> int:
        return self.ops

    @property
    def summary(self) -> str:
        return counts_text(self.changes) if self.ops else "in sync"


class Executor:
    """Runs one Plan; ``record_host_links`` is called before host links are created."""

    def __init__(self, plan: Plan, observed: ObservedState, netns: str, host_netns: str, *,
                 record_host_links: Callable[[tuple[str, ...]], None],
                 record_nic: Callable[[], None]) -> None:
        self.plan = plan
        self.netns = netns
        self.host_netns = host_netns
        self.record_host_links = record_host_links
        self.record_nic = record_nic
        self.index: dict[Side, dict[str, int]] = {Side.ROUTER: {}, Side.HOST: {}}
        for (side, name), link in observed.links.items():
            self.index[side][name] = link.ifindex
        self._last_index = 0
        self.errors: list[str] = []
        self.socks: dict[Side, wire.Socket] = {}

    # ----------------------------------------------------------------- helpers
    def _sock(self, side: Side) -> wire.Socket:
        if side not in self.socks:
            self.socks[side] = wire.open_socket(self.netns if side is Side.ROUTER
                                                else self.host_netns)
        return self.socks[side]

    def _run(self, side: Side, requests: list[Request], *, ignore_missing: bool = False) -> None:
        if not requests:
            return
        for request, error in self._sock(side).batch(requests):
            if error is None or (ignore_missing and wire.is_missing(error)):
                continue
            self.errors.append(f"{request.tag} ({side.value} namespace): {error}")

    def _refresh(self, side: Side) -> None:
        self.index[side] = {raw.name: raw.index for raw in dump_links(self._sock(side))}
        if side is Side.ROUTER:
            self._last_index = 0

    def _next_index(self) -> int:
        if self._last_index == 0:
            self._last_index = max(self.index[Side.ROUTER].values(), default=1)
        self._last_index += 1
        return self._last_index

    def _master(self, spec: LinkSpec) -> int:
        """The ifindex of ``spec``'s master in its namespace (0: none, or not found)."""
        return self.index[spec.side].get(spec.master, 0) if spec.master else 0

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()

    # --------------------------------------------------------------- the run
    def run(self) -> ApplyResult:
        ops = self.plan.ops
        unknown = sorted({op.action.value for op in ops if op.action not in STEPS})
        if unknown:
            raise EvpnBootError(f"apply: no executor step for {', '.join(unknown)}; "
                                f"nothing was changed", kind=ErrorKind.RUNTIME)
        by_step: dict[str, list[Op]] = {step.__name__: [] for step in STEPS.values()}
        for op in ops:
            by_step[STEPS[op.action].__name__].append(op)
        try:
            for name, step_ops in by_step.items():
                getattr(self, name)(step_ops)     # on self: a subclass's override runs
        finally:
            self.close()
        if self.errors:
            shown = "\n  ".join(self.errors[:20])
            more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
            raise EvpnBootError(f"apply: {len(self.errors)} operations failed:\n  {shown}{more}",
                                kind=ErrorKind.RUNTIME)
        return ApplyResult(changes=self.plan.summary(), ops=len(ops))

    def _netns(self, ops: list[Op]) -> None:
        for op in ops:
            try:
                nsfd.create(op.name)
            except FileExistsError:
                pass
            except OSError as exc:
                raise EvpnBootError(f"creating network namespace {op.name!r}: {exc}"
                                    ) from exc
            self.index[Side.ROUTER] = {"lo": rtnl.LOOPBACK_IFINDEX}

    def _sysctls(self, ops: list[Op]) -> None:
        if not ops:
            return
        try:
            sysctl.write_many(self.netns, [(op.name, op.value) for op in ops],
                              optional={op.name for op in ops if op.reason == OPTIONAL})
        except OSError as exc:
            raise EvpnBootError(f"setting sysctls in {self.netns!r}: {exc}") from exc

    def _move_nic(self, ops: list[Op]) -> None:
        for op in ops:
            self.record_nic()
            fd = nsfd.open_fd(self.netns)
            try:
                body = encode.move_link(self.index[Side.HOST][op.name], fd)
                self._run(Side.HOST, [Request(rtnl.RTM_NEWLINK, 0, body,
                                              f"moving {op.name} into {self.netns}")])
            finally:
                os.close(fd)
            self._refresh(Side.ROUTER)

    def _deletes(self, ops: list[Op]) -> None:
        for side in (Side.ROUTER, Side.HOST):
            requests = []
            for op in ops:
                if op.side is not side:
                    continue
                if op.action is Action.DELETE:
                    requests.append(Request(rtnl.RTM_DELLINK, 0, encode.delete_link(op.name),
                                            f"deleting link {op.name}"))
                else:
                    assert op.address is not None
                    requests.append(self._addr_request(rtnl.RTM_DELADDR, op.side, op.name,
                                                       op.address, 0))
            self._run(side, requests, ignore_missing=True)
            for op in ops:
                if op.action is Action.DELETE and op.side is side:
                    self.index[side].pop(op.name, None)

    # ---------------------------------------------------------------- create
    def _creates(self, ops: list[Op]) -> None:
        if not ops:
            return
        host_names = tuple(op.name for op in ops if op.side is Side.HOST) + tuple(
            op.peer.name for op in ops if op.peer is not None and op.peer.side is Side.HOST)
        if host_names:
            self.record_host_links(host_names)
        host_fd = nsfd.open_fd(self.host_netns)
        router_fd = nsfd.open_fd(self.netns)
        try:
            for stage in sorted({op.stage for op in ops}):
                batch: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
                for op in ops:
                    if op.stage == stage:
                        side, request = self._create_request(op, host_fd, router_fd)
                        batch[side].append(request)
                for side, requests in batch.items():
                    self._run(side, requests)
                if batch[Side.HOST] or any(op.stage == stage and op.spec is not None
                                           and op.spec.kind in (LinkKind.VLAN, LinkKind.MACVLAN)
                                           for op in ops):
                    self._refresh(Side.HOST)
                    self._refresh(Side.ROUTER)
        finally:
            os.close(host_fd)
            os.close(router_fd)
        if any(op.peer is not None and op.peer.side is Side.HOST for op in ops):
            self._refresh(Side.HOST)
        self._after_create(ops)

    def _create_request(self, op: Op, host_fd: int, router_fd: int) -> tuple[Side, Request]:
        spec = op.spec
        assert spec is not None
        side = spec.side
        index = 0
        parent = netns_fd = None
        if spec.kind in (LinkKind.VLAN, LinkKind.MACVLAN):
            # Created from the host namespace straight into ours: the parent is
            # looked up where the request is made, the link lands in IFLA_NET_NS_FD.
            assert isinstance(spec.info, (VlanInfo, MacvlanInfo))
            parent, netns_fd = self.index[Side.HOST].get(spec.info.parent, 0), router_fd
            side = Side.HOST
        elif side is Side.ROUTER:
            index = self._next_index()
            self.index[Side.ROUTER][spec.name] = index
        peer_fd = host_fd if isinstance(spec.info, VethInfo) \
            and spec.info.peer_side is not spec.side else None
        body = encode.create_link(spec, index=index,
                                  master=self._master(spec) if spec.master else None,
                                  parent=parent, netns_fd=netns_fd, peer=op.peer,
                                  peer_netns_fd=peer_fd)
        return side, Request(rtnl.RTM_NEWLINK, CREATE, body,
                             f"creating {spec.kind.value} {spec.name}")

    def _after_create(self, ops: list[Op]) -> None:
        """addrgenmode, then the veth far end's master/ports, then up, then addresses."""
        setattrs: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ports: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ups: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        addrs: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        for op in ops:
            assert op.spec is not None
            specs = [op.spec] + ([op.peer] if op.peer is not None else [])
            for spec in specs:
                far_end = spec is not op.spec
                if spec.addrgenmode_none or far_end:
                    master = self._master(spec) if far_end and spec.master else None
                    setattrs[spec.side].append(Request(
                        rtnl.RTM_NEWLINK, 0, encode.configure_created(spec, master=master),
                        f"configuring {spec.name}"))
                    if spec.up:
                        ups[spec.side].append(self._up_request(spec))
                if spec.master and spec.brport is not None:
                    # The kernel ignores bridge-port data in the creating message.
                    ports[spec.side].append(self._brport_request(spec))
                for address in spec.addresses or ():
                    addrs[spec.side].append(self._addr_request(
                        rtnl.RTM_NEWADDR, spec.side, spec.name, address, CREATE))
        for group in (setattrs, ports, ups, addrs):
            for side, requests in group.items():
                self._run(side, requests)

    # ------------------------------------------------------------------- set
    def _brport_request(self, spec: LinkSpec) -> Request:
        assert spec.brport is not None
        return Request(rtnl.RTM_NEWLINK, 0, encode.set_bridge_port(spec.name, spec.brport),
                       f"setting bridge-port flags of {spec.name}")

    def _up_request(self, spec: LinkSpec) -> Request:
        return Request(rtnl.RTM_NEWLINK, 0, encode.set_up(spec.name), f"setting {spec.name} up")

    def _sets(self, ops: list[Op]) -> None:
        attrs_batch: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ports: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ups: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        for op in ops:
            spec = op.spec
            assert spec is not None
            changed = {c.attr for c in op.changes}
            body = encode.change_link(spec, changed, master=self._master(spec))
            if body is not None:
                attrs_batch[spec.side].append(Request(
                    rtnl.RTM_NEWLINK, 0, body,
                    f"changing {', '.join(c.attr for c in op.changes)} of {spec.name}"))
            if spec.brport is not None and spec.master and changed & {"bridge-port", "master"}:
                ports[spec.side].append(self._brport_request(spec))
            if "state" in changed:
                ups[spec.side].append(self._up_request(spec))
        for group in (attrs_batch, ports, ups):
            for side, requests in group.items():
                self._run(side, requests)

    # ------------------------------------------------------------- addresses
    def _addr_request(self, msg_type: int, side: Side, name: str, address: IPInterface,
                      flags: int) -> Request:
        body = encode.address(address, self.index[side].get(name, 0))
        verb = "adding" if msg_type == rtnl.RTM_NEWADDR else "removing"
        return Request(msg_type, flags, body, f"{verb} address {address} on {name}")

    def _addresses(self, ops: list[Op]) -> None:
        for side in (Side.ROUTER, Side.HOST):
            requests = [self._addr_request(rtnl.RTM_NEWADDR, side, op.name, op.address, CREATE)
                        for op in ops if op.side is side and op.address is not None]
            self._run(side, requests)

    def _routes(self, ops: list[Op]) -> None:
        requests = []
        for op in ops:
            assert op.route is not None
            requests.append(Request(rtnl.RTM_NEWROUTE, CREATE, encode.route(op.route),
                                    f"unreachable route {op.route.dst} in table "
                                    f"{op.route.table}"))
        self._run(Side.ROUTER, requests)


#: The executor step that runs each action, in the order the steps run.  Every
#: action has one: an op the executor has no step for is refused before
#: anything is sent (never dropped silently).
STEPS: dict[Action, Callable[[Executor, list[Op]], None]] = {
    Action.CREATE_NETNS: Executor._netns,
    Action.SYSCTL: Executor._sysctls,
    Action.MOVE_NIC: Executor._move_nic,
    Action.DELETE: Executor._deletes,
    Action.DEL_ADDR: Executor._deletes,
    Action.CREATE: Executor._creates,
    Action.SET: Executor._sets,
    Action.ADD_ADDR: Executor._addresses,
    Action.ADD_ROUTE: Executor._routes,
}
