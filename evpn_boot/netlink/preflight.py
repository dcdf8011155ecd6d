"""Checks made before anything is changed; each failure is one clear message.

Root (CAP_NET_ADMIN), kernel support for every link kind the plan creates
(probed by creating one in a scratch namespace that is deleted right after),
the underlay NIC (present on the host, or already moved by us), and desired
host-side names held by links evpn-boot did not create.
"""

from __future__ import annotations

import os
import secrets
import time

from evpn_boot.desired.model import DesiredState, LinkKind, Side
from evpn_boot.errors import PreflightError
from evpn_boot.netlink import encode, nsfd, rtnl, wire
from evpn_boot.netlink.encode import CREATE
from evpn_boot.netlink.observe import get_link
from evpn_boot.plan.diff import collisions
from evpn_boot.plan.model import Action, ObservedState, Plan
from evpn_boot.state import pids
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


def probe_kinds(kinds: set[LinkKind], *, scratch_prefix: str = "evpn-boot-probe-",
                ) -> list[LinkKind]:
    """The kinds this kernel cannot create (tried in a throwaway namespace).

    The namespace is made and removed in this process (:mod:`nsfd`), so the
    probe cannot hang or time out on a loaded machine.
    """
    if not kinds:
        return []
    remove_stale_probes(scratch_prefix)
    scratch = f"{scratch_prefix}{os.getpid()}-{secrets.token_hex(3)}"
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


#: A probe namespace without a pid in its name (older releases) is stale after this.
_STALE_UNNAMED_S = 60.0


def remove_stale_probes(scratch_prefix: str) -> list[str]:
    """Delete probe namespaces a killed run left (SIGKILL runs no ``finally``).

    A name carries its creator's pid (``<prefix><pid>-<hex>``): removed once that
    process is gone.  Names without one (older releases) go after a minute.
    """
    removed = []
    for name in nsfd.list_names():
        if not name.startswith(scratch_prefix):
            continue
        pid, _, rest = name[len(scratch_prefix):].partition("-")
        if rest and pid.isdigit():
            stale = not pids.alive(int(pid))
        else:
            try:
                stale = time.time() - os.stat(nsfd.path(name)).st_mtime > _STALE_UNNAMED_S
            except OSError:
                continue
        if stale:
            try:
                nsfd.delete(name)
            except OSError:
                continue
            removed.append(name)
    return removed


#: What each probe link needs beyond its kind: IFLA_INFO_DATA, and whether it
#: sits on a parent link (made first, a veth pair, since this kernel may have
#: no dummy links).
_PROBE_DATA: dict[LinkKind, wire.Attrs] = {
    LinkKind.VRF: [(rtnl.IFLA_VRF_TABLE, 10)],
    LinkKind.VXLAN: [(rtnl.IFLA_VXLAN_ID, 1), (rtnl.IFLA_VXLAN_PORT, wire.be16(4789))],
    LinkKind.VLAN: [(rtnl.IFLA_VLAN_ID, wire.u16(2))],
    LinkKind.MACVLAN: [(rtnl.IFLA_MACVLAN_MODE, rtnl.MACVLAN_MODES["bridge"])],
}
_NEEDS_PARENT = {LinkKind.VLAN, LinkKind.MACVLAN}


def _veth(name: str, peer: str) -> bytes:
    return encode.link(name, extra=[encode.linkinfo("veth", encode.veth_peer(peer))])


def _probe(sock: wire.Socket, kind: LinkKind) -> bool:
    data = _PROBE_DATA.get(kind)
    parent = None
    if kind is LinkKind.VETH:
        data = encode.veth_peer("probe1")
    elif kind in _NEEDS_PARENT:
        try:
            sock.call(rtnl.RTM_NEWLINK, CREATE, _veth("probep", "probeq"))
        except OSError:
            return False
        link = get_link(sock, "probep")
        if link is None:
            return False
        parent = link.index
    body = encode.link(f"probe-{kind.value}", parent=parent,
                       extra=[encode.linkinfo(kind.value, data)])
    try:
        sock.call(rtnl.RTM_NEWLINK, CREATE, body)
    except OSError:
        return False
    return True


def absent_optional_nics(desired: DesiredState, observed: ObservedState) -> set[str]:
    """Absent NICs the node goes on without: all optional, and at least one NIC is there.

    Drift repair moves such a NIC in once it appears (the host watch names it).
    """
    absent = {s.name for s in desired.links
              if s.kind is LinkKind.PHYSICAL and observed.get(Side.ROUTER, s.name) is None
              and observed.get(Side.HOST, s.name) is None}
    optional = set(desired.optional_nics)
    if absent <= optional and len(absent) < len(optional):
        return absent
    return set()


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
    tolerated = absent_optional_nics(desired, observed)
    for spec in desired.links:
        if spec.kind is LinkKind.PHYSICAL and observed.get(Side.ROUTER, spec.name) is None \
                and observed.get(Side.HOST, spec.name) is None and spec.name not in tolerated:
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
