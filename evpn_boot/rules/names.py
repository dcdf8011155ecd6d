"""Kernel object names, in both directions (name <-> VNI).

The names are OpenPERouter's, so its controller can adopt the state we leave.
Every name fits the kernel's 15-byte limit for any VNI up to 2**24-1.
"""

from __future__ import annotations

import re
from typing import Optional

BRIDGE_PREFIX = "br-pe-"
VXLAN_PREFIX = "vni"
HOST_VETH_PREFIX = "host-e-"
ROUTER_VETH_PREFIX = "pe-e-"
HOST_BRIDGE_PREFIX = "br-hs-"
#: Names of L2 VNI veths in evpn-boot 0.1 (OpenPERouter names L2 and L3 veths alike):
#: still recognised so that an upgraded node's leftovers are ours to remove.
LEGACY_L2_VETH_PREFIXES = ("host-l-", "pe-l-")


def bridge_name(vni: int) -> str:
    return f"{BRIDGE_PREFIX}{vni}"


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def host_veth_name(vni: int) -> str:
    """Host end of an L3 VNI's veth leg."""
    return f"{HOST_VETH_PREFIX}{vni}"


def router_veth_name(vni: int) -> str:
    """Router end of an L3 VNI's veth leg (enslaved to the VRF)."""
    return f"{ROUTER_VETH_PREFIX}{vni}"


def host_bridge_name(vni: int) -> str:
    return f"{HOST_BRIDGE_PREFIX}{vni}"


def host_l2_veth_name(vni: int) -> str:
    """Host end of the veth wiring an L2 VNI to its host bridge: OpenPERouter names
    it like an L3 VNI's (``vethNamesFromVNI``); VNIs are unique, so names are too."""
    return host_veth_name(vni)


def router_l2_veth_name(vni: int) -> str:
    return router_veth_name(vni)


_PREFIXES = (BRIDGE_PREFIX, VXLAN_PREFIX, HOST_VETH_PREFIX, ROUTER_VETH_PREFIX,
             HOST_BRIDGE_PREFIX, *LEGACY_L2_VETH_PREFIXES)
_VNI_NAME = re.compile(
    "^(?P<prefix>" + "|".join(map(re.escape, _PREFIXES)) + ")(?P<vni>[1-9][0-9]{0,7})$")


def vni_from_name(name: str) -> Optional[int]:
    """The VNI encoded in one of our names, or None for a name we did not make."""
    match = _VNI_NAME.match(name)
    return int(match.group("vni")) if match else None
