"""Reusable validated field types for the configuration model.

Values arrive from TOML, so types are strict: ``"64514"`` is not an ASN and
``"yes"`` is not a boolean.  Addresses are parsed into :mod:`ipaddress` objects
once, here, and serialised back to strings for ``show --json`` and the schema.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from pathlib import Path, PurePath
from typing import Annotated, Any, Callable, Union

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema

IFNAMSIZ = 16  # the kernel's limit, including the trailing NUL
VNI_MIN, VNI_MAX = 1, 2**24 - 1
ASN_MIN, ASN_MAX = 1, 2**32 - 1

#: The kernel's dev_valid_name() refuses '/', ':' and whitespace; NUL would cut
#: the name short in C, and control characters have no place in names that end
#: up in FRR's configuration and in logs.  Unicode whitespace is refused too.
_BAD_NAME_CHARS = re.compile(r"[/:\s\x00-\x1f\x7f-\x9f]")


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short: a 5,000-character value makes no better message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _name_problem(value: str, what: str) -> str | None:
    if not value:
        return f"{what} is empty"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size >= IFNAMSIZ:
        return (f"{what} {_shown(value)} is {size} bytes; at most {IFNAMSIZ - 1} are allowed "
                "(the kernel's limit for interface names, kept for namespace names too)")
    if value in (".", "..") or _BAD_NAME_CHARS.search(value) or _has_surrogate(value):
        return (f"{what} {_shown(value)} is not allowed (no '/', ':', whitespace, control "
                f"characters, '.' or '..')")
    return None


def _has_surrogate(value: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def check_ifname(value: str) -> str:
    """Validate a Linux interface name the way the kernel's dev_valid_name() does."""
    problem = _name_problem(value, "interface name")
    if problem:
        raise ValueError(problem)
    return value


def check_netns_name(value: str) -> str:
    """A network namespace name: ``ip netns``'s rules (a file name under
    /run/netns), held to the interface-name rules like the router namespace,
    and without ',' (it becomes part of podman's ``--network ns:PATH``)."""
    problem = _name_problem(value, "namespace name")
    if problem:
        raise ValueError(problem)
    if "," in value:
        raise ValueError(f"namespace name {_shown(value)} is not allowed (no ',')")
    return value


def _ifname(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an interface name (string), got {type(value).__name__}")
    return check_ifname(value)


def _netns_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a namespace name (string), got {type(value).__name__}")
    return check_netns_name(value)


def _host_netns_name(value: Any) -> str:
    if value == "":
        return ""
    return _netns_name(value)


def _parser(kind: str, parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected {kind} as a string, got {type(value).__name__}")
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"{_shown(value)} is not {kind}: {exc}") from None

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
                    "pattern": r"^[^/:\s\x00-\x1f\x7f]+$"}),
]

NetnsName = Annotated[
    str,
    PlainValidator(_netns_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": IFNAMSIZ - 1,
                    "pattern": r"^[^/:,\s\x00-\x1f\x7f]+$"}),
]

#: ``""`` (the machine's own namespace) or a namespace name.
HostNetnsName = Annotated[
    str,
    PlainValidator(_host_netns_name),
    WithJsonSchema({"type": "string", "maxLength": IFNAMSIZ - 1,
                    "pattern": r"^[^/:,\s\x00-\x1f\x7f]*$"}),
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


def route_target_problem(value: str) -> str | None:
    """Ranges of RFC 4360's three forms: ASN2:NN4, ASN4:NN2, IPv4:NN2."""
    admin, _, number = value.rpartition(":")
    nn = int(number)
    if "." in admin:
        octets = [int(o) for o in admin.split(".")]
        if any(o > 255 for o in octets):
            return f"{admin} is not an IPv4 address"
        return f"the number after an IPv4 address is at most 65535, not {nn}" \
            if nn > 0xFFFF else None
    asn = int(admin)
    if asn == 0 or asn > ASN_MAX:
        return f"ASN {asn} is out of range ({ASN_MIN}..{ASN_MAX})"
    limit = 0xFFFFFFFF if asn <= 0xFFFF else 0xFFFF
    return f"the number after ASN {asn} is at most {limit}, not {nn}" if nn > limit else None


def _route_target(value: Any) -> str:
    if not isinstance(value, str) or not _RT.fullmatch(value) or not value.isascii():
        raise ValueError(f"{_shown(value)} is not a route target (ASN:NN or IPv4:NN)")
    problem = route_target_problem(value)
    if problem:
        raise ValueError(f"route target {_shown(value)}: {problem}")
    return value


RouteTarget = Annotated[
    str,
    PlainValidator(_route_target),
    WithJsonSchema({"type": "string", "pattern": _RT.pattern}),
]

# --- image references (the grammar of distribution/reference, written out here)
_IMG_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMG_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IMG_DOMAIN = rf"{_IMG_DOMAIN_PART}(?:\.{_IMG_DOMAIN_PART})*(?::[0-9]+)?"
_IMAGE = re.compile(
    rf"(?:{_IMG_DOMAIN}/)?{_IMG_COMPONENT}(?:/{_IMG_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
_IMAGE_MAX = 255


def _image(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an image reference (string), got {type(value).__name__}")
    if not value.isascii() or not _IMAGE.fullmatch(value) or len(value) > _IMAGE_MAX:
        raise ValueError(f"{_shown(value)} is not a container image reference "
                         "(e.g. quay.io/frrouting/frr:10.4.3 or localhost/frr@sha256:...)")
    return value


ImageRef = Annotated[
    str,
    PlainValidator(_image),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": _IMAGE_MAX}),
]

# --- host names (FRR's ``hostname``, the Node object's name)
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")


def _hostname(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a host name (string), got {type(value).__name__}")
    if not value.isascii() or len(value) > 253 or not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a host name (letters, digits, '-', '_' and "
                         "'.'-separated labels, at most 253 characters)")
    return value


HostName = Annotated[
    str,
    PlainValidator(_hostname),
    WithJsonSchema({"type": "string", "maxLength": 253, "pattern": f"^{_HOSTNAME.pattern}$"}),
]

# --- paths
#: Where no file of evpn-boot's may live: device nodes and kernel interfaces.
_FORBIDDEN_TREES = ("/dev", "/proc", "/sys")


def path_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable absolute path, or None."""
    normal = posixpath.normpath(text) if text else ""
    rules = (
        (not text, "is empty"),
        (bool(re.search(r"[\x00-\x1f\x7f]", text)),
         f"{_shown(text)} holds a NUL or control character"),
        (not text.startswith("/"), f"{_shown(text)} is not an absolute path"),
        (text.startswith("//") or normal != text,
         f"{_shown(text)} is not normalised (write {_shown(normal)})"),
        (text == "/", "'/' is not allowed"),
    )
    for broken, message in rules:
        if broken:
            return message
    for tree in _FORBIDDEN_TREES:
        if text == tree or text.startswith(tree + "/"):
            return f"{_shown(text)} is under {tree}"
    return None


def _abs_path(value: Any) -> Path:
    if isinstance(value, PurePath):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected an absolute path (string), got {type(value).__name__}")
    problem = path_problem(value)
    if problem:
        raise ValueError(problem)
    return Path(value)


AbsPath = Annotated[
    Path,
    PlainValidator(_abs_path),
    _as_str,
    WithJsonSchema({"type": "string", "format": "path", "pattern": "^/"}),
]


SECONDS_MAX = 86400


def _seconds(value: Any) -> float:
    # TOML's true is not 1 second: bool is an int in Python, so refuse it first.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number of seconds, got {type(value).__name__} "
                         f"{_shown(value)}")
    if not 0 < value <= SECONDS_MAX:
        raise ValueError(f"{_shown(value)} is out of range: must be greater than 0 and at most "
                         f"{SECONDS_MAX}")
    return float(value)


#: A duration: a TOML integer or float, more than 0 and at most a day.
Seconds = Annotated[
    float,
    PlainValidator(_seconds),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": SECONDS_MAX}),
]
