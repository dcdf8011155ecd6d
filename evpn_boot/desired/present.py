"""Human and JSON views of a DesiredState (for ``show``)."""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from pathlib import Path
from typing import Any

from evpn_boot.desired.model import DesiredState, LinkSpec


def _plain(value: Any) -> Any:
    """Dataclasses, enums, addresses and paths -> JSON-compatible values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address,
                          ipaddress.IPv4Interface, ipaddress.IPv6Interface,
                          ipaddress.IPv4Network, ipaddress.IPv6Network, Path)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def desired_to_dict(desired: DesiredState) -> dict[str, Any]:
    plain = _plain(desired)
    assert isinstance(plain, dict)
    for link in plain["links"]:
        link["info"] = {"kind": link["kind"], **link["info"]}
    return plain


def _link_line(link: LinkSpec) -> str:
    parts = [f"{link.side.value:6} {link.name:15} {link.kind.value:8}"]
    info = _plain(link.info)
    parts += [f"{k}={v}" for k, v in info.items()]
    for attr in ("master", "mtu", "mac", "group"):
        value = getattr(link, attr)
        if value is not None:
            parts.append(f"{attr}={value}")
    if link.addresses:
        parts.append("addresses=" + ",".join(str(a) for a in link.addresses))
    if link.brport is not None:
        parts.append(f"learning={'on' if link.brport.learning else 'off'} "
                     f"neigh_suppress={'on' if link.brport.neigh_suppress else 'off'}")
    return "  " + " ".join(parts)


def desired_to_text(desired: DesiredState) -> str:
    node, rt = desired.node, desired.runtime
    lines = [
        f"node {node.name} (index {node.index})",
        f"  vtep        {node.vtep}",
        f"  router id   {node.router_id}",
        f"  router mac  {node.router_mac}",
        f"  netns       {rt.netns} (host: {rt.host_netns or 'the machine namespace'})",
        f"  underlay    {', '.join(desired.uplinks) or desired.underlay}",
        f"  L3 VNIs     {', '.join(map(str, desired.l3_vnis)) or '-'}",
        f"  L2 VNIs     {', '.join(map(str, desired.l2_vnis)) or '-'}",
        "links:",
        *(_link_line(link) for link in desired.links),
    ]
    if desired.routes:
        lines.append("routes:")
        lines += [f"  {r.side.value:6} table {r.table} {r.type.value} {r.dst} metric {r.metric}"
                  for r in desired.routes]
    if desired.frr is not None:
        lines.append("bgp:")
        lines.append(f"  asn {desired.frr.asn}")
        lines += [f"  neighbor {n.peer} remote-as {n.asn}" + (" bfd" if n.bfd else "")
                  + (" password-file" if n.password_file else "")
                  for n in desired.frr.neighbors]
        lines += [f"  vrf {v.name} vni {v.vni}: host session {v.host_neighbor} "
                  f"remote-as {v.host_asn}" for v in desired.frr.vrfs]
    return "\n".join(lines)
