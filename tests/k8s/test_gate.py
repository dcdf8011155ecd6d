"""The gate's pure rules: what closing it patches, and what kubelet registers."""

from __future__ import annotations

from typing import Any

from evpn_boot.k8s.gate import ANN_OPENPE_NODEINDEX, LABEL_GATE, close_patch, kubelet_node_labels


def node(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "n", "resourceVersion": "12", "labels": labels,
                         "annotations": annotations}}


def test_open_gate_and_foreign_index_are_both_fixed_in_one_patch() -> None:
    patch = close_patch(node({LABEL_GATE: "released"}, {ANN_OPENPE_NODEINDEX: "0"}), 4)
    assert patch == {"metadata": {"resourceVersion": "12",
                                  "labels": {LABEL_GATE: "supervising"},
                                  "annotations": {ANN_OPENPE_NODEINDEX: "4"}}}


def test_missing_label_closes_and_right_index_is_left_alone() -> None:
    patch = close_patch(node({}, {ANN_OPENPE_NODEINDEX: "4"}), 4)
    assert patch == {"metadata": {"resourceVersion": "12",
                                  "labels": {LABEL_GATE: "supervising"}}}


def test_closed_gate_and_right_index_need_no_call() -> None:
    assert close_patch(node({LABEL_GATE: "supervising"}, {ANN_OPENPE_NODEINDEX: "4"}), 4) is None


def test_kubelet_registers_the_node_closed() -> None:
    # kubelet's --node-labels takes k=v[,k=v]; the key is outside kubernetes.io
    # and k8s.io, which NodeRestriction reserves.
    assert kubelet_node_labels() == "evpn-boot.io/gate=supervising"
    assert "kubernetes.io" not in LABEL_GATE and "k8s.io" not in LABEL_GATE
