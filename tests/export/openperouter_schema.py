"""The OpenPERouter resources' field names and types, as JSON Schema.

Written by hand from openperouter/openperouter ``api/v1alpha1`` (API group
``network.openperouter.io``): ``underlay_types.go`` (UnderlaySpec with
``interfaces``/``tunnelEndpoint``), ``neighbor.go``, ``l3vni_types.go`` (with
``hostsession``), ``hostsession.go`` (``asn``/``hostasn``/``hosttype``/
``localcidr``), ``l2vni_types.go`` (``hostmaster`` with ``linuxBridge``).  Go
integers become ``integer`` with the kubebuilder bounds; ``+required`` fields are
required; every object forbids unknown fields, so a misspelt or outdated name
(``vtepcidr``, ``nics``, ``routeridcidr``) fails.
"""

from __future__ import annotations

from typing import Any

U32 = {"type": "integer", "minimum": 1, "maximum": 4294967295}
VNI = {"type": "integer", "minimum": 1, "maximum": 16777215}
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
IFNAME = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9._-]*$", "minLength": 1,
          "maxLength": 15}
VRF = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9_-]*$", "maxLength": 15}
STRING = {"type": "string"}
OBJECT = {"type": "object"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def array(items: dict[str, Any], **bounds: int) -> dict[str, Any]:
    return {"type": "array", "items": items, **bounds}


NEIGHBOR = obj({
    "asn": U32,
    "type": {"enum": ["external", "internal"]},
    "address": {"type": "string", "minLength": 1, "maxLength": 39},
    "interface": {"type": "string", "minLength": 1, "maxLength": 15},
    "port": {"type": "integer", "minimum": 0, "maximum": 16384},
    "passwordSecret": obj({"name": {"type": "string", "minLength": 1},
                           "key": {"type": "string", "minLength": 1}}, ("name",)),
    "holdTimeSeconds": {"type": "integer"},
    "keepaliveTimeSeconds": {"type": "integer"},
    "connectTimeSeconds": {"type": "integer", "minimum": 1, "maximum": 65535},
    "properties": array(obj({
        "type": {"enum": ["ebgpMultiHop"]},
        "ebgpMultiHop": obj({"ttl": {"type": "integer", "minimum": 1, "maximum": 255}}),
    }, ("type",)), maxItems=1),
    "bfd": obj({
        "receiveInterval": {"type": "integer", "minimum": 10, "maximum": 60000},
        "transmitInterval": {"type": "integer", "minimum": 10, "maximum": 60000},
        "detectMultiplier": {"type": "integer", "minimum": 2, "maximum": 255},
        "sessionMode": {"enum": ["Active", "Passive"]},
        "minimumTTL": {"type": "integer", "minimum": 1, "maximum": 254},
    }),
    "addressFamilies": array(obj({"type": {"enum": ["ipv4unicast", "ipv6unicast", "evpn",
                                                    "ipv4vpn", "ipv6vpn"]}}, ("type",))),
})

UNDERLAY_SPEC = obj({
    "nodeSelector": OBJECT,
    "asn": U32,
    "routerIDCIDR": STRING,
    "neighbors": array(NEIGHBOR, minItems=1, maxItems=128),
    "interfaces": array(obj({
        "type": {"enum": ["NetworkDevice", "CNIDevice"]},
        "networkDevice": obj({"interfaceName": IFNAME}, ("interfaceName",)),
        "cniDevice": OBJECT,
    }, ("type",)), minItems=1),
    "tunnelEndpoint": obj({"cidrs": array(STRING, minItems=1, maxItems=2)}, ("cidrs",)),
    "gracefulRestart": obj({"restartTimeSeconds": {"type": "integer"},
                            "stalePathTimeSeconds": {"type": "integer"}}),
    "isis": OBJECT,
    "srv6": OBJECT,
    "routeReflector": OBJECT,
}, ("asn", "neighbors", "interfaces"))

L3VNI_SPEC = obj({
    "nodeSelector": OBJECT,
    "vrf": VRF,
    "vni": VNI,
    "vxlanport": PORT,
    "underlayAddressFamily": {"enum": ["ipv4", "ipv6"]},
    "hostsession": obj({
        "asn": U32,
        "hostasn": U32,
        "hosttype": {"enum": ["external", "internal"]},
        "localcidr": obj({"ipv4": STRING, "ipv6": STRING}),
    }, ("asn", "localcidr")),
    "exportRTs": array({"type": "string", "maxLength": 21}, maxItems=100),
    "importRTs": array({"type": "string", "maxLength": 21}, maxItems=100),
}, ("vrf", "vni"))

BRIDGE = obj({"name": VRF, "autoCreate": {"type": "boolean"}})

L2VNI_SPEC = obj({
    "nodeSelector": OBJECT,
    "vrf": VRF,
    "vni": VNI,
    "vxlanport": PORT,
    "underlayAddressFamily": {"enum": ["ipv4", "ipv6"]},
    "hostmaster": obj({"type": {"enum": ["linux-bridge", "ovs-bridge"]},
                       "linuxBridge": BRIDGE, "ovsBridge": BRIDGE}, ("type",)),
    "l2gatewayips": array(STRING, maxItems=2),
}, ("vni",))

METADATA = obj({"name": {"type": "string",
                         "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*"
                                    r"[a-z0-9])?)*$", "maxLength": 253},
                "namespace": STRING}, ("name",))


def resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return obj({"apiVersion": {"const": "network.openperouter.io/v1alpha1"},
                "kind": {"const": kind}, "metadata": METADATA, "spec": spec},
               ("apiVersion", "kind", "metadata", "spec"))


SCHEMAS: dict[str, dict[str, Any]] = {
    "Underlay": resource("Underlay", UNDERLAY_SPEC),
    "L3VNI": resource("L3VNI", L3VNI_SPEC),
    "L2VNI": resource("L2VNI", L2VNI_SPEC),
}
