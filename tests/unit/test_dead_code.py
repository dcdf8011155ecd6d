"""No dead code in the dataplane path (vulture, with the justified whitelist).

``vulture evpn_boot tests/vulture_whitelist.py --min-confidence 60`` reads the
whole package (so a function used only by the daemon counts as used); this test
holds the packages of the data flow to zero findings.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Held to zero findings: the netlink path, the pure core it serves, the lab.
CLEAN = ("evpn_boot/netlink/", "evpn_boot/plan/", "evpn_boot/desired/", "evpn_boot/rules/",
         "evpn_boot/lab/", "evpn_boot/cli/lab_cmds.py", "evpn_boot/config/underlay.py")


def test_the_whitelist_names_only_what_exists() -> None:
    importlib.import_module("tests.vulture_whitelist")


def test_the_dataplane_packages_have_no_dead_code() -> None:
    if shutil.which("vulture", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("vulture is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "vulture"), "evpn_boot",
         "tests/vulture_whitelist.py", "--min-confidence", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    findings = [line for line in done.stdout.splitlines() if line.startswith(CLEAN)]
    assert not findings, "\n".join(findings)
    assert done.returncode in (0, 3), done.stderr    # 3: findings (elsewhere)
