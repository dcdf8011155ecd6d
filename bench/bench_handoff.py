#!/usr/bin/env python3
"""What the gate costs before READY, and one handoff controller poll, on the local TLS API.

Target: closing the gate adds well under a second to READY when the API
answers (two round trips at most: GET, PATCH), and a controller poll of a
100-node cluster stays far below its 5 s interval.  Prints the median of N
runs of each.  Run: .venv/bin/python bench/bench_handoff.py [-n 20] [--nodes 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trustme
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evpn_boot.clock import REAL_CLOCK  # noqa: E402
from evpn_boot.k8s.boot_gate import close_gate  # noqa: E402
from evpn_boot.k8s.client import ApiClient  # noqa: E402
from evpn_boot.k8s.gate import LABEL_GATE  # noqa: E402
from evpn_boot.k8s.kubeconfig import load  # noqa: E402
from evpn_boot.k8s.rollout_driver import OPENPE_GROUPS, ClusterSpec, RolloutDriver  # noqa: E402
from evpn_boot.rollout.decide import Settings  # noqa: E402
from tests.k8s.apiserver import FakeApiServer  # noqa: E402
from tests.k8s.conftest import kubeconfig_document  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=100)
    args = parser.parse_args()
    ca = trustme.CA()
    api = FakeApiServer(ca, client_certs="optional")
    api.tokens["t"] = "admin"
    for i in range(args.nodes):
        api.add_node(f"n{i}", annotations={"evpn-boot.io/state": "supervising"})
    api.underlays[(OPENPE_GROUPS["v0.2"], "openperouter-system")] = [{"spec": {}}]
    api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            leaf = ca.issue_cert("n0", common_name="system:node:n0")
            node_kc = Path(tmp) / "node"
            node_kc.write_text(yaml.safe_dump(kubeconfig_document(
                api.url, ca_pem=ca.cert_pem.bytes(), cert_pem=leaf.cert_chain_pems[0].bytes(),
                key_pem=leaf.private_key_pem.bytes())))
            admin_kc = Path(tmp) / "admin"
            admin_kc.write_text(yaml.safe_dump(kubeconfig_document(
                api.url, ca_pem=ca.cert_pem.bytes(), token="t")))
            gate = []
            for _ in range(args.n):
                api.set_label("n0", LABEL_GATE, "released")     # as after a release
                start = time.perf_counter()
                outcome = close_gate("n0", 0, clock=REAL_CLOCK, timeout=5.0,
                                     kubeconfig_path=node_kc, search_path=())
                gate.append(time.perf_counter() - start)
                assert outcome.closed, outcome.message
            driver = RolloutDriver(lambda: ApiClient(load(admin_kc)), ClusterSpec(),
                                   Settings(max_in_flight=0))
            poll = []
            for _ in range(args.n):
                start = time.perf_counter()
                driver.step()
                poll.append(time.perf_counter() - start)
    finally:
        api.stop()
    print(f"close the gate before READY (GET + PATCH, node cert): "
          f"median {statistics.median(gate) * 1000:.1f} ms over {args.n}")
    print(f"handoff controller poll, {args.nodes} nodes: "
          f"median {statistics.median(poll) * 1000:.1f} ms over {args.n}")


if __name__ == "__main__":
    main()
