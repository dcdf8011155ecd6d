"""FrrService's rules on a scripted podman: health, sessions, and the handoff's release."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Optional

import pytest

from evpn_boot.errors import EvpnBootError
from evpn_boot.frr import service
from evpn_boot.frr.service import FrrService
from evpn_boot.runtime.podman import ContainerState, ExecResult
from tests.daemon.fakes import make_target

DESIRED = make_target().desired
NAME = DESIRED.runtime.frr_container
SILENT = ExecResult(0, "", "")


class ScriptedPodman:
    """Answers inspect/exec from fixed values and records every lifecycle call."""

    def __init__(self, state: ContainerState, vtysh: ExecResult = SILENT) -> None:
        self.state = state
        self.vtysh = vtysh
        self.calls: list[tuple[Any, ...]] = []
        self.clock = None

    def inspect(self, name: str) -> ContainerState:
        return self.state

    def exec(self, name: str, argv: Sequence[str], *, timeout: float = 60.0,
             timeout_is_code: bool = False) -> ExecResult:
        self.calls.append(("exec", name, *argv))
        return self.vtysh

    def kill(self, name: str, signal: str = "KILL") -> None:
        self.calls.append(("kill", name, signal))

    def wait(self, name: str, timeout_s: float = 30.0) -> None:
        self.calls.append(("wait", name))


def running(status: str = "running") -> ContainerState:
    return ContainerState(name=NAME, exists=True, status=status, running=status == "running",
                          exit_code=None if status == "running" else 137)


def frr(podman: ScriptedPodman) -> FrrService:
    return FrrService(podman=podman)  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "vtysh", "problem"), [
    (ContainerState(name=NAME, exists=False), ExecResult(0, "", ""),
     f"container {NAME} is gone"),
    (running("exited"), ExecResult(0, "", ""), f"container {NAME} is exited (exit code 137)"),
    (running(), ExecResult(1, "", "vtysh: connect failed\n"),
     f"vtysh in {NAME} exited 1: vtysh: connect failed"),
    (running(), ExecResult(0, "zebra staticd\n", ""),
     f"daemons not running in {NAME}: bgpd"),
    (running(), ExecResult(0, "zebra bgpd staticd bfdd\n", ""), None),
])
def test_health_rule(state: ContainerState, vtysh: ExecResult, problem: Optional[str]) -> None:
    assert frr(ScriptedPodman(state, vtysh)).problem(DESIRED) == problem


def test_sessions_are_read_from_the_default_vrf_summary() -> None:
    summary = {"ipv4Unicast": {"peers": {"192.168.11.2": {"state": "Established"}}},
               "l2VpnEvpn": {"peers": {"192.168.11.2": {"state": "Established"},
                                       "192.168.12.2": {"state": "Active"}}}}
    podman = ScriptedPodman(running(), ExecResult(0, json.dumps(summary), ""))
    assert frr(podman).sessions(DESIRED) == {"192.168.11.2": "Established",
                                             "192.168.12.2": "Active"}
    assert podman.calls == [("exec", NAME, "vtysh", "-c", "show bgp summary json")]


def test_unreadable_sessions_raise() -> None:
    podman = ScriptedPodman(running(), ExecResult(0, "% not json", ""))
    with pytest.raises(EvpnBootError, match="unreadable JSON"):
        frr(podman).sessions(DESIRED)


def test_release_kills_the_running_container_and_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "frr_unit_in_charge", lambda: False)
    podman = ScriptedPodman(running())
    frr(podman).release(DESIRED)
    # SIGKILL, never a graceful stop: no FRR daemon may run its exit path.
    assert podman.calls == [("kill", NAME, "KILL"), ("wait", NAME)]


def test_release_leaves_a_stopped_container_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "frr_unit_in_charge", lambda: False)
    podman = ScriptedPodman(running("exited"))
    frr(podman).release(DESIRED)
    assert podman.calls == []
