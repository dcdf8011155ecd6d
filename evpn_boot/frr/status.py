"""FRR's view of the node, read from FRR itself: BGP sessions and EVPN VNIs.

The parsers are pure (FRR's JSON in, plain dicts out) so they are unit tested on
captured output; :func:`frr_status` runs the ``vtysh`` queries inside the
container through the runtime package.  Nothing here returns a password.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.runtime.podman import Podman

#: Seconds one vtysh query may take.
VTYSH_TIMEOUT_S = 20

#: FRR's summary JSON key per address family -> the name shown by evpn-boot.
_AFI_NAMES = {"ipv4Unicast": "ipv4-unicast", "ipv6Unicast": "ipv6-unicast",
              "l2VpnEvpn": "l2vpn-evpn"}


def parse_bgp_summary(data: Any) -> list[dict[str, Any]]:
    """``show bgp vrf all summary json`` -> one entry per (vrf, neighbor).

    A neighbor active in several families appears once, with prefixes per family.
    """
    sessions: dict[tuple[str, str], dict[str, Any]] = {}
    if not isinstance(data, dict):
        return []
    for vrf, families in data.items():
        if not isinstance(families, dict):
            continue
        for afi_key, afi in families.items():
            if not isinstance(afi, dict) or "peers" not in afi:
                continue
            for address, peer in afi["peers"].items():
                entry = sessions.setdefault((vrf, address), {
                    "vrf": vrf,
                    "neighbor": address,
                    "remote_as": peer.get("remoteAs"),
                    "state": peer.get("state", "unknown"),
                    "established": peer.get("state") == "Established",
                    "uptime": peer.get("peerUptime", ""),
                    "uptime_ms": peer.get("peerUptimeMsec", 0),
                    "established_count": peer.get("connectionsEstablished", 0),
                    "dropped_count": peer.get("connectionsDropped", 0),
                    "prefixes_received": {},
                    "prefixes_sent": {},
                })
                name = _AFI_NAMES.get(afi_key, afi_key)
                entry["prefixes_received"][name] = peer.get("pfxRcd", 0)
                entry["prefixes_sent"][name] = peer.get("pfxSnt", 0)
    return sorted(sessions.values(), key=lambda s: (s["vrf"] != "default", s["vrf"],
                                                     s["neighbor"]))


def parse_evpn_vnis(data: Any) -> list[dict[str, Any]]:
    """``show evpn vni detail json`` -> one entry per VNI (FRR gives a list or a map)."""
    items: list[Any]
    if isinstance(data, dict):
        items = list(data.values())
    elif isinstance(data, list):
        items = data
    else:
        return []
    vnis = []
    for vni in items:
        if not isinstance(vni, dict) or "vni" not in vni:
            continue
        # FRR 8.4 lists the remote VTEPs under "numRemoteVteps"; 10.x has a count
        # there and dicts under "remoteVteps".
        remote = vni.get("numRemoteVteps")
        vteps = vni.get("remoteVteps") or (remote if isinstance(remote, list) else [])
        vteps = sorted(v.get("ip", "") if isinstance(v, dict) else str(v) for v in vteps)
        vnis.append({
            "vni": vni["vni"],
            "type": vni.get("type", ""),
            "vrf": vni.get("tenantVrf") or vni.get("vrf") or "",
            "vxlan_if": vni.get("vxlanInterface") or vni.get("vxlanIntf") or "",
            "local_vtep": vni.get("vtepIp") or vni.get("localVtepIp") or "",
            "macs": vni.get("numMacs", 0),
            "arp_nd": vni.get("numArpNd", 0),
            "remote_vteps": vteps,
            "remote_vtep_count": remote if isinstance(remote, int) else len(vteps),
        })
    return sorted(vnis, key=lambda v: int(v["vni"]))


def parse_bfd_peers(data: Any) -> list[dict[str, Any]]:
    """``show bfd peers json`` -> peer, interface and status ("up", "down", ...) each."""
    if not isinstance(data, list):
        return []
    return [{"peer": str(p.get("peer", "")), "interface": str(p.get("interface", "")),
             "status": str(p.get("status", "unknown"))}
            for p in data if isinstance(p, dict)]


def uplink_status(uplinks: Sequence[str], links: Mapping[str, str],
                  sessions: Sequence[Mapping[str, Any]],
                  bfd_peers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per uplink: its link state, the underlay session on it (an unnumbered
    neighbor is named by its interface) and the BFD session on it, or "-"."""
    rows = []
    for name in uplinks:
        session = next((str(s["state"]) for s in sessions
                        if s.get("vrf") == "default" and s.get("neighbor") == name), "-")
        bfd = next((str(p["status"]) for p in bfd_peers if p.get("interface") == name), "-")
        rows.append({"name": name, "link": links.get(name, "absent"), "session": session,
                     "bfd": bfd})
    return rows


class VtyshError(EvpnBootError):
    """A vtysh query failed; ``detail`` is vtysh's own last words (or why the JSON is bad)."""

    def __init__(self, container: str, command: str, detail: str) -> None:
        super().__init__(f"vtysh -c '{command}' in container {container}: {detail}",
                         kind=ErrorKind.RUNTIME)
        self.detail = detail


def vtysh_json(podman: Podman, container: str, command: str) -> Any:
    """Run one ``... json`` vtysh command inside the container; its parsed output."""
    result = podman.exec(container, ["vtysh", "-c", command], timeout=VTYSH_TIMEOUT_S)
    if result.returncode != 0:
        raise VtyshError(container, command, (result.stderr or result.stdout).strip()[-300:]
                         or f"rc {result.returncode}")
    try:
        return json.loads(result.stdout or "null")
    except ValueError:
        raise VtyshError(container, command, f"{command}: unreadable JSON") from None


def underlay_sessions(podman: Podman, container: str) -> dict[str, str]:
    """Underlay (default VRF) neighbor -> BGP state: what readiness counts."""
    summary = vtysh_json(podman, container, "show bgp summary json")
    return {str(s["neighbor"]): str(s["state"])
            for s in parse_bgp_summary({"default": summary})}


def _reported(podman: Podman, container: str, command: str, label: str,
              errors: list[str]) -> Any:
    """``vtysh_json``, a failure added to ``errors`` instead of raised."""
    try:
        return vtysh_json(podman, container, command)
    except VtyshError as exc:
        errors.append(f"{label}: {exc.detail}")
        return None


def frr_status(podman: Podman, container: str) -> dict[str, Any]:
    """Container state, BGP sessions and EVPN VNIs; errors are reported, not raised."""
    state = podman.inspect(container)
    errors: list[str] = []
    doc: dict[str, Any] = {"container": state.to_dict(), "bgp": {"sessions": []},
                           "evpn": {"vnis": []}, "bfd": {"peers": []}, "errors": errors}
    if not state.running:
        return doc
    doc["bgp"]["sessions"] = parse_bgp_summary(_reported(
        podman, container, "show bgp vrf all summary json", "show bgp summary", errors))
    doc["evpn"]["vnis"] = parse_evpn_vnis(_reported(
        podman, container, "show evpn vni detail json", "show evpn vni", errors))
    doc["bfd"]["peers"] = parse_bfd_peers(_reported(
        podman, container, "show bfd peers json", "show bfd peers", errors))
    return doc
