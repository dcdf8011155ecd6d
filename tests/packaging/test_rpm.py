"""The RPM: built with rpmbuild (Fedora macros shimmed on Debian), installed with
``rpm --root X --nodeps -i``; file list and scriptlets checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.units import REPO, require_tool

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def rpm_file() -> Path:
    require_tool("rpmbuild", "rpm")
    out = subprocess.run([str(REPO / "packaging" / "build-rpm")], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    path = REPO / out.stdout.strip().splitlines()[-1]
    assert path.name.endswith(".noarch.rpm")
    return path


def test_rpm_file_list(rpm_file: Path) -> None:
    files = set(subprocess.run(["rpm", "-qlp", str(rpm_file)], capture_output=True,
                               text=True, check=True).stdout.split())
    for path in ("/usr/bin/evpn-boot",
                 "/usr/lib/systemd/system/evpn-boot.service",
                 "/usr/lib/systemd/system/evpn-boot-frr.service",
                 "/usr/lib/systemd/system/kubelet.service.d/10-evpn-boot.conf",
                 "/usr/lib/modules-load.d/evpn-boot.conf",
                 "/usr/lib/tmpfiles.d/evpn-boot.conf",
                 "/usr/share/evpn-boot/quadlet/evpn-boot-frr.container",
                 "/etc/evpn-boot", "/var/lib/evpn-boot"):
        assert path in files, path
    assert any(f.endswith("/site-packages/evpn_boot/cli/main.py") for f in files)
    requires = subprocess.run(["rpm", "-qp", "--requires", str(rpm_file)],
                              capture_output=True, text=True, check=True).stdout
    assert "podman" in requires and "iproute" in requires


def test_rpm_scriptlets(rpm_file: Path) -> None:
    scripts = subprocess.run(["rpm", "-qp", "--scripts", str(rpm_file)], capture_output=True,
                             text=True, check=True).stdout
    post = scripts.split("postinstall scriptlet")[1].split("preuninstall")[0]
    assert "preset evpn-boot.service" in post
    assert "systemd-tmpfiles --create" in post
    preun = scripts.split("preuninstall scriptlet")[1].split("postuninstall")[0]
    assert "disable --now evpn-boot.service evpn-boot-frr.service" in preun
    postun = scripts.split("postuninstall scriptlet")[1]
    assert "try-restart" not in postun    # an upgrade never restarts FRR


def test_rpm_installs_into_a_root(rpm_file: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = subprocess.run(["rpm", "--root", str(root), "--nodeps", "--noscripts", "-i",
                             str(rpm_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    unit = root / "usr/lib/systemd/system/evpn-boot.service"
    assert unit.read_text() == (REPO / "systemd" / "evpn-boot.service").read_text()
    assert (root / "etc/evpn-boot").stat().st_mode & 0o777 == 0o700
    launcher = (root / "usr/bin/evpn-boot").read_text()
    assert launcher.startswith("#!/usr/bin/python3\n")
    assert "evpn_boot.cli.main" in launcher
    query = subprocess.run(["rpm", "--root", str(root), "-q", "evpn-boot"],
                           capture_output=True, text=True, check=False)
    assert query.stdout.strip() == "evpn-boot-0.1.0-1.noarch"
