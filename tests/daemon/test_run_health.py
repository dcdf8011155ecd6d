"""The node health contract with real FRR, a real leaf and the TLS API server (frr tier).

``evpn-boot run`` (real process, FRR container) against a leaf that is down at
first: READY=1 comes degraded and the Node gets ``EVPNReady=False`` and the
taint; the leaf starts: the session comes up, the condition turns True and the
taint goes; the leaf dies: both come back.  The condition is written as
``system:node:node3`` (the node's own credentials), the taint with an admin
token (NodeRestriction forbids the node to change taints; the API server
enforces that).  The metrics file follows along.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import trustme

from evpn_boot.k8s.health import CONDITION, TAINT_KEY
from tests.daemon.test_run_frr import Fabric, fabric  # noqa: F401 - fixture
from tests.frr.conftest import build_image, frr_image, podman_env  # noqa: F401 - fixtures
from tests.frr.native import have_native_frr
from tests.k8s.apiserver import FakeApiServer
from tests.k8s.conftest import api_servers, ca, write_kubeconfig  # noqa: F401 - fixtures
from tests.support.daemon_proc import NotifyListener, daemon, node_config

pytestmark = [pytest.mark.frr, pytest.mark.slow,
              pytest.mark.skipif(not have_native_frr(),
                                 reason="FRR is not installed on this host (zebra, bgpd)")]

NODE = "node3"


def _until(what: str, predicate: Callable[[], bool], timeout: float, output: Callable[[], str],
           ) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{output()[-3000:]}"
        time.sleep(0.2)


@pytest.fixture
def api(ca: trustme.CA,  # noqa: F811
        api_servers: Callable[..., FakeApiServer]) -> FakeApiServer:  # noqa: F811
    """Client certificates optional: the admin authenticates with a token."""
    server = api_servers(ca, client_certs="optional")
    server.add_node(NODE)
    server.tokens["admin-token"] = "admin"
    return server


def test_condition_and_taint_follow_the_leaf(
        fabric: Fabric, notify: NotifyListener, tmp_path: Path,  # noqa: F811
        api: FakeApiServer, write_kubeconfig: Callable[..., Path]) -> None:  # noqa: F811
    node_kc = write_kubeconfig(api, user=NODE)
    admin_kc = write_kubeconfig(api, cert=False, token="admin-token")
    metrics = tmp_path / "textfile" / "evpn_boot.prom"
    fabric.config.write_text(node_config(
        host_netns=fabric.host, router_netns=fabric.router, workdir=tmp_path, vnis=[110],
        require="any-established", timeout_s=4, kubeconfig=node_kc,
        extra=f'\n[health]\ntaint_kubeconfig = "{admin_kc}"\n'
              f'\n[metrics]\ntextfile = "{metrics}"\n'))

    def condition() -> Any:
        found = api.condition(NODE, CONDITION)
        return found and (found["status"], found["reason"])

    def tainted() -> bool:
        return any(t["key"] == TAINT_KEY for t in api.taints(NODE))

    with daemon(fabric.config, notify, tmp_path / "run.log", args=()) as proc:
        ready = proc.wait_ready(timeout=180)
        assert ready["STATUS"].startswith("degraded: "), ready
        _until("EVPNReady=False and the taint at degraded READY",
               lambda: condition() == ("False", "UnderlaySessionsDown") and tainted(), 30,
               proc.output)
        assert "evpn_boot_degraded 1" in metrics.read_text()

        leaf = fabric.start_leaf()
        _until("EVPNReady=True, taint removed, once the session is up",
               lambda: condition() == ("True", "FabricReady") and not tainted(), 90,
               proc.output)
        assert 'evpn_boot_bgp_session_established{neighbor="192.168.11.2"} 1' in \
            metrics.read_text()

        leaf.stop()
        _until("EVPNReady=False and the taint again once the leaf is gone",
               lambda: condition() == ("False", "UnderlaySessionsDown") and tainted(), 90,
               proc.output)
        assert "evpn_boot_degraded 1" in metrics.read_text()
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.output()

    writers = {(path.rsplit("/", 1)[-1], user) for method, path, user in api.requests
               if method == "PATCH"}
    # Annotations (handoff) and status as the node; the taint only as the admin.
    assert writers == {(NODE, f"system:node:{NODE}"), ("status", f"system:node:{NODE}"),
                       (NODE, "admin")}, writers
