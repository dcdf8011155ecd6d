"""The lab as plain values: namespaces, links, addresses, routes and FRR configs.

``evpn-boot lab`` reproduces the published EVPN lab on one machine: a leaf, a
remote host behind it, and a Kubernetes node (its "host" namespace, a pod behind
a veth, a BGP speaker standing in for frr-k8s) whose router namespace evpn-boot
itself builds from a generated configuration.  This module only *describes*
that fabric; :mod:`evpn_boot.lab.fabric` builds it and
:mod:`evpn_boot.lab.native_frr` runs the FRR instances.  Keeping it pure lets
the VM harness reuse exactly the same description, and lets unit tests check
the addressing without root.

Every namespace carries one prefix (default ``evlab-``) so ``lab down`` can find
what an interrupted ``lab up`` left behind.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import jinja2

from evpn_boot.rules import addressing, names
from evpn_boot.templating import environment

PREFIX = "evlab-"
DEFAULT_LAB_DIR = Path("/run/evpn-boot-lab")
DEFAULT_FRR_IMAGE = "localhost/evpn-boot-frr:8.4"

# The published lab's numbers.
BASE_VNI = 100
FIRST_VRF = "red"
LEAF_ASN = 64512
NODE_ASN = 64514
SPEAKER_ASN = 64515
NODE_INDEX = 1
LEAF_UNDERLAY = ipaddress.IPv4Interface("192.168.11.2/24")
NODE_UNDERLAY = ipaddress.IPv4Interface("192.168.11.3/24")
LEAF_VTEP = ipaddress.IPv4Interface("100.64.0.1/32")
LEAF_ROUTER_ID = ipaddress.IPv4Address("100.64.0.1")
VTEP_CIDR = ipaddress.IPv4Network("100.65.0.0/24")
ROUTER_ID_CIDR = ipaddress.IPv4Network("10.0.0.0/24")
REMOTE_HOST = ipaddress.IPv4Interface("192.168.10.1/24")
REMOTE_GATEWAY = ipaddress.IPv4Interface("192.168.10.254/24")
POD = ipaddress.IPv4Interface("10.244.0.6/24")
POD_GATEWAY = ipaddress.IPv4Interface("10.244.0.1/24")
#: The node's underlay NIC in the host namespace; evpn-boot moves it.
NODE_NIC = "eth1"
LEAF_TO_NODE = "to-node"
LEAF_TO_REMOTE = "to-remote"
POD_HOST_END = "pod-e0"
MAX_VNIS = 64


class Variant(enum.Enum):
    """L3: the published lab (needs VRF).  L2: one bridged VNI, for kernels without VRF."""

    L2 = "l2"
    L3 = "l3"


@dataclass(frozen=True)
class LabParams:
    variant: Variant
    vnis: int = 1
    prefix: str = PREFIX
    lab_dir: Path = DEFAULT_LAB_DIR
    frr_image: str = DEFAULT_FRR_IMAGE

    def netns(self, role: str) -> str:
        return f"{self.prefix}{role}"


@dataclass(frozen=True)
class Link:
    """A kernel link in one namespace; veths name their peer's namespace and name."""

    netns: str
    name: str
    kind: str                       # "veth" | "bridge" | "vxlan" | "vrf"
    master: Optional[str] = None
    peer_netns: Optional[str] = None
    peer_name: Optional[str] = None
    vni: Optional[int] = None
    local: Optional[str] = None     # VXLAN source address
    table: Optional[int] = None     # VRF table


@dataclass(frozen=True)
class Address:
    netns: str
    ifname: str
    cidr: str


@dataclass(frozen=True)
class Route:
    """``gateway`` set: via it; otherwise an on-link route out of ``dev``."""

    netns: str
    dst: str
    gateway: Optional[str] = None
    dev: Optional[str] = None


@dataclass(frozen=True)
class Sysctl:
    netns: str
    key: str                        # relative to /proc/sys, '/' separated
    value: str


@dataclass(frozen=True)
class FrrInstance:
    """A native FRR (Debian's daemons) started in ``netns`` with its own run dir."""

    name: str
    netns: str
    config: str
    daemons: tuple[str, ...] = ("zebra", "bgpd")


@dataclass(frozen=True)
class Topology:
    """Everything around the node, plus the node's evpn-boot configuration."""

    params: LabParams
    namespaces: tuple[str, ...]
    links: tuple[Link, ...]
    addresses: tuple[Address, ...]
    routes: tuple[Route, ...]
    sysctls: tuple[Sysctl, ...]
    frr: tuple[FrrInstance, ...]
    node_config: str
    vnis: tuple[int, ...]
    #: The netns evpn-boot creates for itself (``runtime.netns``); not built here.
    router_netns: str
    host_netns: str
    #: L2 variant: enslave the pod's host-side veth to this bridge once evpn-boot made it.
    pod_attach: Optional[tuple[str, str]] = None
    probe_netns: str = ""
    probe_source: str = str(REMOTE_HOST.ip)
    probe_target: str = str(POD.ip)
    capture_netns: str = ""
    capture_ifname: str = LEAF_TO_NODE

    @property
    def config_path(self) -> Path:
        return self.params.lab_dir / "config.toml"


def _templates() -> jinja2.Environment:
    return environment("evpn_boot.lab")


def vrf_name(i: int) -> str:
    """``red`` for the first L3 VNI (the published lab), then ``red<vni>``."""
    return FIRST_VRF if i == 0 else f"{FIRST_VRF}{BASE_VNI + i}"


def local_cidr(i: int) -> ipaddress.IPv4Network:
    """The veth leg between router and host for the i-th L3 VNI (192.169.10.0/24 first)."""
    return ipaddress.IPv4Network(f"192.169.{10 + i}.0/24")


def build(params: LabParams) -> Topology:
    """Describe the whole lab for ``params``; raises ValueError on impossible parameters."""
    if not 1 <= params.vnis <= MAX_VNIS:
        raise ValueError(f"--vnis must be between 1 and {MAX_VNIS}, got {params.vnis}")
    leaf, remote = params.netns("leaf"), params.netns("remote")
    host, pod, router = params.netns("host"), params.netns("pod"), params.netns("pe")
    for ns in (leaf, remote, host, pod, router):
        if len(ns) > 15:  # router netns is also an interface-name-sized config field
            raise ValueError(f"namespace name {ns!r} is longer than 15 bytes; shorten the prefix")
    l3 = params.variant is Variant.L3
    vnis = tuple(BASE_VNI + i for i in range(params.vnis))

    links: list[Link] = [
        Link(leaf, LEAF_TO_NODE, "veth", peer_netns=host, peer_name=NODE_NIC),
        Link(leaf, LEAF_TO_REMOTE, "veth", peer_netns=remote, peer_name="eth0"),
        Link(host, POD_HOST_END, "veth", peer_netns=pod, peer_name="eth0"),
    ]
    addresses = [
        Address(leaf, "lo", str(LEAF_VTEP)),
        Address(leaf, LEAF_TO_NODE, str(LEAF_UNDERLAY)),
        Address(host, NODE_NIC, str(NODE_UNDERLAY)),
        Address(remote, "eth0", str(REMOTE_HOST)),
        Address(pod, "eth0", str(POD)),
    ]
    routes: list[Route] = []
    sysctls = [Sysctl(leaf, "net/ipv4/ip_forward", "1"), Sysctl(host, "net/ipv4/ip_forward", "1")]
    for ns in (leaf, host):
        sysctls.append(Sysctl(ns, "net/ipv4/conf/all/rp_filter", "0"))

    vrfs: list[dict[str, object]] = []
    for i, vni in enumerate(vnis):
        bridge, vxlan = f"br-{vni}", names.vxlan_name(vni)
        vrf = vrf_name(i) if l3 else None
        if vrf is not None:
            links.append(Link(leaf, vrf, "vrf", table=1000 + vni))
        links.append(Link(leaf, bridge, "bridge", master=vrf))
        links.append(Link(leaf, vxlan, "vxlan", master=bridge, vni=vni, local=str(LEAF_VTEP.ip)))
        if vrf is not None:
            cidr = local_cidr(i)
            vrfs.append({"name": vrf, "vni": vni,
                         "router_side": str(addressing.veth_router_side(cidr).ip)})

    pod_attach: Optional[tuple[str, str]] = None
    if l3:
        # Remote host routed by the leaf's VRF; pod routed by the node's host namespace.
        links = [_with_master(link, FIRST_VRF) if link.name == LEAF_TO_REMOTE else link
                 for link in links]
        addresses += [Address(leaf, LEAF_TO_REMOTE, str(REMOTE_GATEWAY)),
                      Address(host, POD_HOST_END, str(POD_GATEWAY))]
        routes += [Route(remote, "0.0.0.0/0", gateway=str(REMOTE_GATEWAY.ip)),
                   Route(pod, "0.0.0.0/0", gateway=str(POD_GATEWAY.ip))]
    else:
        # One broadcast domain: the published addresses stay, reached on-link.
        links = [_with_master(link, f"br-{BASE_VNI}") if link.name == LEAF_TO_REMOTE else link
                 for link in links]
        routes += [Route(remote, str(POD.network), dev="eth0"),
                   Route(pod, str(REMOTE_HOST.network), dev="eth0")]
        pod_attach = (POD_HOST_END, names.host_bridge_name(BASE_VNI))

    env = _templates()
    frr = [FrrInstance("leaf", leaf, env.get_template("leaf.conf.j2").render(
        asn=LEAF_ASN, router_id=str(LEAF_ROUTER_ID), vtep=str(LEAF_VTEP),
        neighbor=str(NODE_UNDERLAY.ip), neighbor_asn=NODE_ASN, vrfs=vrfs))]
    if l3:
        frr.append(FrrInstance("speaker", host, env.get_template("speaker.conf.j2").render(
            asn=SPEAKER_ASN, router_id=str(POD_GATEWAY.ip), node_asn=NODE_ASN,
            neighbors=[v["router_side"] for v in vrfs], pod_cidr=str(POD.network))))
    lab_dir = params.lab_dir
    node_config = env.get_template("node.toml.j2").render(
        index=NODE_INDEX, router_netns=router, host_netns=host,
        state_dir=str(lab_dir / "state"), run_dir=str(lab_dir / "run"),
        frr_image=params.frr_image, frr_config_dir=str(lab_dir / "frr-node"),
        container=f"{params.prefix}frr", asn=NODE_ASN, vtep_cidr=str(VTEP_CIDR),
        router_id_cidr=str(ROUTER_ID_CIDR), nic=NODE_NIC,
        leaf=str(LEAF_UNDERLAY.ip), leaf_asn=LEAF_ASN, l3=l3,
        l3vnis=[{"vrf": vrf_name(i), "vni": vni, "local_cidr": str(local_cidr(i))}
                for i, vni in enumerate(vnis)],
        l2vnis=vnis, host_asn=SPEAKER_ASN)
    return Topology(
        params=params,
        namespaces=(leaf, remote, host, pod),
        links=tuple(links), addresses=tuple(addresses), routes=tuple(routes),
        sysctls=tuple(sysctls), frr=tuple(frr), node_config=node_config, vnis=vnis,
        router_netns=router, host_netns=host, pod_attach=pod_attach,
        probe_netns=remote, capture_netns=leaf,
    )


def _with_master(link: Link, master: str) -> Link:
    return Link(link.netns, link.name, link.kind, master=master, peer_netns=link.peer_netns,
                peer_name=link.peer_name, vni=link.vni, local=link.local, table=link.table)


def node_vtep() -> str:
    """The node's VTEP address evpn-boot derives from the generated configuration."""
    return str(addressing.vtep_address(VTEP_CIDR, NODE_INDEX).ip)


def look_around(topo: Topology, frr_dirs: dict[str, Path], container: str = "") -> list[str]:
    """Commands a newcomer can paste to explore the running lab."""
    leaf_vty = frr_dirs.get("leaf")
    node_vty = frr_dirs.get("node")
    lines = [
        f"ip netns exec {topo.probe_netns} ping -c 3 {topo.probe_target}"
        "   # remote host -> pod, over VXLAN",
        f"ip -n {topo.router_netns} -d link show              # what evpn-boot built",
        f"ip netns exec {topo.capture_netns} tcpdump -ni {topo.capture_ifname} udp port 4789"
        "   # the underlay",
    ]
    if leaf_vty is not None:
        lines.append(f"vtysh --vty_socket {leaf_vty} -c 'show bgp l2vpn evpn'   # the leaf")
    if container:
        lines.append(f"podman exec {container} vtysh -c 'show bgp summary'   # the node's FRR")
    elif node_vty is not None:
        lines.append(f"vtysh --vty_socket {node_vty} -c 'show bgp summary'   # the node's FRR")
    lines.append(f"cat {topo.config_path}   # the node's generated evpn-boot config")
    return lines
