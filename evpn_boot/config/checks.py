"""Cross-field rules of the configuration (pure).

pydantic checks each value on its own; these rules relate values across the
document (duplicates, overlaps, references, address plan).  Each returns every
problem it finds, as (key path, message), so a user fixes them in one pass.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Callable

from evpn_boot.config import hazards, openperouter
from evpn_boot.config.frrversion import IPV6_VTEP_MIN, frr_version
from evpn_boot.config.locate import KeyPath, format_path
from evpn_boot.config.model import Config
from evpn_boot.config.types import check_ifname
from evpn_boot.config.underlay import uplinks
from evpn_boot.rules import addressing, names
from evpn_boot.rules.addressing import AddressPlanError

Problem = tuple[KeyPath, str]
Check = Callable[[Config], list[Problem]]

#: Smallest L3 VNI veth CIDR: network, router side, and host sides for index 0.
_MIN_LOCAL_PREFIX = 30


def duplicate_vnis(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, str] = {}
    entries = [("l3vni", i, v.vni) for i, v in enumerate(config.l3vni)]
    entries += [("l2vni", i, v.vni) for i, v in enumerate(config.l2vni)]
    for section, i, vni in entries:
        where = f"{section}[{i}]"
        if vni in seen:
            problems.append(((section, i, "vni"), f"VNI {vni} is already used by {seen[vni]}"))
        else:
            seen[vni] = where
    return problems


def duplicate_vrfs(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    tables: dict[int, int] = {}
    for i, l3 in enumerate(config.l3vni):
        if l3.vrf in seen:
            problems.append((("l3vni", i, "vrf"),
                             f"VRF {l3.vrf!r} is already defined by l3vni[{seen[l3.vrf]}]"))
        else:
            seen[l3.vrf] = i
        table = l3.table or addressing.vrf_table(l3.vni)
        if table in tables:
            problems.append((("l3vni", i, "table"),
                             f"VRF table {table} is already used by l3vni[{tables[table]}]"))
        else:
            tables[table] = i
    return problems


def l2vni_references(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    vrfs = {l3.vrf for l3 in config.l3vni}
    for i, l2 in enumerate(config.l2vni):
        if l2.vrf is not None and l2.vrf not in vrfs:
            known = ", ".join(sorted(vrfs)) or "none defined"
            problems.append((("l2vni", i, "vrf"),
                             f"VRF {l2.vrf!r} is not an L3 VNI's vrf (known: {known})"))
        if l2.gateway_ips and l2.vrf is None:
            problems.append((("l2vni", i, "gateway_ips"),
                             "gateway_ips need the L2 VNI to be in a VRF (set vrf)"))
    return problems


def interface_names(config: Config) -> list[Problem]:
    """Names we create must not collide with each other or with the underlay."""
    problems: list[Problem] = []
    taken: dict[str, str] = {"lo": "the loopback"}
    for uplink in uplinks(config.underlay):
        where = format_path(uplink.path)
        try:
            check_ifname(uplink.name)
        except ValueError as exc:
            problems.append((uplink.path, f"derived sub-interface name: {exc}; "
                                          "set a shorter name"))
        if uplink.name in taken:
            problems.append((uplink.path, f"underlay link {uplink.name!r} is already "
                                          f"{taken[uplink.name]}"))
        taken.setdefault(uplink.name, f"the underlay link ({where})")
    for i, l3 in enumerate(config.l3vni):
        derived = {names.bridge_name(l3.vni), names.vxlan_name(l3.vni),
                   names.router_veth_name(l3.vni), names.host_veth_name(l3.vni)}
        if any(other.vrf == l3.vrf for other in config.l3vni[:i]):
            continue  # reported by duplicate_vrfs
        if l3.vrf in taken or l3.vrf in derived or names.vni_from_name(l3.vrf) is not None:
            problems.append((("l3vni", i, "vrf"),
                             f"VRF name {l3.vrf!r} collides with an interface evpn-boot "
                             f"uses ({taken.get(l3.vrf, 'a derived per-VNI name')})"))
        taken[l3.vrf] = f"l3vni[{i}].vrf"
    for i, l2 in enumerate(config.l2vni):
        if isinstance(l2.host_bridge, str) and l2.host_bridge in taken:
            problems.append((("l2vni", i, "host_bridge"),
                             f"host bridge name {l2.host_bridge!r} is already "
                             f"{taken[l2.host_bridge]}"))
    return problems


def cidrs(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    pools: list[tuple[KeyPath, ipaddress.IPv4Network | ipaddress.IPv6Network]] = [
        (("underlay", "vtep_cidr"), config.underlay.vtep_cidr)]
    for uplink in uplinks(config.underlay):
        if uplink.sub is not None and uplink.sub.address_cidr is not None:
            pools.append(((*uplink.path, "address_cidr"), uplink.sub.address_cidr))
    for i, l3 in enumerate(config.l3vni):
        if l3.local_cidr.prefixlen > _MIN_LOCAL_PREFIX:
            problems.append((("l3vni", i, "local_cidr"),
                             f"{l3.local_cidr} is too small: the veth leg needs the router "
                             f"side and one host address per node (use /{_MIN_LOCAL_PREFIX} "
                             "or larger)"))
        pools.append((("l3vni", i, "local_cidr"), l3.local_cidr))
        if l3.local_cidr_v6 is not None:
            if l3.local_cidr_v6.version != 6:
                problems.append((("l3vni", i, "local_cidr_v6"),
                                 f"{l3.local_cidr_v6} is not an IPv6 CIDR"))
            else:
                pools.append((("l3vni", i, "local_cidr_v6"), l3.local_cidr_v6))
    for j, l2 in enumerate(config.l2vni):
        for k, gw in enumerate(l2.gateway_ips):
            pools.append((("l2vni", j, "gateway_ips", k), gw.network))
    for a in range(len(pools)):
        for b in range(a):
            (path_a, net_a), (path_b, net_b) = pools[a], pools[b]
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                problems.append((path_a, f"{net_a} overlaps {format_path(path_b)} ({net_b})"))
    return problems


def address_plan(config: Config) -> list[Problem]:
    """With a fixed index, every derived address must fit its CIDR."""
    index = config.node.index
    if index is None:
        return []  # known only on the node (index_from_interface): checked at derive time
    problems: list[Problem] = []
    u = config.underlay
    attempts: list[tuple[KeyPath, Callable[[], object]]] = [
        (("underlay", "vtep_cidr"), lambda: addressing.vtep_address(u.vtep_cidr, index)),
        (("underlay", "router_id_cidr"), lambda: addressing.router_id(u.router_id_cidr, index)),
    ]
    for uplink in uplinks(u):
        if uplink.sub is not None and uplink.sub.address_cidr is not None:
            attempts.append(((*uplink.path, "address_cidr"), functools.partial(
                addressing.subinterface_address, uplink.sub.address_cidr,
                uplink.sub.address_offset, index)))
    for i, l3 in enumerate(config.l3vni):
        attempts.append((("l3vni", i, "local_cidr"),
                         functools.partial(addressing.veth_host_side, l3.local_cidr, index)))
    for path, attempt in attempts:
        try:
            attempt()
        except AddressPlanError as exc:
            problems.append((path, f"node index {index}: {exc}"))
    return problems


def neighbor_families(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    u = config.underlay
    families = {uplink.sub.address_cidr.version for uplink in uplinks(u)
                if uplink.sub is not None and uplink.sub.address_cidr is not None}
    local_family = families.pop() if len(families) == 1 else None
    for i, n in enumerate(u.neighbors):
        if local_family is not None and n.ebgp_multihop is None and \
                n.address is not None and n.address.version != local_family:
            problems.append((("underlay", "neighbors", i, "address"),
                             f"neighbor {n.address} is IPv{n.address.version} but the underlay "
                             f"address is IPv{local_family}"))
        if n.ebgp_multihop is not None and n.asn in (u.asn, "internal"):
            problems.append((("underlay", "neighbors", i, "ebgp_multihop"),
                             "ebgp_multihop applies to eBGP only; this neighbor has our own ASN"))
        if n.hold_time is not None and n.keepalive_time is not None and \
                n.keepalive_time * 3 > n.hold_time:
            problems.append((("underlay", "neighbors", i, "keepalive_time"),
                             f"keepalive_time {n.keepalive_time} must be at most a third of "
                             f"hold_time {n.hold_time}"))
        if (n.hold_time is None) != (n.keepalive_time is None):
            problems.append((("underlay", "neighbors", i),
                             "set hold_time and keepalive_time together (FRR sets them as a pair)"))
    seen: dict[str, int] = {}
    for i, n in enumerate(u.neighbors):
        first = seen.setdefault(n.peer, i)
        if first != i:
            key = "address" if n.address is not None else "interface"
            problems.append((("underlay", "neighbors", i, key),
                             f"neighbor {n.peer} is already underlay.neighbors[{first}]"))
    return problems


def unnumbered_neighbors(config: Config) -> list[Problem]:
    """An unnumbered neighbor is reached on one of the underlay's own links, directly."""
    problems: list[Problem] = []
    links = [uplink.name for uplink in uplinks(config.underlay)]
    for i, n in enumerate(config.underlay.neighbors):
        if n.interface is None:
            continue
        if n.interface not in links:
            problems.append((("underlay", "neighbors", i, "interface"),
                             f"{n.interface!r} is not an underlay link (the underlay links "
                             f"are: {', '.join(links)})"))
        if n.ebgp_multihop is not None:
            problems.append((("underlay", "neighbors", i, "ebgp_multihop"),
                             "an unnumbered neighbor is directly connected: ebgp_multihop "
                             "does not apply"))
    return problems


def runtime_names(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    if config.runtime.host_netns and config.runtime.host_netns == config.runtime.netns:
        problems.append((("runtime", "host_netns"),
                         "host_netns must differ from netns (the router namespace)"))
    return problems


def pool_router_mac(config: Config) -> list[Problem]:
    """A fixed router MAC in a pool file would be every node's: refuse it."""
    if config.node.router_mac is not None and config.node.index is None:
        return [(("node", "router_mac"),
                 "router_mac is one node's value, but this file serves a pool "
                 "(node.index_from_interface): every node would share it; remove it (the "
                 "default derives a unique MAC from each node's VTEP) or set node.index")]
    return []


def ipv6_vtep_frr_version(config: Config) -> list[Problem]:
    """EVPN with an IPv6 VTEP needs FRR >= 10.6; an older one silently never works."""
    if config.underlay.vtep_cidr.version != 6:
        return []
    version = frr_version(config.frr)
    needed = ".".join(map(str, IPV6_VTEP_MIN))
    if version is None:
        return [(("frr", "version"),
                 f"an IPv6 VTEP (underlay.vtep_cidr) needs FRR >= {needed}, and the version of "
                 f"image {config.frr.image!r} is unknown: set frr.version")]
    if version < IPV6_VTEP_MIN:
        return [(("underlay", "vtep_cidr"),
                 f"an IPv6 VTEP needs FRR >= {needed} (EVPN over IPv6 VTEPs: FRR issue #5885, "
                 f"PR #20116); the configured FRR is {version[0]}.{version[1]} (frr.version or "
                 f"the image tag): use an IPv4 vtep_cidr or a newer image")]
    return []


ALL_CHECKS: tuple[Check, ...] = (
    duplicate_vnis, duplicate_vrfs, l2vni_references, interface_names, cidrs, address_plan,
    neighbor_families, unnumbered_neighbors, runtime_names, pool_router_mac, ipv6_vtep_frr_version,
    *hazards.HAZARD_CHECKS, openperouter.openperouter_rules,
)


def run_checks(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    for check in ALL_CHECKS:
        problems.extend(check(config))
    return problems
