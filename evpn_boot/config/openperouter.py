"""What OpenPERouter's CRDs and validation reject, refused before anything runs (pure).

With the handoff enabled (``[handoff] enabled``, the default) the node's intent
ends up as OpenPERouter resources (``evpn-boot export openperouter``).  A value
its CRDs (``config/crd/bases/``, v0.2.0 and main alike) or its controller's
checks (``internal/conversion/validate_*.go``) reject would let evpn-boot boot a
node that can never be handed over: the admin learns it at ``kubectl apply``,
or the controller drops the resource.  So these rules apply whenever the
handoff is enabled; with it disabled evpn-boot stays the owner and only its own
rules hold.  docs/openperouter.md lists them.
"""

from __future__ import annotations

import re

from evpn_boot.config.locate import KeyPath
from evpn_boot.config.model import Config
from evpn_boot.config.underlay import uplinks

Problem = tuple[KeyPath, str]

#: Neighbor.port's maximum in both versions' CRD.
MAX_NEIGHBOR_PORT = 16384
#: Underlay.neighbors' maxItems.
MAX_NEIGHBORS = 128
#: L3VNI.exportRTs / importRTs maxItems.
MAX_ROUTE_TARGETS = 100
#: L3VNI.vrf and the L2VNI host bridge name: no '.', a letter first.
CRD_VRF_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$")
#: networkDevice.interfaceName (the underlay device).
CRD_DEVICE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9._-]*$")

_WHY = "OpenPERouter rejects it ([handoff] enabled; docs/openperouter.md)"


def openperouter_rules(config: Config) -> list[Problem]:
    if not config.handoff.enabled:
        return []
    return _underlay(config) + _l3vnis(config) + _l2vnis(config)


def _underlay(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    underlay = config.underlay
    if len(underlay.neighbors) > MAX_NEIGHBORS:
        problems.append((("underlay", "neighbors"),
                         f"{len(underlay.neighbors)} neighbors; an Underlay holds at most "
                         f"{MAX_NEIGHBORS}: {_WHY}"))
    for i, n in enumerate(underlay.neighbors):
        if n.port is not None and n.port > MAX_NEIGHBOR_PORT:
            problems.append((("underlay", "neighbors", i, "port"),
                             f"port {n.port} is above {MAX_NEIGHBOR_PORT}, the Neighbor CRD's "
                             f"maximum: {_WHY}"))
    for uplink in uplinks(underlay):
        if not CRD_DEVICE_NAME.fullmatch(uplink.name):
            problems.append((("underlay",),
                             f"underlay device name {uplink.name!r} does not match "
                             f"{CRD_DEVICE_NAME.pattern} (networkDevice.interfaceName): {_WHY}"))
    return problems


def _l3vnis(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    for i, l3 in enumerate(config.l3vni):
        if not CRD_VRF_NAME.fullmatch(l3.vrf):
            problems.append((("l3vni", i, "vrf"),
                             f"VRF name {l3.vrf!r} does not match {CRD_VRF_NAME.pattern} (a "
                             f"letter first; letters, digits, '_' and '-' only, no '.'): "
                             f"{_WHY}"))
        if l3.host_asn == config.underlay.asn:
            problems.append((("l3vni", i, "host_asn"),
                             f"host_asn {l3.host_asn} equals underlay.asn: the L3VNI CRD "
                             f"requires hostASN to differ from asn (an eBGP host session): "
                             f"{_WHY}"))
        for key, rts in (("import_rts", l3.import_rts), ("export_rts", l3.export_rts)):
            if len(rts) > MAX_ROUTE_TARGETS:
                problems.append((("l3vni", i, key),
                                 f"{len(rts)} route targets; at most {MAX_ROUTE_TARGETS}: "
                                 f"{_WHY}"))
    return problems


def _l2vnis(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    for i, l2 in enumerate(config.l2vni):
        if isinstance(l2.host_bridge, str) and not CRD_VRF_NAME.fullmatch(l2.host_bridge):
            problems.append((("l2vni", i, "host_bridge"),
                             f"host bridge name {l2.host_bridge!r} does not match "
                             f"{CRD_VRF_NAME.pattern} (linuxBridge.name): {_WHY}"))
        families = [gw.version for gw in l2.gateway_ips]
        if len(families) > 2 or len(set(families)) != len(families):
            problems.append((("l2vni", i, "gateway_ips"),
                             "at most one IPv4 and one IPv6 gateway address (the L2VNI's "
                             f"gateway list holds at most 2, of different families): {_WHY}"))
    return problems
