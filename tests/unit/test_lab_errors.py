"""A failing lab command prints one ``evpn-boot: error: lab: ...`` line and exits, never a
traceback (issue 18: a namespace helper that timed out under load surfaced as one)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from evpn_boot.cli.main import main
from evpn_boot.lab import fabric, node
from evpn_boot.netlink import nsfd


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pass the lab's root check and keep its SIGTERM handler out of pytest."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(signal, "signal", lambda *args: None)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert isinstance(exited.value.code, int)
    return exited.value.code, capsys.readouterr().err


def test_a_namespace_create_that_times_out_is_one_line(
        as_root: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    def times_out(name: str) -> None:
        raise TimeoutError("no response from the child pid")
    monkeypatch.setattr(nsfd, "create", times_out)
    code, err = run_cli(capsys, "lab", "up", "--dir", str(tmp_path / "lab"),
                        "--prefix", "ebtu-")
    assert code == 4
    assert err == ("evpn-boot: error: lab: probing the kernel for VRF support: "
                   "no response from the child pid\n")


def test_an_unexpected_error_in_a_lab_command_is_one_line(
        as_root: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setattr(fabric, "kernel_supports_vrf", lambda prefix: False)
    monkeypatch.setattr(fabric, "list_namespaces", lambda: [])
    monkeypatch.setattr(node, "remove_container", lambda name: False)
    code, err = run_cli(capsys, "lab", "fabric", "up", "--l2", "--dir", str(tmp_path / "lab"),
                        "--prefix", "a-prefix-far-too-long-")
    assert code == 2
    lines = err.splitlines()
    assert lines == ["evpn-boot: error: lab: namespace name 'a-prefix-far-too-long-leaf' is "
                     "longer than 15 bytes; shorten the prefix"]
