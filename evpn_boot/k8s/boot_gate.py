"""Close the gate (:mod:`evpn_boot.k8s.gate`) at boot, before READY, within a bound.

Kubelet starts after evpn-boot's READY=1, and it restarts the OpenPERouter
pods still bound to the node from the previous boot unless the node's labels
no longer match their affinity.  So the daemon calls :func:`close_gate` once
EVPN is up (the API path may ride the fabric) and before READY.  It never
blocks boot for longer than ``timeout``: an API server that stays unreachable
yields READY anyway (the node must have EVPN before kubelet), with a warning,
and the handoff publication after READY closes the gate as soon as the API
answers.  A Node that does not exist yet is a first boot: kubelet registers
it with the gate closed (``--node-labels`` in evpn-boot's kubelet drop-in).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from evpn_boot.clock import Clock
from evpn_boot.k8s import kubeconfig
from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.client import ApiClient, ApiError, Failure
from evpn_boot.k8s.gate import close_patch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateOutcome:
    """Whether the gate is known closed, and the line for the log and STATUS=."""

    closed: bool
    message: str


ClientFactory = Callable[[kubeconfig.Credentials], ApiClient]


def close_gate(node_name: str, node_index: int, *, clock: Clock, timeout: float,
               kubeconfig_path: Optional[Path] = None,
               search_path: Sequence[str] = kubeconfig.DEFAULT_SEARCH_PATH,
               client_factory: Optional[ClientFactory] = None,
               backoff: Optional[Backoff] = None) -> GateOutcome:
    """Make the Node's gate label ``supervising`` (and its nodeindex ours); bounded."""
    factory = client_factory or (lambda c: ApiClient(c, timeout=min(5.0, timeout)))
    backoff = backoff or Backoff(initial=0.5, maximum=4.0, rng=random.Random())
    deadline = clock.monotonic() + timeout
    last = "no attempt"
    while True:
        try:
            return _attempt(node_name, node_index, kubeconfig_path, search_path, factory)
        except ApiError as exc:
            last = str(exc)
            log.debug("gate: %s", last)
            conflict = exc.failure is Failure.CONFLICT
        left = deadline - clock.monotonic()
        if conflict and left > 0:
            continue                # nodemarker updated the Node meanwhile: read again
        if left <= 0:
            return GateOutcome(False, f"gate not closed within {timeout:g}s ({last}); "
                                      "closing it once the API answers")
        clock.wait([], min(left, backoff.next_delay()))


def _attempt(node_name: str, node_index: int, kubeconfig_path: Optional[Path],
             search_path: Sequence[str], factory: ClientFactory) -> GateOutcome:
    creds = kubeconfig.discover(kubeconfig_path, search_path)
    if creds is None:
        where = str(kubeconfig_path) if kubeconfig_path else ", ".join(search_path)
        # No kubeconfig yet means kubelet never bootstrapped: a first boot.
        return GateOutcome(True, f"gate: no kubeconfig in {where} (first boot: kubelet "
                                 "registers the Node with the gate closed)")
    client = factory(creds)
    try:
        node = client.get_node(node_name)
    except ApiError as exc:
        if exc.status == 404:
            return GateOutcome(True, f"gate: Node {node_name} not registered yet (kubelet "
                                     "registers it with the gate closed)")
        raise
    patch = close_patch(node, node_index)
    if patch is None:
        return GateOutcome(True, f"gate: already closed on Node {node_name}")
    client.patch_node(node_name, patch)
    return GateOutcome(True, f"gate: closed on Node {node_name} (OpenPERouter's pods "
                             "stay off this node until release)")
