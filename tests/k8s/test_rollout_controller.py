"""The handoff controller against the TLS API server, with real node-side handoffs.

Three nodes each run evpn-boot's node half (HandoffController with the node's
own client certificate; the release hook stands for stopping FRR); the
controller runs with a service-account token.  The API server plays
OpenPERouter's gated router DaemonSet (pods follow the evpn-boot.io/gate
label) and checks, whenever it creates a router pod, that the node's FRR has
stopped: two bgpd in one namespace would fail the test there.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
import trustme
from click.testing import CliRunner

from evpn_boot.cli.main import cli
from evpn_boot.clock import REAL_CLOCK
from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.boot_gate import close_gate
from evpn_boot.k8s.client import ApiClient
from evpn_boot.k8s.controller import HandoffController, identity_for
from evpn_boot.k8s.gate import ANN_OPENPE_NODEINDEX, LABEL_GATE, kubelet_node_labels
from evpn_boot.k8s.handoff import ANN_HANDOFF, ANN_STATE, Phase
from evpn_boot.k8s.kubeconfig import load
from evpn_boot.k8s.rollout_driver import OPENPE_GROUPS, ClusterSpec, RolloutDriver
from evpn_boot.rollout.decide import Decision, Settings
from tests.k8s.apiserver import FakeApiServer, FakeDaemonSet

IMAGE = "registry.example/openperouter/router:v0.2.0"
OPENPE_NS = "openperouter-system"
INDEX = {"a": 0, "b": 1, "c": 2}
ROUTER = FakeDaemonSet(name="openperouter-router", namespace=OPENPE_NS,
                       labels=(("app.kubernetes.io/component", "router"),),
                       affinity_key=LABEL_GATE, affinity_values=("supervising",))


class Node:
    """One node's evpn-boot: FRR running or not, and its handoff thread."""

    def __init__(self, name: str, kubeconfig: Path) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self.frr_running = False
        self.releases = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_release(self) -> None:
        self.frr_running = False
        self.releases += 1

    def boot(self) -> None:
        """evpn-boot's start: EVPN up, the gate closed (bounded), READY, then the handoff."""
        self.frr_running = True
        outcome = close_gate(self.name, INDEX[self.name], clock=REAL_CLOCK, timeout=5.0,
                             kubeconfig_path=self.kubeconfig, search_path=())
        assert outcome.closed, outcome.message
        self.ready_at = time.monotonic()      # READY=1: kubelet would start now
        controller = HandoffController(
            identity_for(self.name, "sha256:1", "perouter", INDEX[self.name]), self,
            kubeconfig_path=self.kubeconfig, search_path=(), watch_interval=0.05,
            timeout=2.0, backoff=Backoff(initial=0.05, maximum=0.2, rng=random.Random(1)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=controller.run, args=(self._stop,),
                                        daemon=True)
        self._thread.start()
        self.controller = controller

    def shutdown(self) -> None:
        """Power off: the handoff thread ends; evpn-boot's FRR (if still running) dies."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.frr_running = False


Cluster = tuple[FakeApiServer, dict[str, Node], Path]


@pytest.fixture
def cluster(ca: trustme.CA, api_servers: Callable[..., FakeApiServer],
            write_kubeconfig: Callable[..., Path]) -> Iterator[Cluster]:
    api = api_servers(ca, client_certs="optional")
    api.tokens["controller-token"] = "system:serviceaccount:evpn-boot:handoff-controller"
    api.add_daemonset(ROUTER)
    api.underlays[(OPENPE_GROUPS["v0.2"], OPENPE_NS)] = [{"metadata": {"name": "underlay"},
                                                          "spec": {}}]
    key, value = kubelet_node_labels().split("=")
    nodes = {}
    for name in INDEX:
        # Registered by kubelet with the gate closed; nodemarker then numbered
        # the nodes its own way (c, a, b -> 0, 1, 2).
        api.add_node(name, labels={key: value})
        api.set_annotation(name, ANN_OPENPE_NODEINDEX, str("cab".index(name)))
        api.set_images(name, [IMAGE, "pause:3.9"])
        nodes[name] = Node(name, write_kubeconfig(api, user=name))

    def check_no_two_bgpd(node: str) -> None:
        assert not nodes[node].frr_running, f"router pod created on {node} beside evpn-boot's FRR"

    api.pod_observer = check_no_two_bgpd
    admin = write_kubeconfig(api, cert=False, token="controller-token")
    yield api, nodes, admin
    for node in nodes.values():
        node.shutdown()


def wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def admin_cli(admin: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["handoff-controller", "--kubeconfig", str(admin), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_rollout_one_at_a_time_stops_at_a_stuck_node_and_repeats_after_a_reboot(
        cluster: Cluster) -> None:
    api, nodes, admin = cluster
    api.never_ready.add("b")                           # OpenPERouter cannot come up on b
    decisions: list[Decision] = []

    class Recording(RolloutDriver):
        def step(self) -> Decision:
            decision = super().step()
            decisions.append(decision)
            return decision

    driver = Recording(lambda: ApiClient(load(admin), timeout=2.0),
                       ClusterSpec(openpe_namespace=OPENPE_NS),
                       Settings(max_in_flight=1, images=(IMAGE,), stuck_after_s=2.0))
    stop = threading.Event()
    loop = threading.Thread(target=driver.run, args=(stop, 0.05), daemon=True)
    for node in nodes.values():
        node.boot()
    # Our index replaced nodemarker's before any OpenPERouter pod existed.
    assert {n: api.annotations(n)[ANN_OPENPE_NODEINDEX] for n in INDEX} == \
        {n: str(i) for n, i in INDEX.items()}
    assert api.pods == {}
    loop.start()
    try:
        def done(name: str) -> bool:
            return api.annotations(name).get(ANN_STATE) == "released" and \
                any(p["status"]["conditions"][0]["status"] == "True"
                    for p in api.router_pods(name))

        wait(lambda: done("a"), "a handed over")
        wait(lambda: api.annotations("b").get(ANN_HANDOFF) == "requested"
             or api.annotations("b").get(ANN_STATE) == "released", "b requested")
        api.stop()                                      # the API restarts midway
        time.sleep(0.5)
        api.start()
        wait(lambda: "stopped at b" in api.configmaps.get(
            ("evpn-boot", "evpn-boot-handoff"), {}).get("data", {}).get("summary", ""),
            "the rollout to stop at b")
        time.sleep(0.5)
        assert ANN_HANDOFF not in api.annotations("c")  # never requested: the rollout stopped
        assert api.annotations("c")[ANN_STATE] == "supervising"
        status = admin_cli(admin, "status")
        assert status.splitlines()[0].startswith("stopped at b: ")
        assert "OpenPERouter router pod not Ready" in status

        api.set_pod_ready("b", True)                    # the admin fixed OpenPERouter on b
        wait(lambda: done("c"), "c handed over")
        assert [n.releases for n in nodes.values()] == [1, 1, 1]

        # Pause, then reboot a released node: the gate closes before kubelet,
        # the DaemonSet controller removes the router pod; nothing is requested.
        assert "paused" in admin_cli(admin, "pause")
        nodes["a"].shutdown()
        nodes["a"].boot()
        assert api.labels("a")[LABEL_GATE] == "supervising"
        assert api.router_pods("a") == []               # gone before "kubelet" starts
        wait(lambda: nodes["a"].controller.phase is Phase.PUBLISHED, "a republished")
        time.sleep(0.5)
        assert ANN_HANDOFF not in api.annotations("a")
        assert admin_cli(admin, "status").startswith("paused: ")
        admin_cli(admin, "resume")
        wait(lambda: done("a") and nodes["a"].releases == 2 and
             api.labels("a")[LABEL_GATE] == "released", "a handed over again")
    finally:
        stop.set()
        loop.join(5)
    assert max(d.in_flight for d in decisions) == 1
    # Every node got exactly one router pod per handoff, a two (created, deleted, created).
    assert [e[2] for e in api.pod_events if e[0] == "a"] == ["created", "deleted", "created"]
    assert [e[2] for e in api.pod_events if e[0] in ("b", "c")] == ["created", "created"]


def test_admin_commands_fail_clearly(cluster: Cluster, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from evpn_boot.cli.main import main
    api, _, admin = cluster
    # Pausing before the controller ever ran creates the ConfigMap.
    assert "paused" in admin_cli(admin, "pause")
    assert api.configmaps[("evpn-boot", "evpn-boot-handoff")]["data"] == {"paused": "true"}
    assert admin_cli(admin, "status").startswith("paused")
    api.stop()
    with pytest.raises(SystemExit) as exited:
        main(["handoff-controller", "--kubeconfig", str(admin), "status"])
    assert exited.value.code == 9
    assert f"Kubernetes API: GET /api/v1/namespaces/evpn-boot/configmaps/evpn-boot-handoff " \
           f"at {api.url}" in capsys.readouterr().err
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["handoff-controller", "pause"])
    assert exited.value.code == 2
    assert "no credentials" in capsys.readouterr().err
