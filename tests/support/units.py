"""Helpers for tests of evpn-boot's rendered units and provisioning documents."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package {package})")
    return path


def systemd_verify(unit_dir: Path, *units: str) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` of unit files in ``unit_dir`` (their drop-ins too)."""
    tool = require_tool("systemd-analyze", "systemd")
    return subprocess.run(
        [tool, "verify", *[str(unit_dir / u) for u in units]],
        capture_output=True, text=True, check=False, cwd=unit_dir,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_LEVEL": "notice"})
