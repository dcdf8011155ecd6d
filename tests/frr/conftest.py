"""FRR tier fixtures: golden-file updating, the local FRR image, podman settings.

``--update-golden`` rewrites ``tests/frr_golden/*.conf`` from the renderer
(run as ``pytest tests/frr --update-golden``: pytest only sees options of
conftests under the paths it is given; ``EVPN_BOOT_UPDATE_GOLDEN=1`` works from
anywhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "frr_golden"
CONTAINERS_CONF = REPO / "tests" / "containers.conf"
IMAGE = "localhost/evpn-boot-frr:8.4"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/frr_golden/*.conf from the renderer")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    try:
        flag = bool(request.config.getoption("--update-golden"))
    except ValueError:
        flag = False
    return flag or os.environ.get("EVPN_BOOT_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def podman_env() -> Iterator[None]:
    """Point podman at the test-only containers.conf (this machine's quirks)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    old = os.environ.get("CONTAINERS_CONF")
    os.environ["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CONTAINERS_CONF", None)
        else:
            os.environ["CONTAINERS_CONF"] = old


@pytest.fixture(scope="session")
def frr_image(podman_env: None) -> str:
    """The locally built FRR image (built once; cached under /var/cache/evpn-boot-tests)."""
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (needed to build the FRR image)")
    proc = subprocess.run([str(REPO / "scripts" / "build-frr-image"), "--tag", IMAGE],
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        pytest.fail(f"scripts/build-frr-image failed:\n{proc.stderr[-2000:]}")
    return IMAGE
