"""Per-node derivation: addresses, names, MACs, tables (table-driven, pure)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evpn_boot.config.load import load_config, parse_config
from evpn_boot.desired.derive import DeriveError, NodeFacts, derive
from evpn_boot.desired.model import LinkKind, Side, VrfInfo, VxlanInfo
from evpn_boot.rules import names
from evpn_boot.rules.addressing import index_from_address, router_mac
from tests.unit.config_cases import VALID

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.toml"))
FACTS = NodeFacts(hostname="node-a")


@pytest.mark.parametrize(("index", "vtep", "router_id", "host_side"), [
    (0, "100.65.0.0/32", "10.0.0.1", "192.169.10.2/24"),
    (1, "100.65.0.1/32", "10.0.0.2", "192.169.10.3/24"),
    (17, "100.65.0.17/32", "10.0.0.18", "192.169.10.19/24"),
    (252, "100.65.0.252/32", "10.0.0.253", "192.169.10.254/24"),
])
def test_per_node_addresses(index: int, vtep: str, router_id: str, host_side: str) -> None:
    config = parse_config(VALID.replace("index = 1", f"index = {index}").encode())
    desired = derive(config, FACTS)
    assert str(desired.node.vtep) == vtep
    assert str(desired.node.router_id) == router_id
    assert desired.link(Side.HOST, "host-e-100").addresses == (ipaddress.ip_interface(host_side),)
    assert desired.link(Side.ROUTER, "pe-e-100").addresses == (
        ipaddress.ip_interface("192.169.10.1/24"),)
    assert desired.link(Side.ROUTER, "lo").addresses == (ipaddress.ip_interface(vtep),)


def test_index_that_overflows_a_cidr_is_a_derive_error() -> None:
    text = VALID.replace('index = 1', 'index_from_interface = "eth0"')
    config = parse_config(text.encode())
    with pytest.raises(DeriveError) as info:
        derive(config, NodeFacts(hostname="n", interface_index=253))
    assert any("l3vni[0]" in p for p in info.value.problems)
    with pytest.raises(DeriveError, match="no IPv4 address"):
        derive(config, NodeFacts(hostname="n"))


def test_l3vni_objects() -> None:
    desired = derive(parse_config(VALID.encode()), FACTS)
    vrf = desired.link(Side.ROUTER, "red")
    assert vrf.kind is LinkKind.VRF and vrf.info == VrfInfo(table=1100)
    bridge = desired.link(Side.ROUTER, "br-pe-100")
    assert (bridge.master, bridge.mac, bridge.addrgenmode_none) == ("red", desired.node.router_mac,
                                                                   True)
    vxlan = desired.link(Side.ROUTER, "vni100")
    assert vxlan.info == VxlanInfo(vni=100, local=ipaddress.ip_address("100.65.0.1"), port=4789)
    assert vxlan.master == "br-pe-100" and vxlan.mtu == 1450
    assert vxlan.brport is not None and not vxlan.brport.learning and vxlan.brport.neigh_suppress
    assert desired.link(Side.ROUTER, "pe-e-100").master == "red"
    tables = {r.table for r in desired.routes}
    assert tables == {1100, 1200}
    assert desired.needs_vrf


def test_mtu_follows_underlay() -> None:
    config = parse_config(VALID.encode())
    desired = derive(config, NodeFacts(hostname="n", underlay_mtu=9000))
    assert desired.link(Side.ROUTER, "vni110").mtu == 8950
    v6 = parse_config(VALID.replace('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "fd00:65::/64"')
                      .replace("frr:10.4.3", "frr:10.6.0").encode())
    desired = derive(v6, NodeFacts(hostname="n", underlay_mtu=9000))
    assert desired.link(Side.ROUTER, "vni110").mtu == 8930
    assert str(desired.node.vtep) == "fd00:65::1/128"


def test_router_mac_is_stable_unique_and_local() -> None:
    macs = {router_mac(ipaddress.ip_address(f"100.65.{i // 256}.{i % 256}")) for i in range(1000)}
    assert len(macs) == 1000
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01  # locally administered, unicast


def test_l2_only_has_no_vrf_and_host_bridge_wiring() -> None:
    desired = derive(load_config(Path(EXAMPLES[0].parent / "l2-only.toml")).config, FACTS)
    assert not desired.needs_vrf
    assert desired.link(Side.HOST, "br-hs-110").kind is LinkKind.BRIDGE
    assert desired.link(Side.HOST, "host-e-110").master == "br-hs-110"
    assert desired.link(Side.ROUTER, "pe-e-110").master == "br-pe-110"


def test_pool_example_derives_per_interface_index() -> None:
    config = load_config(EXAMPLES[0].parent / "pool.toml").config
    desired = derive(config, NodeFacts(hostname="w17", interface_index=17))
    assert str(desired.node.vtep) == "100.65.0.17/32"
    underlay = desired.link(Side.ROUTER, "eth0.200")
    assert underlay.addresses == (ipaddress.ip_interface("192.168.200.27/24"),)
    assert underlay.group == 4242
    assert index_from_address(ipaddress.IPv4Interface("10.10.0.17/24")) == 17


@pytest.mark.parametrize("vni", [1, 100, 4096, 16777215])
def test_names_fit_and_round_trip(vni: int) -> None:
    for make in (names.bridge_name, names.vxlan_name, names.host_veth_name,
                 names.router_veth_name, names.host_bridge_name, names.host_l2_veth_name,
                 names.router_l2_veth_name):
        name = make(vni)
        assert len(name.encode()) <= 15
        assert names.vni_from_name(name) == vni
    assert names.vni_from_name("eth0") is None
    assert names.vni_from_name("vni0100") is None


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_examples_validate_and_show_with_installed_cli(example: Path) -> None:
    """The console script as a user runs it: validate exits 0, show --json derives."""
    cli = Path(sys.executable).parent / "evpn-boot"
    done = subprocess.run([str(cli), "-c", str(example), "validate"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(cli), "-c", str(example), "--node-index", "1", "show", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["derived"]["node"]["vtep"] == "100.65.0.1/32"
    assert shown["derived"]["node"]["index"] == 1
    assert shown["config"]["underlay"]["vtep_cidr"] == "100.65.0.0/24"


def test_schema_command_describes_every_section() -> None:
    cli = Path(sys.executable).parent / "evpn-boot"
    done = subprocess.run([str(cli), "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(done.stdout)
    assert set(schema["properties"]) == {"node", "runtime", "frr", "underlay", "l3vni", "l2vni",
                                         "readiness", "handoff", "health", "metrics"}
    assert schema["additionalProperties"] is False
