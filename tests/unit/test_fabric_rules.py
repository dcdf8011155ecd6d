"""Issue 13's rules in the rendered FRR config and in the validator (pure: the
real FRR checks of the same lines are in tests/frr/)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from evpn_boot.config.frrversion import frr_version
from evpn_boot.config.model import FrrConfig
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr import daemon_lines
from evpn_boot.frr.crash import crashing_line, is_crash, top_level_blocks
from evpn_boot.frr.render import render_all
from evpn_boot.frr.validate import CommandValidator, foreign_daemon_problems
from tests.frr.cases import all_cases

CASES = all_cases()


def conf(name: str) -> str:
    return render_all(CASES[name], {}).frr_conf


def block(text: str, opening: str) -> str:
    """The lines of the top-level block that starts with ``opening``."""
    lines = text.splitlines()
    start = lines.index(opening)
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == "exit")
    return "\n".join(lines[start:end + 1])


def test_host_session_overrides_the_shared_host_asn_and_is_filtered() -> None:
    red = block(conf("example-lab-l3"), "router bgp 64514 vrf red")
    for line in ("  neighbor 192.169.10.3 as-override",
                 "  neighbor 192.169.10.3 prefix-list evpn-boot-red-host-in in",
                 "  neighbor 192.169.10.3 maximum-prefix 1000 restart 1"):
        assert line in red.splitlines()


def test_default_host_filter_refuses_only_a_default_route() -> None:
    text = conf("example-lab-l3")
    rules = [ln for ln in text.splitlines() if ln.startswith("ip prefix-list evpn-boot-red")]
    assert rules == ["ip prefix-list evpn-boot-red-host-in seq 5 deny 0.0.0.0/0",
                     "ip prefix-list evpn-boot-red-host-in seq 10 permit 0.0.0.0/0 le 32"]


def test_allowed_prefixes_end_in_an_explicit_deny_per_family() -> None:
    text = conf("host-policy")
    blue6 = [ln for ln in text.splitlines() if "evpn-boot-blue-host-in6" in ln]
    assert blue6 == []          # no IPv6 session in blue: no IPv6 list
    red6 = [ln for ln in text.splitlines() if ln.startswith("ipv6 prefix-list evpn-boot-red")]
    assert red6[-1].endswith("deny ::/0 le 128")
    assert "ip prefix-list evpn-boot-red-host-in seq 10 permit 10.96.0.10/32" in text
    assert "  neighbor 192.169.10.3 maximum-prefix 50 restart 1" in text


def test_type5_for_the_host_end_and_gateway_subnets() -> None:
    red = block(conf("l2vni-gateways"), "router bgp 64514 vrf red")
    assert "  network 192.169.10.3/32" in red
    assert "  network 192.170.1.0/24" in red
    # The IPv6 gateway needs the VRF's IPv6 family and its advertisement.
    assert re.search(r"address-family ipv6 unicast\n  network fd00:170::/64\n", red)
    assert "  advertise ipv6 unicast" in red
    assert " no bgp network import-check" in red
    v6 = block(conf("several-vrfs"), "router bgp 64514 vrf red")
    assert "  network fd00:10::3/128" in v6


def test_graceful_restart_keeps_forwarding_state() -> None:
    rendered = render_all(CASES["example-lab-l3"], {})
    assert rendered.frr_conf.count(" bgp graceful-restart preserve-fw-state") == 2
    zebra = next(ln for ln in rendered.daemons.splitlines() if ln.startswith("zebra_options"))
    assert " -K 300" in zebra   # frr.restart_time_s's default
    assert " neighbor 192.168.11.2 timers connect 5" in rendered.frr_conf


def test_ipv4_vtep_over_ipv6_neighbor_uses_extended_nexthop() -> None:
    underlay = block(conf("ipv4-vtep-ipv6-neighbor"), "router bgp 64514")
    assert " neighbor fd00:11::2 capability extended-nexthop" in underlay
    assert re.search(r"address-family ipv4 unicast\n  network 100.65.0.1/32\n"
                     r"  neighbor fd00:11::2 activate\n", underlay)
    assert "extended-nexthop" not in conf("example-lab-l3")


def test_the_daemons_file_enables_exactly_what_the_validator_assumes() -> None:
    daemons = render_all(CASES["example-lab-l3"], {}).daemons
    enabled = {m.group(1) for m in re.finditer(r"^(\w+)=yes$", daemons, re.M)} - {"vtysh_enable"}
    assert enabled == daemon_lines.ENABLED


@pytest.mark.parametrize(("line", "daemon"), [
    ("router ospf", "ospfd"), (" ip ospf cost 10", "ospfd"), ("router isis core", "isisd"),
    ("pbr-map X seq 1", "pbrd"), (" vrrp 5 ip 10.0.0.1", "vrrpd"),
    ("ip route 10.0.0.0/8 blackhole", None), ("router bgp 64514", None),
    ("bfd", None), (" ip address 10.0.0.1/24", None),
])
def test_foreign_daemon(line: str, daemon: str | None) -> None:
    assert daemon_lines.foreign_daemon(line) == daemon


def test_foreign_daemon_lines_are_problems_with_their_line() -> None:
    problems = foreign_daemon_problems("hostname x\nrouter ospf\n ospf router-id 1.1.1.1\n")
    assert [p.line for p in problems] == [2]
    assert "ospfd" in problems[0].message


def test_frr_version_from_key_or_tag() -> None:
    assert frr_version(FrrConfig()) == (10, 4)
    assert frr_version(FrrConfig(image="localhost/evpn-boot-frr:8.4")) == (8, 4)
    assert frr_version(FrrConfig(image="registry:5000/frr:latest")) is None
    assert frr_version(FrrConfig(image="x/frr:latest", version="10.6.1")) == (10, 6)


@pytest.mark.parametrize(("rc", "crash"), [
    (-signal.SIGSEGV, True), (128 + signal.SIGABRT, True), (0, False), (1, False),
])
def test_is_crash(rc: int, crash: bool) -> None:
    assert is_crash(rc, "") is crash


CRASH_CONF = """frr defaults traditional
hostname x
!
router bgp 64514
 neighbor 1.2.3.4 remote-as 1
exit
!
route-map A permit 10
 set local-preference 5
exit
route-map BOOM permit 10
 set crash-me
exit
ip prefix-list P seq 5 permit 10.0.0.0/8
"""


class CrashingBgpd:
    """A fake bgpd -C: crashes when the file holds ``set crash-me``."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, argv: list[str], conf: Path) -> tuple[int, str]:
        if argv[0] == "vtysh":
            return 0, ""
        self.runs += 1
        return (-signal.SIGSEGV if "set crash-me" in conf.read_text() else 0), ""


def test_crash_bisection_names_the_block(tmp_path: Path) -> None:
    path = tmp_path / "frr.conf"
    path.write_text(CRASH_CONF)
    assert [CRASH_CONF.splitlines()[i] for i in top_level_blocks(CRASH_CONF)] == [
        "frr defaults traditional", "hostname x", "router bgp 64514", "route-map A permit 10",
        "route-map BOOM permit 10", "ip prefix-list P seq 5 permit 10.0.0.0/8"]
    runner = CrashingBgpd()
    assert crashing_line(runner, path, ["bgpd", "-C", "-f", "{conf}"]) == (
        11, "route-map BOOM permit 10")
    assert runner.runs <= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frr.conf"]   # probe removed


def test_crash_is_a_rejection_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "frr.conf"
    path.write_text(CRASH_CONF)
    with pytest.raises(EvpnBootError) as info:
        CommandValidator(CrashingBgpd(), "fake").validate(path)
    assert info.value.kind is ErrorKind.FRR_REJECTED
    assert "line 11" in str(info.value) and "crashed" in str(info.value)
