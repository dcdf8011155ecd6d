"""``export openperouter``: goldens per example, checked against the CRDs' fields.

Regenerate the goldens after an intended change with
``EVPN_BOOT_UPDATE_GOLDEN=1 pytest tests/export`` (or ``--update-golden`` where
the root conftest registers it), then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from evpn_boot.cli.main import cli
from evpn_boot.config.load import load_config, parse_config
from evpn_boot.export.openperouter import export_openperouter, to_yaml
from tests.export.openperouter_schema import SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
GOLDEN = ROOT / "tests" / "export_golden"


def update_requested(config: pytest.Config) -> bool:
    return bool(config.getoption("update_golden", default=False)) or \
        os.environ.get("EVPN_BOOT_UPDATE_GOLDEN") == "1"


def validate(document: dict[str, Any]) -> None:
    jsonschema.validate(document, SCHEMAS[document["kind"]])


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden(example: Path, request: pytest.FixtureRequest) -> None:
    text = to_yaml(export_openperouter(load_config(example).config))
    golden = GOLDEN / f"{example.stem}.yaml"
    if update_requested(request.config):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden {golden}; run with EVPN_BOOT_UPDATE_GOLDEN=1"
    assert text == golden.read_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_goldens_match_the_openperouter_api(example: Path) -> None:
    documents = list(yaml.safe_load_all((GOLDEN / f"{example.stem}.yaml").read_text()))
    assert documents and documents[0]["kind"] == "Underlay"
    for document in documents:
        validate(document)


def test_every_golden_has_an_example() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == [p.stem for p in EXAMPLES]


def test_schema_rejects_old_and_misspelt_fields() -> None:
    old = {"apiVersion": "network.openperouter.io/v1alpha1", "kind": "Underlay",
           "metadata": {"name": "underlay"},
           "spec": {"asn": 64514, "vtepcidr": "100.65.0.0/24", "nics": ["eth1"],
                    "neighbors": [{"asn": 64512, "address": "192.0.2.1"}]}}
    with pytest.raises(jsonschema.ValidationError):
        validate(old)
    l3 = {"apiVersion": "network.openperouter.io/v1alpha1", "kind": "L3VNI",
          "metadata": {"name": "red"}, "spec": {"vrf": "red", "vni": "100"}}
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'integer'"):
        validate(l3)


def test_cli_prints_the_golden() -> None:
    example = ROOT / "examples" / "pool.toml"
    result = CliRunner().invoke(cli, ["-c", str(example), "export", "openperouter"])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / "pool.yaml").read_text()
    other = CliRunner().invoke(cli, ["-c", str(example), "export", "openperouter", "-n", "x"])
    assert all(d["metadata"]["namespace"] == "x" for d in yaml.safe_load_all(other.output))


CORNER = """
[node]
index = 2
router_mac = "02:00:00:00:00:01"

[frr]
raw_config = "! extra"

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
port = 1179
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
"""


def test_corner_cases(tmp_path: Path) -> None:
    password = tmp_path / "bgp.pw"
    password.write_text("do-not-print-me")
    password.chmod(0o600)
    config = parse_config(CORNER.format(password=password).encode())
    export = export_openperouter(config)
    for document in export.resources:
        validate(document)
    underlay, l3, l2 = (d["spec"] for d in export.resources)
    neighbor = underlay["neighbors"][0]
    assert neighbor == {"asn": 65001, "address": "2001:db8::1", "port": 1179,
                        "holdTimeSeconds": 30, "keepaliveTimeSeconds": 10,
                        "properties": [{"type": "ebgpMultiHop", "ebgpMultiHop": {"ttl": 3}}],
                        "passwordSecret": {"name": "bgp-2001-db8-1", "key": "password"}}
    assert underlay["interfaces"][0]["networkDevice"]["interfaceName"] == "ul-eno1"
    assert export.resources[1]["metadata"]["name"] == "tenant-a"
    assert l3["vrf"] == "Tenant_A" and l3["vxlanport"] == 4790
    assert l3["hostsession"]["localcidr"] == {"ipv4": "192.168.30.0/24",
                                              "ipv6": "fd00:30::/64"}
    assert l2["hostmaster"] == {"type": "linux-bridge", "linuxBridge": {"name": "br-tenant"}}
    assert l2["l2gatewayips"] == ["192.168.31.1/24", "fd00:31::1/64"]
    text = to_yaml(export)
    assert "do-not-print-me" not in text
    for expected in ("create Secret 'bgp-2001-db8-1'", "table 3000",
                     "router_mac", "raw_config", "mtu 9000", "'ul-eno1'", "'tenant-a'"):
        assert any(expected in note for note in export.notes), expected
