"""The frr tier, dual-homed: two leaves (AS 64512, 64513), BGP unnumbered + BFD on
both uplinks, one remote VTEP reached through both (see tests/frr/dual_fabric.py).

One test walks the states in order (a fabric costs ~20 s to bring up): ECMP,
traffic over VXLAN, no transit, an uplink set down and a leaf killed while a
ping runs, teardown giving both NICs back.  A second boots the daemon with one
leaf absent.  Loss figures here are bounded generously; bench/bench_failover.py
measures them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.frr.dual_fabric import (
    NIC_ADDRESSES,
    NIC_MTU,
    REMOTE_HOST,
    DualFabric,
    fail_and_measure,
)
from tests.frr.native import have_native_frr
from tests.netns.test_dataplane import snapshot
from tests.support.daemon_proc import NotifyListener, daemon
from tests.support.netns import NetnsFactory, ip, list_netns, run

#: The node on FRR 10.3 is opt-in: Debian 13's FRR is upstream 10.3.0, whose
#: bgpd does not start a peer while its BFD session is down (peer_active(); fixed
#: in 10.3.1, FRR PR #18562), and the link-local BFD session of an unnumbered
#: peer reset by BFD stays down with no local address: the session stays Idle
#: for good in about half the runs.  docs/frr.md has the details.  The node on
#: 8.4 (Debian 12's FRR, as the leaves) recovers every time and runs in
#: ``make test``.
OPT_IN = "EVPN_DUAL_HOMED"
SKIP_10_3 = (f"node on FRR 10.3: {OPT_IN}=1 runs it; FRR 10.3.0 keeps an unnumbered + BFD "
             "session Idle after a BFD down in about half the runs (bgpd waits for BFD, "
             "BFD has no local address; fixed in FRR 10.3.1, docs/frr.md)")

pytestmark = [pytest.mark.frr, pytest.mark.slow,
              pytest.mark.skipif(not have_native_frr(),
                                 reason="FRR is not installed on this host (zebra, bgpd)")]

#: Generous: the target (BFD 300 ms x 3) is under 1.5 s; the bench prints the figure.
LOSS_BOUND_S = 4.0


@pytest.fixture(params=["node 10.3", "node 8.4"])
def dual(request: pytest.FixtureRequest, netns: NetnsFactory, tmp_path: Path) -> Iterator[
        DualFabric]:
    """The fabric with the node's FRR on 10.3 or 8.4 (the leaves: native 8.4)."""
    if "10.3" in request.param and os.environ.get(OPT_IN) != "1":
        pytest.skip(SKIP_10_3)
    image = request.getfixturevalue("frr_image_10" if "10.3" in request.param else "frr_image")
    fab = DualFabric(netns, tmp_path, image)
    try:
        fab.wire()
        yield fab
    finally:
        fab.cleanup()                 # the netns fixture then deletes every namespace


def _no_transit_paths(fab: DualFabric, leaf: str, other_asn: int) -> list[str]:
    """Paths on ``leaf`` that came through the node from the other leaf."""
    return [p for p in fab.leaf_paths(leaf) if p.startswith(f"64514 {other_asn}")]


def test_dual_homed_ecmp_failover_no_transit_teardown(dual: DualFabric) -> None:
    fab = dual
    before = snapshot(fab.host)
    for name in ("leafa", "leafb", "remote"):
        fab.start_frr(name)
    fab.write_config()

    # 1. apply: both NICs moved in, both unnumbered sessions up, ECMP to the remote VTEP.
    fab.cli("apply")
    fab.wait(fab.both_up, "both unnumbered sessions Established")
    fab.wait(lambda: fab.vtep_nexthops() == 2, "two next hops to the remote VTEP")
    doc = fab.status()
    uplinks = {u["name"]: u for u in doc["uplinks"]}
    assert set(uplinks) == {"eth1", "eth2"}
    for u in uplinks.values():
        assert u["link"] == "up" and u["session"] == "Established", u
    fab.wait(lambda: all(u["bfd"] == "up" for u in fab.status()["uplinks"]), "BFD up on both")
    # Each leaf learns our VTEP from us directly.
    for leaf in ("leafa", "leafb"):
        assert "64514" in fab.leaf_paths(leaf), fab.leaf_paths(leaf)

    # 2. Traffic between h1 and the remote host crosses VXLAN.
    fab.plug_workload()
    ping = run("ping", "-c", "3", "-i", "0.2", "-W", "2", REMOTE_HOST, netns=fab.h1,
               check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr

    # 3. No transit: neither leaf has a path through the node to the other leaf
    #    (the remote VTEP via 64514 64512 ..., or EVPN routes likewise).
    for leaf, other in (("leafa", 64513), ("leafb", 64512)):
        assert not _no_transit_paths(fab, leaf, other), fab.leaf_paths(leaf)
    # ... while the other leaf's routes reached the node (so there was something to leak).
    assert fab.vtep_nexthops() == 2

    # 4. The leaf the flow uses dies, then the uplink it uses goes down: the
    #    ping keeps answering through the other one, and each time both
    #    sessions and both next hops come back (ECMP after a link flap needs
    #    inline next hops: frr.conf's `no zebra nexthop kernel enable`).
    for what in ("leaf", "uplink"):
        r = fail_and_measure(fab, what, recover=True)
        print(f"{what} {r.nic} failed: {r.sent - r.received}/{r.sent} lost, {r.loss_s:.2f} s")
        assert r.tx[r.nic] > 50, r          # the flow did cross the uplink that failed
        assert r.received > 0 and r.loss_s < LOSS_BOUND_S, r
    for leaf, other in (("leafa", 64513), ("leafb", 64512)):
        assert not _no_transit_paths(fab, leaf, other), fab.leaf_paths(leaf)

    # 5. Teardown gives both NICs back exactly (addresses, MTU, state); the
    #    workload's veth is the host's, so it goes first.
    fab.unplug_workload()
    fab.cli("teardown")
    assert fab.pe not in list_netns()
    after = snapshot(fab.host)
    for key in before:
        assert after[key] == before[key], key


@pytest.mark.parametrize("dual", ["node 8.4", "node 10.3"], indirect=True)
def test_boot_with_one_leaf_absent(dual: DualFabric, tmp_path: Path) -> None:
    fab = dual
    fab.start_frr("leafa")
    fab.start_frr("remote")
    # any-established: READY with one of two sessions up.
    fab.write_config(require="any-established", timeout_s=300)
    with closing(NotifyListener(tmp_path / "n1.sock")) as notify, \
            daemon(fab.config, notify, tmp_path / "run1.log", args=()) as proc:
        ready = proc.wait_ready(timeout=180)
        assert ready["STATUS"].endswith("readiness any-established: 1/2 underlay sessions "
                                        "Established"), ready
        uplinks = {u["name"]: u for u in fab.status()["uplinks"]}
        assert uplinks["eth1"]["session"] == "Established"
        assert uplinks["eth2"]["session"] != "Established"
        assert uplinks["eth2"]["link"] == "up"     # the link is there, the leaf is not
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.output()
    # all-established: degraded READY once the timeout passes, then the second
    # session comes up on its own (no restart of the daemon or FRR).
    fab.write_config(require="all-established", timeout_s=8)
    with closing(NotifyListener(tmp_path / "n2.sock")) as notify, \
            daemon(fab.config, notify, tmp_path / "run2.log", args=()) as proc:
        ready = proc.wait_ready(timeout=180)
        assert ready["STATUS"].startswith("degraded: "), ready
        assert "1/2 underlay sessions" in ready["STATUS"], ready
        started = fab.status()["frr"]["started_at"]
        fab.start_frr("leafb")
        fab.wait(fab.both_up, "the second session, without a restart")
        doc = fab.status()
        assert doc["frr"]["started_at"] == started
        assert doc["service"]["pid"] == proc.proc.pid
        fab.wait(lambda: fab.vtep_nexthops() == 2, "ECMP once the second leaf is back")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.output()
    fab.cli("teardown")


#: How long after READY the late NIC appears.
LATE_NIC_AFTER_S = 3.0


@pytest.mark.parametrize("dual", ["node 8.4", "node 10.3"], indirect=True)
def test_boot_with_one_uplink_missing_then_it_appears(dual: DualFabric, tmp_path: Path) -> None:
    """any-established: eth2 is not there at boot; READY on eth1 after the device
    timeout; eth2 appears later, drift repair moves it in, its session comes up
    (same daemon, same FRR)."""
    fab = dual
    fab.unplug_nic("eth2")
    for name in ("leafa", "leafb", "remote"):
        fab.start_frr(name)
    fab.write_config(require="any-established", timeout_s=300, device_timeout_s=3)
    with closing(NotifyListener(tmp_path / "n.sock")) as notify, \
            daemon(fab.config, notify, tmp_path / "run.log", args=()) as proc:
        ready = proc.wait_ready(timeout=180)
        assert ready["STATUS"].endswith("readiness any-established: 1/2 underlay sessions "
                                        "Established"), ready
        assert "underlay NIC eth2 missing after 3s: going on with the other uplinks" \
            in proc.output()
        assert "eth2" not in ip("-br", "link", netns=fab.pe)
        started = fab.status()["frr"]["started_at"]
        time.sleep(LATE_NIC_AFTER_S)
        fab.plug_nic("eth2")
        fab.wait(lambda: "eth2" in ip("-br", "link", netns=fab.pe, check=False),
                 "eth2 moved into the router namespace by drift repair", timeout=60)
        fab.wait(fab.both_up, "eth2's session, without a restart")
        fab.wait(lambda: fab.vtep_nexthops() == 2, "ECMP once eth2 is in")
        doc = fab.status()
        assert doc["frr"]["started_at"] == started
        assert doc["service"]["pid"] == proc.proc.pid
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0, proc.output()
    fab.cli("teardown")
    # eth2 went back to the host as it came (address and MTU).
    assert NIC_ADDRESSES["eth2"] in ip("addr", "show", "eth2", netns=fab.host)
    assert f"mtu {NIC_MTU['eth2']}" in ip("link", "show", "eth2", netns=fab.host)
