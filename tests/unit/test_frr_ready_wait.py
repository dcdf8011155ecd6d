"""FRR's readiness poll survives a slow ``podman exec`` (seen in the VM tier's
container mode: a remote exec took over 20 s under emulation and the first
timeout failed evpn-boot's whole start)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from evpn_boot.errors import EvpnBootError
from evpn_boot.frr import lifecycle
from evpn_boot.runtime import podman as podman_mod
from evpn_boot.runtime.podman import ContainerState, Podman


class _SlowOnce(Podman):
    """The real ``exec`` path; only the podman process is simulated: the first
    exec times out, the next answers with the loaded config."""

    def __init__(self) -> None:
        super().__init__(binary="podman")
        self.execs = 0

    def inspect(self, name: str) -> ContainerState:
        return ContainerState(name=name, exists=True, status="running", running=True)


def _fake_run(pod: _SlowOnce) -> Any:
    def run(argv: Sequence[str], *, timeout: float,
            **_: object) -> subprocess.CompletedProcess[str]:
        if argv[1] == "exec":
            pod.execs += 1
            if pod.execs == 1:
                raise subprocess.TimeoutExpired(list(argv), timeout)
            return subprocess.CompletedProcess(list(argv), 0, "router bgp 64514\n", "")
        raise AssertionError(argv)
    return run


def test_wait_ready_retries_a_timed_out_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _SlowOnce()
    monkeypatch.setattr(podman_mod.command, "run", _fake_run(pod))
    monkeypatch.setattr(lifecycle, "READY_POLL_S", 0.0)
    lifecycle.wait_ready(pod, "evpn-boot-frr", 64514, timeout_s=30)
    assert pod.execs == 2


def test_other_exec_callers_still_see_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _SlowOnce()
    monkeypatch.setattr(podman_mod.command, "run", _fake_run(pod))
    with pytest.raises(EvpnBootError, match="timed out"):
        pod.exec("evpn-boot-frr", ["vtysh", "-c", "show daemons"], timeout=5)
