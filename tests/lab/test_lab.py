"""``evpn-boot lab`` end to end: up, proof, status, down, nothing left behind.

Runs the installed CLI as a user would, with its own namespace prefix and lab
directory so it never meets a lab someone started by hand.  The fixture's
``lab down`` is the cleanup and is itself under test; namespaces it missed
are deleted by the fixture too (and the test fails).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import netns as netns_support

pytestmark = pytest.mark.frr

REPO = Path(__file__).resolve().parents[2]
EVPN_BOOT = str(Path(sys.executable).parent / "evpn-boot")
CONTAINERS_CONF = REPO / "tests" / "containers.conf"


@dataclass(frozen=True)
class Lab:
    prefix: str
    lab_dir: Path

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        where = ["--prefix", self.prefix, "--dir", str(self.lab_dir)]
        argv = [EVPN_BOOT, "lab", *args]
        # the options belong to the leaf command (lab up/status/down, lab fabric up/down)
        return subprocess.run([*argv, *where], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)

    def namespaces(self) -> list[str]:
        return [ns for ns in netns_support.list_netns() if ns.startswith(self.prefix)]

    def processes(self) -> list[str]:
        """Command lines that mention the lab (its FRR run dirs, its namespaces)."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if (str(self.lab_dir) in cmd or self.prefix in cmd) and int(pid) != os.getpid():
                found.append(f"{pid}: {cmd.strip()}")
        return found

    def container_exists(self) -> bool:
        if shutil.which("podman") is None:
            return False
        env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        done = subprocess.run(["podman", "container", "exists", f"{self.prefix}frr"],
                              env=env, capture_output=True, timeout=60, check=False)
        return done.returncode == 0


def _requirements() -> None:
    for tool in ("ping", "tcpdump", "vtysh"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/setup installs it)")
    if not Path("/usr/lib/frr/bgpd").exists():
        pytest.skip("Debian's FRR daemons are not installed (/usr/lib/frr/bgpd)")


def _host_links() -> set[str]:
    return set(re.findall(r"^\d+: ([^:@]+)", netns_support.ip("-o", "link", "show"), re.M))


@pytest.fixture
def lab() -> Iterator[Lab]:
    _requirements()
    token = secrets.token_hex(2)
    # Not the "ebt" prefix of tests/support/netns.py: a concurrent pytest session's
    # start-up sweep of "ebt*" would delete this lab's namespaces under its feet.
    the_lab = Lab(prefix=f"evt{token}-", lab_dir=Path(f"/run/evt{token}-lab"))
    try:
        yield the_lab
    finally:
        the_lab.cli("down")
        for ns in the_lab.namespaces():
            netns_support.delete_netns(ns)
        shutil.rmtree(the_lab.lab_dir, ignore_errors=True)


def _assert_nothing_left(lab: Lab, host_links_before: set[str]) -> None:
    assert lab.namespaces() == [], "lab down left namespaces"
    assert lab.processes() == [], "lab down left processes"
    assert not lab.container_exists(), "lab down left the node's FRR container"
    assert not lab.lab_dir.exists(), "lab down left its directory"
    assert _host_links() == host_links_before, "the machine's own links changed"


def test_lab_up_proves_evpn_then_down_leaves_nothing(lab: Lab) -> None:
    from tests.support.netns import kernel_supports
    if not _has_apply():
        pytest.fail("evpn-boot has no `apply` command: the lab cannot run the real node")
    host_links = _host_links()

    up = lab.cli("up")
    out = up.stdout + up.stderr
    assert up.returncode == 0, out
    variant = "L3" if kernel_supports("vrf") else "L2"
    assert f"{variant} variant" in out
    if variant == "L2":
        assert "kernel has no VRF support" in out
    # The CLI's own proof: the ping answered and VXLAN with VNI 100 crossed the underlay.
    assert re.search(r"proof: 192\.168\.10\.1 \(remote host\) -> 10\.244\.0\.6 \(pod\): "
                     r"answered", out), out
    vxlan = re.findall(r"^\s+(\S+) > (\S+) VXLAN vni (\d+): (.*)$", out, re.M)
    assert vxlan, out
    assert all(vni == "100" for _, _, vni, _ in vxlan)
    assert {"100.65.0.1", "100.64.0.1"} <= {a for s, d, _, _ in vxlan for a in (s, d)}
    assert any("ICMP echo" in inner for *_, inner in vxlan)

    # Checked independently of the CLI: the pod answers the remote host ...
    ping = netns_support.run("ping", "-c", "2", "-W", "2", "10.244.0.6",
                             netns=f"{lab.prefix}remote", check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # ... the node's router namespace was built by evpn-boot (VXLAN for VNI 100) ...
    links = netns_support.ip("-d", "link", "show", "vni100", netns=f"{lab.prefix}pe")
    assert "vxlan id 100" in links and "local 100.65.0.1" in links
    # ... and the leaf learnt the pod's route over EVPN.
    leaf_run = lab.lab_dir / "frr" / "leaf"
    evpn = subprocess.run(["vtysh", "--vty_socket", str(leaf_run), "-c",
                           "show bgp l2vpn evpn route"], capture_output=True, text=True,
                          timeout=30, check=True).stdout
    if variant == "L3":
        assert "[5]" in evpn and "10.244.0.0" in evpn, evpn      # type-5 IP prefix
    else:
        # type-2 MAC route for the pod's MAC, next hop the node's VTEP
        mac = re.search(r"link/ether (\S+)", netns_support.ip(
            "link", "show", "eth0", netns=f"{lab.prefix}pod"))
        assert mac is not None
        assert re.search(rf"\[2\]:\[0\]:\[48\]:\[{mac.group(1)}\]\s+100\.65\.0\.1", evpn), evpn

    status = lab.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"lab: up, {variant} variant" in status.stdout
    assert "Established" in status.stdout
    status_json = json.loads(lab.cli("status", "--json").stdout)
    assert status_json["up"] is True
    assert f"{lab.prefix}pe" in status_json["namespaces"]

    down = lab.cli("down")
    assert down.returncode == 0, down.stderr
    assert f"netns {lab.prefix}leaf" in down.stdout
    _assert_nothing_left(lab, host_links)
    after = lab.cli("status")
    assert "lab: not up" in after.stdout


def test_down_cleans_an_interrupted_fabric_without_its_record(lab: Lab) -> None:
    host_links = _host_links()
    up = lab.cli("fabric", "up", "--vnis", "2")
    assert up.returncode == 0, up.stdout + up.stderr
    assert len(lab.namespaces()) == 4
    assert lab.processes(), "the leaf FRR should be running"
    # An interrupted run may have lost its record: down must find things by prefix.
    (lab.lab_dir / "lab.json").unlink()
    again = lab.cli("fabric", "up")
    assert again.returncode == 1 and "already up" in again.stderr
    down = lab.cli("down")
    assert down.returncode == 0, down.stderr
    _assert_nothing_left(lab, host_links)


def test_l3_on_a_kernel_without_vrf_is_a_clear_error(lab: Lab) -> None:
    from tests.support.netns import kernel_supports
    if kernel_supports("vrf"):
        pytest.skip("kernel has VRF support: --l3 is valid here")
    result = lab.cli("up", "--l3")
    assert result.returncode == 1
    assert "no VRF support" in result.stderr
    assert lab.namespaces() == []


def _has_apply() -> bool:
    from evpn_boot.cli.main import COMMANDS
    return "apply" in COMMANDS
