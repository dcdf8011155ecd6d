"""Config -> the equivalent OpenPERouter resources, per OpenPERouter version (pure).

The cluster admin applies these so that, after the handoff, OpenPERouter keeps
the node on the intent evpn-boot booted it with.  Each version's resources
follow that version's CRDs (``config/crd/bases/`` of openperouter/openperouter):

* ``v0.2`` (release v0.2.0): API group ``openpe.openperouter.github.io``,
  ``routeridcidr``, a boolean ``ebgpMultiHop``, ``vxlanport``,
  ``hostsession{asn,hostasn,localcidr}``, L2VNI ``vrf``, ``hostmaster``
  (``linux-bridge``, ``autoCreate``) and ``l2gatewayips``;
* ``main``: API group ``network.openperouter.io``, ``routerIDCIDR``,
  ``properties: [{type: ebgpMultiHop, ebgpMultiHop: {ttl}}]``, ``vxlanPort``,
  ``hostSession{asn,hostASN,localCIDR}``, L2VNI ``routingDomain`` (a reference
  to the L3VNI), ``hostMaster`` (``LinuxBridge``, ``lifecycle``) and
  ``gatewayIPs``.

A value that cannot be carried is either refused (:class:`ExportError`: the
CRD would reject the document) or reported as a warning (the document is valid
but differs from the node: a password, a TTL).  docs/openperouter.md has the
mapping.  Passwords themselves are never read here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from evpn_boot.config.model import (
    Config,
    L2VniConfig,
    L3VniConfig,
    Neighbor,
    UnderlayConfig,
    VlanUnderlay,
)
from evpn_boot.config.underlay import Uplink, uplinks

DEFAULT_NAMESPACE = "openperouter-system"
DEFAULT_VXLAN_PORT = 4789     # the CRDs' default: omitted when equal
MAX_NEIGHBOR_PORT = 16384     # Neighbor.port's maximum in both versions
MAX_MULTIHOP_TTL = 255        # v0.2's boolean ebgpMultiHop is FRR's default TTL


class Version(str, enum.Enum):
    """The OpenPERouter versions the export targets; the newest release first."""

    V0_2 = "v0.2"
    MAIN = "main"


NEWEST_RELEASE = Version.V0_2

API_VERSIONS = {
    Version.V0_2: "openpe.openperouter.github.io/v1alpha1",
    Version.MAIN: "network.openperouter.io/v1alpha1",
}


class ExportError(ValueError):
    """The configuration holds values the chosen version's CRDs reject."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Export:
    """The resources, in apply order, and what the admin must know about them."""

    version: Version
    resources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Values the resources do not carry: the node would differ after the handoff.
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Run:
    version: Version
    out: Export
    refused: list[str] = field(default_factory=list)

    @property
    def main(self) -> bool:
        return self.version is Version.MAIN


def export_openperouter(config: Config, namespace: str = DEFAULT_NAMESPACE,
                        version: Version = NEWEST_RELEASE) -> Export:
    """The resources for ``version``; raises ExportError listing every refused value."""
    run = _Run(version, Export(version))
    out = run.out
    out.resources.append(_resource(run, "Underlay", "underlay", namespace,
                                   _underlay(run, config)))
    l3_names: dict[str, str] = {}
    for l3 in config.l3vni:
        name = _k8s_name(l3.vrf, out.notes)
        l3_names[l3.vrf] = name
        out.resources.append(_resource(run, "L3VNI", name, namespace,
                                       _l3vni(run, l3, config.underlay)))
    for l2 in config.l2vni:
        out.resources.append(_resource(run, "L2VNI", f"l2vni-{l2.vni}", namespace,
                                       _l2vni(run, l2, config.underlay, l3_names)))
    out.notes.append("the node index is not part of these resources: OpenPERouter reads it "
                     "from the Node annotation openpe.io/nodeindex, which must equal "
                     "evpn-boot's index (evpn-boot.io/node-index)")
    if config.node.router_mac:
        out.notes.append("node.router_mac has no OpenPERouter field; OpenPERouter keeps the "
                         "bridge MAC it finds, so the node keeps it until re-created")
    if config.frr.raw_config:
        out.warnings.append("frr.raw_config is not exported (see OpenPERouter's RawFRRConfig)")
    if run.refused:
        raise ExportError(run.refused)
    return out


def _resource(run: _Run, kind: str, name: str, namespace: str,
              spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[run.version], "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _underlay(run: _Run, config: Config) -> dict[str, Any]:
    underlay = config.underlay
    spec: dict[str, Any] = {"asn": underlay.asn}
    spec["routerIDCIDR" if run.main else "routeridcidr"] = str(underlay.router_id_cidr)
    spec["neighbors"] = [_neighbor(run, i, n) for i, n in enumerate(underlay.neighbors)]
    spec["interfaces"] = [{"type": "NetworkDevice", "networkDevice": {"interfaceName": name}}
                          for name in _underlay_devices(run, underlay)]
    spec["tunnelEndpoint"] = {"cidrs": [str(underlay.vtep_cidr)]}
    # Without it OpenPERouter renders no graceful restart at all; the handoff relies on it.
    spec["gracefulRestart"] = {"restartTimeSeconds": config.frr.restart_time_s}
    if underlay.mtu is not None:
        run.out.notes.append(f"underlay.mtu {underlay.mtu} has no OpenPERouter field; "
                             "OpenPERouter keeps the device's MTU")
    return spec


def _underlay_devices(run: _Run, underlay: UnderlayConfig) -> list[str]:
    """Every uplink, in order: both versions' ``interfaces`` is a list (v0.2.0's
    validation and host conversion take each NetworkDevice; only v0.1's ``nics``
    allowed one)."""
    return [_uplink_device(run, uplink) for uplink in uplinks(underlay)]


def _uplink_device(run: _Run, uplink: Uplink) -> str:
    sub = uplink.sub
    if sub is None:
        return uplink.name
    kind = (f"VLAN {sub.id} on {sub.parent}" if isinstance(sub, VlanUnderlay)
            else f"macvlan on {sub.parent}")
    name = uplink.name
    run.out.notes.append(f"underlay: OpenPERouter moves an existing device; evpn-boot creates "
                         f"{name!r} ({kind}) in the router namespace, where OpenPERouter "
                         "finds it; on a fresh boot without evpn-boot the host must provide it")
    if sub.address_cidr is not None:
        run.out.notes.append(f"underlay: the per-node address from {sub.address_cidr} is on "
                             f"{name!r}; OpenPERouter keeps a device's addresses")
    return str(name)


def _peer(run: _Run, neighbor: Neighbor) -> dict[str, Any]:
    """Who the session is with: ``asn`` or ``type``, ``address`` or ``interface``."""
    spec: dict[str, Any] = {}
    if isinstance(neighbor.asn, int):
        spec["asn"] = neighbor.asn
    else:
        # "external"/"internal": the Neighbor's ``type`` (v0.2 lower case, main capitalized).
        spec["type"] = neighbor.asn.capitalize() if run.main else neighbor.asn
    if neighbor.interface is not None:
        spec["interface"] = neighbor.interface       # unnumbered: both versions' field
    else:
        spec["address"] = neighbor.peer
    return spec


def _neighbor(run: _Run, index: int, neighbor: Neighbor) -> dict[str, Any]:
    where = f"underlay.neighbors[{index}]"
    spec = _peer(run, neighbor)
    if neighbor.port is not None:
        if neighbor.port > MAX_NEIGHBOR_PORT:
            run.refused.append(f"{where}.port {neighbor.port}: the Neighbor CRD allows at most "
                               f"{MAX_NEIGHBOR_PORT}")
        spec["port"] = neighbor.port
    if neighbor.hold_time is not None and neighbor.keepalive_time is not None:
        # the config requires both or neither, as the Neighbor CRD does
        spec["holdTimeSeconds"] = neighbor.hold_time
        spec["keepaliveTimeSeconds"] = neighbor.keepalive_time
    spec["connectTimeSeconds"] = neighbor.connect_retry_s
    if neighbor.ebgp_multihop is not None:
        if run.main:
            spec["properties"] = [{"type": "ebgpMultiHop",
                                   "ebgpMultiHop": {"ttl": neighbor.ebgp_multihop}}]
        else:
            spec["ebgpMultiHop"] = True
            if neighbor.ebgp_multihop != MAX_MULTIHOP_TTL:
                run.out.warnings.append(
                    f"{where}.ebgp_multihop {neighbor.ebgp_multihop}: v0.2's ebgpMultiHop is a "
                    f"boolean (TTL {MAX_MULTIHOP_TTL}); use --version main to keep the TTL")
    if neighbor.bfd:
        spec["bfd"] = {}
    if neighbor.password_file is not None:
        run.out.warnings.append(
            f"{where}: the password (from {neighbor.password_file}) is not exported: "
            "OpenPERouter reads only the plain-text field spec.neighbors[].password (its "
            "passwordSecret is a string no controller reads); set password by hand, or the "
            "session will not come up after the handoff")
    return spec


def _l3vni(run: _Run, l3: L3VniConfig, underlay: UnderlayConfig) -> dict[str, Any]:
    local: dict[str, str] = {"ipv4": str(l3.local_cidr)}
    if l3.local_cidr_v6 is not None:
        local["ipv6"] = str(l3.local_cidr_v6)
    spec: dict[str, Any] = {"vrf": l3.vrf, "vni": l3.vni}
    if underlay.vxlan_port != DEFAULT_VXLAN_PORT:
        spec["vxlanPort" if run.main else "vxlanport"] = underlay.vxlan_port
    if l3.host_asn == underlay.asn:
        run.refused.append(f"l3vni vni {l3.vni}: host_asn equals underlay.asn; the L3VNI CRD "
                           "requires hostASN to differ from asn")
    if run.main:
        spec["hostSession"] = {"asn": underlay.asn, "hostASN": l3.host_asn, "localCIDR": local}
    else:
        spec["hostsession"] = {"asn": underlay.asn, "hostasn": l3.host_asn, "localcidr": local}
    if l3.export_rts:
        spec["exportRTs"] = list(l3.export_rts)
    if l3.import_rts:
        spec["importRTs"] = list(l3.import_rts)
    if l3.table is not None:
        run.out.notes.append(f"l3vni {l3.vni}: table {l3.table} has no OpenPERouter field; it "
                             "keeps the table of an existing VRF")
    if l3.host_allowed_prefixes is not None or l3.host_max_prefixes != 1000:
        run.out.warnings.append(f"l3vni {l3.vni}: host_allowed_prefixes / host_max_prefixes "
                                "have no OpenPERouter field; its host session accepts any "
                                "prefix")
    return spec


def _l2vni(run: _Run, l2: L2VniConfig, underlay: UnderlayConfig,
           l3_names: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"vni": l2.vni}
    if l2.vrf is not None:
        if run.main:
            spec["routingDomain"] = {"type": "L3VNI", "l3vni": {"name": l3_names[l2.vrf]}}
        else:
            spec["vrf"] = l2.vrf
    if underlay.vxlan_port != DEFAULT_VXLAN_PORT:
        spec["vxlanPort" if run.main else "vxlanport"] = underlay.vxlan_port
    if l2.host_bridge is not False:
        spec["hostMaster" if run.main else "hostmaster"] = _host_master(run, l2.host_bridge)
    if l2.gateway_ips:
        spec["gatewayIPs" if run.main else "l2gatewayips"] = [str(ip) for ip in l2.gateway_ips]
    return spec


def _host_master(run: _Run, host_bridge: bool | str) -> dict[str, Any]:
    managed = host_bridge is True
    if run.main:
        bridge: dict[str, Any] = {"lifecycle": "Managed"} if managed else \
            {"lifecycle": "External", "name": host_bridge}
        return {"type": "LinuxBridge", "linuxBridge": bridge}
    bridge = {"autoCreate": True} if managed else {"name": host_bridge}
    return {"type": "linux-bridge", "linuxBridge": bridge}


def _k8s_name(name: str, notes: list[str]) -> str:
    """An object name (DNS-1123 subdomain) for a VRF name, which may not be one."""
    candidate = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or "vrf"
    if candidate != name:
        notes.append(f"L3VNI for VRF {name!r} is named {candidate!r} (Kubernetes names are "
                     "lower-case DNS labels); spec.vrf keeps the VRF name")
    return candidate


def to_yaml(export: Export) -> str:
    """Multi-document YAML, warnings and notes first as comments (``kubectl`` ignores them)."""
    import yaml

    lines = [f"# OpenPERouter {export.version.value} ({API_VERSIONS[export.version]})"]
    lines += [f"# WARNING: {w}" for w in export.warnings]
    lines += [f"# {note}" for note in export.notes]
    docs = [yaml.safe_dump(r, sort_keys=False, default_flow_style=False)
            for r in export.resources]
    return "\n".join(lines) + "\n" + "".join(f"---\n{doc}" for doc in docs)
