"""The controller driver's translations: Node/Pod JSON -> views, in-cluster credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from evpn_boot.k8s.rollout_driver import in_cluster_credentials, node_view, router_readiness


def test_router_readiness_ignores_terminating_pods() -> None:
    ready = {"type": "Ready", "status": "True"}
    pods = [{"spec": {"nodeName": "a"}, "status": {"conditions": [ready]}},
            {"spec": {"nodeName": "b"}, "status": {"conditions": [ready]},
             "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}},
            {"spec": {"nodeName": "c"}, "status": {"conditions": [
                {"type": "Ready", "status": "False"}]}},
            {"spec": {}, "status": {}}]
    assert router_readiness(pods) == {"a": True, "b": False, "c": False}


def test_node_view_reads_what_the_decision_needs() -> None:
    node = {"metadata": {"name": "a", "labels": {"evpn-boot.io/gate": "supervising", "z": "1"},
                         "annotations": {"evpn-boot.io/state": "supervising",
                                         "evpn-boot.io/node-index": "3",
                                         "openpe.io/nodeindex": "3",
                                         "evpn-boot.io/handoff-requested-at": "bogus"}},
            "status": {"images": [{"names": ["r/router@sha256:1", "r/router:v1"]}]}}
    view = node_view(node, [{"spec": {"nodeSelector": {"matchLabels": {"z": "2"}}}},
                            {"spec": {"nodeSelector": {"matchLabels": {"z": "1"}}}}], {"a": True})
    assert view.gate_closed and view.resources and view.router_ready
    assert view.images == {"r/router@sha256:1", "r/router:v1"}
    assert view.requested_at is None and not view.requested and not view.hold
    assert not node_view(node, [{"spec": {"nodeSelector": {"matchLabels": {"z": "2"}}}}],
                         {}).resources


def test_in_cluster_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert in_cluster_credentials(tmp_path) is None
    (tmp_path / "token").write_text("t\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    creds = in_cluster_credentials(tmp_path)
    assert creds is not None and creds.server.endswith("://[fd00::1]:6443")
    assert creds.bearer_token() == "t" and creds.ca_pem is None
    assert "t\n" not in repr(creds)
