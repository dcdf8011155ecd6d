"""The macvlan underlay against the real kernel (802.1q VLAN is missing here).

The "host" is a throwaway namespace holding a veth ``eth1`` (the parent, which
the host keeps); evpn-boot creates ``ul-eth1`` (macvlan, bridge mode) from it
straight into the router namespace, with the address derived from
``address_cidr`` and the underlay link group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.test_dataplane import EXAMPLE, Lab, assert_in_sync, snapshot, write_config
from tests.support.netns import NetnsFactory, ip, list_netns

pytestmark = pytest.mark.root

MACVLAN = 'macvlan = { parent = "eth1", address_cidr = "192.168.50.0/24", address_offset = 10 }'
#: 192.168.50.0/24 + offset 10 + node index 3.
DERIVED = "192.168.50.13/24"


@pytest.fixture
def mlab(netns: NetnsFactory, tmp_path: Path) -> Iterator[Lab]:
    host = netns("host")
    router = netns.name("r")
    ip("link", "add", "eth1", "mtu", "9000", "type", "veth", "peer", "name", "eth1p",
       netns=host)
    ip("addr", "add", "192.168.11.3/24", "brd", "+", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    ip("link", "set", "eth1p", "up", netns=host)
    config = tmp_path / "config.toml"
    write_config(config, EXAMPLE, router=router, host=host, tmp=tmp_path)
    text = config.read_text()
    assert 'nic = "eth1"' in text
    config.write_text(text.replace('nic = "eth1"', MACVLAN, 1))
    yield Lab(host, router, config, tmp_path)


def test_macvlan_underlay_apply_noop_teardown(mlab: Lab) -> None:
    before = snapshot(mlab.host)
    parent_before = mlab.links(mlab.host)["eth1"]
    out = mlab.cli("apply", "--skip-frr").stdout
    assert "applied" in out and "verified" in out
    r = mlab.links(mlab.router)
    ul = r["ul-eth1"]
    assert ul["linkinfo"]["info_kind"] == "macvlan"
    assert ul["linkinfo"]["info_data"]["mode"] == "bridge"
    assert ul["group"] == "4242" and "UP" in ul["flags"]
    assert ul["mtu"] == 9000                       # inherits the parent's
    assert mlab.addrs(mlab.router, "ul-eth1") == {DERIVED}
    assert ul["link_netnsid"] is not None          # its parent stays in the host
    assert r["vni110"]["mtu"] == 9000 - 50
    assert r["vni110"]["linkinfo"]["info_data"]["local"] == "100.65.0.3"
    h = mlab.links(mlab.host)
    assert "ul-eth1" not in h
    assert h["eth1"]["mtu"] == 9000 and h["eth1"].get("group", "default") == "default"
    assert mlab.addrs(mlab.host, "eth1") == {"192.168.11.3/24"}
    state = json.loads((mlab.tmp / "state" / "state.json").read_text())
    assert state.get("nic") is None                # nothing of the host's was moved

    again = mlab.cli("apply", "--skip-frr").stdout
    assert "in sync, nothing to do" in again, again
    assert_in_sync(mlab)

    mlab.cli("teardown")
    assert mlab.router not in list_netns()
    after = snapshot(mlab.host)
    for key in before:
        assert after[key] == before[key], key
    assert mlab.links(mlab.host)["eth1"] == parent_before


def test_macvlan_drift_is_repaired_in_place(mlab: Lab) -> None:
    mlab.cli("apply", "--skip-frr")
    index = mlab.links(mlab.router)["ul-eth1"]["ifindex"]
    ip("addr", "flush", "dev", "ul-eth1", netns=mlab.router)
    ip("link", "set", "ul-eth1", "down", netns=mlab.router)
    plan = mlab.cli("plan", "--exit-code", check=False)
    assert plan.returncode == 3
    assert f"+ address {DERIVED} on router/ul-eth1" in plan.stdout
    assert "~ link router/ul-eth1: state down -> up" in plan.stdout
    assert "- link router/ul-eth1" not in plan.stdout
    mlab.cli("apply", "--skip-frr")
    assert mlab.links(mlab.router)["ul-eth1"]["ifindex"] == index
    assert mlab.addrs(mlab.router, "ul-eth1") == {DERIVED}
    assert_in_sync(mlab)
