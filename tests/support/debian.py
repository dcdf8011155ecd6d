"""Debian roots for the tiers that build one (packaging, newcomer).

Every root is fetched from the mirror this machine's apt uses
(``scripts/debian-mirror``), never a built-in host, and cached as a tarball
written under a temporary name and renamed when complete, so a run killed
halfway leaves nothing a later run trusts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("EVPN_BOOT_CACHE", "/var/cache/evpn-boot-tests"))
#: Debian's tools run with Debian's PATH, not a venv's.
DEBIAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}


@functools.lru_cache(maxsize=1)
def mirror() -> str:
    """The Debian mirror of this machine's apt sources (``DEBIAN_MIRROR`` overrides)."""
    done = subprocess.run([str(REPO / "scripts" / "debian-mirror")], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"no Debian mirror: {done.stderr.strip()}")
    return done.stdout.strip()


def root_tarball(suite: str, packages: str, *, tag: str) -> Path:
    """A minbase root of ``suite`` with ``packages``, as a cached tarball.

    mmdebstrap builds bookworm and trixie alike (bookworm's debootstrap cannot
    build trixie); debootstrap serves bookworm where mmdebstrap is missing.
    """
    key = hashlib.sha256(f"{suite} {mirror()} {packages} {tag}".encode()).hexdigest()[:12]
    tarball = CACHE / f"{tag}-{suite}-{key}.tar"
    if tarball.exists():
        return tarball
    if shutil.which("mmdebstrap"):
        def build(target: Path) -> list[str]:
            return ["mmdebstrap", "--variant=minbase", f"--include={packages}", suite,
                    str(target), f"deb {mirror()} {suite} main"]
    elif suite == "bookworm" and shutil.which("debootstrap"):
        def build(target: Path) -> list[str]:
            return ["debootstrap", "--variant=minbase", f"--include={packages}", suite,
                    str(target), mirror()]
    else:
        pytest.skip("mmdebstrap not installed (Debian package mmdebstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"evpn-{tag}-", dir="/var/tmp"))
    partial = tarball.with_name(f"{tarball.name}.partial-{os.getpid()}")
    try:
        done = subprocess.run(build(work / "root"), capture_output=True, text=True,
                              check=False, env=DEBIAN_ENV, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"building a {suite} root failed: {done.stderr[-2000:]}")
        subprocess.run(["tar", "--numeric-owner", "-C", str(work / "root"), "-cf",
                        str(partial), "."], check=True, timeout=300)
        partial.rename(tarball)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    for old in CACHE.glob(f"{tag}-{suite}-*.tar"):
        if old != tarball:
            old.unlink(missing_ok=True)
    return tarball
