"""Validation inside the FRR image (hosts without FRR), the status parsers on
FRR 8.4's real JSON shapes, and the start/reload/restart decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr.lifecycle import decide, scrub
from evpn_boot.frr.status import parse_bgp_summary, parse_evpn_vnis
from evpn_boot.frr.tools import ImageRunner
from evpn_boot.frr.validate import CommandValidator
from evpn_boot.runtime.podman import LABEL_SPEC, ContainerSpec, ContainerState, Podman
from tests.frr.conftest import GOLDEN_DIR


@pytest.mark.frr
def test_image_validator_accepts_golden_and_rejects_bad(frr_image_any: str, tmp_path: Path) -> None:
    frr_image = frr_image_any
    validator = CommandValidator(ImageRunner(Podman(), frr_image), f"image {frr_image}")
    conf = tmp_path / "frr.conf"
    conf.write_text((GOLDEN_DIR / "passwords.conf").read_text())
    conf.chmod(0o600)
    validator.validate(conf)
    conf.write_text(conf.read_text() + "router bgp 64514\n address-family ipv4 unicast\n"
                    "  neighbor 9.9.9.9 activate\n")
    with pytest.raises(EvpnBootError) as info:
        validator.validate(conf)
    assert info.value.kind is ErrorKind.FRR_REJECTED and "9.9.9.9" in str(info.value)


SUMMARY_84 = {"default": {
    "ipv4Unicast": {"peers": {"192.168.11.2": {
        "remoteAs": 64512, "peerUptime": "00:00:07", "peerUptimeMsec": 7000, "pfxRcd": 2,
        "pfxSnt": 1, "state": "Established", "connectionsEstablished": 1,
        "connectionsDropped": 0}}},
    "l2VpnEvpn": {"peers": {"192.168.11.2": {
        "remoteAs": 64512, "peerUptime": "00:00:07", "peerUptimeMsec": 7000, "pfxRcd": 1,
        "pfxSnt": 4, "state": "Established", "connectionsEstablished": 1}}}},
    "red": {"ipv4Unicast": {"peers": {"192.169.10.3": {"remoteAs": 64515,
                                                       "state": "Active"}}}}}


def test_parse_bgp_summary_merges_families() -> None:
    sessions = parse_bgp_summary(SUMMARY_84)
    assert [(s["vrf"], s["neighbor"], s["established"]) for s in sessions] == [
        ("default", "192.168.11.2", True), ("red", "192.169.10.3", False)]
    assert sessions[0]["prefixes_received"] == {"ipv4-unicast": 2, "l2vpn-evpn": 1}
    assert sessions[0]["uptime_ms"] == 7000 and sessions[0]["established_count"] == 1
    assert parse_bgp_summary(None) == []


def test_parse_evpn_vnis_84_and_10_shapes() -> None:
    v84 = [{"vni": 110, "type": "L2", "vrf": "default", "vxlanInterface": "vni110",
            "vtepIp": "100.65.0.1", "numMacs": 2, "numArpNd": 1,
            "numRemoteVteps": ["100.65.0.9"]}]
    v10 = {"110": {"vni": 110, "type": "L2", "vxlanInterface": "vni110", "numMacs": 2,
                   "numRemoteVteps": 1, "remoteVteps": [{"ip": "100.65.0.9", "flood": "HER"}]}}
    for data in (v84, v10):
        (vni,) = parse_evpn_vnis(data)
        assert vni["vni"] == 110 and vni["remote_vteps"] == ["100.65.0.9"]
        assert vni["remote_vtep_count"] == 1
    assert parse_evpn_vnis([]) == []


SPEC = ContainerSpec(name="frr", image="img", netns="perouter", config_dir=Path("/etc/x"))


def state(running: bool = True, digest: str = SPEC.digest()) -> ContainerState:
    return ContainerState(name="frr", exists=True, status="running" if running else "exited",
                          running=running, labels={LABEL_SPEC: digest})


@pytest.mark.parametrize(("current", "written", "action"), [
    (ContainerState(name="frr", exists=False), set(), "started"),
    (state(), set(), "unchanged"),
    (state(), {"frr.conf"}, "reloaded"),                  # never a restart for a config
    (state(), {"daemons", "frr.conf"}, "restarted"),
    (state(running=False), set(), "restarted"),           # crashed or stopped
    (state(digest="other"), set(), "restarted"),          # image or netns changed
])
def test_decide(current: ContainerState, written: set[str], action: str) -> None:
    assert decide(current, SPEC, written) == action


def test_scrub_hides_passwords() -> None:
    assert scrub("neighbor x password hunter2", {"x": "hunter2"}) == \
        "neighbor x password <redacted>"
