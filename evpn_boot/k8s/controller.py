"""Drive the handoff state machine against the API server, one step at a time.

The daemon owns the loop: it calls :meth:`HandoffController.step` with a
monotonic ``now`` whenever the previously returned due time has passed (or runs
:meth:`HandoffController.run` in a thread).  Each step makes at most one API
round trip, bounded by the client timeout, and never raises: every failure is
classified, logged once per change of condition, and retried after a bounded,
jittered exponential backoff.  An unreachable API therefore never blocks boot,
READY=1 or supervision.

Polling intervals: ``/readyz`` and every retry follow the backoff (default 1 s
doubling to 60 s); once published the Node is read every ``watch_interval``
(default 10 s) to see a handoff request.  A watch would be quicker but needs a
long-lived streaming connection to manage across API restarts; ten seconds is
well inside any reconciler's patience and costs one small GET per node.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from evpn_boot.desired.model import DesiredState
from evpn_boot.k8s import kubeconfig
from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.client import ApiClient, ApiError, Failure
from evpn_boot.k8s.handoff import (
    Action,
    HandoffMachine,
    Identity,
    Note,
    Phase,
    publish_patch,
    released_patch,
)

log = logging.getLogger(__name__)

DEFAULT_WATCH_INTERVAL = 10.0


class ReleaseHook(Protocol):
    """What the daemon does when the reconciler takes over.

    ``on_release`` must stop FRR gracefully so that its peers keep forwarding on
    the routes they learnt (BGP graceful restart: the restarting side's routes
    are kept as stale until the new speaker re-advertises them), leave every
    kernel object (links, addresses, routes, FDB) in place, and stop the
    daemon's own supervision of the dataplane and FRR.  It is called exactly
    once when it returns normally; if it raises, the failure is logged and it is
    called again after a backoff, so it must be idempotent.
    """

    def on_release(self) -> None: ...


ClientFactory = Callable[[kubeconfig.Credentials], ApiClient]


class HandoffController:
    """One node's handoff: the machine plus the I/O to advance it."""

    def __init__(self, identity: Identity, hook: ReleaseHook, *,
                 kubeconfig_path: Optional[Path] = None,
                 search_path: Sequence[str] = kubeconfig.DEFAULT_SEARCH_PATH,
                 backoff: Optional[Backoff] = None,
                 watch_interval: float = DEFAULT_WATCH_INTERVAL,
                 timeout: float = 5.0,
                 phase: Phase = Phase.WAITING_FOR_API,
                 client_factory: Optional[ClientFactory] = None) -> None:
        self.machine = HandoffMachine(identity, phase)
        self.hook = hook
        self.kubeconfig_path = kubeconfig_path
        self.search_path = tuple(search_path)
        self.backoff = backoff or Backoff(rng=random.Random())
        self.watch_interval = watch_interval
        self.timeout = timeout
        self._client_factory = client_factory or (lambda c: ApiClient(c, timeout=self.timeout))
        self._client: Optional[ApiClient] = None
        self._due = 0.0

    @property
    def phase(self) -> Phase:
        return self.machine.phase

    @property
    def done(self) -> bool:
        return self.machine.done

    def step(self, now: float) -> Optional[float]:
        """Do the next action if it is due; return when to call again (None: finished)."""
        if self.machine.done:
            return None
        if now < self._due:
            return self._due
        action = self.machine.action
        try:
            node = self._perform(action)
        except ApiError as exc:
            if exc.failure in (Failure.UNAUTHORIZED, Failure.TLS, Failure.NO_KUBECONFIG):
                self._client = None   # re-read the kubeconfig: kubelet rotates its certificate
            self._emit(self.machine.failed(exc.failure, str(exc)))
            self._due = now + self.backoff.next_delay()
            return self._due
        except Exception as exc:  # the daemon's hook: log, retry, never crash the daemon
            if action is not Action.RELEASE:
                raise
            self._emit(self.machine.failed(None, f"{type(exc).__name__}: {exc}"))
            self._due = now + self.backoff.next_delay()
            return self._due
        phase_before = self.machine.phase
        self._emit(self.machine.succeeded(node))
        self.backoff.reset()
        if self.machine.done:
            return None
        watching = self.machine.phase is Phase.PUBLISHED and phase_before is Phase.PUBLISHED
        self._due = now + self.watch_interval if watching else now
        return self._due

    def run(self, stop: threading.Event, clock: Callable[[], float] = time.monotonic) -> None:
        """Step until released or ``stop`` is set (for running in a thread)."""
        while not stop.is_set():
            due = self.step(clock())
            if due is None:
                return
            stop.wait(max(0.0, due - clock()))

    # ------------------------------------------------------------------ actions

    def _perform(self, action: Action) -> Optional[dict[str, Any]]:
        name = self.machine.identity.node_name
        if action is Action.RELEASE:
            self.hook.on_release()
            return None
        client = self._api()
        if action is Action.PROBE:
            client.readyz()
            return None
        if action is Action.PUBLISH:
            node = client.get_node(name)
            patch, notes = publish_patch(self.machine.identity, node)
            self._emit(notes)
            return client.patch_node(name, patch)
        if action is Action.WATCH:
            return client.get_node(name)
        if action is Action.MARK_RELEASED:
            return client.patch_node(name, released_patch())
        return None

    def _api(self) -> ApiClient:
        if self._client is None:
            creds = kubeconfig.discover(self.kubeconfig_path, self.search_path)
            if creds is None:
                where = (str(self.kubeconfig_path) if self.kubeconfig_path is not None
                         else ", ".join(self.search_path))
                raise ApiError(Failure.NO_KUBECONFIG, f"no usable kubeconfig in {where}")
            log.debug("handoff: using kubeconfig %s (server %s)", creds.source, creds.server)
            try:
                self._client = self._client_factory(creds)
            except (ssl.SSLError, ValueError) as exc:   # e.g. CA data that is not PEM
                raise ApiError(Failure.TLS, f"set up TLS from {creds.source}: {exc}") from exc
        return self._client

    def _emit(self, notes: list[Note]) -> None:
        for note in notes:
            log.log(note.level, "%s", note.message,
                    extra={"EVPN_PHASE": "handoff", "EVPN_HANDOFF": self.machine.phase.value})


def identity_for(node_name: str, config_digest: str, netns: str, node_index: int) -> Identity:
    """Kubelet registers the Node under the lower-cased hostname; match it."""
    return Identity(node_name=node_name.lower(), config_digest=config_digest, netns=netns,
                    node_index=node_index)


def controller_for(enabled: bool, kubeconfig_path: Optional[Path], desired: DesiredState,
                   config_digest: str, hook: ReleaseHook) -> Optional[HandoffController]:
    """The daemon's entry point: None when ``[handoff] enabled = false`` (evpn-boot stays
    the owner and never calls the API), else a controller starting at waiting-for-api."""
    if not enabled:
        return None
    identity = identity_for(desired.node.name, config_digest, desired.runtime.netns,
                            desired.node.index)
    return HandoffController(identity, hook, kubeconfig_path=kubeconfig_path)
