"""No dead code in evpn_boot (vulture, with the justified whitelist).

``vulture evpn_boot tests/vulture_whitelist.py --min-confidence 60`` reads the
whole package (so a function used only by the daemon counts as used) and must
find nothing; `scripts/test` runs the same command in its lint step.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_whitelist_names_only_what_exists() -> None:
    importlib.import_module("tests.vulture_whitelist")


def test_the_package_has_no_dead_code() -> None:
    if shutil.which("vulture", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("vulture is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "vulture"), "evpn_boot",
         "tests/vulture_whitelist.py", "--min-confidence", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
