#!/usr/bin/env python3
"""`evpn-boot run` started before its underlay NIC exists: NIC appears -> READY=1.

Root only.  Each round: throwaway namespaces, `run --no-frr` (readiness
`applied`) started with no `eth1` in the "host" netns; once the daemon says
`waiting for underlay NIC eth1`, wait LATE seconds, create the NIC (a veth) and
time from the moment `ip link add` returned to READY=1 arriving on the notify
socket.  The same for an index interface whose IPv4 address is added late.
Target (issue 15): READY within 1 s of the interface appearing.
Run: .venv/bin/python bench/bench_late_nic.py [-n 5] [--late 2]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import netns as netns_support  # noqa: E402
from tests.support.daemon_proc import DaemonProcess, NotifyListener, node_config  # noqa: E402
from tests.support.netns import ip, netns_factory  # noqa: E402

# Not "ebt": a test session starting meanwhile sweeps every ebt* namespace.
netns_support.PREFIX = "evb"
TARGET_S = 1.0


def one_round(work: Path, late: float, address_case: bool) -> float:
    with netns_factory() as netns:
        host, fabric = netns("host"), netns("fabric")
        router = netns.name("rt")
        text = node_config(host_netns=host, router_netns=router, workdir=work, vnis=[110],
                           runtime_extra="device_timeout_s = 60\n")
        if address_case:
            text = text.replace("index = 3\n", 'index_from_interface = "mgmt0"\n', 1)
            ip("link", "add", "eth1", "type", "veth", "peer", "name", "leaf0", "netns",
               fabric, netns=host)
            ip("link", "add", "mgmt0", "type", "veth", "peer", "name", "mgmt-peer", netns=host)
        config = work / "config.toml"
        config.write_text(text)
        notify = NotifyListener(work / "notify.sock")
        proc = DaemonProcess(config, notify, work / "run.log")
        try:
            wanted = ("waiting for an IPv4 address on index interface mgmt0" if address_case
                      else "waiting for underlay NIC eth1")
            notify.until(lambda m: m.get("STATUS") == wanted, 30, wanted, proc._ended)
            time.sleep(late)
            if address_case:
                ip("addr", "add", "10.9.0.7/24", "dev", "mgmt0", netns=host)
            else:
                ip("link", "add", "eth1", "type", "veth", "peer", "name", "leaf0", "netns",
                   fabric, netns=host)
            appeared = time.monotonic()
            proc.wait_ready(60)
            ready_at = notify.messages[-1][0]
            proc.signal(signal.SIGTERM)
            proc.wait(30)
            return ready_at - appeared
        finally:
            proc.stop()
            notify.close()
            (work / "notify.sock").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--late", type=float, default=2.0)
    args = parser.parse_args()
    for label, address_case in (("underlay NIC created late", False),
                                ("index interface address added late", True)):
        samples = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="evpn-boot-bench-") as tmp:
                samples.append(one_round(Path(tmp), args.late, address_case))
        print(f"{label}: READY after median {statistics.median(samples) * 1000:.0f} ms, "
              f"max {max(samples) * 1000:.0f} ms over {len(samples)} runs "
              f"(target < {TARGET_S * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
