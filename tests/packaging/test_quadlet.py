"""The rendered Quadlet ``.container`` read by podman 5's own generator.

podman 4.3 (Debian 12) has no Quadlet, so the generator is taken from a
Debian 13 root (podman 5.4) built once with mmdebstrap from this machine's apt
mirror and cached as a tarball (``tests/support/debian.py``).  ``quadlet
-dryrun`` only reads unit files and prints the services it would generate, so
a plain chroot is enough: no container runs, nothing is started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from evpn_boot.provision.params import Mode, unit_params
from evpn_boot.provision.units import QUADLET, render_units
from tests.support.debian import DEBIAN_ENV, root_tarball

pytestmark = [pytest.mark.slow, pytest.mark.root]

SUITE = "trixie"
PACKAGES = "podman"
#: Where Debian's podman 5 installs the generator (podman 4.4+ put it here too).
GENERATORS = ("usr/libexec/podman/quadlet", "usr/lib/podman/quadlet")


@pytest.fixture(scope="module")
def trixie_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (mmdebstrap, chroot)")
    for tool in ("tar", "chroot"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    tarball = root_tarball(SUITE, PACKAGES, tag="quadlet")
    root = tmp_path_factory.mktemp("quadlet") / "root"
    root.mkdir()
    try:
        subprocess.run(["tar", "-C", str(root), "-xf", str(tarball)], check=True, timeout=300)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _generator(root: Path) -> str:
    for rel in GENERATORS:
        if (root / rel).exists():
            return "/" + rel
    pytest.skip(f"the {SUITE} root's podman has no quadlet generator at {GENERATORS}")


def _dryrun(root: Path, container_text: str) -> subprocess.CompletedProcess[str]:
    units = root / "etc" / "containers" / "systemd"
    units.mkdir(parents=True, exist_ok=True)
    (units / Path(QUADLET).name).write_text(container_text)
    try:
        return subprocess.run(["chroot", str(root), _generator(root), "-dryrun"],
                              capture_output=True, text=True, check=False, timeout=60,
                              env={**DEBIAN_ENV, "QUADLET_UNIT_DIRS": "/etc/containers/systemd"})
    finally:
        (units / Path(QUADLET).name).unlink()


@pytest.mark.parametrize("mode", list(Mode))
def test_podman5_quadlet_generates_the_frr_service(trixie_root: Path, mode: Mode) -> None:
    text = next(f.content for f in render_units(unit_params(mode=mode), quadlet=True)
                if f.path == QUADLET)
    done = _dryrun(trixie_root, text)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "---evpn-boot-frr.service---" in out, out[-2000:]
    exec_start = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    # The generated podman command carries the runtime spec's options.
    for word in ("--name evpn-boot-frr", "--network ns:/run/netns/perouter", "--cap-drop all",
                 "--label io.evpn-boot.managed=true", "--sdnotify=conmon"):
        assert word in exec_start, exec_start
    # What the template's [Unit] and [Service] say survives generation.
    assert "ConditionPathExists=/run/netns/perouter" in out
    assert "Restart=on-failure" in out


def test_podman5_quadlet_rejects_an_unknown_key(trixie_root: Path) -> None:
    """The dry run is a real check: a key podman does not know fails it."""
    text = next(f.content for f in render_units(unit_params(), quadlet=True)
                if f.path == QUADLET)
    done = _dryrun(trixie_root, text.replace("[Container]\n", "[Container]\nNoSuchKey=1\n"))
    assert done.returncode != 0 or "evpn-boot-frr.service" not in done.stdout, done.stdout
    assert "NoSuchKey" in done.stderr, done.stderr[-1000:]
