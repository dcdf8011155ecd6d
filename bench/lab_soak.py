#!/usr/bin/env python3
"""`evpn-boot lab up` / `lab down` N times in a row on a machine kept busy.

Why: the lab is a newcomer's first contact, and it once failed on a loaded
machine with a traceback (a namespace helper that timed out).  This keeps every
CPU busy with spinning processes (and, with --churn, a second process creating
and deleting namespaces, which contends for the kernel's rtnl lock) and checks
every round: exit 0, the proof printed (ping answered, VXLAN VNI 100
captured), no traceback, and after `lab down` no namespace, process or
directory of the lab left.  Prints each round's time and a summary.

    sudo .venv/bin/python bench/lab_soak.py [--rounds 20] [--burners N] [--churn]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

EVPN_BOOT = str(Path(sys.executable).parent / "evpn-boot")
PROOF_PING = re.compile(r"proof: \S+ \(remote host\) -> \S+ \(pod\): answered")
PROOF_VXLAN = re.compile(r"VXLAN vni 100:")


def _spin() -> None:
    while True:
        pass


def _churn(stop_after: float) -> None:
    """Create and delete namespaces with links in them (rtnl contention)."""
    deadline = time.monotonic() + stop_after
    i = 0
    while time.monotonic() < deadline:
        name = f"soakchurn{os.getpid()}-{i % 4}"
        subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False)
        subprocess.run(["ip", "-n", name, "link", "add", "b0", "type", "bridge"],
                       capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        i += 1


def _leftovers(prefix: str, lab_dir: Path) -> list[str]:
    found = []
    netns = Path("/run/netns")
    if netns.is_dir():
        found += [f"netns {n}" for n in os.listdir(netns) if n.startswith(prefix)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if (str(lab_dir) in cmd or prefix in cmd) and int(pid) != os.getpid():
            found.append(f"process {pid}: {cmd.strip()[:80]}")
    if lab_dir.exists():
        found.append(f"directory {lab_dir}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2,
                        help="spinning processes (default: one per CPU)")
    parser.add_argument("--churn", action="store_true",
                        help="also create/delete namespaces in a loop (rtnl contention)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("lab_soak: needs root (network namespaces)", file=sys.stderr)
        return 2
    token = secrets.token_hex(2)
    prefix, lab_dir = f"soak{token}-", Path(f"/run/soak{token}-lab")
    where = ["--prefix", prefix, "--dir", str(lab_dir)]
    load = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.burners)]
    if args.churn:
        load.append(multiprocessing.Process(target=_churn, args=(3600,), daemon=True))
    for p in load:
        p.start()
    times, failures = [], []
    try:
        for n in range(1, args.rounds + 1):
            t0 = time.monotonic()
            up = subprocess.run([EVPN_BOOT, "lab", "up", *where], capture_output=True,
                                text=True, timeout=600, check=False)
            up_s = time.monotonic() - t0
            out = up.stdout + up.stderr
            down = subprocess.run([EVPN_BOOT, "lab", "down", *where], capture_output=True,
                                  text=True, timeout=300, check=False)
            left = _leftovers(prefix, lab_dir)
            problems = []
            if up.returncode != 0:
                problems.append(f"lab up exit {up.returncode}: {out.strip().splitlines()[-1:]}")
            if "Traceback" in out or "Traceback" in down.stderr:
                problems.append("a traceback was printed")
            if up.returncode == 0 and not (PROOF_PING.search(out) and PROOF_VXLAN.search(out)):
                problems.append("no proof printed")
            if down.returncode != 0:
                problems.append(f"lab down exit {down.returncode}")
            if left:
                problems.append(f"left behind: {left}")
            times.append(up_s)
            status = "ok" if not problems else "FAIL " + "; ".join(problems)
            print(f"round {n:2}: lab up {up_s:5.1f} s  {status}", flush=True)
            if problems:
                failures.append(n)
    finally:
        for p in load:
            p.terminate()
        subprocess.run([EVPN_BOOT, "lab", "down", *where], capture_output=True, check=False,
                       timeout=300)
        shutil.rmtree(lab_dir, ignore_errors=True)
    print(f"\n{args.rounds - len(failures)}/{args.rounds} rounds proved and left nothing "
          f"(load: {args.burners} spinning processes{', namespace churn' if args.churn else ''})")
    print(f"lab up: median {statistics.median(times):.1f} s, max {max(times):.1f} s")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
