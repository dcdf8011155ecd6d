"""``evpn-boot run`` hands the node over through a (local, TLS) API server.

The API server is the k8s tests' fake (loopback, trustme CA, node client
certificate); the node's dataplane lives in throwaway namespaces as in
test_run_netns.  FRR is not involved (``--no-frr``), so release only stops
supervision; the FRR side of release is covered by the phase unit tests.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
import trustme

from evpn_boot.k8s.gate import ANN_OPENPE_NODEINDEX, LABEL_GATE
from evpn_boot.k8s.handoff import ANN_HANDOFF, ANN_STATE
from tests.daemon.test_run_netns import Node, node  # noqa: F401 - fixture
from tests.k8s.apiserver import FakeApiServer
from tests.k8s.conftest import api_servers, ca, write_kubeconfig  # noqa: F401 - fixtures
from tests.support.daemon_proc import NotifyListener, daemon, node_config
from tests.support.netns import list_netns

pytestmark = pytest.mark.root


@pytest.fixture
def api(ca: trustme.CA,  # noqa: F811
        api_servers: Callable[..., FakeApiServer]) -> Iterator[FakeApiServer]:  # noqa: F811
    server = api_servers(ca)
    server.add_node("node3")
    yield server


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_handoff_releases_and_exits(node: Node, notify: NotifyListener,  # noqa: F811
                                    api: FakeApiServer, tmp_path: Path,
                                    write_kubeconfig: Callable[..., Path]) -> None:  # noqa: F811
    # As after a reboot that followed a release: the gate is open and
    # nodemarker's index is on the Node.  READY must follow closing the gate.
    api.set_label("node3", LABEL_GATE, "released")
    api.set_annotation("node3", ANN_OPENPE_NODEINDEX, "0")
    api.set_annotation("node3", ANN_STATE, "released")
    kubeconfig = write_kubeconfig(api, user="node3")
    node.config.write_text(node_config(host_netns=node.host, router_netns=node.router,
                                       workdir=node.workdir, vnis=[110], kubeconfig=kubeconfig))
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        proc.wait_ready()
        # Closed before READY=1 (so before kubelet would start):
        assert api.labels("node3")[LABEL_GATE] == "supervising"
        assert api.annotations("node3")[ANN_OPENPE_NODEINDEX] == "3"
        _wait(lambda: api.annotations("node3").get(ANN_STATE) == "supervising", 30,
              "the published annotations")
        assert proc.proc.poll() is None
        api.set_annotation("node3", ANN_HANDOFF, "requested")
        assert proc.wait(timeout=60) == 0, proc.output()
    assert notify.compact()[-1].startswith("STATUS:released to the in-cluster reconciler")
    assert api.annotations("node3")[ANN_STATE] == "released"
    assert api.labels("node3")[LABEL_GATE] == "released"      # the gate opened at release
    # Released, not torn down: the dataplane stays for the reconciler to adopt.
    assert node.router in list_netns()
    assert "vni110" in node.links(node.router)


def test_unreachable_api_does_not_block_ready(node: Node, notify: NotifyListener,  # noqa: F811
                                              api: FakeApiServer, tmp_path: Path,
                                              write_kubeconfig: Callable[..., Path]  # noqa: F811
                                              ) -> None:
    kubeconfig = write_kubeconfig(api, user="node3")
    api.stop()
    node.config.write_text(node_config(host_netns=node.host, router_netns=node.router,
                                       workdir=node.workdir, vnis=[110], kubeconfig=kubeconfig,
                                       gate_timeout_s=2))
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        ready = proc.wait_ready()
        assert ready["STATUS"].startswith("ready: ")
        assert "gate not closed within 2s" in proc.output()
        time.sleep(1.5)
        assert proc.proc.poll() is None
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
