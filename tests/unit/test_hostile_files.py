"""Password files and the configuration file: refused unless only root controls them.

Each case is checked through the CLI (``validate`` exits 2 naming the key path or
the file), and no message ever carries the password.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from tests.unit.config_cases import VALID
from tests.unit.test_config_corpus import run_cli

SECRET = "s3cret-Pa55"
KEY = "underlay.neighbors[0].password_file"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to another user)")


def _config(tmp_path: Path, password_file: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(VALID.replace("asn = 64512",
                                  f'asn = 64512\npassword_file = "{password_file}"'))
    return path


def _secret(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "pw"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def _validate(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "-c", str(config), "validate")
    assert SECRET not in out + err
    assert "Traceback" not in err
    return code, err


def test_private_password_file_is_accepted(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, _secret(tmp_path, f"{SECRET}\n".encode()))
    assert _validate(capsys, config)[0] == 0


@pytest.mark.parametrize(("content", "mode", "fragment"), [
    pytest.param(f"{SECRET}\n".encode(), 0o640, "group or others", id="group-readable"),
    pytest.param(f"{SECRET}\n".encode(), 0o604, "group or others", id="other-readable"),
    pytest.param(f"{SECRET}\n".encode(), 0o620, "group or others", id="group-writable"),
    pytest.param(b"", 0o600, "is empty", id="empty"),
    pytest.param(b"   \n", 0o600, "is empty", id="whitespace-only"),
    pytest.param(b"a b\n", 0o600, "whitespace", id="inner-space"),
    pytest.param(b"x" * 81 + b"\n", 0o600, "at most 80", id="too-long"),
    pytest.param(b"\xff\xfe" + SECRET.encode(), 0o600, "not UTF-8", id="not-utf8"),
    pytest.param(f"{SECRET}\nsecond line\n".encode(), 0o600, "more than one line",
                 id="two-lines"),
    pytest.param(b"ab\x07cd\n", 0o600, "control", id="control-char"),
    pytest.param(b"x" * 5000, 0o600, "larger than", id="huge"),
])
def test_bad_password_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      content: bytes, mode: int, fragment: str) -> None:
    config = _config(tmp_path, _secret(tmp_path, content, mode))
    code, err = _validate(capsys, config)
    assert code == 2
    assert KEY in err and fragment in err


def test_password_symlink_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = _secret(tmp_path, f"{SECRET}\n".encode())   # a private file, as /etc/shadow is
    link = tmp_path / "link"
    link.symlink_to(target)
    code, err = _validate(capsys, _config(tmp_path, link))
    assert code == 2
    assert KEY in err and "is a symlink" in err


def test_password_fifo_does_not_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    code, err = _validate(capsys, _config(tmp_path, fifo))
    assert code == 2
    assert "not a regular file" in err


@needs_root
def test_password_owned_by_another_user_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = _secret(tmp_path, f"{SECRET}\n".encode())
    os.chown(secret, pwd.getpwnam("nobody").pw_uid, -1)
    code, err = _validate(capsys, _config(tmp_path, secret))
    assert code == 2
    assert KEY in err and "owned by uid" in err


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602], ids=oct)
def test_config_writable_by_others_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              mode: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID)
    path.chmod(mode)
    code, err = _validate(capsys, path)
    assert code == 2
    assert str(path) in err and "writable by group or others" in err


@needs_root
def test_config_owned_by_another_user_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID)
    os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)
    code, err = _validate(capsys, path)
    assert code == 2
    assert str(path) in err and "owned by uid" in err


def test_config_read_only_for_others_is_accepted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID)
    path.chmod(0o644)
    assert _validate(capsys, path)[0] == 0


def test_render_reads_the_same_rules(tmp_path: Path) -> None:
    """The renderer's reader refuses what validation refuses (one implementation)."""
    from evpn_boot.errors import ErrorKind, EvpnBootError
    from evpn_boot.frr.render import read_password_file
    good = _secret(tmp_path, f"  {SECRET}  \n".encode())
    assert read_password_file(good) == SECRET
    good.chmod(0o644)
    with pytest.raises(EvpnBootError) as info:
        read_password_file(good)
    assert info.value.kind is ErrorKind.CONFIG and SECRET not in str(info.value)
