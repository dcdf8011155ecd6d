"""``export openperouter``: goldens per OpenPERouter version, held against that version's CRDs.

Regenerate the goldens after an intended change with
``EVPN_BOOT_UPDATE_GOLDEN=1 pytest tests/export``, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from evpn_boot.cli.main import cli, main
from evpn_boot.config.load import load_config, parse_config
from evpn_boot.export.openperouter import (
    ExportError,
    Version,
    export_openperouter,
    to_yaml,
)
from tests.export.openperouter_schema import API_VERSIONS, VERSIONS, CelError, validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
GOLDEN = ROOT / "tests" / "export_golden"
CASES = [(v, e) for v in VERSIONS for e in EXAMPLES]
IDS = [f"{v}-{e.stem}" for v, e in CASES]


def update_requested(config: pytest.Config) -> bool:
    return bool(config.getoption("update_golden", default=False)) or \
        os.environ.get("EVPN_BOOT_UPDATE_GOLDEN") == "1"


def test_versions_agree() -> None:
    assert [v.value for v in Version] == list(VERSIONS)


@pytest.mark.parametrize(("version", "example"), CASES, ids=IDS)
def test_golden(version: str, example: Path, request: pytest.FixtureRequest) -> None:
    text = to_yaml(export_openperouter(load_config(example).config, version=Version(version)))
    golden = GOLDEN / version / f"{example.stem}.yaml"
    if update_requested(request.config):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden {golden}; run with EVPN_BOOT_UPDATE_GOLDEN=1"
    assert text == golden.read_text()


@pytest.mark.parametrize(("version", "example"), CASES, ids=IDS)
def test_goldens_match_the_crds(version: str, example: Path) -> None:
    documents = list(yaml.safe_load_all((GOLDEN / version / f"{example.stem}.yaml").read_text()))
    assert documents and documents[0]["kind"] == "Underlay"
    assert {d["apiVersion"] for d in documents} == {API_VERSIONS[version]}
    for document in documents:
        validate(version, document)
    # The release relies on graceful restart: without it OpenPERouter renders none.
    assert documents[0]["spec"]["gracefulRestart"]["restartTimeSeconds"] >= 120


def test_every_golden_has_an_example() -> None:
    for version in VERSIONS:
        assert sorted(p.stem for p in (GOLDEN / version).glob("*.yaml")) == \
            [p.stem for p in EXAMPLES]


def _doc(version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[version], "kind": kind,
            "metadata": {"name": "x"}, "spec": spec}


def test_each_version_rejects_the_other_versions_names() -> None:
    pool = export_openperouter(load_config(ROOT / "examples" / "pool.toml").config,
                               version=Version.MAIN)
    for document in pool.resources:
        validate("main", document)
        with pytest.raises(jsonschema.ValidationError):
            validate("v0.2", document)          # apiVersion and field names differ
    release = export_openperouter(load_config(ROOT / "examples" / "pool.toml").config)
    for document in release.resources:
        validate("v0.2", document)
        moved = {**document, "apiVersion": API_VERSIONS["main"]}
        with pytest.raises(jsonschema.ValidationError):
            validate("main", moved)             # only the field names differ now


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_rejects_what_the_crds_reject(version: str) -> None:
    neighbor = {"asn": 64512, "address": "192.0.2.1"}
    base = {"asn": 64514, "neighbors": [neighbor],
            "interfaces": [{"type": "NetworkDevice", "networkDevice": {"interfaceName": "eth1"}}]}
    validate(version, _doc(version, "Underlay", base))
    for bad in ({**neighbor, "port": 16385}, {**neighbor, "passwordSecret": {"name": "s"}},
                {**neighbor, "holdTimeSeconds": 9}):
        with pytest.raises((jsonschema.ValidationError, CelError)):
            validate(version, _doc(version, "Underlay", {**base, "neighbors": [bad]}))
    with pytest.raises(jsonschema.ValidationError):
        validate(version, _doc(version, "L3VNI", {"vrf": "red.1", "vni": 100}))
    session = ({"asn": 64514, "hostasn": 64514, "localcidr": {"ipv4": "192.0.2.0/24"}}
               if version == "v0.2" else
               {"asn": 64514, "hostASN": 64514, "localCIDR": {"ipv4": "192.0.2.0/24"}})
    key = "hostsession" if version == "v0.2" else "hostSession"
    with pytest.raises(CelError, match="hostASN must be different from asn"):
        validate(version, _doc(version, "L3VNI", {"vrf": "red", "vni": 100, key: session}))


def test_main_requires_a_routing_domain_for_gateways() -> None:
    with pytest.raises(CelError, match="gatewayIPs cannot be set without routingDomain"):
        validate("main", _doc("main", "L2VNI", {"vni": 110, "gatewayIPs": ["10.0.0.1/24"]}))
    with pytest.raises(CelError, match="name must be set when lifecycle is External"):
        validate("main", _doc("main", "L2VNI", {"vni": 110, "hostMaster": {
            "type": "LinuxBridge", "linuxBridge": {"lifecycle": "External"}}}))


def test_cli_prints_the_golden_per_version() -> None:
    example = ROOT / "examples" / "pool.toml"
    result = CliRunner().invoke(cli, ["-c", str(example), "export", "openperouter"])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / "v0.2" / "pool.yaml").read_text()   # newest release
    result = CliRunner().invoke(cli, ["-c", str(example), "export", "openperouter",
                                      "--version", "main", "-n", "x"])
    assert result.exit_code == 0, result.output
    assert all(d["metadata"]["namespace"] == "x" for d in yaml.safe_load_all(result.output))
    bad = CliRunner().invoke(cli, ["-c", str(example), "export", "openperouter",
                                   "--version", "v0.1"])
    assert bad.exit_code == 2 and "v0.1" in bad.output


CORNER = """
[node]
index = 2
router_mac = "02:00:00:00:00:01"

[frr]
raw_config = "! extra"
restart_time_s = 600

[underlay]
asn = 65000
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
macvlan = {{ parent = "eno1" }}
vxlan_port = 4790
mtu = 9000

[[underlay.neighbors]]
address = "2001:db8::1"
asn = 65001
port = {port}
ebgp_multihop = 3
hold_time = 30
keepalive_time = 10
password_file = "{password}"

[[l3vni]]
vrf = "Tenant_A"
vni = 300
local_cidr = "192.168.30.0/24"
local_cidr_v6 = "fd00:30::/64"
host_asn = 65002
table = 3000

[[l2vni]]
vni = 310
vrf = "Tenant_A"
host_bridge = "br-tenant"
gateway_ips = ["192.168.31.1/24", "fd00:31::1/64"]

[handoff]
enabled = {handoff}
"""


def corner(tmp_path: Path, port: int = 1179, handoff: str = "true") -> Any:
    password = tmp_path / "bgp.pw"
    password.write_text("do-not-print-me")
    password.chmod(0o600)
    return parse_config(CORNER.format(password=password, port=port, handoff=handoff).encode())


def test_corner_cases_v0_2(tmp_path: Path) -> None:
    export = export_openperouter(corner(tmp_path), version=Version.V0_2)
    for document in export.resources:
        validate("v0.2", document)
    underlay, l3, l2 = (d["spec"] for d in export.resources)
    assert underlay["neighbors"][0] == {
        "asn": 65001, "address": "2001:db8::1", "port": 1179, "holdTimeSeconds": 30,
        "keepaliveTimeSeconds": 10, "connectTimeSeconds": 5, "ebgpMultiHop": True}
    assert underlay["gracefulRestart"] == {"restartTimeSeconds": 600}
    assert underlay["routeridcidr"] == "10.0.0.0/24"
    assert underlay["interfaces"][0]["networkDevice"]["interfaceName"] == "ul-eno1"
    assert export.resources[1]["metadata"]["name"] == "tenant-a"
    assert l3["vrf"] == "Tenant_A" and l3["vxlanport"] == 4790
    assert l3["hostsession"] == {"asn": 65000, "hostasn": 65002, "localcidr": {
        "ipv4": "192.168.30.0/24", "ipv6": "fd00:30::/64"}}
    assert l2 == {"vni": 310, "vrf": "Tenant_A", "vxlanport": 4790,
                  "hostmaster": {"type": "linux-bridge", "linuxBridge": {"name": "br-tenant"}},
                  "l2gatewayips": ["192.168.31.1/24", "fd00:31::1/64"]}
    text = to_yaml(export)
    assert "do-not-print-me" not in text
    assert any("ebgp_multihop 3" in w for w in export.warnings)
    assert any("password" in w and "not exported" in w for w in export.warnings)
    assert "# WARNING: underlay.neighbors[0]: the password" in text
    for expected in ("table 3000", "router_mac", "mtu 9000", "'ul-eno1'", "'tenant-a'"):
        assert any(expected in note for note in export.notes), expected


def test_corner_cases_main(tmp_path: Path) -> None:
    export = export_openperouter(corner(tmp_path), version=Version.MAIN)
    for document in export.resources:
        validate("main", document)
    underlay, l3, l2 = (d["spec"] for d in export.resources)
    assert underlay["neighbors"][0]["properties"] == [
        {"type": "ebgpMultiHop", "ebgpMultiHop": {"ttl": 3}}]
    assert "passwordSecret" not in underlay["neighbors"][0]
    assert underlay["routerIDCIDR"] == "10.0.0.0/24"
    assert l3["vxlanPort"] == 4790
    assert l3["hostSession"] == {"asn": 65000, "hostASN": 65002, "localCIDR": {
        "ipv4": "192.168.30.0/24", "ipv6": "fd00:30::/64"}}
    assert l2 == {"vni": 310, "routingDomain": {"type": "L3VNI", "l3vni": {"name": "tenant-a"}},
                  "vxlanPort": 4790,
                  "hostMaster": {"type": "LinuxBridge",
                                 "linuxBridge": {"lifecycle": "External", "name": "br-tenant"}},
                  "gatewayIPs": ["192.168.31.1/24", "fd00:31::1/64"]}
    assert not any("ebgp_multihop" in w for w in export.warnings)


def test_managed_host_bridge_per_version(tmp_path: Path) -> None:
    config = parse_config((ROOT / "examples" / "l2-only.toml").read_bytes())
    masters = {v: [d["spec"].get("hostmaster") or d["spec"].get("hostMaster")
                   for d in export_openperouter(config, version=v).resources[1:]]
               for v in Version}
    assert {"type": "linux-bridge", "linuxBridge": {"autoCreate": True}} in masters[Version.V0_2]
    assert {"type": "LinuxBridge", "linuxBridge": {"lifecycle": "Managed"}} in \
        masters[Version.MAIN]


def test_what_the_crds_reject_is_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # Validation already refuses these while the handoff is on; without it the export still does.
    config = corner(tmp_path, port=20000, handoff="false")
    for version in Version:
        with pytest.raises(ExportError, match="port 20000: the Neighbor CRD allows at most"):
            export_openperouter(config, version=version)
    path = tmp_path / "config.toml"
    password = tmp_path / "bgp.pw"
    path.write_text(CORNER.format(password=password, port=20000, handoff="false"))
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", str(path), "export", "openperouter", "--version", "main"])
    out = capsys.readouterr()
    assert exit_info.value.code == 2 and out.out == ""
    assert "export openperouter --version main" in out.err and "port 20000" in out.err


DUAL = """
[node]
index = 1
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
nics = ["eth1", "eth2"]
[[underlay.neighbors]]
interface = "eth1"
asn = "external"
[[underlay.neighbors]]
interface = "eth2"
asn = "external"
[[l2vni]]
vni = 110
"""


@pytest.mark.parametrize("version", list(Version))
def test_every_uplink_is_exported(version: Version) -> None:
    """Both versions' Underlay takes a list of interfaces: each NIC is in it, in order."""
    export = export_openperouter(parse_config(DUAL.encode()), version=version)
    for document in export.resources:
        validate(version.value, document)
    interfaces = export.resources[0]["spec"]["interfaces"]
    assert interfaces == [{"type": "NetworkDevice", "networkDevice": {"interfaceName": n}}
                          for n in ("eth1", "eth2")]
    assert not any("only the first" in n for n in export.notes + export.warnings)
    kind = "External" if version is Version.MAIN else "external"
    assert [n for n in export.resources[0]["spec"]["neighbors"]] == [
        {"type": kind, "interface": nic, "connectTimeSeconds": 5} for nic in ("eth1", "eth2")]
