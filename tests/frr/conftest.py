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


#: FRR version -> (Debian suite, tag, the tool that builds its root).
IMAGES = {
    "8.4": ("bookworm", IMAGE, "debootstrap"),
    "10.3": ("trixie", "localhost/evpn-boot-frr:10.3", "mmdebstrap"),
}


def build_image(version: str) -> str:
    """The locally built FRR image of ``version`` (cached under /var/cache/evpn-boot-tests)."""
    suite, tag, builder = IMAGES[version]
    if shutil.which(builder) is None:
        pytest.skip(f"{builder} is not installed (needed to build the FRR {version} image)")
    proc = subprocess.run([str(REPO / "scripts" / "build-frr-image"), "--suite", suite,
                           "--tag", tag], capture_output=True, text=True, timeout=900,
                          check=False)
    if proc.returncode != 0:
        pytest.fail(f"scripts/build-frr-image --suite {suite} failed:\n{proc.stderr[-2000:]}")
    return tag


@pytest.fixture(scope="session")
def frr_image(podman_env: None) -> str:
    """The FRR 8.4 image (the version of the host's native FRR)."""
    return build_image("8.4")


@pytest.fixture(scope="session")
def frr_image_10(podman_env: None) -> str:
    """The FRR 10.3 image (Debian 13's FRR)."""
    return build_image("10.3")


@pytest.fixture(scope="session", params=sorted(IMAGES))
def frr_image_any(request: pytest.FixtureRequest, podman_env: None) -> str:
    """Each FRR image in turn (the test runs once per version)."""
    return build_image(str(request.param))
