"""The renderer's golden cases: the shipped examples plus edge cases."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evpn_boot.config.load import parse_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import FrrModel
from tests.support.configs import LEAF_NEIGHBOR, UNDERLAY, underlay

REPO = Path(__file__).resolve().parents[2]
FACTS = NodeFacts(hostname="node-a", interface_index=17, underlay_mtu=1500)
#: The fake secret every password file "holds" in golden cases.
PASSWORD = "s3cret-Pa55"

BASE = """
[node]
index = 1
""" + UNDERLAY

EDGE = {
    "bfd-timers-multihop": BASE + """
[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512
bfd = true
hold_time = 9
keepalive_time = 3
[[underlay.neighbors]]
address = "192.168.12.2"
asn = 64513
ebgp_multihop = 3
port = 1179
hold_time = 30
keepalive_time = 10
""",
    "passwords": BASE + LEAF_NEIGHBOR + """
[[underlay.neighbors]]
address = "192.168.12.2"
asn = 64512
""",
    "ipv6-underlay": """
[node]
index = 5
[frr]
version = "10.6.0"
[underlay]
asn = 4200000001
vtep_cidr = "fd00:65::/64"
router_id_cidr = "10.0.0.0/24"
nic = "eth1"
[[underlay.neighbors]]
address = "fd00:11::2"
asn = 4200000000
bfd = true
[[l2vni]]
vni = 110
""",
    "several-vrfs": BASE + LEAF_NEIGHBOR + """
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
local_cidr_v6 = "fd00:10::/64"
host_asn = 64515
import_rts = ["64514:100", "64514:101"]
export_rts = ["64514:100"]
[[l3vni]]
vrf = "blue"
vni = 200
local_cidr = "192.169.20.0/24"
host_asn = 64516
[[l3vni]]
vrf = "green"
vni = 300
local_cidr = "192.169.30.0/24"
host_asn = 64515
""",
    "l2vni-gateways": BASE + LEAF_NEIGHBOR + """
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
host_asn = 64515
[[l2vni]]
vni = 110
vrf = "red"
gateway_ips = ["192.170.1.1/24", "fd00:170::1/64"]
[[l2vni]]
vni = 120
host_bridge = true
""",
    "ipv4-vtep-ipv6-neighbor": BASE + """
[[underlay.neighbors]]
address = "fd00:11::2"
asn = 64512
""",
    "host-policy": BASE + LEAF_NEIGHBOR + """
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
local_cidr_v6 = "fd00:10::/64"
host_asn = 64515
host_allowed_prefixes = ["10.244.0.0/16", "10.96.0.10/32", "fd00:244::/48"]
host_max_prefixes = 50
[[l3vni]]
vrf = "blue"
vni = 200
local_cidr = "192.169.20.0/24"
host_asn = 64515
host_allowed_prefixes = ["10.245.0.0/16"]
""",
    "raw-config": BASE + '''
[frr]
raw_config = """
ip prefix-list only-vtep seq 5 permit 100.65.0.0/24 le 32
route-map leaf-in permit 10
 match ip address prefix-list only-vtep
"""
[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512
''',
    # Two NICs to two leaves, BGP unnumbered, BFD with our timers (the multiplier is
    # FRR's own, so left out), no transit.
    "dual-homed-unnumbered": """
[node]
index = 1
""" + underlay('nics = ["eth1", "eth2"]') + """
[underlay.bfd]
detect_multiplier = 3
receive_interval_ms = 200
transmit_interval_ms = 150
[[underlay.neighbors]]
interface = "eth1"
asn = "external"
bfd = true
[[underlay.neighbors]]
interface = "eth2"
asn = "external"
bfd = true
[[l2vni]]
vni = 110
""",
    # Two VLANs (one per leaf), numbered leaves in two ASNs, BFD at FRR's timers.
    "dual-homed-vlans": """
[node]
index = 1
""" + underlay("") + """
[[underlay.vlan]]
parent = "eth1"
id = 100
address_cidr = "192.168.11.0/24"
address_offset = 10
[[underlay.vlan]]
parent = "eth2"
id = 200
address_cidr = "192.168.12.0/24"
address_offset = 10
[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512
bfd = true
[[underlay.neighbors]]
address = "192.168.12.2"
asn = 64513
bfd = true
""",
    # Leaves of one ASN that may exchange routes through the node (asked for).
    "dual-homed-transit": """
[node]
index = 1
""" + underlay('nics = ["eth1", "eth2"]\ntransit = true') + """
[[underlay.neighbors]]
interface = "eth1"
asn = 64512
[[underlay.neighbors]]
interface = "eth2"
asn = 64512
""",
}

#: Cases whose neighbors get a password file (value: PASSWORD).
WITH_PASSWORDS = {"passwords", "dual-homed-transit"}


def model_of(toml: str, name: str) -> FrrModel:
    desired = derive(parse_config(toml.encode(), name), FACTS)
    assert desired.frr is not None
    model = desired.frr
    if name in WITH_PASSWORDS:
        model = dataclasses.replace(model, neighbors=tuple(
            dataclasses.replace(n, password_file=Path(f"/etc/evpn-boot/bgp-{i}.pw"))
            for i, n in enumerate(model.neighbors)))
    return model


def all_cases() -> dict[str, FrrModel]:
    cases = {f"example-{p.stem}": model_of(p.read_text(), p.stem)
             for p in sorted((REPO / "examples").glob("*.toml"))}
    cases.update({name: model_of(text, name) for name, text in EDGE.items()})
    return cases


def secrets_of(model: FrrModel) -> dict[str, str]:
    return {n.peer: PASSWORD for n in model.neighbors if n.password_file is not None}
