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
so one bad object does not stop the others.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from evpn_boot.desired.model import (
    IPInterface,
    LinkKind,
    LinkSpec,
    MacvlanInfo,
    RouteSpec,
    Side,
    VethInfo,
    VlanInfo,
    VrfInfo,
    VxlanInfo,
)
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.netlink import nsfd, sysctl, wire
from evpn_boot.netlink.observe import dump_links
from evpn_boot.netlink.wire import Request, be16, u8
from evpn_boot.plan.diff import OPTIONAL
from evpn_boot.plan.model import Action, ObservedState, Op, Plan
from evpn_boot.state.model import HOST_LINK_GROUP

IFF_UP = 1
CREATE = wire.NLM_F_CREATE | wire.NLM_F_EXCL
_MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}


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
        if not self.ops:
            return "in sync"
        return ", ".join(f"{n} {a}" for a, n in sorted(self.changes.items()))


def group_of(spec: LinkSpec) -> Optional[int]:
    if spec.group is not None:
        return spec.group
    return HOST_LINK_GROUP if spec.side is Side.HOST else None


def _addrgen_none() -> tuple[int, wire.AttrValue]:
    return (26, [(socket.AF_INET6, [(8, u8(1))])])


def _mac(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def _by_name(name: str, flags: int = 0, change: int = 0) -> bytes:
    return wire.ifinfo(0, flags, change)


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

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()

    # --------------------------------------------------------------- the run
    def run(self) -> ApplyResult:
        ops = self.plan.ops
        try:
            self._netns(ops)
            self._sysctls([op for op in ops if op.action is Action.SYSCTL])
            self._move_nic([op for op in ops if op.action is Action.MOVE_NIC])
            self._deletes([op for op in ops if op.stage == 3])
            self._creates([op for op in ops if op.action is Action.CREATE])
            self._sets([op for op in ops if op.action is Action.SET])
            self._addresses([op for op in ops if op.action is Action.ADD_ADDR])
            self._routes([op for op in ops if op.action is Action.ADD_ROUTE])
        finally:
            self.close()
        if self.errors:
            shown = "\n  ".join(self.errors[:20])
            more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
            raise EvpnBootError(f"apply: {len(self.errors)} operations failed:\n  {shown}{more}",
                                kind=ErrorKind.RUNTIME)
        return ApplyResult(changes=self.plan.summary(), ops=len(ops))

    def _netns(self, ops: tuple[Op, ...]) -> None:
        for op in ops:
            if op.action is Action.CREATE_NETNS:
                try:
                    nsfd.create(op.name)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise EvpnBootError(f"creating network namespace {op.name!r}: {exc}"
                                        ) from exc
                self.index[Side.ROUTER] = {"lo": 1}

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
                body = wire.ifinfo(self.index[Side.HOST][op.name]) + wire.encode_attrs(
                    [(28, fd)])
                self._run(Side.HOST, [Request(wire.RTM_NEWLINK, 0, body,
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
                    body = wire.ifinfo() + wire.encode_attrs([(3, op.name)])
                    requests.append(Request(wire.RTM_DELLINK, 0, body,
                                            f"deleting link {op.name}"))
                elif op.action is Action.DEL_ADDR:
                    assert op.address is not None
                    requests.append(self._addr_request(wire.RTM_DELADDR, op.side, op.name,
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
        attrs: wire.Attrs = [(3, spec.name)]
        side = spec.side
        index = 0
        if spec.mtu:
            attrs.append((4, spec.mtu))
        if spec.mac:
            attrs.append((1, _mac(spec.mac)))
        group = group_of(spec)
        if group is not None:
            attrs.append((27, group))
        info: wire.Attrs = [(1, spec.kind.value)]
        data = self._kind_data(spec, op.peer, host_fd)
        if data:
            info.append((2, data))
        if spec.master:
            attrs.append((10, self.index[side].get(spec.master, 0)))
            if spec.brport is not None:
                info += [(4, "bridge"), (5, [(8, u8(spec.brport.learning)),
                                             (32, u8(spec.brport.neigh_suppress))])]
        if spec.kind in (LinkKind.VLAN, LinkKind.MACVLAN):
            # Created from the host namespace straight into ours: the parent is
            # looked up where the request is made, the link lands in IFLA_NET_NS_FD.
            assert isinstance(spec.info, (VlanInfo, MacvlanInfo))
            attrs += [(5, self.index[Side.HOST].get(spec.info.parent, 0)), (28, router_fd)]
            side = Side.HOST
        elif side is Side.ROUTER:
            index = self._next_index()
            self.index[Side.ROUTER][spec.name] = index
        attrs.append((18, info))
        flags = IFF_UP if spec.up and not spec.addrgenmode_none else 0
        body = wire.ifinfo(index, flags, IFF_UP) + wire.encode_attrs(attrs)
        return side, Request(wire.RTM_NEWLINK, CREATE, body,
                             f"creating {spec.kind.value} {spec.name}")

    def _kind_data(self, spec: LinkSpec, peer: Optional[LinkSpec], host_fd: int) -> wire.Attrs:
        info = spec.info
        if isinstance(info, VxlanInfo):
            local = info.local.packed
            return [(1, info.vni), (4 if info.local.version == 4 else 17, local),
                    (15, be16(info.port)), (7, u8(info.learning))]
        if isinstance(info, VrfInfo):
            return [(1, info.table)]
        if isinstance(info, VlanInfo):
            return [(1, info.vlan_id.to_bytes(2, "little"))]
        if isinstance(info, MacvlanInfo):
            return [(1, _MACVLAN_MODES.get(info.mode, 4))]
        if isinstance(info, VethInfo):
            peer_attrs: wire.Attrs = [(3, info.peer)]
            if peer is not None:
                if peer.mtu:
                    peer_attrs.append((4, peer.mtu))
                group = group_of(peer)
                if group is not None:
                    peer_attrs.append((27, group))
            if info.peer_side is not spec.side:
                peer_attrs.append((28, host_fd))
            return [(1, wire.ifinfo() + wire.encode_attrs(peer_attrs))]
        return []

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
                    attrs: wire.Attrs = [(3, spec.name)]
                    if spec.addrgenmode_none:
                        attrs.append(_addrgen_none())
                    if far_end and spec.master:
                        attrs.append((10, self.index[spec.side].get(spec.master, 0)))
                    setattrs[spec.side].append(Request(
                        wire.RTM_NEWLINK, 0, wire.ifinfo() + wire.encode_attrs(attrs),
                        f"configuring {spec.name}"))
                    if spec.up:
                        ups[spec.side].append(self._up_request(spec))
                if spec.master and spec.brport is not None:
                    # The kernel ignores bridge-port data in the creating message.
                    ports[spec.side].append(self._brport_request(spec))
                for address in spec.addresses or ():
                    addrs[spec.side].append(self._addr_request(wire.RTM_NEWADDR, spec.side,
                                                               spec.name, address, CREATE))
        for group in (setattrs, ports, ups, addrs):
            for side, requests in group.items():
                self._run(side, requests)

    # ------------------------------------------------------------------- set
    def _brport_request(self, spec: LinkSpec) -> Request:
        assert spec.brport is not None
        info: wire.Attrs = [(4, "bridge"), (5, [(8, u8(spec.brport.learning)),
                                                (32, u8(spec.brport.neigh_suppress))])]
        body = wire.ifinfo() + wire.encode_attrs([(3, spec.name), (18, info)])
        return Request(wire.RTM_NEWLINK, 0, body, f"setting bridge-port flags of {spec.name}")

    def _up_request(self, spec: LinkSpec) -> Request:
        body = wire.ifinfo(0, IFF_UP, IFF_UP) + wire.encode_attrs([(3, spec.name)])
        return Request(wire.RTM_NEWLINK, 0, body, f"setting {spec.name} up")

    def _sets(self, ops: list[Op]) -> None:
        attrs_batch: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ports: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        ups: dict[Side, list[Request]] = {Side.ROUTER: [], Side.HOST: []}
        for op in ops:
            spec = op.spec
            assert spec is not None
            attrs: wire.Attrs = [(3, spec.name)]
            if op.changed("master"):
                attrs.append((10, self.index[spec.side].get(spec.master, 0)
                              if spec.master else 0))
            if op.changed("mtu") and spec.mtu:
                attrs.append((4, spec.mtu))
            if op.changed("mac") and spec.mac:
                attrs.append((1, _mac(spec.mac)))
            if op.changed("group"):
                attrs.append((27, group_of(spec) or 0))
            if op.changed("addrgenmode"):
                attrs.append(_addrgen_none())
            if len(attrs) > 1:
                attrs_batch[spec.side].append(Request(
                    wire.RTM_NEWLINK, 0, wire.ifinfo() + wire.encode_attrs(attrs),
                    f"changing {', '.join(c.attr for c in op.changes)} of {spec.name}"))
            if spec.brport is not None and spec.master and (
                    op.changed("bridge-port") or op.changed("master")):
                ports[spec.side].append(self._brport_request(spec))
            if op.changed("state"):
                ups[spec.side].append(self._up_request(spec))
        for group in (attrs_batch, ports, ups):
            for side, requests in group.items():
                self._run(side, requests)

    # ------------------------------------------------------------- addresses
    def _addr_request(self, msg_type: int, side: Side, name: str, address: IPInterface,
                      flags: int) -> Request:
        family = socket.AF_INET if address.version == 4 else socket.AF_INET6
        index = self.index[side].get(name, 0)
        attrs: wire.Attrs = [(2, address.ip.packed), (1, address.ip.packed)]
        if address.version == 4 and address.network.prefixlen < 31:
            attrs.append((4, address.network.broadcast_address.packed))   # IFA_BROADCAST
        scope = 254 if address.ip.is_loopback else 0
        body = wire.ifaddr(family, address.network.prefixlen, index, scope)
        body += wire.encode_attrs(attrs)
        verb = "adding" if msg_type == wire.RTM_NEWADDR else "removing"
        return Request(msg_type, flags, body, f"{verb} address {address} on {name}")

    def _addresses(self, ops: list[Op]) -> None:
        for side in (Side.ROUTER, Side.HOST):
            requests = [self._addr_request(wire.RTM_NEWADDR, side, op.name, op.address, CREATE)
                        for op in ops if op.side is side and op.address is not None]
            self._run(side, requests)

    def _routes(self, ops: list[Op]) -> None:
        requests = []
        for op in ops:
            assert op.route is not None
            requests.append(route_request(wire.RTM_NEWROUTE, op.route))
        self._run(Side.ROUTER, requests)


def route_request(msg_type: int, route: RouteSpec) -> Request:
    family = socket.AF_INET if route.dst.version == 4 else socket.AF_INET6
    body = wire.rtmsg(family, route.dst.prefixlen, route.table, 7, protocol=4)
    attrs: wire.Attrs = [(15, route.table), (6, route.metric)]
    if route.dst.prefixlen:
        attrs.append((1, route.dst.network_address.packed))
    return Request(msg_type, CREATE if msg_type == wire.RTM_NEWROUTE else 0,
                   body + wire.encode_attrs(attrs),
                   f"unreachable route {route.dst} in table {route.table}")


def parse_address(text: str) -> IPInterface:
    return ipaddress.ip_interface(text)
