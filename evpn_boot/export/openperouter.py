"""Config -> the equivalent OpenPERouter resources (pure).

The cluster admin hands these to the in-cluster reconciler so that, after the
handoff, it keeps the node on the same intent evpn-boot booted it with.  The
target is the ``network.openperouter.io/v1alpha1`` API as found in
openperouter/openperouter ``api/v1alpha1/{underlay,neighbor,l3vni,hostsession,
l2vni}_types.go``; docs/handoff.md records the field-by-field mapping and
tests/export/ checks the output against those field names and types.

What has no OpenPERouter equivalent (table ids, router MAC, readiness, raw FRR
text) or needs the admin's hand (BGP passwords become Secret references) is
reported as notes, printed as YAML comments above the documents.  Passwords
themselves are never read here.
"""

from __future__ import annotations

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
from evpn_boot.config.underlay import uplinks

API_VERSION = "network.openperouter.io/v1alpha1"
DEFAULT_NAMESPACE = "openperouter-system"
DEFAULT_VXLAN_PORT = 4789   # the CRDs' default: omitted when equal
PASSWORD_SECRET_KEY = "password"


@dataclass
class Export:
    """The resources, in apply order, and what the admin must know about them."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export_openperouter(config: Config, namespace: str = DEFAULT_NAMESPACE) -> Export:
    out = Export()
    out.resources.append(_resource("Underlay", "underlay", namespace,
                                   _underlay(config.underlay, out.notes)))
    for l3 in config.l3vni:
        out.resources.append(_resource("L3VNI", _k8s_name(l3.vrf, out.notes), namespace,
                                       _l3vni(l3, config.underlay, out.notes)))
    for l2 in config.l2vni:
        out.resources.append(_resource("L2VNI", f"l2vni-{l2.vni}", namespace,
                                       _l2vni(l2, config.underlay)))
    out.notes.append("the node index is not part of these resources: evpn-boot publishes it "
                     "as the Node annotation openpe.io/nodeindex (when absent)")
    if config.node.router_mac:
        out.notes.append("node.router_mac has no OpenPERouter field; it is not exported")
    if config.frr.raw_config:
        out.notes.append("frr.raw_config is not exported (see OpenPERouter's RawFRRConfig)")
    return out


def _resource(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _underlay(underlay: UnderlayConfig, notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "asn": underlay.asn,
        "routerIDCIDR": str(underlay.router_id_cidr),
        "neighbors": [_neighbor(i, n, notes) for i, n in enumerate(underlay.neighbors)],
        "interfaces": [{"type": "NetworkDevice",
                        "networkDevice": {"interfaceName": _underlay_device(underlay, notes)}}],
        "tunnelEndpoint": {"cidrs": [str(underlay.vtep_cidr)]},
    }
    if underlay.mtu is not None:
        notes.append(f"underlay.mtu {underlay.mtu} has no OpenPERouter field; set it on the "
                     "host device")
    return spec


def _underlay_device(underlay: UnderlayConfig, notes: list[str]) -> str:
    all_uplinks = uplinks(underlay)
    if len(all_uplinks) > 1:
        notes.append(f"underlay: {len(all_uplinks)} uplinks; only the first "
                     f"({all_uplinks[0].name!r}) is exported as the Underlay's interface")
    uplink = all_uplinks[0]
    sub = uplink.sub
    if sub is None:
        return uplink.name
    kind = (f"VLAN {sub.id} on {sub.parent}" if isinstance(sub, VlanUnderlay)
            else f"macvlan on {sub.parent}")
    name = uplink.name
    notes.append(f"underlay: OpenPERouter moves an existing host device; evpn-boot creates "
                 f"{name!r} ({kind}) itself, so the host must provide it (e.g. NMState) "
                 "before the reconciler takes over")
    if sub.address_cidr is not None:
        notes.append(f"underlay: the per-node address from {sub.address_cidr} must be on "
                     f"{name!r} already; OpenPERouter keeps a moved device's addresses")
    return name


def _neighbor(index: int, neighbor: Neighbor, notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"asn": neighbor.asn, "address": neighbor.peer}
    if neighbor.interface is not None:
        notes.append(f"underlay.neighbors[{index}]: unnumbered (interface "
                     f"{neighbor.interface!r}); exported with the interface as its address")
    if neighbor.port is not None:
        spec["port"] = neighbor.port
    if neighbor.hold_time is not None and neighbor.keepalive_time is not None:
        # the config requires both or neither, as the Neighbor CRD does
        spec["holdTimeSeconds"] = neighbor.hold_time
        spec["keepaliveTimeSeconds"] = neighbor.keepalive_time
    if neighbor.ebgp_multihop is not None:
        spec["properties"] = [{"type": "ebgpMultiHop",
                               "ebgpMultiHop": {"ttl": neighbor.ebgp_multihop}}]
    if neighbor.bfd:
        spec["bfd"] = {}
    if neighbor.password_file is not None:
        secret = "bgp-" + re.sub(r"[^a-z0-9]+", "-", neighbor.peer.lower()).strip("-")
        spec["passwordSecret"] = {"name": secret, "key": PASSWORD_SECRET_KEY}
        notes.append(f"underlay.neighbors[{index}]: create Secret {secret!r} with key "
                     f"{PASSWORD_SECRET_KEY!r} from {neighbor.password_file} "
                     "(the password is not exported)")
    return spec


def _l3vni(l3: L3VniConfig, underlay: UnderlayConfig, notes: list[str]) -> dict[str, Any]:
    local: dict[str, str] = {"ipv4": str(l3.local_cidr)}
    if l3.local_cidr_v6 is not None:
        local["ipv6"] = str(l3.local_cidr_v6)
    spec: dict[str, Any] = {"vrf": l3.vrf, "vni": l3.vni}
    if underlay.vxlan_port != DEFAULT_VXLAN_PORT:
        spec["vxlanport"] = underlay.vxlan_port
    spec["hostsession"] = {"asn": underlay.asn, "hostasn": l3.host_asn, "localcidr": local}
    if l3.export_rts:
        spec["exportRTs"] = list(l3.export_rts)
    if l3.import_rts:
        spec["importRTs"] = list(l3.import_rts)
    if l3.table is not None:
        notes.append(f"l3vni {l3.vni}: table {l3.table} has no OpenPERouter field; the "
                     "reconciler chooses its own")
    return spec


def _l2vni(l2: L2VniConfig, underlay: UnderlayConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"vni": l2.vni}
    if l2.vrf is not None:
        spec["vrf"] = l2.vrf
    if underlay.vxlan_port != DEFAULT_VXLAN_PORT:
        spec["vxlanport"] = underlay.vxlan_port
    if l2.host_bridge is True:
        spec["hostmaster"] = {"type": "linux-bridge", "linuxBridge": {"autoCreate": True}}
    elif isinstance(l2.host_bridge, str):
        spec["hostmaster"] = {"type": "linux-bridge", "linuxBridge": {"name": l2.host_bridge}}
    if l2.gateway_ips:
        spec["l2gatewayips"] = [str(ip) for ip in l2.gateway_ips]
    return spec


def _k8s_name(name: str, notes: list[str]) -> str:
    """An object name (DNS-1123 subdomain) for a VRF name, which may not be one."""
    candidate = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or "vrf"
    if candidate != name:
        notes.append(f"L3VNI for VRF {name!r} is named {candidate!r} (Kubernetes names are "
                     "lower-case DNS labels); spec.vrf keeps the VRF name")
    return candidate


def to_yaml(export: Export) -> str:
    """Multi-document YAML, notes first as comments (``kubectl apply -f`` ignores them)."""
    import yaml

    lines = [f"# {note}" for note in export.notes]
    head = "\n".join(lines) + "\n" if lines else ""
    docs = [yaml.safe_dump(r, sort_keys=False, default_flow_style=False)
            for r in export.resources]
    return head + "".join(f"---\n{doc}" for doc in docs)
