"""The node's EVPN health on its Node object: the ``EVPNReady`` condition and a taint.

While the fabric is not healthy (READY was degraded, every underlay session
is down, FRR is gone) the scheduler must keep pods that need it away, and an
operator must see why:

* condition ``EVPNReady`` (status, reason, message) in ``status.conditions``,
  written with a strategic merge patch of the ``nodes/status`` subresource
  (merged by ``type``, so kubelet's own conditions are untouched).  The Node
  authorizer lets ``system:node:<name>`` patch its own ``nodes/status``, and
  NodeRestriction allows it: the node's own credentials suffice.
* taint ``evpn-boot.io/fabric-unavailable:NoSchedule`` in ``spec.taints``.
  NodeRestriction forbids a node to add, change or remove taints after it
  registered (only ``--register-with-taints`` at registration is allowed), so
  the taint is managed with ``[health] taint_kubeconfig``, a credential that may
  patch Nodes; with the node's own one the API's 403 is logged once and the
  condition is still kept.  ``spec.taints`` has no merge key: the list is read,
  changed, and written back with a ``resourceVersion`` precondition.

Every call is one bounded round trip; failures back off and retry, never
raise into the daemon.
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from evpn_boot.k8s import kubeconfig
from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.client import ApiClient, ApiError, Failure

log = logging.getLogger(__name__)

CONDITION = "EVPNReady"
TAINT_KEY = "evpn-boot.io/fabric-unavailable"
TAINT_EFFECT = "NoSchedule"


@dataclass(frozen=True)
class NodeHealth:
    """What the condition says; ``healthy`` False also means: taint the node."""

    healthy: bool
    reason: str          # CamelCase, as Kubernetes reasons are
    message: str


def condition_patch(health: NodeHealth, now: str, transition: str) -> dict[str, Any]:
    """The strategic merge patch of ``nodes/status`` that sets ``EVPNReady`` (pure)."""
    return {"status": {"conditions": [{
        "type": CONDITION, "status": "True" if health.healthy else "False",
        "reason": health.reason, "message": health.message,
        "lastHeartbeatTime": now, "lastTransitionTime": transition}]}}


def taints_patch(node: dict[str, Any], health: NodeHealth) -> Optional[dict[str, Any]]:
    """The merge patch that puts ``spec.taints`` right, or None when it already is (pure)."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    ours = [t for t in taints if t.get("key") == TAINT_KEY]
    others = [t for t in taints if t.get("key") != TAINT_KEY]
    if health.healthy:
        if not ours:
            return None
        wanted = others
    else:
        if [(t.get("effect"), t.get("value", "")) for t in ours] == [(TAINT_EFFECT, "")]:
            return None
        wanted = [*others, {"key": TAINT_KEY, "effect": TAINT_EFFECT}]
    version = (node.get("metadata") or {}).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}, "spec": {"taints": wanted or None}}


def _wall_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HealthReporter:
    """Keeps the Node's condition (and taint) at the last :meth:`update`; step-driven."""

    def __init__(self, node_name: str, *, kubeconfig_path: Optional[Path] = None,
                 taint: bool = True, taint_kubeconfig: Optional[Path] = None,
                 search_path: Sequence[str] = kubeconfig.DEFAULT_SEARCH_PATH,
                 timeout: float = 5.0, backoff: Optional[Backoff] = None,
                 wall: Callable[[], str] = _wall_now) -> None:
        self.node_name = node_name.lower()
        self.kubeconfig_path = kubeconfig_path
        self.taint = taint
        self.taint_kubeconfig = taint_kubeconfig
        self.search_path = tuple(search_path)
        self.timeout = timeout
        self.backoff = backoff or Backoff(rng=random.Random())
        self.wall = wall
        self._wanted: Optional[NodeHealth] = None
        self._condition: Optional[NodeHealth] = None
        self._tainted: Optional[NodeHealth] = None
        self._transition = ""
        self._published_status: Optional[bool] = None
        self._due = 0.0
        self._clients: dict[Optional[Path], ApiClient] = {}
        self._last_error = ""

    @property
    def pending(self) -> bool:
        wanted = self._wanted
        return wanted is not None and (
            self._condition != wanted or (self.taint and self._tainted != wanted))

    def update(self, health: NodeHealth, now: float) -> None:
        """What the Node should say from now on (published at the next :meth:`step`)."""
        if health != self._wanted:
            self._wanted = health
            self._due = now
            self.backoff.reset()

    def step(self, now: float) -> Optional[float]:
        """Publish what is pending if due; when to call again (None: nothing pending)."""
        if not self.pending:
            return None
        if now < self._due:
            return self._due
        wanted = self._wanted
        assert wanted is not None
        try:
            if self._condition != wanted:
                self._publish_condition(wanted)
            if self.taint and self._tainted != wanted:
                self._publish_taint(wanted)
        except ApiError as exc:
            if exc.failure in (Failure.UNAUTHORIZED, Failure.TLS, Failure.NO_KUBECONFIG):
                self._clients.clear()      # kubelet rotates its certificate: re-read
            text = str(exc)
            if text != self._last_error:
                self._last_error = text
                log.warning("node health: %s (will retry)", text)
            self._due = now + self.backoff.next_delay()
            return self._due
        self._last_error = ""
        self.backoff.reset()
        return None

    def _publish_condition(self, wanted: NodeHealth) -> None:
        now = self.wall()
        if self._published_status is not wanted.healthy:
            self._transition = now
        self._client(self.kubeconfig_path).patch_node_status(
            self.node_name, condition_patch(wanted, now, self._transition))
        self._published_status = wanted.healthy
        self._condition = wanted
        log.info("Node %s: condition %s=%s (%s: %s)", self.node_name, CONDITION,
                 wanted.healthy, wanted.reason, wanted.message)

    def _publish_taint(self, wanted: NodeHealth) -> None:
        client = self._client(self.taint_kubeconfig or self.kubeconfig_path)
        node = client.get_node(self.node_name)
        patch = taints_patch(node, wanted)
        if patch is not None:
            try:
                client.patch_node(self.node_name, patch)
            except ApiError as exc:
                if exc.failure is Failure.FORBIDDEN and self.taint_kubeconfig is None:
                    raise ApiError(exc.failure, f"{exc}; a node may not change its own taints "
                                   "(NodeRestriction): set [health] taint_kubeconfig to a "
                                   "credential that may patch Nodes", exc.status) from exc
                raise
            log.info("Node %s: taint %s:%s %s", self.node_name, TAINT_KEY, TAINT_EFFECT,
                     "removed" if wanted.healthy else "set")
        self._tainted = wanted

    def _client(self, path: Optional[Path]) -> ApiClient:
        client = self._clients.get(path)
        if client is None:
            creds = kubeconfig.discover(path, self.search_path)
            if creds is None:
                where = str(path) if path is not None else ", ".join(self.search_path)
                raise ApiError(Failure.NO_KUBECONFIG, f"no usable kubeconfig in {where}")
            try:
                client = ApiClient(creds, timeout=self.timeout)
            except (ssl.SSLError, ValueError) as exc:   # e.g. CA data that is not PEM
                raise ApiError(Failure.TLS, f"set up TLS from {creds.source}: {exc}") from exc
            self._clients[path] = client
        return client
