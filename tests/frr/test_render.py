"""The FRR renderer: golden files, FRR's own parser on each, and the rules
the DESIGN's FRR section sets (no explicit defaults, secrets, raw config last)."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr import files
from evpn_boot.frr.render import (
    REDACTED,
    read_secrets,
    redacted_secrets,
    render_all,
    render_frr_conf,
)
from evpn_boot.frr.tools import ImageRunner, host_has_frr, host_runner
from evpn_boot.frr.validate import CommandValidator, bgp_lines, bgpd_problems, vtysh_problems
from evpn_boot.runtime.podman import Podman
from tests.frr.cases import PASSWORD, all_cases, secrets_of
from tests.frr.conftest import GOLDEN_DIR

CASES = all_cases()
needs_host_frr = pytest.mark.skipif(not host_has_frr(),
                                    reason="FRR is not installed on this host (vtysh, bgpd)")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, update_golden: bool) -> None:
    model = CASES[name]
    text = render_frr_conf(model, secrets_of(model))
    golden = GOLDEN_DIR / f"{name}.conf"
    if update_golden:
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}: run pytest tests/frr --update-golden"
    assert text == golden.read_text(), f"{name}: rendering differs from {golden.name}"


def test_every_golden_has_a_case() -> None:
    stale = {p.stem for p in GOLDEN_DIR.glob("*.conf")} - set(CASES)
    assert not stale, f"golden files without a case: {stale}"


@pytest.mark.frr
@needs_host_frr
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_accepted_by_frr(name: str, tmp_path: Path) -> None:
    conf = tmp_path / "frr.conf"
    conf.write_text((GOLDEN_DIR / f"{name}.conf").read_text())
    CommandValidator(host_runner, "host FRR").validate(conf)   # raises on rejection


@pytest.mark.frr
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_accepted_by_frr_10(name: str, tmp_path: Path, frr_image_10: str) -> None:
    """The same goldens through FRR 10.3's vtysh --dryrun and bgpd -C (in its image)."""
    conf = tmp_path / "frr.conf"
    conf.write_text((GOLDEN_DIR / f"{name}.conf").read_text())
    CommandValidator(ImageRunner(Podman(), frr_image_10), frr_image_10).validate(conf)


@pytest.mark.frr
@needs_host_frr
@pytest.mark.parametrize(("raw", "line_hint"), [
    ("router bgp 64514\n bogus-command 1\n", "bogus-command"),          # grammar (vtysh)
    ("router bgp 64514\n address-family ipv4 unicast\n  neighbor 9.9.9.9 activate\n",
     "neighbor 9.9.9.9 activate"),                                       # semantics (bgpd)
    ("router bgp 65000\n", "router bgp 65000"),                          # second AS (bgpd)
])
def test_frr_rejects_broken_raw_config(raw: str, line_hint: str, tmp_path: Path) -> None:
    model = dataclasses.replace(CASES["example-l2-only"], raw_config=raw)
    conf = tmp_path / "frr.conf"
    conf.write_text(render_frr_conf(model, {}))
    with pytest.raises(EvpnBootError) as info:
        CommandValidator(host_runner, "host FRR").validate(conf)
    assert info.value.kind is ErrorKind.FRR_REJECTED
    assert "line " in str(info.value) and line_hint in str(info.value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_explicit_graceful_restart_timers(name: str) -> None:
    """Only a restart time that is not FRR's default (120) is spelt out, in every instance."""
    model = CASES[name]
    text = render_frr_conf(model, secrets_of(model))
    assert "bgp graceful-restart\n" in text
    assert "graceful-restart restart-time 120" not in text
    assert "graceful-restart stalepath-time" not in text
    instances = text.count("\nrouter bgp ")
    spelt = text.count(f" bgp graceful-restart restart-time {model.restart_time_s}\n")
    assert spelt == (0 if model.restart_time_s == 120 else instances)


def test_restart_time_follows_the_config() -> None:
    model = dataclasses.replace(CASES["example-lab-l3"], restart_time_s=120)
    rendered = render_all(model, {})
    assert "restart-time" not in rendered.frr_conf
    assert " -K 120" in rendered.daemons
    rendered = render_all(dataclasses.replace(model, restart_time_s=900), {})
    assert rendered.frr_conf.count(" bgp graceful-restart restart-time 900\n") == 2
    assert " -K 900" in rendered.daemons


def test_underlay_block_per_design() -> None:
    text = render_frr_conf(CASES["example-lab-l3"], {})
    for line in ("router bgp 64514", " no bgp ebgp-requires-policy",
                 " no bgp default ipv4-unicast", "  network 100.65.0.1/32",
                 " address-family l2vpn evpn", "  advertise-all-vni",
                 "  neighbor 192.168.11.2 allowas-in", "vrf red\n vni 100\nexit-vrf",
                 "router bgp 64514 vrf red", " neighbor 192.169.10.3 remote-as 64515",
                 "  advertise ipv4 unicast"):
        assert line in text, line


def test_allowas_in_only_when_asked() -> None:
    model = dataclasses.replace(CASES["example-l2-only"], allowas_in=False)
    assert "allowas-in" not in render_frr_conf(model, {})


def test_raw_config_is_last() -> None:
    text = render_frr_conf(CASES["raw-config"], {})
    assert text.rstrip().endswith("match ip address prefix-list only-vtep\n!".rstrip())
    assert text.index("route-map leaf-in") > text.rindex("exit\n")


def test_password_rendered_only_from_secrets() -> None:
    model = CASES["passwords"]
    text = render_frr_conf(model, secrets_of(model))
    assert f"neighbor 192.168.11.2 password {PASSWORD}" in text
    shown = render_frr_conf(model, redacted_secrets(model))
    assert PASSWORD not in shown and f"password {REDACTED}" in shown
    with pytest.raises(EvpnBootError, match="no password given"):
        render_frr_conf(model, {})
    assert render_all(model, secrets_of(model)).has_secrets
    assert not render_all(CASES["example-l2-only"], {}).has_secrets


def test_read_secrets_uses_the_injected_reader() -> None:
    model = CASES["passwords"]
    seen: list[Path] = []

    def reader(path: Path) -> str:
        seen.append(path)
        return "pw-" + path.stem

    assert read_secrets(model, reader) == {"192.168.11.2": "pw-bgp-0",
                                           "192.168.12.2": "pw-bgp-1"}
    assert len(seen) == 2
    with pytest.raises(EvpnBootError, match="without whitespace") as info:
        read_secrets(model, lambda _: "two words")
    assert "two words" not in str(info.value)


def test_files_written_atomically_with_private_modes(tmp_path: Path) -> None:
    target = tmp_path / "frr" / "frr.conf"
    assert files.write_if_changed(target, "one\n", files.MODE_SECRET)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    inode = target.stat().st_ino
    assert not files.write_if_changed(target, "one\n", files.MODE_SECRET)
    assert target.stat().st_ino == inode               # unchanged: not rewritten
    assert files.write_if_changed(target, "two\n", files.MODE_PLAIN)
    assert target.stat().st_ino != inode               # replaced by rename
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o750
    assert [p.name for p in target.parent.iterdir()] == ["frr.conf"]   # no temp left


def test_files_honour_mode_despite_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        files.write_if_changed(tmp_path / "daemons", "x\n", files.MODE_PLAIN)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "daemons").stat().st_mode) == 0o640


def test_vtysh_output_parsing() -> None:
    problems = vtysh_problems(2, "line 6: % Unknown command[25]:  bogus cmd\n")
    assert [(p.line, p.message) for p in problems] == [(6, "% Unknown command[25]:  bogus cmd")]
    assert vtysh_problems(0, "") == []
    assert vtysh_problems(1, "crash")[0].line == 0


def test_bgpd_output_ignores_other_daemons_lines() -> None:
    conf = "vrf red\n vni 100\nexit-vrf\n!\nrouter bgp 1\n neighbor x activate\nexit\n"
    assert bgp_lines(conf) == {5, 6, 7}
    out = ("BGP: [X][EC 1] No such command on config line 1: vrf red\n"
           "BGP: [X][EC 1] No such command on config line 2:  vni 100\n")
    assert bgpd_problems(out, conf) == []
    out += ("% Specify remote-as or peer-group commands first\n"
            "BGP: [X][EC 1] No such command on config line 6:  neighbor x activate\n")
    problems = bgpd_problems(out, conf)
    assert problems[0].line == 6 and "neighbor x activate" in problems[0].message
    assert "Specify remote-as" in problems[1].message


@pytest.mark.frr
@needs_host_frr
def test_host_validation_works_under_the_service_umask(tmp_path: Path) -> None:
    """evpn-boot.service runs with UMask=0077; bgpd (dropping to frr) must still read.

    Found by the VM tier: the check copy was created 0600 and bgpd could not read it.
    """
    conf = tmp_path / "frr.conf"
    conf.write_text((GOLDEN_DIR / "example-l2-only.conf").read_text())
    conf.chmod(0o600)
    previous = os.umask(0o077)
    try:
        CommandValidator(host_runner, "host FRR").validate(conf)
    finally:
        os.umask(previous)


@pytest.fixture(params=["8.4 host", "10.3 image"])
def any_validator(request: pytest.FixtureRequest) -> CommandValidator:
    """FRR 8.4's tools on the host, or FRR 10.3's in its image."""
    if request.param == "8.4 host":
        if not host_has_frr():
            pytest.skip("FRR is not installed on this host (vtysh, bgpd)")
        return CommandValidator(host_runner, "host FRR")
    image = request.getfixturevalue("frr_image_10")
    return CommandValidator(ImageRunner(Podman(), image), image)


@pytest.mark.frr
@pytest.mark.parametrize(("raw", "line_hint"), [
    # bgpd commands outside `router bgp` that bgpd refuses ("Config Failed")
    ("bgp as-path access-list AP permit (\n", "bgp as-path access-list AP permit ("),
    ("route-map RM permit 10\n set community 99999999:1\nexit\n", "set community 99999999:1"),
    # a daemon that `daemons` does not run: accepted by vtysh, ignored at run time
    ("router ospf\n ospf router-id 1.1.1.1\nexit\n", "ospfd"),
    ("interface eth9\n ip ospf cost 10\nexit\n", "ospfd"),
])
def test_validator_refuses_outside_bgp_on_both_versions(
        raw: str, line_hint: str, tmp_path: Path, any_validator: CommandValidator) -> None:
    model = dataclasses.replace(CASES["example-lab-l3"], raw_config=raw)
    text = render_frr_conf(model, {})
    conf = tmp_path / "frr.conf"
    conf.write_text(text)
    with pytest.raises(EvpnBootError) as info:
        any_validator.validate(conf)
    assert info.value.kind is ErrorKind.FRR_REJECTED
    first_raw_line = text.splitlines().index("! [frr] raw_config") + 2
    assert f"line {first_raw_line}" in str(info.value) or \
        f"line {first_raw_line + 1}" in str(info.value)
    assert line_hint in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frr.conf"]


@pytest.mark.frr
def test_validator_accepts_other_enabled_daemons_lines(
        tmp_path: Path, any_validator: CommandValidator) -> None:
    """staticd, zebra and bfdd lines fail bgpd -C with "No such command": fine."""
    raw = ("ip route 10.9.9.0/24 blackhole\nroute-map RM permit 10\n set community 65000:1\n"
           "exit\nbfd\n peer 192.168.11.2\n exit\nexit\n")
    model = dataclasses.replace(CASES["example-lab-l3"], raw_config=raw)
    conf = tmp_path / "frr.conf"
    conf.write_text(render_frr_conf(model, {}))
    any_validator.validate(conf)


VALIDATE_TOML = """
[node]
index = 1
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
nic = "eth1"
[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512
[frr]
raw_config = "{raw}"
"""


def _validate(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    from evpn_boot.cli.main import main
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", str(path), "validate"])
        raise SystemExit(0)
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


@pytest.mark.frr
@needs_host_frr
def test_validate_runs_frrs_parser_on_the_rendered_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALIDATE_TOML.format(raw="ip route 10.9.0.0/16 blackhole"))
    code, out, _ = _validate(capsys, path)
    assert code == 0 and "FRR check (host FRR tools): rendered frr.conf accepted" in out
    path.write_text(VALIDATE_TOML.format(raw="route-map RM permit 10\\n set community 9:x"))
    code, out, err = _validate(capsys, path)
    assert code == 6, (out, err)
    assert "set community 9:x" in err and "line " in err


def test_validate_says_when_no_frr_tools_are_there(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from evpn_boot.frr import tools
    monkeypatch.setattr(tools, "host_has_frr", lambda: False)
    monkeypatch.setenv("PATH", str(tmp_path))          # no podman either
    path = tmp_path / "config.toml"
    path.write_text(VALIDATE_TOML.format(raw=""))
    code, out, _ = _validate(capsys, path)
    assert code == 0
    assert "FRR check skipped: no FRR tools on this host and image " \
           "quay.io/frrouting/frr:10.4.3 is not present locally" in out
