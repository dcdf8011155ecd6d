"""The dataplane engine: the library API the CLI, the daemon and the FRR code call.

* ``observe(desired) -> ObservedState`` — read both namespaces (one dump per kind).
* ``plan(desired) -> Plan`` — observe and diff; changes nothing.
* ``converge(desired) -> ApplyResult`` — lock, observe, preflight, apply, verify.
  Idempotent; safe to call again after any crash (SIGKILL included).
* ``verify(desired)`` — raise ``EvpnBootError(kind=VERIFY)`` unless in sync.
* ``teardown(runtime)`` — give the NIC back (addresses and MTU), delete the host
  links we created and the router namespace; touch nothing else.

Drift notifications are :mod:`evpn_boot.netlink.events`; the checks made before
anything changes are :mod:`evpn_boot.netlink.preflight` (run by ``converge``).

Crash safety rests on three rules: the ownership record is written *before* the
object it describes is created or moved; every host link is tagged with our link
group in the very message that creates it; and the diff derives the moved NIC's
wanted addresses from that record, so re-running converges from any point.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Optional

from evpn_boot.clock import Clock
from evpn_boot.desired.model import DesiredState, Runtime
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.netlink import encode, nsfd, wire
from evpn_boot.netlink import observe as observe_mod
from evpn_boot.netlink import preflight as preflight_mod
from evpn_boot.netlink.apply import ApplyResult, Executor
from evpn_boot.netlink.encode import CREATE
from evpn_boot.netlink.rtnl import RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK
from evpn_boot.plan import diff as diff_mod
from evpn_boot.plan.model import ObservedState, Plan
from evpn_boot.plan.render import op_text
from evpn_boot.state import store
from evpn_boot.state.model import HOST_LINK_GROUP, NicRecord, Ownership

__all__ = ["ApplyResult", "converge", "observe", "plan", "teardown", "verify"]


def _ownership(runtime: Runtime) -> Ownership:
    return store.load(runtime.state_dir)


def observe(desired: DesiredState, ownership: Optional[Ownership] = None) -> ObservedState:
    owned = ownership if ownership is not None else _ownership(desired.runtime)
    names = set(owned.host_links)
    try:
        return observe_mod.observe(desired, host_names=names)
    except FileNotFoundError as exc:
        raise EvpnBootError(f"observing the dataplane: network namespace missing: {exc}",
                            kind=ErrorKind.PREFLIGHT) from exc
    except OSError as exc:
        raise EvpnBootError(f"observing the dataplane: {exc}") from exc


def plan(desired: DesiredState) -> Plan:
    """What ``converge`` would do now (reads only; no lock needed)."""
    ownership = _ownership(desired.runtime)
    return diff_mod.diff(desired, observe(desired, ownership), ownership)


def converge(desired: DesiredState, *, check: bool = True,
             clock: Optional[Clock] = None) -> ApplyResult:
    """Bring the kernel to ``desired``, then verify it; holds the run lock throughout.

    ``clock``: what waits for a held lock (the daemon passes its pulse).
    """
    runtime = desired.runtime
    with store.locked(runtime.run_dir, clock=clock):
        ownership = _ownership(runtime)
        observed = observe(desired, ownership)
        the_plan = diff_mod.diff(desired, observed, ownership)
        if check:
            preflight_mod.check(desired, observed, ownership, the_plan)
        if the_plan.empty:
            return ApplyResult()
        ownership = replace(ownership, netns=runtime.netns, host_netns=runtime.host_netns)
        holder = {"ownership": ownership}

        def record_host_links(names: tuple[str, ...]) -> None:
            holder["ownership"] = holder["ownership"].with_host_links(names)
            store.save(runtime.state_dir, holder["ownership"])

        def record_nic() -> None:
            records = _with_broadcasts(
                diff_mod.nic_records(desired, observed, holder["ownership"]),
                holder["ownership"], runtime.host_netns)
            updated = holder["ownership"].with_nics(records)
            if updated != holder["ownership"]:
                holder["ownership"] = updated
                store.save(runtime.state_dir, updated)

        if ownership != _ownership(runtime):
            store.save(runtime.state_dir, ownership)
        try:
            result = Executor(the_plan, observed, runtime.netns, runtime.host_netns,
                              record_host_links=record_host_links,
                              record_nic=record_nic).run()
        except OSError as exc:
            raise EvpnBootError(f"applying the dataplane: {exc}") from exc
        _verify(desired, holder["ownership"])
        return result


def _with_broadcasts(records: tuple[NicRecord, ...], ownership: Ownership,
                     host: str) -> tuple[NicRecord, ...]:
    """Each NIC not recorded yet, with the IPv4 broadcasts it has on the host now
    (read just before its move: teardown gives them back exactly)."""
    new = [r for r in records if ownership.nic_named(r.name) is None]
    if not new:
        return records
    with wire.open_socket(host) as sock:
        indexes = {raw.name: raw.index for raw in observe_mod.dump_links(sock)}
        broadcasts = observe_mod.dump_broadcasts(sock)
    def completed(record: NicRecord) -> NicRecord:
        index = indexes.get(record.name)
        if record not in new or index is None:
            return record
        mine = {str(a) for a in record.addresses}
        return replace(record, broadcasts=tuple(sorted(
            (key, value) for key, value in broadcasts.get(index, {}).items() if key in mine)))

    return tuple(completed(r) for r in records)


def _verify(desired: DesiredState, ownership: Ownership) -> None:
    remaining = diff_mod.diff(desired, observe(desired, ownership), ownership)
    if not remaining.empty:
        lines = "\n  ".join(op_text(op) for op in remaining.ops[:20])
        raise EvpnBootError(f"verify: the kernel does not match the desired state after "
                            f"apply; still pending:\n  {lines}", kind=ErrorKind.VERIFY)


def verify(desired: DesiredState) -> None:
    _verify(desired, _ownership(desired.runtime))


def teardown(runtime: Runtime, *, discard_state: bool = False) -> list[str]:
    """Undo everything evpn-boot did; returns what was done, in words.

    ``discard_state``: a state file evpn-boot refuses to trust is set aside
    first and teardown works from an empty record: the router namespace goes,
    but host links and the NIC's original addresses it recorded cannot be
    known (host links carrying our tag are listed, not deleted).
    """
    done: list[str] = []
    with store.locked(runtime.run_dir):
        if discard_state:
            aside = store.discard(runtime.state_dir)
            if aside is not None:
                done.append(f"- state file (set aside as {aside})")
        ownership = _ownership(runtime)
        netns = ownership.netns or runtime.netns
        host = runtime.host_netns
        try:
            for nic in ownership.nics:
                done += _return_nic(nic, netns, host)
            done += _delete_subinterfaces(netns)
            with wire.open_socket(host) as sock:
                for raw in observe_mod.dump_links(sock):
                    if discard_state and raw.group == HOST_LINK_GROUP and \
                            raw.name not in ownership.host_links:
                        done.append(f"! link host/{raw.name} carries evpn-boot's tag but is "
                                    "not recorded: left in place (ip link del it if it is ours)")
                    if raw.name in ownership.host_links and raw.group == HOST_LINK_GROUP:
                        try:
                            sock.call(RTM_DELLINK, 0, encode.delete_link(index=raw.index))
                            done.append(f"- link host/{raw.name}")
                        except OSError as exc:
                            if not wire.is_missing(exc):
                                raise
        except OSError as exc:
            raise EvpnBootError(f"teardown: {exc}") from exc
        if nsfd.exists(netns) and netns:
            nsfd.delete(netns)
            done.append(f"- netns {netns}")
        store.remove(runtime.state_dir)
    return done


def _delete_subinterfaces(netns: str) -> list[str]:
    """Delete the VLAN/macvlan links of the router namespace, synchronously.

    Deleting the namespace would remove them too, but asynchronously (the
    kernel's namespace cleanup runs later), so the host's parent NIC would stay
    promiscuous for a while after teardown returned.
    """
    if not netns or not nsfd.exists(netns):
        return []
    done = []
    with wire.open_socket(netns) as sock:
        for raw in observe_mod.dump_links(sock):
            if raw.kind in ("vlan", "macvlan"):
                try:
                    sock.call(RTM_DELLINK, 0, encode.delete_link(index=raw.index))
                except OSError as exc:
                    if not wire.is_missing(exc):
                        raise
                done.append(f"- link router/{raw.name}")
    return done


def _return_nic(nic: NicRecord, netns: str, host: str) -> list[str]:
    done = []
    if nsfd.exists(netns):
        with wire.open_socket(netns) as sock:
            raws = {raw.name: raw for raw in observe_mod.dump_links(sock)}
            if nic.name in raws:
                fd = nsfd.open_fd(host)
                try:
                    sock.call(RTM_NEWLINK, 0, encode.move_link(raws[nic.name].index, fd))
                finally:
                    os.close(fd)
                done.append(f"~ move {nic.name} back to the host namespace")
    with wire.open_socket(host) as sock:
        raws = {raw.name: raw for raw in observe_mod.dump_links(sock)}
        raw = raws.get(nic.name)
        if raw is None:
            return done
        have = set(observe_mod.dump_addresses(sock).get(raw.index, ()))
        # Its MTU and state as recorded, and no link group: the 4242 tag is ours.
        sock.call(RTM_NEWLINK, 0, encode.link(index=raw.index, up=nic.up, mtu=nic.mtu,
                                              group=0))
        for address in nic.addresses:
            if address not in have:
                sock.call(RTM_NEWADDR, CREATE,
                          encode.address(address, raw.index, nic.broadcast_of(address)))
        done.append(f"~ {nic.name}: mtu {nic.mtu}, addresses restored")
    return done
