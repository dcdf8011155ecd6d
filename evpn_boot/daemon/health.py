"""Is the node's EVPN healthy?  The verdict the Node condition and taint carry (pure).

Unhealthy while FRR is gone or failing, while no underlay session is
Established, or while the readiness condition does not hold (a degraded READY
included); healthy otherwise.  ``readiness.require = "applied"`` (or FRR not
managed) judges the dataplane alone.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from evpn_boot.config.model import ReadinessRequire
from evpn_boot.daemon.readiness import Verdict


class Judgement(NamedTuple):
    healthy: bool
    reason: str
    message: str


def judge(verdict: Verdict, frr_problem: Optional[str]) -> Judgement:
    """The condition's status, reason and message for this state."""
    if frr_problem is not None:
        return Judgement(False, "FRRUnavailable", f"FRR is not running: {frr_problem}")
    if verdict.require is ReadinessRequire.APPLIED:
        return Judgement(True, "DataplaneApplied", "EVPN dataplane applied and verified")
    if verdict.total and verdict.established == 0:
        return Judgement(False, "UnderlaySessionsDown",
                         f"no underlay BGP session Established (0/{verdict.total})")
    if not verdict.met:
        return Judgement(False, "ReadinessNotMet", f"{verdict.describe()}: readiness not met")
    return Judgement(True, "FabricReady", verdict.describe())
