"""OpenPERouter's Underlay, L3VNI and L2VNI CRDs per version, as JSON Schema + CEL rules.

Written from the generated CRDs of openperouter/openperouter
(``config/crd/bases/``): tag v0.2.0 (``openpe.openperouter.github.io_*.yaml``,
2026-07-09) and main as of 2026-08-07 (commit 1d5dcdf,
``network.openperouter.io_*.yaml``).  Field names, types, bounds, enums,
patterns and ``required`` are the CRDs'; every object forbids unknown fields
(the API server prunes or, with strict field validation, rejects them), so a
name of the other version fails.  Sub-trees we never emit (isis, srv6,
routeReflector, cniDevice, ovsBridge, nodeSelector, addressFamilies) are kept
as bare objects: present in the CRD, not checked in depth.

``x-kubernetes-validations`` (CEL) rules that concern what we emit are
written as Python predicates in :data:`CEL`, each with the CRD's message;
:func:`validate` runs both.  Rules left out: ``self == oldSelf`` (immutability,
an update rule), and those on sub-trees above.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

import jsonschema

V0_2 = "v0.2"
MAIN = "main"
VERSIONS = (V0_2, MAIN)
API_VERSIONS = {V0_2: "openpe.openperouter.github.io/v1alpha1",
                MAIN: "network.openperouter.io/v1alpha1"}

U32 = {"type": "integer", "minimum": 1, "maximum": 4294967295}
VNI = {"type": "integer", "minimum": 1, "maximum": 16777215}
INT32 = {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1}
INT64 = {"type": "integer"}
STRING = {"type": "string"}
BOOL = {"type": "boolean"}
OBJECT = {"type": "object"}
IFNAME = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9._-]*$", "minLength": 1,
          "maxLength": 15}
VRF_NAME = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9_-]*$", "minLength": 1,
            "maxLength": 15}
BRIDGE_NAME = {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9_-]*$", "maxLength": 15}
RT_LIST = {"type": "array", "items": {"type": "string", "maxLength": 21}, "maxItems": 100}


def obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def bfd(version: str) -> dict[str, Any]:
    interval = {"type": "integer", "minimum": 10, "maximum": 60000}
    props: dict[str, Any] = {
        "receiveInterval": interval, "transmitInterval": interval,
        "detectMultiplier": {"type": "integer", "minimum": 2, "maximum": 255},
        "minimumTTL": {"type": "integer", "minimum": 1, "maximum": 254},
    }
    if version == V0_2:
        props.update(echoInterval=interval, echoMode=BOOL, passiveMode=BOOL)
    else:
        props.update(sessionMode=enum("Active", "Passive"))
    return obj(props)


def neighbor(version: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "asn": U32,
        "address": {"type": "string", "minLength": 1, "maxLength": 39},
        "interface": {"type": "string", "minLength": 1, "maxLength": 15},
        "port": {"type": "integer", "minimum": 0, "maximum": 16384},
        "password": STRING,
        "passwordSecret": STRING,          # a plain string in both versions
        "holdTimeSeconds": INT64,
        "keepaliveTimeSeconds": INT64,
        "connectTimeSeconds": {"type": "integer", "minimum": 1, "maximum": 65535},
        "bfd": bfd(version),
        "addressFamilies": {"type": "array", "maxItems": 4, "items": OBJECT},
    }
    if version == V0_2:
        props["type"] = enum("external", "internal")
        props["ebgpMultiHop"] = BOOL
    else:
        props["type"] = enum("External", "Internal")
        props["listenRange"] = {"type": "string", "minLength": 1, "maxLength": 43}
        props["properties"] = {"type": "array", "maxItems": 1, "items": obj({
            "type": enum("ebgpMultiHop"),
            "ebgpMultiHop": obj({"ttl": {"type": "integer", "minimum": 1, "maximum": 255}}),
        }, ("type",))}
    return obj(props)


def underlay_spec(version: str) -> dict[str, Any]:
    grace = {"type": "integer", "minimum": 1, "maximum": 4095}
    interface_types = ("NetworkDevice",) if version == V0_2 else ("NetworkDevice", "CNIDevice")
    interface: dict[str, Any] = {"type": enum(*interface_types),
                                 "networkDevice": obj({"interfaceName": IFNAME},
                                                      ("interfaceName",))}
    props: dict[str, Any] = {
        "nodeSelector": OBJECT,
        "asn": U32,
        "neighbors": {"type": "array", "items": neighbor(version), "minItems": 1,
                      "maxItems": 128},
        "tunnelEndpoint": obj({"cidrs": {"type": "array", "items": STRING, "minItems": 1,
                                         "maxItems": 2}}, ("cidrs",)),
        "gracefulRestart": obj({"restartTimeSeconds": grace, "stalePathTimeSeconds": grace}),
        "isis": OBJECT,
        "srv6": OBJECT,
    }
    if version == V0_2:
        props["routeridcidr"] = STRING
    else:
        props["routerIDCIDR"] = STRING
        props["routeReflector"] = OBJECT
        interface["cniDevice"] = OBJECT
    props["interfaces"] = {"type": "array", "minItems": 1,
                           "items": obj(interface, ("type",))}
    return obj(props, ("asn", "interfaces", "neighbors"))


def l3vni_spec(version: str) -> dict[str, Any]:
    local = obj({"ipv4": STRING, "ipv6": STRING})
    if version == V0_2:
        session = obj({"asn": U32, "hostasn": U32, "hosttype": enum("external", "internal"),
                       "localcidr": local}, ("asn", "localcidr"))
        names = {"hostsession": session, "vxlanport": INT32,
                 "underlayAddressFamily": enum("ipv4", "ipv6")}
    else:
        session = obj({"asn": U32, "hostASN": U32, "hostType": enum("External", "Internal"),
                       "localCIDR": local}, ("asn", "localCIDR"))
        names = {"hostSession": session, "vxlanPort": INT32,
                 "underlayAddressFamily": enum("IPv4", "IPv6")}
    return obj({"nodeSelector": OBJECT, "vrf": VRF_NAME, "vni": VNI, "exportRTs": RT_LIST,
                "importRTs": RT_LIST, **names}, ("vni", "vrf"))


def l2vni_spec(version: str) -> dict[str, Any]:
    gateways = {"type": "array", "items": STRING, "maxItems": 2}
    if version == V0_2:
        bridge = obj({"name": BRIDGE_NAME, "autoCreate": BOOL})
        return obj({
            "nodeSelector": OBJECT, "vni": VNI, "vrf": BRIDGE_NAME, "vxlanport": INT32,
            "underlayAddressFamily": enum("ipv4", "ipv6"),
            "hostmaster": obj({"type": enum("linux-bridge", "ovs-bridge"),
                               "linuxBridge": bridge, "ovsBridge": bridge}, ("type",)),
            "l2gatewayips": gateways,
        }, ("vni",))
    bridge = obj({"name": BRIDGE_NAME, "lifecycle": enum("Managed", "External")},
                 ("lifecycle",))
    reference = obj({"name": {"type": "string", "minLength": 1}}, ("name",))
    return obj({
        "nodeSelector": OBJECT, "vni": VNI, "vxlanPort": INT32,
        "underlayAddressFamily": enum("IPv4", "IPv6"),
        "routingDomain": obj({"type": enum("L3VNI", "L3VPN"), "l3vni": reference,
                              "l3vpn": reference}, ("type",)),
        "hostMaster": obj({"type": enum("LinuxBridge", "OVSBridge"),
                           "linuxBridge": bridge, "ovsBridge": bridge}, ("type",)),
        "gatewayIPs": gateways,
    }, ("vni",))


METADATA = obj({"name": {"type": "string",
                         "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*"
                                    r"[a-z0-9])?)*$", "maxLength": 253},
                "namespace": STRING}, ("name",))


def resource(version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return obj({"apiVersion": {"const": API_VERSIONS[version]}, "kind": {"const": kind},
                "metadata": METADATA, "spec": spec}, ("apiVersion", "kind", "metadata", "spec"))


SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    v: {"Underlay": resource(v, "Underlay", underlay_spec(v)),
        "L3VNI": resource(v, "L3VNI", l3vni_spec(v)),
        "L2VNI": resource(v, "L2VNI", l2vni_spec(v))} for v in VERSIONS}


# ------------------------------------------------------------------ CEL rules
Rule = tuple[str, Callable[[dict[str, Any]], bool]]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _family_count(cidrs: list[str], family: int) -> int:
    return sum(1 for c in cidrs if _is_cidr(c) and ipaddress.ip_network(c, strict=False)
               .version == family)


def _neighbor_rules(n: dict[str, Any]) -> list[tuple[str, bool]]:
    has = n.__contains__
    hold, keep = n.get("holdTimeSeconds"), n.get("keepaliveTimeSeconds")
    return [
        ("either ASN or Type must be set", has("asn") or has("type")),
        ("ASN and Type cannot be set together", not has("asn") or not has("type")),
        ("holdTimeSeconds and keepaliveTimeSeconds must be both set or both unset",
         has("holdTimeSeconds") == has("keepaliveTimeSeconds")),
        ("holdTimeSeconds must be 0 or >=3", hold is None or hold == 0 or hold >= 3),
        ("keepaliveTimeSeconds must be lower than or equal to holdTimeSeconds",
         hold is None or keep is None or keep <= hold),
        ("Either a valid Address or Interface name must be provided for Neighbor",
         has("address") or has("interface") or has("listenRange")),
        ("Address and Interface cannot be set together for Neighbor",
         not has("address") or not has("interface")),
        ("Address must be a valid IPv4 or IPv6 address",
         not has("address") or _is_ip(n["address"])),
    ]


def _underlay_rules(spec: dict[str, Any]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for n in spec.get("neighbors", []):
        out += _neighbor_rules(n)
    for i in spec.get("interfaces", []):
        out.append(("type/config mismatch: networkDevice must be set if and only if type is "
                    "'NetworkDevice'",
                    ("networkDevice" in i) == (i.get("type") == "NetworkDevice")))
    cidrs = spec.get("tunnelEndpoint", {}).get("cidrs", [])
    out += [("all entries must be valid CIDRs", all(_is_cidr(c) for c in cidrs)),
            ("at most one IPv4 CIDR is allowed", _family_count(cidrs, 4) <= 1),
            ("at most one IPv6 CIDR is allowed", _family_count(cidrs, 6) <= 1),
            ("SRv6 can only be configured if isis is set", "srv6" not in spec or "isis" in spec)]
    return out


def _l3vni_rules(version: str) -> Callable[[dict[str, Any]], list[tuple[str, bool]]]:
    session_key, host_asn, local_key, host_type = (
        ("hostsession", "hostasn", "localcidr", "hosttype") if version == V0_2
        else ("hostSession", "hostASN", "localCIDR", "hostType"))

    def rules(spec: dict[str, Any]) -> list[tuple[str, bool]]:
        session = spec.get(session_key)
        if session is None:
            return []
        local = session.get(local_key, {})
        return [
            ("hostASN must be different from asn",
             host_asn not in session or session[host_asn] != session["asn"]),
            ("either HostASN or HostType must be set", host_asn in session or host_type in session),
            ("HostASN and HostType cannot be set together",
             host_asn not in session or host_type not in session),
            ("at least one of ipv4 or ipv6 must be specified", "ipv4" in local or "ipv6" in local),
        ]
    return rules


def _l2vni_rules(version: str) -> Callable[[dict[str, Any]], list[tuple[str, bool]]]:
    def rules(spec: dict[str, Any]) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        if version == V0_2:
            master = spec.get("hostmaster")
            if master is not None:
                kind = master["type"]
                out.append(("type/config mismatch: 'linux-bridge' requires linuxBridge field, "
                            "'ovs-bridge' requires ovsBridge field",
                            (kind == "linux-bridge" and "linuxBridge" in master
                             and "ovsBridge" not in master)
                            or (kind == "ovs-bridge" and "ovsBridge" in master
                                and "linuxBridge" not in master)))
                for bridge in (master.get("linuxBridge"), master.get("ovsBridge")):
                    if bridge is not None:
                        out.append(("either name must be set or autoCreate must be true, but "
                                    "not both.", (bridge.get("name", "") != "")
                                    != bridge.get("autoCreate", False)))
            return out
        master = spec.get("hostMaster")
        if master is not None:
            kind = master["type"]
            out.append(("type/config mismatch: 'LinuxBridge' requires linuxBridge field, "
                        "'OVSBridge' requires ovsBridge field",
                        (kind == "LinuxBridge" and "linuxBridge" in master
                         and "ovsBridge" not in master)
                        or (kind == "OVSBridge" and "ovsBridge" in master
                            and "linuxBridge" not in master)))
            for bridge in (master.get("linuxBridge"), master.get("ovsBridge")):
                if bridge is not None:
                    out.append(("name must be set when lifecycle is External, and must not be "
                                "set when it is Managed.", (bridge.get("name", "") != "")
                                != (bridge.get("lifecycle", "") == "Managed")))
        domain = spec.get("routingDomain")
        if domain is not None:
            out += [("type L3VNI requires l3vni to be set and l3vpn to be unset",
                     domain["type"] != "L3VNI" or ("l3vni" in domain and "l3vpn" not in domain)),
                    ("type L3VPN requires l3vpn to be set and l3vni to be unset",
                     domain["type"] != "L3VPN" or ("l3vpn" in domain and "l3vni" not in domain))]
        out.append(("gatewayIPs cannot be set without routingDomain",
                    not spec.get("gatewayIPs") or "routingDomain" in spec))
        return out
    return rules


CEL: dict[str, dict[str, Callable[[dict[str, Any]], list[tuple[str, bool]]]]] = {
    v: {"Underlay": _underlay_rules, "L3VNI": _l3vni_rules(v), "L2VNI": _l2vni_rules(v)}
    for v in VERSIONS}


class CelError(ValueError):
    """A CEL rule of the CRD fails; the message is the CRD's."""


def validate(version: str, document: dict[str, Any]) -> None:
    """As the API server would at create: the structural schema, then the CEL rules."""
    jsonschema.validate(document, SCHEMAS[version][document["kind"]])
    failed = [message for message, ok in CEL[version][document["kind"]](document["spec"])
              if not ok]
    if failed:
        raise CelError("; ".join(failed))
