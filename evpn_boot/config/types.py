"""Reusable validated field types for the configuration model.

Values arrive from TOML, so types are strict: ``"64514"`` is not an ASN and
``"yes"`` is not a boolean.  Addresses are parsed into :mod:`ipaddress` objects
once, here, and serialised back to strings for ``show --json`` and the schema.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Callable, Union

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema

IFNAMSIZ = 16  # the kernel's limit, including the trailing NUL
VNI_MIN, VNI_MAX = 1, 2**24 - 1
ASN_MIN, ASN_MAX = 1, 2**32 - 1

_BAD_IFNAME_CHARS = re.compile(r"[/:\s]")


def check_ifname(value: str) -> str:
    """Validate a Linux interface name the way the kernel's dev_valid_name() does."""
    if not value:
        raise ValueError("interface name is empty")
    if len(value.encode()) >= IFNAMSIZ:
        raise ValueError(
            f"interface name {value!r} is {len(value.encode())} bytes; "
            f"the kernel allows at most {IFNAMSIZ - 1}"
        )
    if value in (".", "..") or _BAD_IFNAME_CHARS.search(value):
        raise ValueError(
            f"interface name {value!r} is not allowed (no '/', ':', whitespace, '.' or '..')"
        )
    return value


def _ifname(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an interface name (string), got {type(value).__name__}")
    return check_ifname(value)


def _parser(kind: str, parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected {kind} as a string, got {type(value).__name__}")
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not {kind}: {exc}") from None

    return validate


def _strict_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=True)


def _ipv4_network(value: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(value, strict=True)


_as_str = PlainSerializer(str, return_type=str)

IfName = Annotated[
    str,
    PlainValidator(_ifname),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": IFNAMSIZ - 1,
                    "pattern": r"^[^/:\s]+$"}),
]

IPAddress = Annotated[
    Union[ipaddress.IPv4Address, ipaddress.IPv6Address],
    PlainValidator(_parser("an IP address", ipaddress.ip_address)),
    _as_str,
    WithJsonSchema({"type": "string", "format": "ip-address"}),
]

IPNetwork = Annotated[
    Union[ipaddress.IPv4Network, ipaddress.IPv6Network],
    PlainValidator(_parser("a CIDR (network address/prefix, host bits zero)", _strict_network)),
    _as_str,
    WithJsonSchema({"type": "string", "format": "ip-network"}),
]

IPv4Network = Annotated[
    ipaddress.IPv4Network,
    PlainValidator(_parser("an IPv4 CIDR (host bits zero)", _ipv4_network)),
    _as_str,
    WithJsonSchema({"type": "string", "format": "ipv4-network"}),
]

IPInterface = Annotated[
    Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface],
    PlainValidator(_parser("an address with prefix length (e.g. 192.0.2.1/24)",
                           ipaddress.ip_interface)),
    _as_str,
    WithJsonSchema({"type": "string", "format": "ip-interface"}),
]

Vni = Annotated[int, Field(strict=True, ge=VNI_MIN, le=VNI_MAX)]
Asn = Annotated[int, Field(strict=True, ge=ASN_MIN, le=ASN_MAX)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]

_RT = re.compile(r"^(\d+(\.\d+){3}|\d+):\d+$")


def _route_target(value: Any) -> str:
    if not isinstance(value, str) or not _RT.match(value):
        raise ValueError(f"{value!r} is not a route target (ASN:NN or IPv4:NN)")
    return value


RouteTarget = Annotated[
    str,
    PlainValidator(_route_target),
    WithJsonSchema({"type": "string", "pattern": _RT.pattern}),
]
