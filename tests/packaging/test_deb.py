"""The .deb: built from the work tree, installed into a clean Debian root.

Slow (a debootstrap root, cached under /var/cache/evpn-boot-tests keyed on its
inputs, and a dpkg-buildpackage run with a cached wheelhouse), and root (chroot).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.debian import DEBIAN_ENV, root_tarball
from tests.support.units import REPO, require_tool

pytestmark = [pytest.mark.slow, pytest.mark.root]

SUITE = "bookworm"
PACKAGES = "python3,systemd,iproute2"
DEB_ENV = DEBIAN_ENV


def _debroot_tarball() -> Path:
    """A minbase root with python3 and systemd, cached as a tarball."""
    return root_tarball(SUITE, PACKAGES, tag="debroot")


@pytest.fixture(scope="module")
def deb() -> Path:
    require_tool("dpkg-buildpackage", "dpkg-dev")
    out = subprocess.run([str(REPO / "packaging" / "build-deb")], capture_output=True,
                         text=True, check=False, env={**DEB_ENV, "LINTIAN": "0"})
    assert out.returncode == 0, out.stderr[-3000:]
    return REPO / out.stdout.strip().splitlines()[-1]


@pytest.fixture
def debroot(tmp_path: Path) -> Iterator[Path]:
    tarball = _debroot_tarball()
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xf", str(tarball)], check=True)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_deb_installs_and_runs_in_a_clean_root(deb: Path, debroot: Path) -> None:
    shutil.copy2(deb, debroot / "tmp" / deb.name)
    chroot = ["chroot", str(debroot)]
    # Dependencies not in the minbase root (podman ...) are not needed to check
    # the package itself: --force-depends, then look at what dpkg reports missing.
    install = subprocess.run([*chroot, "dpkg", "-i", "--force-depends", f"/tmp/{deb.name}"],
                             capture_output=True, text=True, check=False, env=DEB_ENV)
    assert install.returncode == 0, install.stdout + install.stderr
    version = subprocess.run([*chroot, "evpn-boot", "--version"], capture_output=True,
                             text=True, check=False, env=DEB_ENV)
    assert version.returncode == 0, version.stderr
    assert "evpn-boot" in version.stdout and "0." in version.stdout
    # It uses the bundled pydantic 2, never the distribution's.
    pyd = subprocess.run([*chroot, "/usr/bin/python3", "-I", "-c",
                          "import sys; sys.path.insert(0, '/usr/lib/evpn-boot/site-packages');"
                          "import pydantic; print(pydantic.VERSION)"],
                         capture_output=True, text=True, check=True, env=DEB_ENV)
    assert pyd.stdout.startswith("2.")
    enabled = subprocess.run(["systemctl", f"--root={debroot}", "is-enabled",
                              "evpn-boot.service"], capture_output=True, text=True,
                             check=False)
    assert enabled.stdout.strip() == "enabled", enabled
    for path in ("lib/systemd/system/evpn-boot.service",
                 "lib/systemd/system/evpn-boot-frr.service",
                 "lib/systemd/system/kubelet.service.d/10-evpn-boot.conf",
                 "usr/lib/modules-load.d/evpn-boot.conf",
                 "usr/lib/tmpfiles.d/evpn-boot.conf"):
        assert (debroot / path).is_file(), path
    assert (debroot / "lib/systemd/system/evpn-boot.service").read_text() == (
        REPO / "systemd" / "evpn-boot.service").read_text()
    validate = subprocess.run([*chroot, "evpn-boot", "--config",
                               "/usr/share/doc/evpn-boot/examples/lab-l3.toml", "validate"],
                              capture_output=True, text=True, check=False, env=DEB_ENV)
    assert validate.returncode == 0, validate.stderr


def test_lintian_clean_except_justified_overrides(deb: Path) -> None:
    tool = require_tool("lintian", "lintian")
    result = subprocess.run([tool, "--fail-on", "error,warning", str(deb)],
                            capture_output=True, text=True, check=False, env=DEB_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
