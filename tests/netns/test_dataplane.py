"""The dataplane engine against the real kernel, in throwaway namespaces.

The "host" is itself a throwaway namespace holding a veth (``eth1``, MTU 9000,
192.168.11.3/24) that stands in for the underlay NIC; the router namespace and
the state/run directories are per test.  ``evpn-boot`` runs as a subprocess, as
a user would run it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_kernel
from tests.support.netns import NetnsFactory, ip, list_netns

pytestmark = pytest.mark.root

EXAMPLE = Path(__file__).parents[2] / "examples" / "l2-only.toml"
L3_EXAMPLE = Path(__file__).parents[2] / "examples" / "lab-l3.toml"
#: Run like the installed console script (its exit code is main()'s return value).
EVPN_BOOT = [sys.executable, "-c", "import sys; from evpn_boot.cli.main import main; "
             "sys.exit(main())"]


@dataclass
class Lab:
    host: str
    router: str
    config: Path
    tmp: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*EVPN_BOOT, "-c",
                                 str(self.config), *args], check=False, text=True,
                                capture_output=True,
                                timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"evpn-boot {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def links(self, netns: str) -> dict[str, dict[str, Any]]:
        return {link["ifname"]: link for link in json.loads(ip("-d", "-j", "link", "show",
                                                               netns=netns))}

    def addrs(self, netns: str, dev: str) -> set[str]:
        out = json.loads(ip("-j", "addr", "show", "dev", dev, netns=netns))
        return {f"{a['local']}/{a['prefixlen']}" for a in out[0]["addr_info"]
                if a.get("scope") != "link"}


def write_config(path: Path, example: Path, *, router: str, host: str, tmp: Path) -> None:
    text = example.read_text()
    runtime = (f'[runtime]\nnetns = "{router}"\nhost_netns = "{host}"\n'
               f'state_dir = "{tmp}/state"\nrun_dir = "{tmp}/run"\n\n')
    path.write_text(text.replace("[readiness]", runtime + "[readiness]", 1))


@pytest.fixture
def lab(netns: NetnsFactory, tmp_path: Path) -> Iterator[Lab]:
    host = netns("host")
    router = netns.name("r")        # evpn-boot creates it; the factory deletes it
    ip("link", "add", "eth1", "mtu", "9000", "type", "veth", "peer", "name", "eth1p",
       netns=host)
    # With a broadcast address, as DHCP and networkd configure one (see docs/dataplane.md).
    ip("addr", "add", "192.168.11.3/24", "brd", "+", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    ip("link", "set", "eth1p", "up", netns=host)
    config = tmp_path / "config.toml"
    write_config(config, EXAMPLE, router=router, host=host, tmp=tmp_path)
    yield Lab(host, router, config, tmp_path)


def snapshot(netns: str) -> dict[str, Any]:
    """Everything teardown must give back: links, addresses, routes, rules, netns list.

    Waits (polling, at most 5 s) for IPv6 duplicate address detection to finish,
    so a link-local address that is still "tentative" does not count as a change.
    """
    deadline = time.monotonic() + 5
    while ip("-6", "addr", "show", "tentative", netns=netns).strip() \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    links = json.loads(ip("-d", "-j", "link", "show", netns=netns))
    for link in links:     # counters and timers move on their own
        for key in ("stats64", "stats", "carrier_changes", "carrier_up_count",
                    "carrier_down_count"):
            link.pop(key, None)
    addrs = json.loads(ip("-j", "addr", "show", netns=netns))
    for entry in addrs:
        entry["addr_info"] = [{k: v for k, v in a.items()
                               if k not in ("valid_life_time", "preferred_life_time")}
                              for a in entry["addr_info"]]
        for key in ("stats64", "carrier_changes"):
            entry.pop(key, None)
    return {
        "links": links,
        "addrs": addrs,
        "routes4": ip("-j", "route", "show", "table", "all", netns=netns),
        "routes6": ip("-6", "-j", "route", "show", "table", "all", netns=netns),
        "rules": ip("-j", "rule", "show", netns=netns),
        # Other suites may run concurrently on this machine: compare our own names.
        "netns": sorted(n for n in list_netns() if n.startswith(netns.rsplit("-", 1)[0])),
    }


def check_l2_dataplane(lab: Lab) -> None:
    r = lab.links(lab.router)
    h = lab.links(lab.host)
    vxlan_mtu = 9000 - 50
    assert "eth1" not in h and r["eth1"]["mtu"] == 9000 and r["eth1"]["group"] == "4242"
    assert "UP" in r["eth1"]["flags"]
    assert lab.addrs(lab.router, "eth1") == {"192.168.11.3/24"}
    assert lab.addrs(lab.router, "lo") >= {"100.65.0.3/32"}
    for vni in (110, 120):
        br, vx = r[f"br-pe-{vni}"], r[f"vni{vni}"]
        assert br["linkinfo"]["info_kind"] == "bridge" and "UP" in br["flags"]
        # L2 bridges keep their link-local address, as OpenPERouter's (its #342).
        assert br["mtu"] == vxlan_mtu and br["inet6_addr_gen_mode"] != "none"
        data = vx["linkinfo"]["info_data"]
        assert data["link"] == "lo"     # OpenPERouter re-creates a VXLAN not on lo
        assert (data["id"], data["local"], data["port"], data["learning"]) == (
            vni, "100.65.0.3", 4789, False)
        assert vx["master"] == f"br-pe-{vni}" and vx["mtu"] == vxlan_mtu
        assert vx["inet6_addr_gen_mode"] == "none" and "UP" in vx["flags"]
        port = vx["linkinfo"]["info_slave_data"]
        assert port["learning"] is False and port["neigh_suppress"] is True
        assert lab.addrs(lab.router, f"br-pe-{vni}") == set()
    assert r["pe-e-110"]["master"] == "br-pe-110" and "UP" in r["pe-e-110"]["flags"]
    assert h["br-hs-110"]["group"] == "4243" and h["br-hs-110"]["mtu"] == vxlan_mtu
    assert h["host-e-110"]["master"] == "br-hs-110" and h["host-e-110"]["group"] == "4243"
    assert "UP" in h["host-e-110"]["flags"] and h["host-e-110"]["mtu"] == vxlan_mtu
    assert h["host-e-110"]["link_netnsid"] is not None
    sysctl = subprocess.run(["ip", "netns", "exec", lab.router, "sysctl", "-n",
                             "net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter"],
                            text=True, capture_output=True, check=True).stdout.split()
    assert sysctl == ["1", "0"]
    state = json.loads((lab.tmp / "state" / "state.json").read_text())
    assert state["nic"] == {"name": "eth1", "mtu": 9000, "up": True,
                            "addresses": ["192.168.11.3/24"],
                            "broadcasts": {"192.168.11.3/24": "192.168.11.255"}}
    assert oct((lab.tmp / "state" / "state.json").stat().st_mode & 0o777) == "0o600"
    assert set(state["host_links"]) == {"br-hs-110", "host-e-110"}


def assert_in_sync(lab: Lab) -> None:
    result = lab.cli("plan", "--exit-code", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in sync" in result.stdout


def test_apply_l2_example_then_idempotent_then_teardown_restores_host(lab: Lab) -> None:
    before = snapshot(lab.host)
    pending = lab.cli("plan", "--exit-code", check=False)
    assert pending.returncode == 3 and "+ link router/vni110" in pending.stdout
    as_module = subprocess.run([sys.executable, "-m", "evpn_boot.cli.main", "-c",
                                str(lab.config), "plan", "--exit-code"], check=False,
                               capture_output=True, text=True, timeout=60)
    assert as_module.returncode == 3, as_module.stderr   # `python -m` keeps the exit code
    out = lab.cli("apply", "--skip-frr").stdout
    assert "applied" in out and "verified" in out
    check_l2_dataplane(lab)
    assert "in sync, nothing to do" in lab.cli("apply", "--skip-frr").stdout
    assert_in_sync(lab)
    assert json.loads(lab.cli("plan", "--json").stdout)["in_sync"] is True
    lab.cli("teardown")
    assert lab.router not in list_netns()
    after = snapshot(lab.host)
    for key in before:
        assert after[key] == before[key], key
    assert not (lab.tmp / "state" / "state.json").exists()


def test_drift_is_repaired(lab: Lab) -> None:
    lab.cli("apply", "--skip-frr")
    ip("link", "del", "vni120", netns=lab.router)                        # device deleted
    ip("link", "set", "vni110", "master", "br-pe-120", netns=lab.router)  # master changed
    ip("addr", "del", "100.65.0.3/32", "dev", "lo", netns=lab.router)     # address removed
    ip("link", "set", "br-hs-110", "mtu", "1400", netns=lab.host)         # MTU changed
    ip("link", "set", "pe-e-110", "down", netns=lab.router)               # flag changed
    plan = lab.cli("plan", "--exit-code", check=False)
    assert plan.returncode == 3
    for line in ("+ link router/vni120", "~ link router/vni110: master br-pe-120 -> br-pe-110",
                 "+ address 100.65.0.3/32 on router/lo", "~ link host/br-hs-110: mtu 1400 -> 8950",
                 "~ link router/pe-e-110: state down -> up"):
        assert line in plan.stdout
    lab.cli("apply", "--skip-frr")
    check_l2_dataplane(lab)
    assert_in_sync(lab)


def test_foreign_host_link_blocks_apply_and_is_kept(lab: Lab) -> None:
    ip("link", "add", "br-hs-110", "type", "bridge", netns=lab.host)
    before = snapshot(lab.host)
    result = lab.cli("apply", "--skip-frr", check=False)
    assert result.returncode == 1
    assert "br-hs-110" in result.stderr and "not created by evpn-boot" in result.stderr
    assert lab.router not in list_netns()
    assert snapshot(lab.host) == before


def test_l3_config_fails_preflight_naming_vrf(netns: NetnsFactory, tmp_path: Path) -> None:
    if __import__("tests.support.netns", fromlist=["x"]).kernel_supports("vrf"):
        pytest.skip("kernel has VRF support: the preflight failure is not reachable here")
    host = netns("host")
    router = netns.name("r")
    text = L3_EXAMPLE.read_text()
    config = tmp_path / "config.toml"
    runtime = (f'[runtime]\nnetns = "{router}"\nhost_netns = "{host}"\n'
               f'state_dir = "{tmp_path}/state"\nrun_dir = "{tmp_path}/run"\n')
    config.write_text(runtime + "\n" + text if "[runtime]" not in text else text)
    nic = _underlay_name(config)
    ip("link", "add", nic, "type", "veth", "peer", "name", "peer0", netns=host)
    before = snapshot(host)
    result = subprocess.run([*EVPN_BOOT, "-c", str(config),
                             "--node-index", "1", "apply", "--skip-frr"],
                            check=False, text=True, capture_output=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "kernel has no VRF support" in result.stderr
    assert router not in list_netns()
    assert snapshot(host) == before


def _underlay_name(config: Path) -> str:
    from evpn_boot.config.load import load_config
    from evpn_boot.config.underlay import underlay_parents
    return underlay_parents(load_config(config).config.underlay)[0]


def test_l3_vni_dataplane_needs_vrf() -> None:
    require_kernel("vrf")


def test_sigkill_during_apply_then_apply_and_teardown_converge(lab: Lab) -> None:
    """At least 20 kill points spread over a cold apply."""
    before = snapshot(lab.host)
    rng = random.Random(20240611)
    env = dict(os.environ)
    started = time.monotonic()
    lab.cli("apply", "--skip-frr")
    cold = time.monotonic() - started
    lab.cli("teardown")
    assert snapshot(lab.host) == before
    kills = 0
    # Until 20 kills landed mid-run (bounded): on a loaded machine an apply
    # may finish before its kill, which then proves nothing.
    for attempt in range(60):
        if kills >= 20:
            break
        delay = rng.uniform(0.0, cold * 0.9) if attempt % 4 else attempt * 0.01
        proc = subprocess.Popen([*EVPN_BOOT, "-c",
                                 str(lab.config), "apply", "--skip-frr"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL
        if attempt % 2:
            lab.cli("apply", "--skip-frr")
            check_l2_dataplane(lab)
            assert_in_sync(lab)
        lab.cli("teardown")
        assert lab.router not in list_netns()
        assert snapshot(lab.host) == before, f"host not restored after kill {attempt}"
    assert kills >= 20


def test_apply_after_a_handoff_refuses_until_teardown(lab: Lab) -> None:
    """After the release the reconciler owns the node: a manual apply must not start
    a second FRR or "repair" its changes; teardown takes the node back."""
    from evpn_boot.state import release
    lab.cli("apply", "--skip-frr")
    release.save(lab.tmp / "run", release.ReleaseRecord(
        released_at="2026-11-26T12:00:00+00:00", netns=lab.router, frr_container="x",
        config_digest="d"))
    ip("link", "del", "vni110", netns=lab.router)          # a change the reconciler made
    refused = lab.cli("apply", "--skip-frr", check=False)
    assert refused.returncode == 1, refused.stderr
    assert "handed off to the in-cluster reconciler" in refused.stderr
    assert "vni110" not in lab.links(lab.router)            # nothing was touched
    lab.cli("teardown")
    assert release.load(lab.tmp / "run") is None
    lab.cli("apply", "--skip-frr")
    assert "vni110" in lab.links(lab.router)
    lab.cli("teardown")
