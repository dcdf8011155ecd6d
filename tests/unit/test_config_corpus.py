"""Every broken configuration exits 2, names the key path, and changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evpn_boot.cli.main import main
from evpn_boot.config.load import parse_config
from tests.unit.config_cases import BROKEN, OPENPEROUTER, VALID


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def test_corpus_is_large_and_unique() -> None:
    ids = [case[0] for case in BROKEN]
    assert len(ids) >= 40
    assert len(ids) == len(set(ids))
    texts = [case[1] for case in BROKEN]
    assert VALID not in texts, "a 'broken' case is identical to the valid config"


def test_valid_base_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID)
    code, out, err = run_cli(capsys, "-c", str(path), "validate")
    assert (code, err) == (0, "")
    assert "valid" in out


@pytest.mark.parametrize(("text", "key_path", "fragment"),
                         [pytest.param(t, k, f, id=i) for i, t, k, f in BROKEN])
def test_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                       key_path: str, fragment: str) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = tmp_path / "config.toml"
    path.write_text(text)
    before = sorted(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code, out, err = run_cli(capsys, "-c", str(path), "validate")
    finally:
        os.chdir(cwd)
    assert code == 2, err
    assert out == ""
    assert str(path) in err
    assert key_path in err
    assert fragment.lower() in err.lower()
    assert "Traceback" not in err
    # Nothing touched: no file appeared next to the config or in the working dir.
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(workdir) == []


def test_every_problem_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several independent mistakes are all reported in one run."""
    text = (VALID.replace('vrf = "blue"', 'vrf = "red"')
            .replace("vni = 110", "vni = 100")
            .replace('local_cidr = "192.169.20.0/24"', 'local_cidr = "192.169.10.0/24"'))
    path = tmp_path / "c.toml"
    path.write_text(text)
    code, _, err = run_cli(capsys, "-c", str(path), "validate")
    assert code == 2
    for fragment in ("l3vni[1].vrf", "l2vni[0].vni", "l3vni[1].local_cidr"):
        assert fragment in err
    assert "3 problems" in err


def test_messages_carry_line_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = VALID.replace('vrf = "blue"', 'vrf = "red"')
    path = tmp_path / "c.toml"
    path.write_text(text)
    line = text.splitlines().index('vrf = "red"', 25) + 1
    _, _, err = run_cli(capsys, "-c", str(path), "validate")
    assert f"l3vni[1].vrf (line {line})" in err


def test_world_readable_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    path = tmp_path / "c.toml"
    path.write_text(VALID.replace("asn = 64512", f'asn = 64512\npassword_file = "{secret}"'))
    code, _, err = run_cli(capsys, "-c", str(path), "validate")
    assert code == 2
    assert "readable or writable by group or others" in err
    assert "underlay.neighbors[0].password_file" in err
    assert "s3cret" not in err
    secret.chmod(0o600)
    code, _, err = run_cli(capsys, "-c", str(path), "validate")
    assert code == 0, err


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "-c", str(tmp_path / "nope.toml"), "validate")
    assert code == 2 and "file not found" in err
    code, _, err = run_cli(capsys, "-c", str(tmp_path), "validate")
    assert code == 2 and "directory" in err


def test_config_from_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.toml"
    path.write_text(VALID)
    monkeypatch.setenv("EVPN_BOOT_CONFIG", str(path))
    code, out, _ = run_cli(capsys, "validate")
    assert code == 0 and str(path) in out


def test_bad_cli_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--node-index", "-4", "validate")
    assert code == 2 and "--node-index" in err
    code, _, err = run_cli(capsys, "no-such-command")
    assert code == 2 and "no-such-command" in err


@pytest.mark.parametrize(("case_id", "text"), [(c[0], c[1]) for c in OPENPEROUTER],
                         ids=[c[0] for c in OPENPEROUTER])
def test_openperouter_rules_only_bind_with_the_handoff(case_id: str, text: str) -> None:
    """With [handoff] enabled = false evpn-boot stays the owner: its own rules only."""
    assert "enabled = true" in text
    parse_config(text.replace("enabled = true", "enabled = false").encode(), case_id)
