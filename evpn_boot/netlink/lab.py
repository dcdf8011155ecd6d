"""Build and remove the lab fabric (``evpn-boot lab``) with netlink.

The lab's description is pure (:mod:`evpn_boot.lab.topology`); this module only
turns it into kernel objects.  It never touches the machine's own namespace:
every object lives in a namespace the lab created, so removing the lab is
deleting those namespaces (a few ms each, and the kernel then drops every link,
address and route inside).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab.topology import Link, Topology

NETNS_RUN_DIR = "/run/netns"


def _pyroute2() -> Any:
    try:
        import pyroute2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EvpnBootError(f"pyroute2 is not installed: {exc}", kind=ErrorKind.PREFLIGHT) from exc
    return pyroute2


def list_namespaces() -> list[str]:
    """Names under /run/netns (what ``ip netns list`` shows)."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


@contextmanager
def _ipr(netns: str) -> Iterator[Any]:
    """An IPRoute bound to an existing namespace (never creates one by accident)."""
    if netns not in list_namespaces():
        raise EvpnBootError(f"lab: network namespace {netns!r} does not exist")
    try:
        ipr = _pyroute2().IPRoute(netns=netns, flags=0)
    except OSError as exc:
        raise EvpnBootError(f"lab: cannot open network namespace {netns!r}: {exc}") from exc
    with ipr:
        yield ipr


def kernel_supports_vrf(prefix: str) -> bool:
    """Can this kernel create a VRF?  Tried in a scratch namespace, then removed."""
    pr = _pyroute2()
    scratch = f"{prefix}probe-{secrets.token_hex(2)}"
    pr.netns.create(scratch)
    try:
        with _ipr(scratch) as ipr:
            try:
                ipr.link("add", ifname="probe-vrf", kind="vrf", vrf_table=10)
            except pr.NetlinkError:
                return False
            return True
    finally:
        pr.netns.remove(scratch)


def build_fabric(topo: Topology) -> None:
    """Create the lab's namespaces and everything in them.

    Raises EvpnBootError naming the object that failed; the caller removes the
    partial lab (the namespaces are recorded before anything is created in them).
    """
    pr = _pyroute2()
    existing = set(list_namespaces())
    for ns in topo.namespaces:
        if ns in existing:
            raise EvpnBootError(f"lab: network namespace {ns!r} already exists "
                                "(run `evpn-boot lab down` first)", kind=ErrorKind.PREFLIGHT)
        pr.netns.create(ns)
    for sysctl in topo.sysctls:
        _write_sysctl(sysctl.netns, sysctl.key, sysctl.value)
    for link in topo.links:
        _add_link(link)
    for link in topo.links:
        if link.master is not None:
            set_master(link.netns, link.name, link.master)
        if link.kind == "vxlan":
            # EVPN fills the FDB; ARP is answered from type-2 routes.
            set_bridge_port(link.netns, link.name, learning=False, neigh_suppress=True)
    _add_addresses(topo)
    for ns in topo.namespaces:
        with _ipr(ns) as ipr:
            for msg in ipr.get_links():
                _call(f"set link {msg.get('ifname')} up in {ns}",
                      ipr.link, "set", index=msg["index"], state="up")
    _add_routes(topo)


def _add_addresses(topo: Topology) -> None:
    for addr in topo.addresses:
        ip, _, plen = addr.cidr.partition("/")
        with _ipr(addr.netns) as ipr:
            _call(f"add address {addr.cidr} to {addr.ifname} in {addr.netns}",
                  ipr.addr, "add", index=_index(ipr, addr.ifname, addr.netns), address=ip,
                  prefixlen=int(plen))


def _add_routes(topo: Topology) -> None:
    for route in topo.routes:
        with _ipr(route.netns) as ipr:
            kwargs: dict[str, Any] = {"dst": route.dst}
            if route.gateway is not None:
                kwargs["gateway"] = route.gateway
            else:
                assert route.dev is not None
                kwargs.update(oif=_index(ipr, route.dev, route.netns), scope=253)
            _call(f"add route {route.dst} in {route.netns}", ipr.route, "add", **kwargs)


def set_master(netns: str, ifname: str, master: str) -> None:
    """Enslave ``ifname`` to ``master`` (also used to attach the pod to evpn-boot's bridge)."""
    with _ipr(netns) as ipr:
        _call(f"enslave {ifname} to {master} in {netns}", ipr.link, "set",
              index=_index(ipr, ifname, netns), master=_index(ipr, master, netns))
        _call(f"set {ifname} up in {netns}", ipr.link, "set",
              index=_index(ipr, ifname, netns), state="up")


def remove_namespaces(names: list[str]) -> list[str]:
    """Delete the given namespaces that exist; returns the ones deleted."""
    pr = _pyroute2()
    present = set(list_namespaces())
    gone = []
    for ns in names:
        if ns in present:
            try:
                pr.netns.remove(ns)
            except OSError as exc:
                raise EvpnBootError(f"lab: cannot delete network namespace {ns!r}: {exc}") from exc
            gone.append(ns)
    return gone


def describe(netns: str) -> list[tuple[str, str, str]]:
    """(name, kind, operstate) of every link in ``netns``, for ``lab status``."""
    rows = []
    with _ipr(netns) as ipr:
        for msg in ipr.get_links():
            info = msg.get("IFLA_LINKINFO")
            kind = info.get("IFLA_INFO_KIND") if info is not None else None
            rows.append((str(msg.get("ifname")), str(kind or "-"),
                         str(msg.get("IFLA_OPERSTATE", "?")).lower()))
    return rows


def _add_link(link: Link) -> None:
    kwargs: dict[str, Any] = {"ifname": link.name, "kind": link.kind}
    if link.kind == "veth":
        kwargs["peer"] = {"ifname": link.peer_name, "net_ns_fd": link.peer_netns}
    elif link.kind == "vrf":
        kwargs["vrf_table"] = link.table
    elif link.kind == "vxlan":
        kwargs.update(vxlan_id=link.vni, vxlan_local=link.local, vxlan_port=4789,
                      vxlan_learning=0)
    with _ipr(link.netns) as ipr:
        _call(f"create {link.kind} {link.name} in {link.netns}", ipr.link, "add", **kwargs)
        if link.kind == "vxlan":
            idx = _index(ipr, link.name, link.netns)
            _call(f"set addrgenmode of {link.name}", ipr.link, "set", index=idx,
                  IFLA_AF_SPEC={"attrs": [("AF_INET6", {"attrs": [
                      ("IFLA_INET6_ADDR_GEN_MODE", 1)]})]})


def set_bridge_port(netns: str, ifname: str, *, learning: bool, neigh_suppress: bool) -> None:
    with _ipr(netns) as ipr:
        _call(f"set bridge port flags of {ifname} in {netns}", ipr.brport, "set",
              index=_index(ipr, ifname, netns), learning=int(learning),
              neigh_suppress=int(neigh_suppress))


def _index(ipr: Any, ifname: str, netns: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise EvpnBootError(f"lab: no link {ifname!r} in network namespace {netns!r}")
    return int(found[0])


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _pyroute2().NetlinkError as exc:
        raise EvpnBootError(f"lab: {what}: {exc}") from exc


def _write_sysctl(netns: str, key: str, value: str) -> None:
    """/proc/sys/net is per namespace: write it from a process inside ``netns``."""
    try:
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw",
                        f"{key.replace('/', '.')}={value}"],
                       check=True, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EvpnBootError(f"lab: set sysctl {key}={value} in {netns}: {exc}") from exc
