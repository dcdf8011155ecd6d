"""pyroute2 as the oracle of what the lean transport reads back from the kernel.

After ``evpn-boot apply`` of the L2 example (host bridge included) into
throwaway namespaces, every link of the router and host namespaces is read
twice: by evpn-boot's own observer (wire.py dumps, observe.py decoding) in this
process, and by pyroute2's ``IPRoute`` in a separate process started with
``ip netns exec`` (so pyroute2 shares no code path and no namespace switching
with evpn-boot, and this process never leaves its namespace).  Both views must
agree on name, kind, master, MTU, MAC, up, group, addresses, VXLAN settings,
bridge-port flags and veth peer index.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from typing import Any

import pytest

from evpn_boot.desired.model import LinkKind, Side, VxlanInfo
from evpn_boot.netlink import observe, wire
from tests.netns.test_dataplane import Lab, lab  # noqa: F401  (the fixture)

pytestmark = pytest.mark.root

#: Runs inside the namespace; prints every link as pyroute2 decodes it.
ORACLE = r"""
import json
from pyroute2 import IPRoute

with IPRoute() as ipr:
    links = ipr.get_links()
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in links}
    addrs = {}
    for a in ipr.get_addr():
        ip = a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")
        addrs.setdefault(a["index"], []).append(f"{ip}/{a['prefixlen']}")
    out = []
    for m in links:
        info = m.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        data = info.get_attr("IFLA_INFO_DATA") if info else None
        port = info.get_attr("IFLA_INFO_SLAVE_DATA") if info else None
        vxlan = None
        if kind == "vxlan":
            vxlan = {"vni": data.get_attr("IFLA_VXLAN_ID"),
                     "local": data.get_attr("IFLA_VXLAN_LOCAL"),
                     "port": data.get_attr("IFLA_VXLAN_PORT"),
                     "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING")),
                     "link": names.get(data.get_attr("IFLA_VXLAN_LINK") or 0, "")}
        brport = None
        if port is not None and m.get_attr("IFLA_MASTER"):
            brport = {"learning": bool(port.get_attr("IFLA_BRPORT_LEARNING")),
                      "neigh_suppress": bool(port.get_attr("IFLA_BRPORT_NEIGH_SUPPRESS"))}
        master = m.get_attr("IFLA_MASTER")
        out.append({
            "name": m.get_attr("IFLA_IFNAME"), "index": m["index"], "kind": kind or "",
            "master": names.get(master) if master else None, "mtu": m.get_attr("IFLA_MTU"),
            "mac": m.get_attr("IFLA_ADDRESS"), "up": bool(m["flags"] & 1),
            "group": m.get_attr("IFLA_GROUP"), "addresses": sorted(addrs.get(m["index"], [])),
            "vxlan": vxlan, "brport": brport,
            "link": m.get_attr("IFLA_LINK") if kind == "veth" else None,
        })
print(json.dumps(out))
"""


def pyroute2_view(netns: str) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", ORACLE],
                          check=True, capture_output=True, text=True, timeout=60)
    return {link["name"]: link for link in json.loads(proc.stdout)}


def evpn_boot_view(netns: str) -> dict[str, dict[str, Any]]:
    with wire.open_socket(netns) as sock:
        raws = observe.dump_links(sock)
        addresses = observe.dump_addresses(sock)
    # The side label is irrelevant here: every link of the namespace is compared.
    specs = observe.links_to_specs(raws, Side.ROUTER, addresses)
    out = {}
    for raw in raws:
        spec = specs[(Side.ROUTER, raw.name)].spec
        info = spec.info
        vxlan = None
        if isinstance(info, VxlanInfo):
            vxlan = {"vni": info.vni, "local": str(info.local), "port": info.port,
                     "learning": info.learning, "link": info.link}
        out[raw.name] = {
            "name": spec.name, "index": raw.index, "kind": raw.kind, "master": spec.master,
            "mtu": spec.mtu, "mac": spec.mac, "up": spec.up, "group": spec.group,
            "addresses": sorted(str(a) for a in spec.addresses or ()),
            "vxlan": vxlan,
            "brport": None if spec.brport is None else {
                "learning": spec.brport.learning,
                "neigh_suppress": spec.brport.neigh_suppress},
            "link": raw.link if spec.kind is LinkKind.VETH else None,
        }
    return out


def without_link_local(view: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # IPv6 link-local addresses come and go on their own (DAD); not ours to compare.
    fe80 = ipaddress.ip_network("fe80::/10")
    for link in view.values():
        link["addresses"] = [a for a in link["addresses"]
                             if ipaddress.ip_interface(a).ip not in fe80]
    return view


def test_observer_agrees_with_pyroute2_after_apply(lab: Lab) -> None:  # noqa: F811
    lab.cli("apply", "--skip-frr")
    for netns in (lab.router, lab.host):
        ours = without_link_local(evpn_boot_view(netns))
        oracle = without_link_local(pyroute2_view(netns))
        assert set(ours) == set(oracle), netns
        for name in oracle:
            assert ours[name] == oracle[name], f"{netns}/{name}"
    # The comparison covered every kind and attribute the L2 example sets.
    router = pyroute2_view(lab.router)
    assert {link["kind"] for link in router.values()} >= {"bridge", "vxlan", "veth"}
    assert router["vni110"]["brport"] == {"learning": False, "neigh_suppress": True}
    assert router["vni110"]["vxlan"]["port"] == 4789
    assert router["vni110"]["vxlan"]["link"] == "lo"   # OpenPERouter's VXLAN check
    assert router["br-pe-110"]["mac"] and router["eth1"]["group"] == 4242
    assert pyroute2_view(lab.host)["br-hs-110"]["group"] == 4243
