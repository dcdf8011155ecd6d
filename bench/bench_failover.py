"""Dual-homed failover: ping loss across the VXLAN while an uplink or a leaf fails.

The fabric of tests/frr/dual_fabric.py (two leaves in different ASNs, BGP
unnumbered and BFD 300 ms x 3 on every link, one remote VTEP on both leaves, the
node with two uplinks and an L2 VNI, its FRR in podman); ``leaf`` and ``hang``
rounds share one fabric, each ``uplink`` round gets a fresh one.  h1, a workload on the
node's L2 VNI, pings the remote host every 10 ms.  Each round fails what the
VXLAN flow really uses: the uplink whose TX counter grew in the second before
(printed with the TX counts and with what `ip route get` predicted):

* ``uplink``: set down in the router namespace;
* ``leaf``: the leaf's FRR SIGKILLed, its BGP routes flushed (its kernel closes
  the TCP sessions, so the node hears of it at once);
* ``hang``: the leaf's FRR SIGSTOPped, its routes flushed (silent: only BFD
  tells).

Loss = lost packets x 10 ms.  Target: under 1.5 s.  Nothing touches this
machine's own namespace.

Run as root (under the shared lock):
``flock /work/heavy.lock .venv/bin/python bench/bench_failover.py [--rounds 3]
[--image localhost/evpn-boot-frr:8.4]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.frr.conftest import CONTAINERS_CONF  # noqa: E402
from tests.frr.dual_fabric import EVENTS, DualFabric, Round, fail_and_measure  # noqa: E402
from tests.support import netns as netns_support  # noqa: E402
from tests.support.netns import netns_factory  # noqa: E402

# Not "ebt": a test session starting meanwhile sweeps every ebt* namespace.
netns_support.PREFIX = "evf"

TARGET_S = 1.5
#: How long an uplink round waits for sessions and ECMP after the link is up again.
RECOVER_S = 30.0


@contextmanager
def _fabric(image: str) -> Iterator[DualFabric]:
    """A fresh fabric, both sessions and ECMP up, h1 plugged; all of it removed after."""
    with netns_factory() as netns, tempfile.TemporaryDirectory(prefix="bench-fo-") as tmp:
        fab = DualFabric(netns, Path(tmp), image)
        try:
            fab.wire()
            for name in ("leafa", "leafb", "remote"):
                fab.start_frr(name)
            fab.write_config()
            fab.cli("apply")
            fab.wait(fab.both_up, "both uplinks Established")
            fab.wait(lambda: fab.vtep_nexthops() == 2, "ECMP to the remote VTEP")
            fab.plug_workload()
            yield fab
            fab.unplug_workload()
            fab.cli("teardown")
        finally:
            fab.cleanup()


def _show(r: Round, extra: str = "") -> None:
    tx = " ".join(f"{n}={c}" for n, c in sorted(r.tx.items()))
    print(f"  {r.what:<6} {r.nic} (tx in the second before: {tx}; route get: {r.route_nic}): "
          f"{r.sent - r.received:4d}/{r.sent} lost = {r.loss_s:.2f} s{extra}", flush=True)


def _recovery(fab: DualFabric) -> tuple[bool, str]:
    """Wait (bounded) for both sessions and ECMP after the failure was undone."""
    began = time.monotonic()
    try:
        fab.wait(lambda: fab.both_up() and fab.vtep_nexthops() == 2, "recovery",
                 timeout=RECOVER_S)
    except AssertionError:
        return False, (f"; NOT back after {RECOVER_S:g} s: sessions {fab.sessions()}, "
                       f"{fab.vtep_nexthops()} next hop(s)")
    return True, f"; sessions + ECMP back {time.monotonic() - began:.1f} s after"


def bench(image: str, rounds: int) -> dict[str, list[float]]:
    """The leaf events on one fabric while it recovers (sessions and ECMP back);
    each uplink round on a fresh fabric, so every round starts from a node that
    never flapped (printed: how long recovery took, or that it did not)."""
    os.environ["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    results: dict[str, list[float]] = {what: [] for what in EVENTS}
    with _fabric(image) as fab:
        recovered = True
        for _ in range(rounds):
            for what in ("leaf", "hang"):
                if not recovered:
                    break
                r = fail_and_measure(fab, what, recover=False)
                results[what].append(r.loss_s)
                recovered, back = _recovery(fab)
                _show(r, back)
    for _ in range(rounds):
        with _fabric(image) as fab:
            r = fail_and_measure(fab, "uplink", recover=False)
            results["uplink"].append(r.loss_s)
            _show(r, _recovery(fab)[1])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", default="localhost/evpn-boot-frr:8.4")
    args = parser.parse_args()
    print(f"failover with BFD 300 ms x 3, node FRR {args.image}, {args.rounds} round(s):")
    results = bench(args.image, args.rounds)
    print(f"{'event':<8}{'min s':>8}{'median s':>10}{'max s':>8}  target < {TARGET_S} s")
    ok = True
    for what, losses in results.items():
        if not losses:
            print(f"{what:<8}  no round")
            ok = False
            continue
        print(f"{what:<8}{min(losses):>8.2f}{statistics.median(losses):>10.2f}"
              f"{max(losses):>8.2f}  {'ok' if max(losses) < TARGET_S else 'MISSED'}")
        ok &= max(losses) < TARGET_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
