"""Closing the gate before READY, against the TLS API server (node credentials)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from evpn_boot.k8s.backoff import Backoff
from evpn_boot.k8s.boot_gate import GateOutcome, close_gate
from evpn_boot.k8s.gate import ANN_OPENPE_NODEINDEX, LABEL_GATE
from tests.k8s.apiserver import FakeApiServer
from tests.k8s.conftest import NODE


class SimClock:
    """Simulated time: a wait just advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        self.waits.append(timeout or 0.0)
        self.now += timeout or 0.0
        return []


def close(kubeconfig: Optional[Path], clock: SimClock, timeout: float = 20.0) -> GateOutcome:
    return close_gate(NODE, 3, clock=clock, timeout=timeout, kubeconfig_path=kubeconfig,
                      search_path=(), backoff=Backoff(initial=0.5, maximum=4.0,
                                                      rng=random.Random(3)))


def test_a_released_node_is_closed_and_gets_our_index_back(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path]) -> None:
    api.set_label(NODE, LABEL_GATE, "released")
    api.set_annotation(NODE, ANN_OPENPE_NODEINDEX, "0")     # nodemarker's
    outcome = close(write_kubeconfig(api), SimClock())
    assert outcome.closed and "closed on Node" in outcome.message
    assert api.labels(NODE)[LABEL_GATE] == "supervising"
    assert api.annotations(NODE)[ANN_OPENPE_NODEINDEX] == "3"
    assert [p[2] for p in api.patches()] == [f"system:node:{NODE}"]   # its own credentials


def test_a_closed_gate_costs_one_get(api: FakeApiServer,
                                     write_kubeconfig: Callable[..., Path]) -> None:
    api.set_label(NODE, LABEL_GATE, "supervising")
    api.set_annotation(NODE, ANN_OPENPE_NODEINDEX, "3")
    before = len(api.requests)
    assert close(write_kubeconfig(api), SimClock()).closed
    assert len(api.requests) - before == 1 and api.patches() == []


def test_an_unregistered_node_is_a_first_boot(api: FakeApiServer,
                                              write_kubeconfig: Callable[..., Path]) -> None:
    path = write_kubeconfig(api, user="node-new")
    outcome = close_gate("node-new", 3, clock=SimClock(), timeout=5, kubeconfig_path=path,
                         search_path=())
    assert outcome.closed and "not registered" in outcome.message
    assert api.patches() == []


def test_a_conflict_reads_again(api: FakeApiServer,
                                write_kubeconfig: Callable[..., Path]) -> None:
    api.inject("PATCH", 409)
    assert close(write_kubeconfig(api), SimClock()).closed
    assert api.labels(NODE)[LABEL_GATE] == "supervising"
    assert len(api.patches()) == 2


def test_an_api_that_stays_down_is_bounded(api: FakeApiServer,
                                           write_kubeconfig: Callable[..., Path]) -> None:
    path = write_kubeconfig(api)
    api.stop()
    clock = SimClock()
    outcome = close(path, clock, timeout=10.0)
    assert not outcome.closed
    assert "not closed within 10s" in outcome.message
    assert 10.0 <= clock.now <= 14.0 and len(clock.waits) >= 3
