"""The gate that keeps OpenPERouter's per-node pods off a node evpn-boot carries.

OpenPERouter's controller and router are DaemonSet pods.  Their router starts
FRR inside ``/var/run/netns/perouter`` as soon as that path exists, and after a
reboot kubelet restarts DaemonSet pods bound to the node before anything in the
cluster reacts.  So evpn-boot owns one Node label, ``evpn-boot.io/gate``, and
the operator gives both DaemonSets the node affinity ``evpn-boot.io/gate NotIn
[supervising]`` (``deploy/openperouter/values-gate.yaml``):

- the node is born with ``supervising`` (kubelet ``--node-labels``, rendered
  into evpn-boot's kubelet drop-in), so the pods are never scheduled on it;
- at every later boot evpn-boot sets it back to ``supervising`` *before* READY
  (bounded), i.e. before kubelet starts: kubelet's admission then refuses the
  pods still bound to the node (node affinity no longer matches) and the
  DaemonSet controller deletes them;
- at release, once evpn-boot's FRR has stopped, the node sets ``released``
  and the DaemonSet controller creates the pods.

NodeRestriction lets a kubelet set labels on its own Node except under
``kubernetes.io``/``k8s.io`` (only a few of those are allowed, and
``node-restriction.kubernetes.io/`` never), so the key lives under
``evpn-boot.io/``: the node's own credentials suffice.  ``NotIn`` also matches
nodes without the label, so nodes evpn-boot does not boot are unaffected.

The same closed gate protects ``openpe.io/nodeindex`` (an annotation, which
kubelet cannot set at registration): OpenPERouter's ``nodemarker`` may write
its own index as soon as the Node appears, but no OpenPERouter component on
the node reads it while the gate is closed, and evpn-boot overwrites it with
its index before it opens the gate.
"""

from __future__ import annotations

from typing import Any, Optional

#: OpenPERouter's node index annotation (its nodemarker's); evpn-boot's index wins.
ANN_OPENPE_NODEINDEX = "openpe.io/nodeindex"
LABEL_GATE = "evpn-boot.io/gate"
GATE_CLOSED = "supervising"
GATE_OPEN = "released"


def _strings(node: dict[str, Any], key: str) -> dict[str, str]:
    value = (node.get("metadata") or {}).get(key) or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def labels_of(node: dict[str, Any]) -> dict[str, str]:
    return _strings(node, "labels")


def annotations_of(node: dict[str, Any]) -> dict[str, str]:
    return _strings(node, "annotations")


def kubelet_node_labels() -> str:
    """The value of kubelet's ``--node-labels`` evpn-boot needs (applied at registration)."""
    return f"{LABEL_GATE}={GATE_CLOSED}"


def close_patch(node: dict[str, Any], node_index: int) -> Optional[dict[str, Any]]:
    """The merge patch closing the gate on ``node`` (as read); None when already closed.

    It also puts evpn-boot's node index into ``openpe.io/nodeindex`` (whatever
    nodemarker wrote), since the gate is what makes that index safe to fix.
    Carries the resourceVersion so a concurrent nodemarker update is not lost
    silently (409, then read again).
    """
    metadata: dict[str, Any] = {}
    if labels_of(node).get(LABEL_GATE) != GATE_CLOSED:
        metadata["labels"] = {LABEL_GATE: GATE_CLOSED}
    if annotations_of(node).get(ANN_OPENPE_NODEINDEX) != str(node_index):
        metadata["annotations"] = {ANN_OPENPE_NODEINDEX: str(node_index)}
    if not metadata:
        return None
    version = (node.get("metadata") or {}).get("resourceVersion")
    if version:
        metadata["resourceVersion"] = version
    return {"metadata": metadata}


def open_labels() -> dict[str, str]:
    """The labels of the release patch: OpenPERouter's pods may now run here."""
    return {LABEL_GATE: GATE_OPEN}
