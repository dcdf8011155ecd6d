#!/usr/bin/env python3
"""`evpn-boot run`: start to READY=1, steady-state RSS, drift repair latency.

Root only.  Each case gets throwaway namespaces (a "host" netns with a veth
`eth1` as the underlay NIC); L2 VNIs; readiness `applied`; FRR excluded
(`--no-frr`), so no BGP wait is in the figures.  For each VNI count:

- cold: `run` start to READY=1 on a fresh node (everything created),
- adopt: a second `run` after SIGTERM (everything in place, 0 operations),
- RSS of the supervising process 2 s after READY (target < 60 MB),
- drift: delete one VXLAN, time until `ip monitor` shows it back (median of N).

Prints a table and rewrites the measurements block of docs/run.md.
Run: .venv/bin/python bench/bench_run.py [--vnis 1,100] [--drift 10]
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
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

RSS_TARGET_MB = 60.0
DRIFT_TARGET_S = 1.0
DOC = ROOT / "docs" / "run.md"
BEGIN, END = "<!-- bench_run:begin -->", "<!-- bench_run:end -->"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def to_ready(config: Path, work: Path, tag: str) -> tuple[float, float, DaemonProcess,
                                                          NotifyListener]:
    """Seconds from exec to READY=1, and from exec to the first STATUS= (start-up)."""
    notify = NotifyListener(work / f"notify-{tag}.sock")
    proc = DaemonProcess(config, notify, work / f"{tag}.log")
    ready = proc.wait_ready(timeout=300)
    elapsed = notify.messages[-1][0] - proc.started
    first = notify.messages[0][0] - proc.started
    if not ready.get("STATUS", "").startswith("ready:"):
        raise RuntimeError(f"{tag}: not ready: {ready}")
    return elapsed, first, proc, notify


def stop(proc: DaemonProcess, notify: NotifyListener) -> None:
    proc.signal(signal.SIGTERM)
    code = proc.wait(60)
    proc.stop()
    notify.close()
    if code != 0:
        raise RuntimeError(f"run exited {code}: {proc.output()[-2000:]}")


def drift_latency(router: str, vni: int, rounds: int) -> list[float]:
    """Delete vni<vni> and wait for its RTM_NEWLINK in `ip monitor`."""
    monitor = subprocess.Popen(["ip", "-n", router, "-o", "monitor", "link"],
                               stdout=subprocess.PIPE, text=True, bufsize=1)
    assert monitor.stdout is not None
    samples = []
    try:
        time.sleep(0.3)
        name = f"vni{vni}"
        for _ in range(rounds):
            start = time.monotonic()
            subprocess.run(["ip", "-n", router, "link", "del", name], check=True)
            deadline = start + 30
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{name} not repaired within 30 s")
                if not select.select([monitor.stdout], [], [], left)[0]:
                    continue
                line = monitor.stdout.readline()
                if f": {name}:" in line and "Deleted" not in line:
                    samples.append(time.monotonic() - start)
                    break
            time.sleep(0.5)       # let the repair's own follow-up pass finish
    finally:
        monitor.terminate()
        monitor.wait(5)
    return samples


def bench(vnis: int, drift_rounds: int) -> dict[str, float]:
    with netns_factory() as netns, tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        work = Path(tmp)
        host, fabric = netns("bhost"), netns("bfab")
        router = netns.name("brt")
        ip("link", "add", "eth1", "type", "veth", "peer", "name", "leaf0", netns=host)
        ip("link", "set", "leaf0", "netns", fabric, netns=host)
        ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
        ip("link", "set", "eth1", "up", netns=host)
        config = work / "config.toml"
        config.write_text(node_config(host_netns=host, router_netns=router, workdir=work,
                                      vnis=[1000 + i for i in range(vnis)]))
        cold, startup, proc, notify = to_ready(config, work, "cold")
        stop(proc, notify)
        adopt, _, proc, notify = to_ready(config, work, "adopt")
        try:
            if "(0 operations" not in notify.messages[-1][1]["STATUS"]:
                raise RuntimeError(f"adopt run changed things: {notify.messages[-1]}")
            time.sleep(2.0)
            rss = rss_mb(proc.proc.pid)
            delays = drift_latency(router, 1000 + vnis // 2, drift_rounds)
            rss_after = rss_mb(proc.proc.pid)
        finally:
            stop(proc, notify)
        return {"vnis": vnis, "cold_s": cold, "startup_s": startup, "adopt_s": adopt,
                "rss_mb": rss,
                "rss_after_drift_mb": rss_after,
                "drift_median_s": statistics.median(delays), "drift_max_s": max(delays)}


def table(rows: list[dict[str, float]], drift_rounds: int) -> str:
    lines = [
        "| L2 VNIs | start to READY, cold (of which: exec to first STATUS) "
        "| start to READY, adopt (0 ops) | RSS supervising "
        f"(target < {RSS_TARGET_MB:.0f} MB) | RSS after drift | drift repair median / max "
        f"({drift_rounds} rounds, target < {DRIFT_TARGET_S:.0f} s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['vnis']:.0f} | {r['cold_s']:.3f} s ({r['startup_s']:.3f} s) | "
            f"{r['adopt_s']:.3f} s | "
            f"{r['rss_mb']:.1f} MB ({r['rss_mb'] / RSS_TARGET_MB:.2f} of target) | "
            f"{r['rss_after_drift_mb']:.1f} MB | {r['drift_median_s'] * 1000:.0f} ms / "
            f"{r['drift_max_s'] * 1000:.0f} ms ({r['drift_median_s'] / DRIFT_TARGET_S:.2f} "
            f"of target) |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        return
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vnis", default="1,100")
    parser.add_argument("--drift", type=int, default=10, help="drift rounds per case")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/run.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_run: needs root (network namespaces)")
    rows = [bench(int(n), args.drift) for n in args.vnis.split(",")]
    out = table(rows, args.drift)
    print(out)
    if not args.no_doc:
        machine = f"{os.cpu_count()} cores, kernel {os.uname().release}"
        write_doc(f"Measured {time.strftime('%Y-%m-%d')} on {machine}; FRR excluded "
                  f"(`--no-frr`), readiness `applied`, so no BGP wait is included.\n\n{out}")


if __name__ == "__main__":
    main()
