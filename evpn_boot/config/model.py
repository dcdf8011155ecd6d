"""The configuration model: the TOML file's contract, validated strictly.

Structure and per-field rules live here (pydantic); rules that relate several
fields across the document live in :mod:`evpn_boot.config.checks` so that every
problem is reported at once rather than the first one only.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    Tag,
    model_validator,
)

from evpn_boot.config.types import (
    AbsPath,
    Asn,
    HostName,
    HostNetnsName,
    IfName,
    ImageRef,
    IPAddress,
    IPInterface,
    IPNetwork,
    IPv4Network,
    NetnsName,
    Port,
    RouteTarget,
    Seconds,
    Vni,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class NodeConfig(_Strict):
    """Which node of the pool this is; every per-node value derives from the index."""

    index: Optional[int] = Field(
        None, ge=0, le=65535,
        description="Node index. Exactly one of index / index_from_interface.")
    index_from_interface: Optional[IfName] = Field(
        None, description="Take the index from the host part of this interface's IPv4 address.")
    name: Optional[HostName] = Field(None, description="Node name; default: the hostname.")
    router_mac: Optional[StrictStr] = Field(
        None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$",
        description="Router MAC of all L3 VNI bridges; default derived from the VTEP.")

    @model_validator(mode="after")
    def _exactly_one_index_source(self) -> NodeConfig:
        if (self.index is None) == (self.index_from_interface is None):
            raise ValueError("set exactly one of node.index or node.index_from_interface")
        return self


class LogLevel(str, enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class RuntimeConfig(_Strict):
    """Where evpn-boot keeps things; all optional."""

    netns: NetnsName = Field("perouter", description="Router network namespace.")
    host_netns: HostNetnsName = Field(
        "", description='"" = the machine\'s own namespace; tests and the lab use a named netns.')
    state_dir: AbsPath = Field(Path("/var/lib/evpn-boot"),
                               description="Ownership record; a directory only evpn-boot uses.")
    run_dir: AbsPath = Field(Path("/run/evpn-boot"),
                             description="Lock, release record, FRR check copies (a tmpfs).")
    log_level: LogLevel = Field(LogLevel.INFO, strict=False)
    device_timeout_s: Seconds = Field(
        90.0, description="How long `run` waits at boot for the underlay NIC (and the "
                          "index interface's IPv4 address) to appear before it fails "
                          "(dual-homed under any-established: goes on if one NIC of "
                          "`nics` is there).")


class FrrConfig(_Strict):
    """The FRR container evpn-boot runs in the router namespace."""

    image: ImageRef = "quay.io/frrouting/frr:10.4.3"
    config_dir: AbsPath = Field(Path("/etc/evpn-boot/frr"),
                                description="Mounted into the container: no ':' or ','.")
    container_name: StrictStr = Field("evpn-boot-frr", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
    raw_config: StrictStr = Field(
        "", description="Appended verbatim at the end of frr.conf (no control characters).")
    restart_time_s: int = Field(
        300, strict=True, ge=1, le=4095,
        description="BGP graceful restart time we advertise (and zebra's -K): how long peers "
                    "keep our routes after our FRR stops. It must cover the handoff, until the "
                    "reconciler's router pod (OpenPERouter's) has started and peered; exported "
                    "as the Underlay's gracefulRestart.restartTimeSeconds.")
    version: Optional[StrictStr] = Field(
        None, pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$",
        description="FRR version of the image (what it can do, e.g. IPv6 VTEPs need >= 10.6); "
                    "default: the image tag when it is a version (`frr:10.4.3` -> 10.4.3).")


class VlanUnderlay(_Strict):
    """An 802.1q sub-interface of a host NIC, created in the router namespace."""

    parent: IfName
    id: int = Field(strict=True, ge=1, le=4094)
    name: Optional[IfName] = Field(None, description='Default "<parent>.<id>".')
    address_cidr: Optional[IPNetwork] = Field(
        None, description="Sub-interface address: network + address_offset + node index.")
    address_offset: int = Field(0, strict=True, ge=0)


class MacvlanUnderlay(_Strict):
    """A macvlan (bridge mode) of a host NIC, created in the router namespace."""

    parent: IfName
    name: Optional[IfName] = Field(None, description='Default "ul-<parent>".')
    address_cidr: Optional[IPNetwork] = None
    address_offset: int = Field(0, strict=True, ge=0)


def _one_or_many(value: Any) -> str:
    return "uplink-list" if isinstance(value, list) else "uplink-table"


#: One uplink's table, or a list of them: the branch is chosen by shape, so an
#: error is reported once, in the branch the user wrote.
OneOrMoreVlans = Annotated[
    Union[Annotated[VlanUnderlay, Tag("uplink-table")],
          Annotated[list[VlanUnderlay], Field(min_length=1), Tag("uplink-list")]],
    Discriminator(_one_or_many)]
OneOrMoreMacvlans = Annotated[
    Union[Annotated[MacvlanUnderlay, Tag("uplink-table")],
          Annotated[list[MacvlanUnderlay], Field(min_length=1), Tag("uplink-list")]],
    Discriminator(_one_or_many)]


def _asn_shape(value: Any) -> str:
    return "asn-word" if isinstance(value, str) else "asn-number"


#: A leaf's ASN: a number, or FRR's "external" / "internal" (any other ASN / ours).
PeerAsn = Annotated[
    Union[Annotated[Asn, Tag("asn-number")],
          Annotated[Literal["external", "internal"], Tag("asn-word")]],
    Discriminator(_asn_shape)]


class Neighbor(_Strict):
    """A BGP neighbor of the underlay (a leaf): numbered (``address``) or unnumbered
    (``interface``: RFC 5549, the peer found by its IPv6 link-local address)."""

    address: Optional[IPAddress] = Field(
        None, description="The leaf's address. Exactly one of address / interface.")
    interface: Optional[IfName] = Field(
        None, description="BGP unnumbered over this underlay link (a name in underlay.nic, "
                          "nics, or a vlan/macvlan name); IPv6 link-local + extended "
                          "next-hop, no address needed.")
    asn: PeerAsn = Field(
        description='The leaf\'s ASN, or "external" (any ASN but ours) / "internal" (ours).')
    bfd: StrictBool = False
    password_file: Optional[AbsPath] = Field(
        None, description="First line = the password (1-80 characters, no whitespace); "
                          "a regular file owned by root, mode 0600 or 0400.")
    port: Optional[Port] = None
    hold_time: Optional[int] = Field(None, strict=True, ge=3, le=65535)
    keepalive_time: Optional[int] = Field(None, strict=True, ge=1, le=65535)
    ebgp_multihop: Optional[int] = Field(None, strict=True, ge=1, le=255)
    connect_retry_s: int = Field(
        5, strict=True, ge=1, le=65535,
        description="Seconds between connection attempts (FRR's `timers connect`; its own "
                    "default is 120 s, which delays READY by minutes when the leaf comes up "
                    "late).")

    @model_validator(mode="after")
    def _exactly_one_peer(self) -> Neighbor:
        if (self.address is None) == (self.interface is None):
            raise ValueError("set exactly one of address (numbered) or interface (unnumbered)")
        return self

    @property
    def peer(self) -> str:
        """How FRR names the neighbor: its address, or the interface it is reached on."""
        return str(self.address) if self.address is not None else str(self.interface)


class BfdConfig(_Strict):
    """BFD timers of every neighbor with ``bfd = true``; unset = FRR's own (300 ms x 3)."""

    detect_multiplier: Optional[int] = Field(
        None, strict=True, ge=2, le=255,
        description="Missed packets before the session is declared down.")
    receive_interval_ms: Optional[int] = Field(None, strict=True, ge=10, le=60000)
    transmit_interval_ms: Optional[int] = Field(None, strict=True, ge=10, le=60000)


class UnderlayConfig(_Strict):
    """The underlay: how the router namespace reaches the fabric."""

    asn: Asn
    vtep_cidr: IPNetwork
    router_id_cidr: IPv4Network
    nic: Optional[IfName] = None
    nics: Optional[list[IfName]] = Field(
        None, min_length=1,
        description="Several NICs (one per leaf), each moved into the router namespace.")
    vlan: Optional[OneOrMoreVlans] = Field(
        None, description="One table, or a list of tables (one per uplink).")
    macvlan: Optional[OneOrMoreMacvlans] = Field(
        None, description="One table, or a list of tables (one per uplink).")
    neighbors: list[Neighbor] = Field(min_length=1)
    bfd: BfdConfig = Field(default_factory=BfdConfig)
    transit: StrictBool = Field(
        False, description="false: with several neighbors, never advertise to a leaf what "
                           "was learned from another (ipv4 unicast and l2vpn evpn); the "
                           "node only announces its own routes.")
    vxlan_port: Port = 4789
    mtu: Optional[int] = Field(
        None, strict=True, ge=1280, le=65535,
        description="Underlay MTU; default: the NIC's own. VXLAN MTU = this - 50 (-70 for IPv6).")

    @model_validator(mode="after")
    def _exactly_one_attachment(self) -> UnderlayConfig:
        given = [k for k in ("nic", "nics", "vlan", "macvlan") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of underlay.nic, underlay.nics, underlay.vlan or "
                "underlay.macvlan"
                + (f" (got {', '.join(given)})" if given else ""))
        return self


class L3VniConfig(_Strict):
    """An L3 VNI: a VRF routed over EVPN type-5, with a veth leg to the host."""

    vrf: IfName
    vni: Vni
    local_cidr: IPv4Network = Field(
        description="veth leg (OpenPERouter's rule): router side the network address, or "
                    "the next one when it ends in 0; host side router side + index + 1.")
    local_cidr_v6: Optional[IPNetwork] = None
    host_asn: Asn
    table: Optional[int] = Field(None, strict=True, ge=256, le=2**32 - 2)
    import_rts: list[RouteTarget] = Field(default_factory=list)
    export_rts: list[RouteTarget] = Field(default_factory=list)
    host_allowed_prefixes: Optional[list[IPNetwork]] = Field(
        None, description="Prefixes (and their longer subnets) the host may announce into the "
                          "VRF; default: any prefix except a default route.")
    host_max_prefixes: int = Field(
        1000, strict=True, ge=1, le=4294967295,
        description="More prefixes than this from the host ends its session (FRR "
                    "`maximum-prefix`), retried after a minute.")


class L2VniConfig(_Strict):
    """An L2 VNI: a bridged segment over EVPN type-2/3."""

    vni: Vni
    vrf: Optional[IfName] = Field(None, description="Enslave the bridge to this L3 VNI's VRF.")
    host_bridge: Union[StrictBool, IfName] = Field(
        False, description='true = "br-hs-<vni>", or a name; wires a host bridge to the VNI.')
    gateway_ips: list[IPInterface] = Field(default_factory=list)


class ReadinessRequire(str, enum.Enum):
    ANY_ESTABLISHED = "any-established"
    ALL_ESTABLISHED = "all-established"
    APPLIED = "applied"


class ReadinessConfig(_Strict):
    """When evpn-boot tells systemd it is ready (so kubelet may start)."""

    require: ReadinessRequire = Field(ReadinessRequire.ANY_ESTABLISHED, strict=False)
    timeout_s: Seconds = 120.0


class HandoffConfig(_Strict):
    """Handing the node over to the in-cluster reconciler."""

    enabled: StrictBool = True
    kubeconfig: Optional[AbsPath] = Field(None, description="Default: discovered (kubelet's).")
    gate_timeout_s: Seconds = Field(20.0, description=(
        "How long, before READY, to try closing the OpenPERouter gate on the Node "
        "(docs/handoff.md); READY follows either way."))


class HealthConfig(_Strict):
    """The node's EVPN health on its Node object, for the scheduler and operators."""

    condition: StrictBool = Field(
        True, description="Keep the Node condition EVPNReady (nodes/status, the node's own "
                          "credentials from [handoff] kubeconfig or discovered) until the handoff.")
    taint: StrictBool = Field(
        True, description="Also keep the taint evpn-boot.io/fabric-unavailable:NoSchedule while "
                          "EVPN is unhealthy. NodeRestriction forbids a node to change its own "
                          "taints: needs taint_kubeconfig.")
    taint_kubeconfig: Optional[AbsPath] = Field(
        None, description="A kubeconfig whose user may patch Nodes (the taint); default: the "
                          "node's own (refused by NodeRestriction).")
    register_tainted: StrictBool = Field(
        False, description="Rendered kubelet drop-in registers the Node with the taint "
                           "(--register-with-taints), so nothing lands before evpn-boot spoke.")


class MetricsConfig(_Strict):
    """Prometheus metrics as a node_exporter textfile-collector file."""

    textfile: Optional[AbsPath] = Field(
        None, description="e.g. /var/lib/node_exporter/textfile_collector/evpn_boot.prom; "
                          "unset: no metrics file.")


class Config(_Strict):
    """The whole configuration file."""

    node: NodeConfig
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    frr: FrrConfig = Field(default_factory=FrrConfig)
    underlay: UnderlayConfig
    l3vni: list[L3VniConfig] = Field(default_factory=list)
    l2vni: list[L2VniConfig] = Field(default_factory=list)
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    handoff: HandoffConfig = Field(default_factory=HandoffConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
