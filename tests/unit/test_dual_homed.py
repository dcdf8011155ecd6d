"""Dual-homed underlay, pure parts: the config contract, derivation, the ownership
record of several NICs, the plan's moves and the status rows."""

from __future__ import annotations

import ipaddress

import pytest

from evpn_boot.config.load import parse_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import LinkKind, LinkSpec, PhysicalInfo, Side
from evpn_boot.errors import ConfigError
from evpn_boot.frr.status import parse_bfd_peers, uplink_status
from evpn_boot.netlink.preflight import absent_optional_nics
from evpn_boot.plan.model import ObservedLink, ObservedState
from evpn_boot.state.model import NicRecord, Ownership, StateFormatError
from tests.support.configs import underlay

FACTS = NodeFacts(hostname="node-a", underlay_mtu=1500)
HEAD = "[node]\nindex = 1\n"


def unnumbered(*interfaces: str, asn: str = '"external"') -> str:
    return "".join(f'\n[[underlay.neighbors]]\ninterface = "{i}"\nasn = {asn}\nbfd = true\n'
                   for i in interfaces)


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text.encode(), "t.toml")
    return str(info.value)


def test_two_nics_two_unnumbered_leaves() -> None:
    config = parse_config((HEAD + underlay('nics = ["eth1", "eth2"]')
                           + unnumbered("eth1", "eth2")).encode(), "t.toml")
    desired = derive(config, FACTS)
    assert desired.uplinks == ("eth1", "eth2")
    moved = [s for s in desired.links if s.kind is LinkKind.PHYSICAL]
    assert [s.name for s in moved] == ["eth1", "eth2"]
    assert all(s.group == 4242 and not s.addrgenmode_none for s in moved)
    assert desired.frr is not None
    assert [n.peer for n in desired.frr.neighbors] == ["eth1", "eth2"]
    assert desired.frr.multipath_relax and desired.frr.no_transit
    assert desired.frr.inline_nexthops          # ECMP survives an uplink flap


def test_one_leaf_renders_no_transit_filter_and_no_relax() -> None:
    config = parse_config((HEAD + underlay() + unnumbered("eth1", asn="64512")).encode(), "t")
    frr = derive(config, FACTS).frr
    assert frr is not None and not frr.no_transit and not frr.multipath_relax
    assert not frr.inline_nexthops


def test_same_asn_leaves_no_relax_transit_when_asked() -> None:
    text = HEAD + underlay('nics = ["eth1", "eth2"]\ntransit = true') + unnumbered(
        "eth1", "eth2", asn="64512")
    frr = derive(parse_config(text.encode(), "t"), FACTS).frr
    assert frr is not None and not frr.multipath_relax and not frr.no_transit


def test_vlan_list_makes_one_subinterface_per_uplink() -> None:
    text = HEAD + underlay("") + """
[[underlay.vlan]]
parent = "eth1"
id = 100
address_cidr = "192.168.11.0/24"
[[underlay.vlan]]
parent = "eth2"
id = 200
""" + unnumbered("eth1.100", "eth2.200")
    desired = derive(parse_config(text.encode(), "t"), FACTS)
    assert desired.uplinks == ("eth1.100", "eth2.200")
    first = desired.link(desired.links[1].side, "eth1.100")
    assert first.addresses == (ipaddress.ip_interface("192.168.11.1/24"),)


@pytest.mark.parametrize(("body", "expected"), [
    (underlay('nics = ["eth1", "eth2"]') + unnumbered("eth3"),
     "underlay.neighbors[0].interface (line 11): 'eth3' is not an underlay link"),
    (underlay('nics = ["eth1"]') + '\n[[underlay.neighbors]]\naddress = "192.168.11.2"\n'
     'interface = "eth1"\nasn = 64512\n',
     "set exactly one of address (numbered) or interface (unnumbered)"),
    (underlay('nic = "eth1"\nnics = ["eth2"]') + unnumbered("eth1"),
     "set exactly one of underlay.nic, underlay.nics, underlay.vlan or underlay.macvlan"),
    (underlay('nics = ["eth1", "eth1"]') + unnumbered("eth1"),
     "underlay.nics[1]"),
    (underlay('nics = ["eth1"]') + unnumbered("eth1", asn='"externl"'),
     "underlay.neighbors[0].asn (line 12): Input should be 'external' or 'internal'"),
    (underlay('nics = ["eth1"]') + unnumbered("eth1") + "ebgp_multihop = 2\n",
     "an unnumbered neighbor is directly connected"),
    (underlay('nics = ["eth1"]') + unnumbered("eth1") + "[underlay.bfd]\n"
     "receive_interval_ms = 5\n", "underlay.bfd.receive_interval_ms"),
])
def test_bad_dual_homed_config_names_the_problem(body: str, expected: str) -> None:
    assert expected in problems(HEAD + body)


def test_ownership_lists_every_nic_and_reads_an_old_record() -> None:
    a = NicRecord("eth1", (ipaddress.ip_interface("198.51.100.3/24"),), 1500, True)
    b = NicRecord("eth2", (), 9000, False)
    own = Ownership(netns="pe").with_nics((a,)).with_nics((a, b))
    assert own.nics == (a, b)
    data = own.to_dict()
    assert data["nic"]["name"] == "eth1" and [n["name"] for n in data["nics"]] == ["eth1",
                                                                                   "eth2"]
    assert Ownership.from_dict(data) == own
    old = {"version": 1, "netns": "pe", "nic": data["nic"], "host_links": []}
    assert Ownership.from_dict(old).nics == (a,)
    # A recorded NIC is never overwritten by a later reading.
    changed = NicRecord("eth1", (), 1400, False)
    assert own.with_nics((changed,)).nic_named("eth1") == a


def test_uplink_rows_join_links_sessions_and_bfd() -> None:
    sessions = [{"vrf": "default", "neighbor": "eth1", "state": "Established"},
                {"vrf": "red", "neighbor": "eth2", "state": "Established"}]
    bfd = parse_bfd_peers([{"peer": "fe80::1", "interface": "eth1", "status": "up"},
                           "junk"])
    rows = uplink_status(("eth1", "eth2"), {"eth1": "up"}, sessions, bfd)
    assert rows == [{"name": "eth1", "link": "up", "session": "Established", "bfd": "up"},
                    {"name": "eth2", "link": "absent", "session": "-", "bfd": "-"}]
    assert parse_bfd_peers({"not": "a list"}) == []


def test_nic_record_keeps_each_ipv4_broadcast_and_reads_a_record_without() -> None:
    a = NicRecord("eth1", (ipaddress.ip_interface("198.51.100.3/24"),
                           ipaddress.ip_interface("192.0.2.5/24")), 1500, True,
                  broadcasts=(("192.0.2.5/24", "192.0.2.7"), ("198.51.100.3/24", "")))
    own = Ownership(netns="pe").with_nics((a,))
    data = own.to_dict()
    assert data["nics"][0]["broadcasts"] == {"198.51.100.3/24": "", "192.0.2.5/24": "192.0.2.7"}
    assert Ownership.from_dict(data) == own
    assert [a.broadcast_of(x) for x in a.addresses] == ["", "192.0.2.7"]
    del data["nics"][0]["broadcasts"]            # a record written before they were kept
    assert Ownership.from_dict(data).nics[0].broadcast_of(a.addresses[0]) is None
    data["nics"][0]["broadcasts"] = {"198.51.100.3/24": "not-an-address"}
    with pytest.raises(StateFormatError, match=r"nics\[0\]\.broadcasts"):
        Ownership.from_dict(data)


@pytest.mark.parametrize(("require", "dual", "optional"), [
    ("any-established", True, ("eth1", "eth2")),
    ("all-established", True, ()),
    ("applied", True, ()),
    ("any-established", False, ()),              # single-homed: its NIC is required
])
def test_which_nics_a_boot_may_go_without(require: str, dual: bool,
                                          optional: tuple[str, ...]) -> None:
    body = (underlay('nics = ["eth1", "eth2"]') + unnumbered("eth1", "eth2") if dual
            else underlay() + unnumbered("eth1"))
    text = HEAD + body + f'\n[readiness]\nrequire = "{require}"\n'
    assert derive(parse_config(text.encode(), "t"), FACTS).optional_nics == optional


@pytest.mark.parametrize(("present", "tolerated"), [
    ({"eth1"}, {"eth2"}),                        # one there: the other may be late
    (set(), set()),                              # none there: preflight names both
    ({"eth1", "eth2"}, set()),
])
def test_preflight_goes_on_without_a_late_nic_only_when_another_is_there(
        present: set[str], tolerated: set[str]) -> None:
    text = HEAD + underlay('nics = ["eth1", "eth2"]') + unnumbered("eth1", "eth2")
    desired = derive(parse_config(text.encode(), "t"), FACTS)
    links = {(Side.HOST, n): ObservedLink(LinkSpec(n, Side.HOST, LinkKind.PHYSICAL,
                                                   PhysicalInfo()), ifindex=i + 2,
                                          kind_name="")
             for i, n in enumerate(sorted(present))}
    observed = ObservedState(netns_exists=False, links=links)
    assert absent_optional_nics(desired, observed) == tolerated
