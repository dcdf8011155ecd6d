"""Dataplane speed: evpn-boot apply/no-op/teardown vs ``ip -batch`` (same objects).

For N L2 VNIs (default 1, 100, 1000) in fresh namespaces:

* ``ip -batch``: bridge + VXLAN (local, dstport, nolearning, master, mtu),
  addrgenmode none on both, bridge-port learning off / neigh_suppress on, up —
  the same objects and attributes ``evpn-boot apply`` creates;
* ``evpn-boot apply --skip-frr`` cold (the whole process, as a user runs it);
* ``evpn-boot apply`` again (no-op: observe + diff + nothing to do);
* ``evpn-boot teardown``.

The "host" is a throwaway namespace with a veth standing in for the underlay
NIC; nothing touches this machine's own namespace.  Prints a table with ratios.
Run as root: ``.venv/bin/python bench/bench_dataplane.py [--counts 1,100,1000]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVPN_BOOT = [sys.executable, "-c", "import sys; from evpn_boot.cli.main import main; "
             "sys.exit(main())"]
MTU = 1450


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def timed(args: list[str], stdin: str | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, check=False, input=stdin, text=True, capture_output=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:6])}... failed: {result.stderr[-2000:]}")
    return elapsed


def ip_batch_script(count: int) -> str:
    lines = []
    for vni in range(1, count + 1):
        lines.append(f"link add br-pe-{vni} mtu {MTU} type bridge")
        lines.append(f"link set br-pe-{vni} addrgenmode none")
    for vni in range(1, count + 1):
        lines.append(f"link add vni{vni} mtu {MTU} master br-pe-{vni} type vxlan id {vni} "
                     f"local 100.65.0.3 dstport 4789 nolearning")
        lines.append(f"link set vni{vni} addrgenmode none")
        lines.append(f"link set vni{vni} type bridge_slave learning off neigh_suppress on")
        lines.append(f"link set vni{vni} up")
        lines.append(f"link set br-pe-{vni} up")
    return "\n".join(lines) + "\n"


def config(count: int, router: str, host: str, tmp: Path) -> Path:
    parts = [
        "[node]\nindex = 3\n",
        '[underlay]\nasn = 64514\nvtep_cidr = "100.65.0.0/24"\n'
        'router_id_cidr = "10.0.0.0/24"\nnic = "eth1"\nmtu = 1500\n',
        '[[underlay.neighbors]]\naddress = "192.168.11.2"\nasn = 64512\n',
        f'[runtime]\nnetns = "{router}"\nhost_netns = "{host}"\n'
        f'state_dir = "{tmp}/state"\nrun_dir = "{tmp}/run"\n',
    ]
    parts += [f"[[l2vni]]\nvni = {vni}\n" for vni in range(1, count + 1)]
    path = tmp / f"config-{count}.toml"
    path.write_text("\n".join(parts))
    return path


def run(count: int, repeat: int) -> dict[str, float]:
    tag = secrets.token_hex(2)
    best: dict[str, float] = {}
    for _ in range(repeat):
        ref, host, router = f"bdp{tag}-ref", f"bdp{tag}-host", f"bdp{tag}-r"
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            try:
                sh("ip", "netns", "add", ref)
                figures = {"ip -batch": timed(["ip", "-n", ref, "-batch", "-"],
                                              ip_batch_script(count))}
                sh("ip", "netns", "del", ref)
                sh("ip", "netns", "add", host)
                sh("ip", "-n", host, "link", "add", "eth1", "type", "veth", "peer", "name", "p")
                sh("ip", "-n", host, "addr", "add", "192.168.11.3/24", "dev", "eth1")
                cfg = str(config(count, router, host, tmp))
                figures["apply (cold)"] = timed([*EVPN_BOOT, "-c", cfg, "apply", "--skip-frr"])
                figures["apply (no-op)"] = timed([*EVPN_BOOT, "-c", cfg, "apply", "--skip-frr"])
                figures["teardown"] = timed([*EVPN_BOOT, "-c", cfg, "teardown"])
            finally:
                for name in (ref, router, host):
                    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        for key, value in figures.items():
            best[key] = min(best.get(key, value), value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,100,1000")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_dataplane needs root (network namespaces)")
    print(f"{'VNIs':>5} {'ip -batch':>10} {'apply cold':>11} {'ratio':>6} "
          f"{'no-op':>8} {'ratio':>6} {'teardown':>9}")
    for count in (int(c) for c in args.counts.split(",")):
        f = run(count, args.repeat)
        ref = f["ip -batch"]
        print(f"{count:>5} {ref:>9.3f}s {f['apply (cold)']:>10.3f}s "
              f"{f['apply (cold)'] / ref:>5.2f}x {f['apply (no-op)']:>7.3f}s "
              f"{f['apply (no-op)'] / ref:>5.2f}x {f['teardown']:>8.3f}s", flush=True)
    print("ratios are against the ip -batch cold time of the same row; best of "
          f"{args.repeat} runs; whole processes (Python start-up included)")


if __name__ == "__main__":
    main()
