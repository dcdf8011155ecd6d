"""The lab's pure parts: topology consistent with evpn-boot's own derivation, tcpdump parsing."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from evpn_boot.config.load import load_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import DesiredState, Side
from evpn_boot.lab import topology
from evpn_boot.lab.proof import parse_vxlan
from evpn_boot.lab.topology import LabParams, Variant, build
from evpn_boot.rules import names


def _desired(topo: topology.Topology, tmp_path: Path) -> DesiredState:
    path = tmp_path / "config.toml"
    path.write_text(topo.node_config)
    return derive(load_config(path).config, NodeFacts(hostname="lab"))


@pytest.mark.parametrize("variant", list(Variant))
def test_generated_config_is_valid_and_matches_the_fabric(variant: Variant,
                                                          tmp_path: Path) -> None:
    topo = build(LabParams(variant, vnis=3, prefix="t1-"))
    desired = _desired(topo, tmp_path)
    assert desired.runtime.netns == topo.router_netns == "t1-pe"
    assert desired.runtime.host_netns == topo.host_netns == "t1-host"
    assert str(desired.node.vtep.ip) == topology.node_vtep() == "100.65.0.1"
    assert desired.runtime.frr_container == "t1-frr"
    # The NIC evpn-boot moves is the one the fabric wires to the leaf.
    nic = next(link for link in topo.links if link.peer_name == desired.underlay)
    assert (nic.netns, nic.name) == ("t1-leaf", topology.LEAF_TO_NODE)
    assert desired.frr is not None
    assert [str(n.address) for n in desired.frr.neighbors] == [str(topology.LEAF_UNDERLAY.ip)]
    assert [n.asn for n in desired.frr.neighbors] == [topology.LEAF_ASN]
    if variant is Variant.L3:
        assert desired.l3_vnis == (100, 101, 102) and desired.l2_vnis == ()
        assert [v.name for v in desired.frr.vrfs] == ["red", "red101", "red102"]
        # The host speaker peers with exactly the router-side addresses evpn-boot derives.
        speaker = next(f for f in topo.frr if f.name == "speaker")
        for vrf in desired.frr.vrfs:
            assert vrf.host_asn == topology.SPEAKER_ASN
            assert f"neighbor {vrf.local_address} remote-as {topology.NODE_ASN}" \
                in speaker.config
        assert "network 10.244.0.0/24" in speaker.config
        assert topo.pod_attach is None
    else:
        assert desired.l2_vnis == (100, 101, 102) and desired.l3_vnis == ()
        assert [f.name for f in topo.frr] == ["leaf"]
        # The pod is attached to the host bridge evpn-boot creates for VNI 100.
        assert topo.pod_attach == (topology.POD_HOST_END, names.host_bridge_name(100))
        assert desired.link(Side.HOST, names.host_bridge_name(100))


def test_remote_host_and_pod_are_the_published_addresses() -> None:
    for variant in Variant:
        topo = build(LabParams(variant))
        by_ns = {(a.netns, a.ifname): a.cidr for a in topo.addresses}
        assert by_ns[("evlab-remote", "eth0")] == "192.168.10.1/24"
        assert by_ns[("evlab-pod", "eth0")] == "10.244.0.6/24"
        assert (topo.probe_netns, topo.probe_source, topo.probe_target) == \
            ("evlab-remote", "192.168.10.1", "10.244.0.6")
        # L2: one broadcast domain, so each side reaches the other's subnet on-link.
        onlink = {(r.netns, r.dst) for r in topo.routes if r.dev is not None}
        assert bool(onlink) is (variant is Variant.L2)
        assert all(ns.startswith("evlab-") for ns in topo.namespaces)


def test_leaf_has_one_vxlan_per_vni_and_vrfs_only_in_l3() -> None:
    l3 = build(LabParams(Variant.L3, vnis=2))
    l2 = build(LabParams(Variant.L2, vnis=2))
    for topo in (l2, l3):
        vx = [(link.name, link.vni, link.local) for link in topo.links if link.kind == "vxlan"]
        assert vx == [("vni100", 100, "100.64.0.1"), ("vni101", 101, "100.64.0.1")]
    assert [link.name for link in l3.links if link.kind == "vrf"] == ["red", "red101"]
    assert not [link for link in l2.links if link.kind == "vrf"]
    assert "vrf red\n vni 100" in l3.frr[0].config
    assert "vrf red" not in l2.frr[0].config


@pytest.mark.parametrize("params, problem", [
    (LabParams(Variant.L2, vnis=0), "--vnis"),
    (LabParams(Variant.L2, vnis=topology.MAX_VNIS + 1), "--vnis"),
    (LabParams(Variant.L2, prefix="a-very-long-prefix-"), "longer than 15"),
])
def test_impossible_parameters_are_refused(params: LabParams, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        build(params)


@pytest.mark.skipif(shutil.which("vtysh") is None, reason="vtysh (FRR) is not installed")
@pytest.mark.parametrize("variant", list(Variant))
def test_rendered_lab_frr_configs_pass_frr_parser(variant: Variant, tmp_path: Path) -> None:
    for inst in build(LabParams(variant, vnis=2)).frr:
        conf = tmp_path / f"{inst.name}.conf"
        conf.write_text(inst.config)
        done = subprocess.run(["vtysh", "--dryrun", "-f", str(conf)], capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == 0, f"{inst.name}: {done.stdout}{done.stderr}"


TCPDUMP = """\
21:38:33.624729 IP 100.64.0.1.55644 > 100.65.0.1.4789: VXLAN, flags [I] (0x08), vni 100
IP 192.168.10.1 > 10.244.0.6: ICMP echo request, id 3806, seq 1, length 64
21:38:33.624779 IP 100.65.0.1.55644 > 100.64.0.1.4789: VXLAN, flags [I] (0x08), vni 100
IP 10.244.0.6 > 192.168.10.1: ICMP echo reply, id 3806, seq 1, length 64
21:38:34.000001 IP 100.65.0.1.4789 > 100.64.0.1.4789: VXLAN, flags [I] (0x08), vni 7
ARP, Request who-has 10.244.0.6 tell 192.168.10.1, length 28
21:38:35.000000 IP 192.168.11.2.179 > 192.168.11.3.40000: Flags [P.], length 19: BGP
"""


def test_parse_vxlan_reads_outer_addresses_vni_and_inner_packet() -> None:
    packets = parse_vxlan(TCPDUMP)
    assert [(p.outer_src, p.outer_dst, p.vni) for p in packets] == [
        ("100.64.0.1", "100.65.0.1", 100), ("100.65.0.1", "100.64.0.1", 100),
        ("100.65.0.1", "100.64.0.1", 7)]
    assert packets[0].inner.startswith("192.168.10.1 > 10.244.0.6: ICMP echo request")
    assert packets[1].inner.startswith("10.244.0.6 > 192.168.10.1: ICMP echo reply")
    assert packets[2].inner == ""     # ARP is not an IP packet: no inner summary
    assert parse_vxlan("") == []
    assert parse_vxlan(TCPDUMP.splitlines()[-1]) == []


def test_local_cidrs_do_not_overlap() -> None:
    nets = [topology.local_cidr(i) for i in range(topology.MAX_VNIS)]
    assert len({n for n in nets}) == len(nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert all(n.subnet_of(ipaddress.IPv4Network("192.169.0.0/16")) for n in nets)
