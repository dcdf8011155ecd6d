"""Cross-field rules for values that are well-formed but hazardous (pure).

Each value here passes its own type check, yet would fail at apply time (two
VNIs wiring the same host bridge, a neighbor that is our own VTEP), reach a
place it must not (a path shared by two stores, a ``:`` inside podman's
``--volume``), or make no sense on a wire (a VTEP pool in 127.0.0.0/8).  They
are refused here, with the key path, before anything runs.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePosixPath
from typing import Union

from evpn_boot.config.locate import KeyPath, format_path
from evpn_boot.config.model import Config
from evpn_boot.config.underlay import uplinks
from evpn_boot.rules import addressing, names
from evpn_boot.rules.addressing import AddressPlanError

Problem = tuple[KeyPath, str]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: Ranges no VTEP, router id or veth pool may touch: "this network", loopback,
#: link-local, multicast and the reserved/broadcast block (IPv4); unspecified,
#: loopback, link-local, multicast and IPv4-mapped (IPv6).
SPECIAL_RANGES: tuple[tuple[Network, str], ...] = (
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (ipaddress.ip_network("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (ipaddress.ip_network("169.254.0.0/16"), "link-local (169.254.0.0/16)"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (ipaddress.ip_network("240.0.0.0/4"), "reserved/broadcast (240.0.0.0/4)"),
    (ipaddress.ip_network("::/128"), "unspecified (::)"),
    (ipaddress.ip_network("::1/128"), "loopback (::1)"),
    (ipaddress.ip_network("fe80::/10"), "link-local (fe80::/10)"),
    (ipaddress.ip_network("ff00::/8"), "multicast (ff00::/8)"),
    (ipaddress.ip_network("::ffff:0:0/96"), "IPv4-mapped (::ffff:0:0/96)"),
)

#: Control characters other than newline and tab, in raw FRR text.
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def special_range(net: Network) -> str | None:
    """The special range ``net`` overlaps, in words, or None."""
    for special, words in SPECIAL_RANGES:
        if special.version == net.version and special.overlaps(net):
            return words
    return None


def address_pools(config: Config) -> list[Problem]:
    """VTEP, router-id, sub-interface and veth pools stay out of special ranges."""
    u = config.underlay
    pools: list[tuple[KeyPath, Network]] = [(("underlay", "vtep_cidr"), u.vtep_cidr),
                                            (("underlay", "router_id_cidr"), u.router_id_cidr)]
    for uplink in uplinks(u):
        if uplink.sub is not None and uplink.sub.address_cidr is not None:
            pools.append(((*uplink.path, "address_cidr"), uplink.sub.address_cidr))
    for i, l3 in enumerate(config.l3vni):
        pools.append((("l3vni", i, "local_cidr"), l3.local_cidr))
        if l3.local_cidr_v6 is not None:
            pools.append((("l3vni", i, "local_cidr_v6"), l3.local_cidr_v6))
    problems: list[Problem] = []
    for path, net in pools:
        words = special_range(net)
        if words is not None:
            problems.append((path, f"{net} overlaps {words}: not usable for node addresses"))
    return problems


def neighbor_addresses(config: Config) -> list[Problem]:
    """A neighbor is a unicast peer, and never our own VTEP or router id."""
    u = config.underlay
    ours: dict[Address, str] = {}
    if config.node.index is not None:
        try:
            ours[addressing.vtep_address(u.vtep_cidr, config.node.index).ip] = "our VTEP"
            ours[addressing.router_id(u.router_id_cidr, config.node.index)] = "our router id"
        except AddressPlanError:
            pass  # reported by checks.address_plan
    problems: list[Problem] = []
    for i, n in enumerate(u.neighbors):
        path: KeyPath = ("underlay", "neighbors", i, "address")
        if n.address is None:
            continue    # unnumbered: the peer's link-local address is learned, not set
        if n.address.is_unspecified or n.address.is_multicast or n.address.is_loopback or \
                n.address == ipaddress.IPv4Address("255.255.255.255") or \
                (n.address.version == 4 and n.address in ipaddress.ip_network("240.0.0.0/4")):
            problems.append((path, f"{n.address} is not a unicast address a BGP peer can have"))
        elif n.address in ours:
            problems.append((path, f"{n.address} is {ours[n.address]} (node index "
                                   f"{config.node.index}): a session to ourselves"))
    return problems


def host_bridges(config: Config) -> list[Problem]:
    """Each host bridge name is used once and is not one of evpn-boot's derived names."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, l2 in enumerate(config.l2vni):
        if l2.host_bridge is False:
            continue
        name = names.host_bridge_name(l2.vni) if l2.host_bridge is True else str(l2.host_bridge)
        path: KeyPath = ("l2vni", i, "host_bridge")
        if name in seen:
            problems.append((path, f"host bridge {name!r} is already l2vni[{seen[name]}]'s"))
            continue
        seen[name] = i
        derived_vni = names.vni_from_name(name)
        if derived_vni is not None and name != names.host_bridge_name(l2.vni):
            problems.append((path, f"host bridge name {name!r} is an evpn-boot per-VNI name "
                                   f"(of VNI {derived_vni}); choose another"))
    return problems


def directories(config: Config) -> list[Problem]:
    """state_dir, run_dir and frr.config_dir: distinct, not nested, podman-safe."""
    dirs: list[tuple[KeyPath, PurePosixPath]] = [
        (("runtime", "state_dir"), PurePosixPath(config.runtime.state_dir)),
        (("runtime", "run_dir"), PurePosixPath(config.runtime.run_dir)),
        (("frr", "config_dir"), PurePosixPath(config.frr.config_dir)),
    ]
    problems: list[Problem] = []
    config_dir = str(config.frr.config_dir)
    if ":" in config_dir or "," in config_dir:
        problems.append((("frr", "config_dir"),
                         f"{config_dir!r} holds ':' or ',', which podman's --volume "
                         "argument cannot carry"))
    for a in range(len(dirs)):
        for b in range(a):
            (path_a, dir_a), (path_b, dir_b) = dirs[a], dirs[b]
            if dir_a == dir_b:
                problems.append((path_a, f"{dir_a} is also {format_path(path_b)}: each "
                                         "store needs its own directory"))
            elif dir_a.is_relative_to(dir_b) or dir_b.is_relative_to(dir_a):
                problems.append((path_a, f"{dir_a} and {format_path(path_b)} ({dir_b}) are "
                                         "nested: each store needs its own directory"))
    return problems


def raw_config_text(config: Config) -> list[Problem]:
    """raw_config is FRR text: lines, not control characters."""
    match = _RAW_CONTROL.search(config.frr.raw_config)
    if match is None:
        return []
    return [(("frr", "raw_config"), f"holds control character {match.group()!r}; "
                                    "only text lines are allowed")]


HAZARD_CHECKS = (address_pools, neighbor_addresses, host_bridges, directories, raw_config_text)
