"""The handoff driver end to end against the local TLS API server.

Time is simulated: each test advances ``now`` to the due time the controller
returns, so backoff and watch intervals cost nothing; the API calls are real
HTTPS round trips.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import pytest
import trustme

from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.controller import HandoffController, identity_for
from evpn_boot.k8s.handoff import (
    ANN_CONFIG_DIGEST,
    ANN_HANDOFF,
    ANN_NETNS,
    ANN_NODE_INDEX,
    ANN_OPENPE_NODEINDEX,
    ANN_STATE,
    Phase,
)
from tests.k8s.apiserver import FakeApiServer
from tests.k8s.conftest import NODE

LOGGER = "evpn_boot.k8s.controller"


class Hook:
    """Stands in for the daemon's release (the integrator adds the real-FRR test)."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times

    def on_release(self) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError("podman stop timed out")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0


def make(kubeconfig_path: Optional[Path], hook: Hook, search: tuple[str, ...] = (),
         **kwargs: object) -> HandoffController:
    return HandoffController(
        identity_for("Node-A", "sha256:feed", "perouter", 3), hook,
        kubeconfig_path=kubeconfig_path, search_path=search,
        backoff=Backoff(initial=0.5, maximum=4.0, rng=random.Random(7)),
        watch_interval=10.0, timeout=2.0, **kwargs)  # type: ignore[arg-type]


def run_until(controller: HandoffController, clock: Clock, done: Callable[[], bool],
              max_steps: int = 60) -> int:
    """Step (advancing simulated time) until ``done``; returns the steps taken."""
    for step in range(max_steps):
        if done():
            return step
        due = controller.step(clock.now)
        if due is None:
            break
        clock.now = max(clock.now, due)
    assert done(), f"not done after {max_steps} steps; phase {controller.phase}"
    return max_steps


def steps(controller: HandoffController, clock: Clock, count: int) -> None:
    for _ in range(count):
        due = controller.step(clock.now)
        assert due is not None
        clock.now = max(clock.now, due)


def messages(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == LOGGER and needle in r.getMessage()]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="evpn_boot.k8s")


def test_publishes_annotations_and_openpe_nodeindex(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path]) -> None:
    controller, clock = make(write_kubeconfig(api), Hook()), Clock()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    assert api.annotations(NODE) == {
        ANN_STATE: "supervising", ANN_CONFIG_DIGEST: "sha256:feed", ANN_NETNS: "perouter",
        ANN_NODE_INDEX: "3", ANN_OPENPE_NODEINDEX: "3"}
    # Watching is one GET per interval, no further writes.
    patches = len(api.patches())
    before = len(api.requests)
    start = clock.now
    steps(controller, clock, 5)
    assert len(api.patches()) == patches
    assert len(api.requests) - before == 5
    assert clock.now - start == pytest.approx(50.0)        # 5 GETs, the next due 10 s later


def test_nodemarkers_openpe_nodeindex_is_replaced_by_ours(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path],
        caplog: pytest.LogCaptureFixture) -> None:
    api.set_annotation(NODE, ANN_OPENPE_NODEINDEX, "12")
    controller, clock = make(write_kubeconfig(api), Hook()), Clock()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    assert api.annotations(NODE)[ANN_OPENPE_NODEINDEX] == "3"
    assert api.annotations(NODE)[ANN_NODE_INDEX] == "3"
    assert len(messages(caplog, "openpe.io/nodeindex='12'")) == 1


def test_handoff_requested_then_released(api: FakeApiServer,
                                         write_kubeconfig: Callable[..., Path]) -> None:
    hook = Hook()
    controller, clock = make(write_kubeconfig(api), hook), Clock()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    steps(controller, clock, 3)
    assert hook.calls == 0
    api.set_annotation(NODE, ANN_HANDOFF, "requested")     # the reconciler asks
    run_until(controller, clock, lambda: controller.done)
    assert hook.calls == 1
    assert api.annotations(NODE)[ANN_STATE] == "released"
    assert api.annotations(NODE)[ANN_HANDOFF] == "requested"   # the reconciler's to clear
    requests = len(api.requests)
    assert controller.step(clock.now + 1000) is None           # supervision has stopped
    assert len(api.requests) == requests and hook.calls == 1


def test_failing_release_hook_is_retried_and_logged_once(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path],
        caplog: pytest.LogCaptureFixture) -> None:
    hook = Hook(fail_times=3)
    api.set_annotation(NODE, ANN_HANDOFF, "requested")
    controller, clock = make(write_kubeconfig(api), hook), Clock()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    # a request left over from before this run is cleared, not obeyed
    assert ANN_HANDOFF not in api.annotations(NODE)
    assert hook.calls == 0
    api.set_annotation(NODE, ANN_HANDOFF, "requested")
    run_until(controller, clock, lambda: controller.done)
    assert hook.calls == 4
    assert len(messages(caplog, "release hook failed")) == 1
    assert len(messages(caplog, "recovered (was RELEASE_HOOK)")) == 1


def test_node_not_registered_yet(api: FakeApiServer, write_kubeconfig: Callable[..., Path],
                                 caplog: pytest.LogCaptureFixture) -> None:
    del api.nodes[NODE]
    controller, clock = make(write_kubeconfig(api), Hook()), Clock()
    steps(controller, clock, 8)
    assert controller.phase is Phase.PUBLISHING
    warnings = messages(caplog, "404 Not Found")
    assert len(warnings) == 1 and f'nodes "{NODE}" not found' in warnings[0]
    assert [r.levelno for r in caplog.records if "404" in r.getMessage()] == [logging.WARNING]
    api.add_node(NODE)                                     # kubelet registers the Node
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    assert len(messages(caplog, "publishing: recovered (was NOT_FOUND)")) == 1


def test_forbidden_then_unauthorized_each_logged_once(
        ca: trustme.CA, api_servers: Callable[..., FakeApiServer],
        write_kubeconfig: Callable[..., Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    server = api_servers(ca, client_certs="optional")
    server.add_node(NODE)
    server.tokens["bootstrap"] = "system:bootstrap:abcdef"
    server.read_only.add("system:bootstrap:abcdef")        # may read, may not patch
    path = write_kubeconfig(server, cert=False, token_file="token")
    (path.parent / "token").write_text("bootstrap")
    controller, clock = make(path, Hook()), Clock()
    steps(controller, clock, 6)
    assert controller.phase is Phase.PUBLISHING
    assert len(messages(caplog, "403 Forbidden")) == 1
    (path.parent / "token").write_text("revoked")           # now rejected outright
    steps(controller, clock, 6)
    assert len(messages(caplog, "401 Unauthorized")) == 1
    server.tokens["node"] = f"system:node:{NODE}"
    (path.parent / "token").write_text("node")              # kubelet's real credentials
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    assert server.annotations(NODE)[ANN_STATE] == "supervising"


def test_conflict_and_server_errors_are_retried(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path],
        caplog: pytest.LogCaptureFixture) -> None:
    controller, clock = make(write_kubeconfig(api), Hook()), Clock()
    api.inject("PATCH", 409, times=3)
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    assert len(messages(caplog, "409 Conflict")) == 1
    api.inject("GET", 503, times=4)
    api.inject("GET", 500, times=2)
    steps(controller, clock, 6)
    assert len(messages(caplog, "5xx server error")) == 1   # 503 and 500: same class
    steps(controller, clock, 1)
    assert len(messages(caplog, "published: recovered (was SERVER_ERROR)")) == 1
    assert controller.phase is Phase.PUBLISHED


def test_server_appears_late(ca: trustme.CA, api_servers: Callable[..., FakeApiServer],
                             write_kubeconfig: Callable[..., Path],
                             caplog: pytest.LogCaptureFixture) -> None:
    server = api_servers(ca, start=False)
    server.add_node(NODE)
    controller, clock = make(write_kubeconfig(server), Hook()), Clock()
    steps(controller, clock, 10)
    assert controller.phase is Phase.WAITING_FOR_API
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1 and unreachable[0].levelno == logging.INFO
    assert clock.now <= 10 * 4.0                            # bounded backoff
    server.start()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)


def test_kubeconfig_written_late_by_kubelet(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    impostor = tmp_path / "etc/kubernetes/kubelet.conf"
    impostor.parent.mkdir(parents=True)
    impostor.write_text("apiVersion: kubelet.config.k8s.io/v1beta1\n"
                        "kind: KubeletConfiguration\n")
    late = tmp_path / "var/lib/kubelet/kubeconfig"
    controller, clock = make(None, Hook(), search=(str(impostor), str(late))), Clock()
    steps(controller, clock, 4)
    assert len(messages(caplog, "no usable kubeconfig")) == 1
    write_kubeconfig(api, path=late)                        # TLS bootstrap finished
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)


def test_tls_failures(ca: trustme.CA, api: FakeApiServer,
                      write_kubeconfig: Callable[..., Path],
                      caplog: pytest.LogCaptureFixture) -> None:
    path = write_kubeconfig(api, trust=trustme.CA())         # wrong CA
    controller, clock = make(path, Hook()), Clock()
    steps(controller, clock, 5)
    assert len(messages(caplog, "TLS failure")) == 1
    write_kubeconfig(api, path=path, cert=False, token="x")  # right CA, no client cert
    steps(controller, clock, 5)
    assert controller.phase is Phase.WAITING_FOR_API
    assert api.requests == []
    write_kubeconfig(api, path=path)                         # fixed: client is rebuilt
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)


def test_api_flapping(api: FakeApiServer, write_kubeconfig: Callable[..., Path],
                      caplog: pytest.LogCaptureFixture) -> None:
    hook = Hook()
    controller, clock = make(write_kubeconfig(api), hook), Clock()
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
    for _ in range(3):
        api.stop()
        steps(controller, clock, 4)
        assert controller.phase is Phase.PUBLISHED          # never regresses, never fatal
        api.start()
        steps(controller, clock, 2)
    down = messages(caplog, "published: API server unreachable")
    assert len(down) == 3                                    # once per outage
    assert len(messages(caplog, "published: recovered (was UNREACHABLE)")) == 3
    api.set_annotation(NODE, ANN_HANDOFF, "requested")
    api.stop()
    steps(controller, clock, 3)
    assert hook.calls == 0
    api.start()
    run_until(controller, clock, lambda: controller.phase is Phase.MARKING_RELEASED)
    api.stop()                                               # down while marking released
    steps(controller, clock, 3)
    assert hook.calls == 1 and not controller.done
    api.start()
    run_until(controller, clock, lambda: controller.done)
    assert hook.calls == 1
    assert api.annotations(NODE)[ANN_STATE] == "released"


def test_runs_in_a_thread_and_stops(api: FakeApiServer,
                                    write_kubeconfig: Callable[..., Path]) -> None:
    hook = Hook()
    controller = HandoffController(
        identity_for(NODE, "sha256:feed", "perouter", 3), hook,
        kubeconfig_path=write_kubeconfig(api), search_path=(),
        backoff=Backoff(initial=0.02, maximum=0.1), watch_interval=0.05, timeout=2.0)
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while controller.phase is not Phase.PUBLISHED and time.monotonic() < deadline:
            time.sleep(0.01)
        api.set_annotation(NODE, ANN_HANDOFF, "requested")
        thread.join(10)
        assert not thread.is_alive()                         # returns once released
        assert hook.calls == 1 and controller.done
    finally:
        stop.set()
        thread.join(5)
    # stop before release also ends the thread promptly
    other = HandoffController(identity_for(NODE, "d", "perouter", 3), Hook(),
                              kubeconfig_path=Path("/nonexistent"), search_path=(),
                              backoff=Backoff(initial=5, maximum=5))
    stop2 = threading.Event()
    worker = threading.Thread(target=other.run, args=(stop2,), daemon=True)
    worker.start()
    stop2.set()
    worker.join(2)
    assert not worker.is_alive()


def test_broken_credentials_are_retried_not_fatal(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    import base64

    import yaml
    path = write_kubeconfig(api)
    document = yaml.safe_load(path.read_text())
    good_ca = document["clusters"][0]["cluster"]["certificate-authority-data"]
    document["clusters"][0]["cluster"]["certificate-authority-data"] = \
        base64.b64encode(b"not a certificate").decode()
    path.write_text(yaml.safe_dump(document))
    controller, clock = make(path, Hook()), Clock()
    steps(controller, clock, 3)
    assert len(messages(caplog, "set up TLS from")) == 1
    document["clusters"][0]["cluster"]["certificate-authority-data"] = good_ca
    document["users"][0]["user"] = {"tokenFile": "missing-token"}
    path.write_text(yaml.safe_dump(document))
    steps(controller, clock, 3)                              # token file unreadable
    assert len(messages(caplog, "missing-token")) == 1
    assert controller.phase is Phase.WAITING_FOR_API
    write_kubeconfig(api, path=path)
    run_until(controller, clock, lambda: controller.phase is Phase.PUBLISHED)
