"""The readiness condition: when READY=1 may be sent (pure).

``[readiness] require`` is one of ``applied`` (the dataplane is up and
verified), ``any-established`` (at least one underlay BGP session is
Established) or ``all-established`` (every configured underlay neighbor).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evpn_boot.config.model import ReadinessRequire
from evpn_boot.desired.model import DesiredState

ESTABLISHED = "Established"


@dataclass(frozen=True)
class Verdict:
    """Whether the condition holds, with the counts that explain it."""

    require: ReadinessRequire
    met: bool
    established: int = 0
    total: int = 0

    def describe(self) -> str:
        if self.require is ReadinessRequire.APPLIED:
            return "readiness applied"
        return (f"readiness {self.require.value}: {self.established}/{self.total} "
                f"underlay sessions Established")


def neighbors_of(desired: DesiredState) -> list[str]:
    """The underlay neighbor addresses, as FRR prints them."""
    if desired.frr is None:
        return []
    return [n.peer for n in desired.frr.neighbors]


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address          # an interface name (unnumbered peer): compare as is


def established_by_neighbor(neighbors: Sequence[str],
                            sessions: Mapping[str, str]) -> dict[str, bool]:
    """Each configured neighbor -> its session is Established (for the metrics)."""
    states = {_normal(k): v for k, v in sessions.items()}
    return {n: states.get(_normal(n)) == ESTABLISHED for n in neighbors}


def evaluate(require: ReadinessRequire, neighbors: Sequence[str],
             sessions: Mapping[str, str]) -> Verdict:
    """Is ``require`` met, given each neighbor's BGP state (absent = not Established)?"""
    if require is ReadinessRequire.APPLIED:
        return Verdict(require, True)
    states = {_normal(k): v for k, v in sessions.items()}
    wanted = [_normal(n) for n in neighbors]
    up = sum(1 for n in wanted if states.get(n) == ESTABLISHED)
    total = len(wanted)
    all_wanted = require is ReadinessRequire.ALL_ESTABLISHED
    met = (total > 0 and up == total) if all_wanted else up > 0
    return Verdict(require, met, up, total)
