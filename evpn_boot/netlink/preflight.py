"""Checks made before anything is changed; each failure is one clear message.

Root (CAP_NET_ADMIN), kernel support for every link kind the plan creates
(probed by creating one in a scratch namespace that is deleted right after),
the underlay NIC (present on the host, or already moved by us), and desired
host-side names held by links evpn-boot did not create.
"""

from __future__ import annotations

import os
import secrets

from evpn_boot.desired.model import DesiredState, LinkKind, Side
from evpn_boot.errors import PreflightError
from evpn_boot.netlink import nsfd, wire
from evpn_boot.plan.diff import collisions
from evpn_boot.plan.model import Action, ObservedState, Plan
from evpn_boot.state.model import Ownership

CAP_NET_ADMIN = 12
_FEATURE = {LinkKind.VRF: "VRF", LinkKind.VXLAN: "VXLAN", LinkKind.BRIDGE: "bridge",
            LinkKind.VETH: "veth", LinkKind.VLAN: "802.1q VLAN", LinkKind.MACVLAN: "macvlan"}


def has_net_admin() -> bool:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def probe_kinds(kinds: set[LinkKind]) -> list[LinkKind]:
    """The kinds this kernel cannot create (tried in a throwaway namespace)."""
    if not kinds:
        return []
    scratch = f"evpn-boot-probe-{secrets.token_hex(3)}"
    nsfd.create(scratch)
    missing = []
    try:
        with wire.open_socket(scratch) as sock:
            for kind in sorted(kinds, key=lambda k: k.value):
                if not _probe(sock, kind):
                    missing.append(kind)
    finally:
        nsfd.delete(scratch)
    return missing


def _probe(sock: wire.Socket, kind: LinkKind) -> bool:
    flags = wire.NLM_F_CREATE | wire.NLM_F_EXCL
    data: wire.Attrs = []
    attrs: wire.Attrs = [(3, f"probe-{kind.value}")]
    if kind is LinkKind.VRF:
        data = [(1, 10)]
    elif kind is LinkKind.VXLAN:
        data = [(1, 1), (15, wire.be16(4789))]
    elif kind is LinkKind.VETH:
        data = [(1, wire.ifinfo() + wire.encode_attrs([(3, "probe1")]))]
    elif kind in (LinkKind.VLAN, LinkKind.MACVLAN):
        parent = wire.ifinfo() + wire.encode_attrs(
            [(3, "probep"), (18, [(1, "veth"), (2, [(1, wire.ifinfo() + wire.encode_attrs(
                [(3, "probeq")]))])])])
        try:
            sock.call(wire.RTM_NEWLINK, flags, parent)
        except OSError:
            return False
        index = [raw for raw in _links(sock) if raw == "probep"]
        if not index:
            return False
        data = [(1, (2).to_bytes(2, "little"))] if kind is LinkKind.VLAN else [(1, 4)]
        attrs.append((5, _index(sock, "probep")))
    info: wire.Attrs = [(1, kind.value)] + ([(2, data)] if data else [])
    try:
        sock.call(wire.RTM_NEWLINK, flags, wire.ifinfo() + wire.encode_attrs([*attrs, (18, info)]))
    except OSError:
        return False
    return True


def _links(sock: wire.Socket) -> list[str]:
    from evpn_boot.netlink.observe import dump_links
    return [raw.name for raw in dump_links(sock)]


def _index(sock: wire.Socket, name: str) -> int:
    from evpn_boot.netlink.observe import dump_links
    return int(next(raw.index for raw in dump_links(sock) if raw.name == name))


def check(desired: DesiredState, observed: ObservedState, ownership: Ownership,
          plan: Plan) -> None:
    """Raise PreflightError (exit 1) naming every problem; nothing has been changed."""
    problems: list[str] = []
    if not has_net_admin():
        problems.append("evpn-boot needs root (CAP_NET_ADMIN) to change network namespaces")
        raise PreflightError("preflight failed:\n  - " + "\n  - ".join(problems))
    host = desired.runtime.host_netns
    if host and not nsfd.exists(host):
        problems.append(f"runtime.host_netns {host!r} does not exist")
    needed = {op.spec.kind for op in plan.ops
              if op.action is Action.CREATE and op.spec is not None}
    if desired.needs_vrf and not any(
            link.spec.kind is LinkKind.VRF for link in observed.links.values()):
        needed.add(LinkKind.VRF)
    needed &= set(_FEATURE)
    for kind in probe_kinds(needed):
        problems.append(f"kernel has no {_FEATURE[kind]} support "
                        f"(cannot create a {kind.value} link), needed by this configuration")
    for spec in desired.links:
        if spec.kind is LinkKind.PHYSICAL and observed.get(Side.ROUTER, spec.name) is None \
                and observed.get(Side.HOST, spec.name) is None:
            problems.append(f"underlay NIC {spec.name!r} exists neither in the host namespace "
                            f"nor (already moved) in {desired.runtime.netns!r}")
        parent = getattr(spec.info, "parent", None)
        if parent and observed.get(Side.HOST, parent) is None and \
                observed.get(Side.ROUTER, spec.name) is None:
            problems.append(f"underlay parent interface {parent!r} does not exist in the "
                            f"host namespace")
    problems += collisions(desired, observed, ownership)
    if problems:
        raise PreflightError("preflight failed, nothing was changed:\n  - "
                             + "\n  - ".join(problems))
