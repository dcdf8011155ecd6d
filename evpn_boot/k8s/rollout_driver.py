"""The handoff controller's side effects: read the cluster, request, publish status.

:mod:`evpn_boot.rollout.decide` decides; this module turns Nodes, OpenPERouter
router pods and Underlays into its :class:`NodeView` snapshots, writes the
requests it makes and keeps the status ConfigMap current.  The controller
polls (``interval``, default 5 s) rather than watching: a poll is a handful of
list calls, survives API server restarts without resync logic, and a node's
handoff takes tens of seconds anyway.

The ConfigMap ``evpn-boot-handoff`` in the controller's namespace is the admin
interface: ``data.paused`` (``"true"`` pauses; written by ``evpn-boot
handoff-controller pause|resume``), ``data.summary`` and ``data.nodes`` (JSON,
one entry per node with stage and reason; written by the controller).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from evpn_boot.k8s.client import ApiClient, ApiError, Failure
from evpn_boot.k8s.gate import (
    ANN_OPENPE_NODEINDEX,
    GATE_CLOSED,
    LABEL_GATE,
    annotations_of,
    labels_of,
)
from evpn_boot.k8s.handoff import (
    ANN_HANDOFF,
    ANN_NODE_INDEX,
    ANN_STATE,
    HANDOFF_REQUESTED,
    PREFIX,
)
from evpn_boot.k8s.kubeconfig import Credentials
from evpn_boot.rollout.decide import Decision, NodeView, Settings, decide
from evpn_boot.rollout.selector import SelectorError, matches

log = logging.getLogger(__name__)

ANN_REQUESTED_AT = PREFIX + "handoff-requested-at"
ANN_HOLD = PREFIX + "handoff-hold"
CONFIGMAP = "evpn-boot-handoff"
#: OpenPERouter's API group per version (the Underlay CRD's).
OPENPE_GROUPS = {"v0.2": "openpe.openperouter.github.io/v1alpha1",
                 "main": "network.openperouter.io/v1alpha1"}
ROUTER_SELECTOR = "app.kubernetes.io/component=router"
_SCHEME = "https"
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClusterSpec:
    """Where things are: our ConfigMap's namespace, OpenPERouter's namespace and version."""

    namespace: str = "evpn-boot"
    openpe_namespace: str = "openperouter-system"
    openpe_version: str = "v0.2"
    router_selector: str = ROUTER_SELECTOR
    configmap: str = CONFIGMAP


def in_cluster_credentials(sa_dir: Path = SA_DIR) -> Optional[Credentials]:
    """The pod's service account, as a kubelet-style Credentials; None outside a pod."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get(
        "KUBERNETES_SERVICE_PORT", "443")
    token = sa_dir / "token"
    if not host or not token.is_file():
        return None
    ca = sa_dir / "ca.crt"
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server = f"{_SCHEME}://{where}"
    return Credentials(source=sa_dir, server=server, token_file=token,
                       ca_pem=ca.read_bytes() if ca.is_file() else None)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def configmap_path(spec: ClusterSpec) -> str:
    return f"/api/v1/namespaces/{_quote(spec.namespace)}/configmaps/{_quote(spec.configmap)}"


def node_view(node: Mapping[str, Any], underlays: list[Mapping[str, Any]],
              ready: Mapping[str, bool]) -> NodeView:
    """A Node as the decision logic sees it (``ready``: node name -> router pod Ready)."""
    name = str((node.get("metadata") or {}).get("name", ""))
    labels, ann = labels_of(dict(node)), annotations_of(dict(node))
    images = frozenset(str(n) for image in (node.get("status") or {}).get("images") or []
                       for n in image.get("names") or [])
    try:
        resources = any(matches((u.get("spec") or {}).get("nodeSelector"), labels)
                        for u in underlays)
    except SelectorError as exc:
        log.warning("handoff-controller: an Underlay's nodeSelector: %s", exc)
        resources = False
    requested_at: Optional[float]
    try:
        requested_at = float(ann[ANN_REQUESTED_AT]) if ANN_REQUESTED_AT in ann else None
    except ValueError:
        requested_at = None
    return NodeView(name=name, state=ann.get(ANN_STATE),
                    requested=ann.get(ANN_HANDOFF) == HANDOFF_REQUESTED,
                    requested_at=requested_at,
                    gate_closed=labels.get(LABEL_GATE) == GATE_CLOSED,
                    node_index=ann.get(ANN_NODE_INDEX), openpe_index=ann.get(ANN_OPENPE_NODEINDEX),
                    hold=ANN_HOLD in ann, images=images, resources=resources,
                    router_ready=ready.get(name))


def router_readiness(pods: list[Mapping[str, Any]]) -> dict[str, bool]:
    """node name -> whether OpenPERouter's router pod there is Ready (not terminating)."""
    out: dict[str, bool] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue
        conditions = (pod.get("status") or {}).get("conditions") or []
        is_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in conditions)
        deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
        out[str(node)] = out.get(str(node), False) or (is_ready and not deleting)
    return out


def _items(listing: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = listing.get("items") or []
    return [i for i in items if isinstance(i, dict)]


class RolloutDriver:
    """One poll: read, decide, request, publish status.  ``step`` raises ApiError."""

    def __init__(self, client: Callable[[], ApiClient], spec: ClusterSpec, settings: Settings,
                 wall: Callable[[], float] = time.time) -> None:
        self.client = client
        self.spec = spec
        self.settings = settings
        self.wall = wall
        self._published: Optional[dict[str, str]] = None
        self._condition: Optional[str] = None
        self._versions: dict[str, str] = {}

    def snapshot(self, api: ApiClient) -> tuple[list[NodeView], bool]:
        nodes = _items(api.get_path("/api/v1/nodes"))
        pods = _items(api.get_path(f"/api/v1/namespaces/{_quote(self.spec.openpe_namespace)}/pods",
                                   {"labelSelector": self.spec.router_selector}))
        group = OPENPE_GROUPS[self.spec.openpe_version]
        try:
            underlays = _items(api.get_path(
                f"/apis/{group}/namespaces/{_quote(self.spec.openpe_namespace)}/underlays"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            underlays = []      # CRD not installed (yet): every node waits, and says why
        ready = router_readiness(pods)
        views = [node_view(n, underlays, ready) for n in nodes]
        self._versions = {v.name: str((n.get("metadata") or {}).get("resourceVersion", ""))
                          for v, n in zip(views, nodes)}
        return views, self._paused(api)

    def _paused(self, api: ApiClient) -> bool:
        try:
            data = api.get_path(configmap_path(self.spec)).get("data") or {}
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return str(data.get("paused", "")).lower() == "true"

    def step(self) -> Decision:
        api = self.client()
        views, paused = self.snapshot(api)
        decision = decide(views, self.settings, paused=paused, now=self.wall())
        for name in decision.request:
            self._request(api, name)
        if decision.request:    # show the requests in this round's status
            views, paused = self.snapshot(api)
            decision = decide(views, self.settings, paused=paused, now=self.wall())
        self._publish(api, decision)
        return decision

    def _request(self, api: ApiClient, name: str) -> None:
        """Request with the resourceVersion the decision saw: a Node that changed since
        (rebooted, republished, held) answers 409 and is decided again next round."""
        version = self._versions.get(name)
        patch: dict[str, Any] = {"metadata": {"annotations": {
            ANN_HANDOFF: HANDOFF_REQUESTED, ANN_REQUESTED_AT: f"{self.wall():.0f}"}}}
        if version:
            patch["metadata"]["resourceVersion"] = version
        try:
            api.patch_path("/api/v1/nodes/" + _quote(name), patch)
        except ApiError as exc:
            if exc.failure is not Failure.CONFLICT:
                raise
            log.info("handoff-controller: Node %s changed while requesting; next round", name)
            return
        log.info("handoff-controller: requested the handoff of Node %s", name,
                 extra={"EVPN_NODE": name})

    def _publish(self, api: ApiClient, decision: Decision) -> None:
        data = {"summary": decision.summary(),
                "nodes": json.dumps([{"name": n.name, "stage": n.stage.value, "reason": n.reason}
                                     for n in decision.nodes], sort_keys=True)}
        if data == self._published:
            return
        if self._published is None or data["summary"] != self._published.get("summary"):
            log.info("handoff-controller: %s", data["summary"])
            for n in decision.nodes:
                if n.reason:
                    log.info("handoff-controller: %s %s: %s", n.name, n.stage.value, n.reason)
        write_configmap(api, self.spec, data)
        self._published = data

    def run(self, stop: threading.Event, interval: float = 5.0) -> None:
        """Poll until ``stop``; API failures are logged once per change and retried."""
        while not stop.is_set():
            try:
                self.step()
                if self._condition is not None:
                    log.info("handoff-controller: API recovered (was %s)", self._condition)
                    self._condition = None
            except ApiError as exc:
                if exc.failure.name != self._condition:
                    self._condition = exc.failure.name
                    log.warning("handoff-controller: %s; will retry", exc)
                self._published = None      # write the status again once it answers
            stop.wait(interval)


def write_configmap(api: ApiClient, spec: ClusterSpec, data: Mapping[str, str]) -> None:
    """Merge ``data`` into the ConfigMap, creating it if it does not exist."""
    try:
        api.patch_path(configmap_path(spec), {"data": dict(data)})
    except ApiError as exc:
        if exc.status != 404:
            raise
        api.create_path(f"/api/v1/namespaces/{_quote(spec.namespace)}/configmaps",
                        {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": spec.configmap, "namespace": spec.namespace},
                         "data": dict(data)})


def read_configmap(api: ApiClient, spec: ClusterSpec) -> dict[str, str]:
    """The status ConfigMap's data ({} when the controller has not written it yet)."""
    try:
        data = api.get_path(configmap_path(spec)).get("data") or {}
    except ApiError as exc:
        if exc.status == 404:
            return {}
        raise
    return {str(k): str(v) for k, v in data.items()}
