#!/usr/bin/env python3
"""CLI start-up time: `--help` and `validate` against the bare interpreter.

Target (issue 2): both under 0.3 s on the project's 2-core machine.
Prints the median of N runs of each, and the ratio to `python -c pass`, the
floor every Python CLI pays.  Run: .venv/bin/python bench/bench_cli.py [-n 20]
[--cli PATH] (default: the console script next to this interpreter; an editable
install adds ~20 ms of import-hook overhead that a regular install has not).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "evpn-boot")
TARGET_S = 0.3


def median_runtime(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--cli", default=CLI, help="the evpn-boot console script to time")
    args = parser.parse_args()
    cli = args.cli
    python = str(Path(cli).parent / "python")
    example = str(ROOT / "examples" / "lab-l3.toml")
    cases = [
        ("python -c pass (floor)", [python, "-c", "pass"]),
        ("evpn-boot --help", [cli, "--help"]),
        ("evpn-boot --version", [cli, "--version"]),
        ("evpn-boot validate", [cli, "-c", example, "validate", "--no-frr-check"]),
        # The same plus FRR's parser on the rendered file (no start-up target).
        ("  + FRR's parser", [cli, "-c", example, "validate"]),
        ("evpn-boot show --json", [cli, "-c", example, "show", "--json"]),
    ]
    floor = None
    print(f"{'command':28} {'median s':>9} {'x floor':>8} {'target':>8}")
    for label, cmd in cases:
        value = median_runtime(cmd, args.runs)
        floor = floor or value
        verdict = ""
        if label in ("evpn-boot --help", "evpn-boot validate"):
            verdict = "ok" if value < TARGET_S else "MISSED"
        print(f"{label:28} {value:9.3f} {value / floor:8.1f} {verdict:>8}")


if __name__ == "__main__":
    main()
