"""The node health contract through the project's TLS API server (unit tier).

The daemon's phase logic runs on fakes in virtual time (FRR's sessions are set
by the test); the Node condition and taint go over real HTTPS to
:class:`tests.k8s.apiserver.FakeApiServer`, which enforces the Node
authorizer's and NodeRestriction's rules: the node (``system:node:node3``)
may patch its own ``nodes/status`` but not change its taints; an admin token
may.  Also checks the metrics file written alongside.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import pytest

from evpn_boot.daemon.adapters import K8sHealthFactory
from evpn_boot.daemon.ports import Ports, Target
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.supervise import run_daemon
from evpn_boot.k8s.health import CONDITION, TAINT_KEY
from evpn_boot.metrics.textfile import MetricsFile
from tests.daemon.fakes import (
    FakeClock,
    FakeDataplane,
    FakeFrr,
    FakeNotifier,
    FakeSignals,
    make_target,
)
from tests.k8s.apiserver import FakeApiServer
from tests.k8s.conftest import api_servers, ca, write_kubeconfig  # noqa: F401 - fixtures

NODE = "node3"
LEAF = "192.168.11.2"


def _target(kubeconfig: Path, taint_kubeconfig: Path | None, metrics: Path) -> Target:
    target = make_target(require="any-established", timeout=10)
    config = target.config
    config = config.model_copy(update={
        "handoff": config.handoff.model_copy(update={"kubeconfig": kubeconfig}),
        "health": config.health.model_copy(update={"taint_kubeconfig": taint_kubeconfig}),
        "metrics": config.metrics.model_copy(update={"textfile": metrics}),
    })
    return Target(config, target.desired, target.digest, target.path)


def _run(target: Target, script: list[tuple[float, Callable[[FakeFrr], None]]]) -> int:
    clock = FakeClock()
    notifier = FakeNotifier(None, clock)
    dataplane, frr, signals = FakeDataplane(clock), FakeFrr(), FakeSignals()
    for when, action in script:
        clock.at(when, lambda a=action: a(frr))   # type: ignore[misc]
    clock.at(script[-1][0] + 1, lambda: signals.post(15))
    ports = Ports(dataplane=dataplane, notifier=notifier, clock=clock, frr=frr,
                  health=K8sHealthFactory(clock), metrics=MetricsFile())
    try:
        return run_daemon(ports, lambda: target, Pulse(clock, notifier, signals))
    finally:
        signals.close()
        dataplane.close_all()


@pytest.fixture
def server(ca: Any, api_servers: Callable[..., FakeApiServer]) -> FakeApiServer:  # noqa: F811
    made = api_servers(ca, client_certs="optional")   # the admin uses a token
    made.add_node(NODE)
    made.tokens["admin-token"] = "admin"
    return made


def test_condition_and_taint_follow_the_fabric(server: FakeApiServer, tmp_path: Path,
                                               write_kubeconfig: Callable[..., Path],  # noqa: F811
                                               ) -> None:
    node_kc = write_kubeconfig(server, user=NODE)
    admin_kc = write_kubeconfig(server, cert=False, token="admin-token")
    metrics = tmp_path / "textfile" / "evpn_boot.prom"
    seen: list[tuple[str, Any, list[str], str]] = []

    def snapshot(label: str) -> Callable[[FakeFrr], None]:
        def take(frr: FakeFrr) -> None:
            cond = server.condition(NODE, CONDITION)
            seen.append((label, cond and (cond["status"], cond["reason"]),
                         [t["key"] for t in server.taints(NODE)], metrics.read_text()))
        return take

    def leaf(state: str) -> Callable[[FakeFrr], None]:
        def set_state(frr: FakeFrr) -> None:
            frr.state = {LEAF: state}
        return set_state

    code = _run(_target(node_kc, admin_kc, metrics), [
        (11.0, snapshot("degraded READY")), (11.5, leaf("Established")),
        (22.0, snapshot("session up")), (22.5, leaf("Active")),
        (33.0, snapshot("leaf gone")),
    ])
    assert code == 0
    by_label = {label: (cond, taints) for label, cond, taints, _ in seen}
    assert by_label == {
        "degraded READY": (("False", "UnderlaySessionsDown"), [TAINT_KEY]),
        "session up": (("True", "FabricReady"), []),
        "leaf gone": (("False", "UnderlaySessionsDown"), [TAINT_KEY]),
    }, seen
    texts = {label: text for label, _, _, text in seen}
    assert "evpn_boot_degraded 1" in texts["degraded READY"]
    assert "evpn_boot_ready 1" in texts["degraded READY"]
    assert 'evpn_boot_phase{phase="supervise"} 1' in texts["degraded READY"]
    assert "evpn_boot_degraded 0" in texts["session up"]
    assert f'evpn_boot_bgp_session_established{{neighbor="{LEAF}"}} 1' in texts["session up"]
    assert f'evpn_boot_bgp_session_established{{neighbor="{LEAF}"}} 0' in texts["leaf gone"]
    # Who did what: the condition as the node itself, the taint as the admin.
    users = {(path.rsplit("/", 1)[-1], user) for method, path, user in server.requests
             if method == "PATCH"}
    assert users == {("status", f"system:node:{NODE}"), (NODE, "admin")}, users
    cond = server.condition(NODE, CONDITION)
    assert cond is not None and "0/1" in cond["message"]


def test_node_credentials_cannot_taint_but_keep_the_condition(
        server: FakeApiServer, write_kubeconfig: Callable[..., Path],  # noqa: F811
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    node_kc = write_kubeconfig(server, user=NODE)
    caplog.set_level(logging.WARNING, logger="evpn_boot.k8s.health")
    code = _run(_target(node_kc, None, tmp_path / "m.prom"), [(11.0, lambda frr: None)])
    assert code == 0
    cond = server.condition(NODE, CONDITION)
    assert cond is not None and cond["status"] == "False", cond
    assert server.taints(NODE) == []
    refused = [r.getMessage() for r in caplog.records if "not allowed to modify taints" in
               r.getMessage()]
    assert len(refused) == 1, caplog.text          # logged once, not per retry
    assert "NodeRestriction" in refused[0] and "taint_kubeconfig" in refused[0]
