"""The desired state: plain, immutable values describing what the kernel should hold.

Derived from the configuration by :mod:`evpn_boot.desired.derive`; consumed by
the planner (diff against the observed kernel state) and the FRR renderer.  No
I/O happens here and nothing here imports pyroute2.

A field set to ``None`` means "evpn-boot does not manage this attribute": the
diff ignores it.  That is how the moved underlay NIC keeps the addresses and MTU
it had on the host.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from evpn_boot.rules import addressing as _addressing

# The address types are the address rules' (one home), named here for the model.
IPAddress = _addressing.IPAddress
IPInterface = _addressing.IPInterface
IPNetwork = _addressing.IPNetwork

#: Link group that marks the underlay interface (same value as OpenPERouter).
UNDERLAY_LINK_GROUP = 4242
#: Metric of the unreachable default route in each VRF table: the kernel's
#: highest, so any real default learned over EVPN wins.
VRF_UNREACHABLE_METRIC = 4278198272


class Side(enum.Enum):
    """Which network namespace an object lives in."""

    ROUTER = "router"   # runtime.netns: entirely owned by evpn-boot
    HOST = "host"       # runtime.host_netns: only objects evpn-boot created


class LinkKind(enum.Enum):
    LOOPBACK = "loopback"
    PHYSICAL = "physical"   # the underlay NIC, moved from the host namespace
    VLAN = "vlan"
    MACVLAN = "macvlan"
    VRF = "vrf"
    BRIDGE = "bridge"
    VXLAN = "vxlan"
    VETH = "veth"


@dataclass(frozen=True)
class VrfInfo:
    table: int


@dataclass(frozen=True)
class BridgeInfo:
    """A plain (non VLAN-aware) bridge."""


@dataclass(frozen=True)
class VxlanInfo:
    vni: int
    local: IPAddress
    port: int
    learning: bool = False
    #: The VXLAN's lower device (IFLA_VXLAN_LINK): "lo", as OpenPERouter requires
    #: (it re-creates a VXLAN without it); "" = none.
    link: str = "lo"


@dataclass(frozen=True)
class VethInfo:
    """One end of a veth pair; the pair is created once, from the router end."""

    peer: str
    peer_side: Side


@dataclass(frozen=True)
class VlanInfo:
    parent: str
    vlan_id: int
    parent_side: Side = Side.HOST


@dataclass(frozen=True)
class MacvlanInfo:
    parent: str
    mode: str = "bridge"
    parent_side: Side = Side.HOST


@dataclass(frozen=True)
class PhysicalInfo:
    """A pre-existing NIC that evpn-boot moves from ``origin`` into its own namespace."""

    origin: Side = Side.HOST


@dataclass(frozen=True)
class LoopbackInfo:
    pass


KindInfo = Union[VrfInfo, BridgeInfo, VxlanInfo, VethInfo, VlanInfo, MacvlanInfo,
                 PhysicalInfo, LoopbackInfo]


@dataclass(frozen=True)
class BridgePort:
    """Bridge-port attributes of a link enslaved to a bridge."""

    learning: bool
    neigh_suppress: bool


@dataclass(frozen=True)
class LinkSpec:
    """One network interface as evpn-boot wants it."""

    name: str
    side: Side
    kind: LinkKind
    info: KindInfo
    up: bool = True
    master: Optional[str] = None
    mtu: Optional[int] = None
    mac: Optional[str] = None
    #: None: addresses not managed (kept as found); otherwise the exact set.
    addresses: Optional[tuple[IPInterface, ...]] = ()
    addrgenmode_none: bool = False
    group: Optional[int] = None
    brport: Optional[BridgePort] = None

    @property
    def key(self) -> tuple[Side, str]:
        return (self.side, self.name)


class RouteType(enum.Enum):
    """The route types evpn-boot installs (only the VRF's unreachable default)."""

    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class RouteSpec:
    side: Side
    table: int
    dst: IPNetwork
    type: RouteType = RouteType.UNREACHABLE
    metric: int = VRF_UNREACHABLE_METRIC


@dataclass(frozen=True)
class SysctlSpec:
    """A /proc/sys value; ``key`` is relative to /proc/sys, with '/' separators."""

    side: Side
    key: str
    value: str
    #: False: silently skipped when the kernel does not have this knob.
    required: bool = True


@dataclass(frozen=True)
class NodeValues:
    """The per-node values derived from the node index."""

    index: int
    name: str
    vtep: IPInterface
    router_id: ipaddress.IPv4Address
    router_mac: str


# ----------------------------------------------------------------- FRR model


@dataclass(frozen=True)
class FrrNeighbor:
    """One underlay session: numbered (``address``) or unnumbered (``interface``)."""

    address: Optional[IPAddress]
    #: An int, or "external"/"internal" (FRR's own words, for unnumbered leaves).
    asn: Union[int, str]
    bfd: bool = False
    password_file: Optional[Path] = None
    port: Optional[int] = None
    hold_time: Optional[int] = None
    keepalive_time: Optional[int] = None
    ebgp_multihop: Optional[int] = None
    connect_retry_s: Optional[int] = None
    interface: Optional[str] = None

    @property
    def peer(self) -> str:
        """The neighbor as FRR names it (``neighbor <peer> ...``) and reports it."""
        return str(self.address) if self.address is not None else str(self.interface)

@dataclass(frozen=True)
class BfdTimers:
    """Timers of the BFD profile every BFD neighbor uses; None = FRR's default."""

    detect_multiplier: Optional[int] = None
    receive_interval_ms: Optional[int] = None
    transmit_interval_ms: Optional[int] = None


@dataclass(frozen=True)
class FrrVrf:
    """An L3 VNI as FRR sees it: ``vrf X / vni N`` plus the session to the host."""

    name: str
    vni: int
    host_asn: int
    host_neighbor: ipaddress.IPv4Address          # host side of the veth leg
    local_address: ipaddress.IPv4Address          # router side of the veth leg
    host_neighbor_v6: Optional[IPAddress] = None
    import_rts: tuple[str, ...] = ()
    export_rts: tuple[str, ...] = ()
    #: Announced as type-5 routes: the host end of the veth (/32, /128) so traffic
    #: sourced from it finds its way back, and the VRF's L2 gateway subnets.
    networks: tuple[IPNetwork, ...] = ()
    #: What the host may announce (each with its longer subnets); None = anything
    #: but a default route.
    host_allowed: Optional[tuple[IPNetwork, ...]] = None
    host_max_prefixes: int = 1000

    def family_networks(self, version: int) -> tuple[IPNetwork, ...]:
        return tuple(n for n in self.networks if n.version == version)

    @property
    def has_ipv6(self) -> bool:
        """The VRF carries IPv6: a v6 host session or an IPv6 gateway subnet."""
        return self.host_neighbor_v6 is not None or bool(self.family_networks(6))


@dataclass(frozen=True)
class FrrL2Vni:
    vni: int
    vrf: Optional[str] = None


@dataclass(frozen=True)
class FrrModel:
    """Everything the FRR templates need; passwords stay in their files."""

    hostname: str
    asn: int
    router_id: ipaddress.IPv4Address
    vtep: IPInterface
    router_mac: str
    neighbors: tuple[FrrNeighbor, ...]
    vrfs: tuple[FrrVrf, ...] = ()
    l2vnis: tuple[FrrL2Vni, ...] = ()
    raw_config: str = ""
    #: BGP graceful restart time we advertise; FRR's own default (120) is not spelt out.
    restart_time_s: int = 120
    #: One config serves a pool whose nodes share an ASN, so EVPN routes from
    #: other nodes carry our own ASN in their path: accept it once.
    allowas_in: bool = True
    #: Set when BFD timers are configured: rendered as a profile the BFD neighbors use.
    bfd_timers: Optional[BfdTimers] = None
    #: Leaves in different ASNs: their equal-length paths are still ECMP.
    multipath_relax: bool = False
    #: Several leaves and no transit: advertise to a leaf only our own routes.
    no_transit: bool = False
    #: Several uplinks: zebra installs ECMP routes with inline next hops, not
    #: kernel nexthop groups (a link flap leaves the group one member short).
    inline_nexthops: bool = False


@dataclass(frozen=True)
class Runtime:
    """Resolved runtime settings the effectful layers need."""

    netns: str
    host_netns: str          # "" = the process's own namespace
    state_dir: Path
    run_dir: Path
    frr_image: str
    frr_config_dir: Path
    frr_container: str


@dataclass(frozen=True)
class DesiredState:
    """What the node should look like; the single input of plan and render."""

    node: NodeValues
    runtime: Runtime
    links: tuple[LinkSpec, ...]
    routes: tuple[RouteSpec, ...] = ()
    sysctls: tuple[SysctlSpec, ...] = ()
    frr: Optional[FrrModel] = None
    underlay: str = ""            # name of the (first) underlay link in the router namespace
    #: Every underlay link (one per leaf), in configuration order.
    uplinks: tuple[str, ...] = ()
    #: Underlay NICs that may be absent while another is present
    #: (:func:`evpn_boot.config.underlay.optional_nics`).
    optional_nics: tuple[str, ...] = ()
    l3_vnis: tuple[int, ...] = ()
    l2_vnis: tuple[int, ...] = ()

    def link(self, side: Side, name: str) -> LinkSpec:
        for spec in self.links:
            if spec.side is side and spec.name == name:
                return spec
        raise KeyError(f"no desired link {name!r} in the {side.value} namespace")

    @property
    def needs_vrf(self) -> bool:
        return any(link.kind is LinkKind.VRF for link in self.links)
