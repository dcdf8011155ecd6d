"""A newcomer's first command, on a clean Debian 12 and a clean Debian 13.

A root holding only what a minimal Debian has plus the README's prerequisites
(git, make, python3, ca-certificates), the repository cloned into it, then the
README's `make lab` run inside it with chroot, exactly as a new user would:
it must install what the lab needs by itself (apt with Recommends off, a venv,
no C compiler on that path), bring the lab up and print its proof (the ping
answered, VXLAN VNI 100 on the underlay); `make lab-down` must leave nothing
(namespaces, processes, mounts).

The root is built once per suite with mmdebstrap from this machine's own apt
mirror and cached as a tarball; each run unpacks a fresh copy.  The apt
archive cache is shared between runs (an optimisation only: apt verifies what
it finds there).  Mounts made into the root are slave copies
(``mount --make-rslave``) so unmounting them can never propagate back to the
host; the root's ``/run`` is its own tmpfs, so the lab's namespaces live
there, apart from the host's ``/run/netns``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import netns as netns_support
from tests.support.debian import CACHE, DEBIAN_ENV, REPO, root_tarball

pytestmark = [pytest.mark.newcomer, pytest.mark.slow]

#: What the README says a newcomer needs before `make lab` (plus python3,
#: which every Debian system with apt has in practice and the issue names).
PREREQUISITES = "git,make,python3,ca-certificates"
#: Environment passed into the root: Debian's PATH, and this machine's pip
#: settings (some machines reach PyPI only through them).
PASS_ENV_PREFIXES = ("PIP_", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                     "no_proxy", "NO_PROXY")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _mount_points_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (itself included), deepest first."""
    prefix = str(root).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix) or point == str(root):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _pids_rooted_in(root: Path) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/root") == str(root):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


class Root:
    """A fresh Debian root with a clone of the repository, chroot-ready."""

    def __init__(self, suite: str, path: Path) -> None:
        self.suite = suite
        self.path = path
        self.src = path / "src" / "evpn-boot"

    def prepare(self) -> None:
        # Package maintainer scripts must not start services in a chroot.
        policy = self.path / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        # Recommends off: the lab must name every package it needs.
        (self.path / "etc/apt/apt.conf.d/99-newcomer-no-recommends").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        for name in ("resolv.conf", "hosts"):
            if Path("/etc", name).exists():
                shutil.copy2(Path("/etc", name), self.path / "etc" / name)
        # This machine's CA bundle and pip settings (PyPI may be reachable
        # only through them); a copy apart from the root's own bundle, which
        # apt's triggers may regenerate.
        if CA_BUNDLE.exists():
            (self.path / "etc/evpn-newcomer").mkdir(parents=True, exist_ok=True)
            shutil.copy2(CA_BUNDLE, self.path / "etc/evpn-newcomer/ca-certificates.crt")
        if Path("/etc/pip.conf").exists():
            shutil.copy2("/etc/pip.conf", self.path / "etc/pip.conf")
        if Path("/etc/xdg/pip").is_dir():
            shutil.copytree("/etc/xdg/pip", self.path / "etc/xdg/pip", dirs_exist_ok=True)
        self._clone()

    def _clone(self) -> None:
        """``git clone`` of this repository, then its tracked files as they are now.

        The clone is what a newcomer gets; overlaying the work tree's tracked
        files makes an uncommitted change testable before it is committed.
        """
        self.src.parent.mkdir(parents=True)
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(self.src)],
                       check=True, timeout=120)
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached"],
                               check=True, capture_output=True, timeout=60).stdout
        pack = subprocess.run(["tar", "--null", "--ignore-failed-read", "-T", "-", "-cf", "-"],
                              cwd=REPO, input=files, check=True, timeout=120,
                              capture_output=True).stdout
        subprocess.run(["tar", "-C", str(self.src), "-xf", "-"], input=pack, check=True,
                       timeout=120, capture_output=True)

    def mount(self) -> None:
        p = self.path
        # The root is a mount point of its own, as / is on a real machine:
        # `ip netns exec` makes / a slave mount and fails (rc 255) otherwise.
        self._run_host(["mount", "--bind", str(p), str(p)])
        self._run_host(["mount", "--make-rslave", str(p)])
        self._run_host(["mount", "-t", "proc", "proc", str(p / "proc")])
        for fs in ("sys", "dev"):
            self._run_host(["mount", "--rbind", f"/{fs}", str(p / fs)])
            # A slave copy: unmounting it never propagates back to the host.
            self._run_host(["mount", "--make-rslave", str(p / fs)])
        # The root's own /run: the lab's /run/netns lives there, apart from the host's.
        self._run_host(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(p / "run")])
        archives = CACHE / f"newcomer-apt-{self.suite}"
        archives.mkdir(parents=True, exist_ok=True)
        target = p / "var/cache/apt/archives"
        target.mkdir(parents=True, exist_ok=True)
        self._run_host(["mount", "--bind", str(archives), str(target)])
        self._run_host(["mount", "--make-slave", str(target)])

    def shell(self, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
        env = dict(DEBIAN_ENV, HOME="/root", TERM="dumb", DEBIAN_FRONTEND="noninteractive")
        env.update({k: v for k, v in os.environ.items() if k.startswith(PASS_ENV_PREFIXES)})
        env.pop("PIP_FIND_LINKS", None)          # a host path, absent in the root
        if (self.path / "etc/evpn-newcomer/ca-certificates.crt").exists():
            bundle = "/etc/evpn-newcomer/ca-certificates.crt"
            env.update(PIP_CERT=bundle, SSL_CERT_FILE=bundle, REQUESTS_CA_BUNDLE=bundle)
        return subprocess.run(["chroot", str(self.path), "/bin/bash", "-c", script],
                              env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def leftovers(self) -> dict[str, list[str]]:
        """What the lab left in the root: namespaces, processes, nsfs mounts."""
        netns_dir = self.path / "run/netns"
        names = sorted(os.listdir(netns_dir)) if netns_dir.is_dir() else []
        nsfs = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                if " nsfs " in line and str(self.path) in line]
        procs = []
        for pid in _pids_rooted_in(self.path):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            procs.append(f"{pid}: {cmd.decode(errors='replace').strip()}")
        return {"namespaces": names, "processes": procs, "nsfs mounts": nsfs}

    def destroy(self) -> None:
        """Kill what runs in the root, unmount everything, then remove it.

        The root is deleted only once nothing is mounted below it: removing
        through a bind mount of /dev or /sys would delete the host's files.
        """
        for _ in range(3):
            pids = _pids_rooted_in(self.path)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        for point in _mount_points_under(self.path):
            subprocess.run(["umount", "-R", point], capture_output=True, check=False)
        for point in _mount_points_under(self.path):
            subprocess.run(["umount", "-R", "-l", point], capture_output=True, check=False)
        remaining = _mount_points_under(self.path)
        if remaining:
            raise RuntimeError(f"still mounted under {self.path}, not removing it: {remaining}")
        shutil.rmtree(self.path, ignore_errors=True)

    @staticmethod
    def _run_host(cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def _requirements() -> None:
    if not netns_support.is_root():
        pytest.skip("needs root (chroot, mounts)")
    for tool in ("chroot", "mount", "umount", "git", "tar"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")


@pytest.fixture
def fresh_root(request: pytest.FixtureRequest) -> Iterator[Root]:
    _requirements()
    suite = request.param
    t0 = time.monotonic()
    tarball = root_tarball(suite, PREREQUISITES, tag="newcomer")
    work = Path(tempfile.mkdtemp(prefix=f"evpn-newcomer-{suite}-", dir="/var/tmp"))
    root = Root(suite, work / "root")
    root.path.mkdir()
    host_netns_before = set(netns_support.list_netns())
    try:
        subprocess.run(["tar", "--numeric-owner", "-C", str(root.path), "-xf", str(tarball)],
                       check=True, timeout=300)
        root.prepare()
        root.mount()
        print(f"\nnewcomer[{suite}]: root ready in {time.monotonic() - t0:.0f} s")
        yield root
    finally:
        try:
            root.destroy()
        finally:
            if not _mount_points_under(work):
                shutil.rmtree(work, ignore_errors=True)
        new_host_ns = set(netns_support.list_netns()) - host_netns_before
        assert not {ns for ns in new_host_ns if ns.startswith("evlab-")}, (
            f"the lab in the root created namespaces on the host: {new_host_ns}")


@pytest.mark.parametrize("fresh_root", ["bookworm", "trixie"], indirect=True)
def test_make_lab_on_a_fresh_debian(fresh_root: Root) -> None:
    root = fresh_root
    os_release = (root.path / "etc/os-release").read_text()
    assert f"VERSION_CODENAME={root.suite}" in os_release
    assert not (root.path / "usr/bin/gcc").exists(), "the root must start without a compiler"

    t0 = time.monotonic()
    up = root.shell("cd /src/evpn-boot && make lab", timeout=1500)
    up_s = time.monotonic() - t0
    out = up.stdout + up.stderr
    print(f"newcomer[{root.suite}]: make lab {up_s:.0f} s (rc {up.returncode})")
    assert up.returncode == 0, out[-6000:]
    assert re.search(r"proof: 192\.168\.10\.1 \(remote host\) -> 10\.244\.0\.6 \(pod\): "
                     r"answered", out), out[-4000:]
    vnis = re.findall(r"VXLAN vni (\d+):", out)
    assert vnis and set(vnis) == {"100"}, out[-4000:]
    # Nothing on the lab path compiled C code, and apt pulled in no mail server.
    assert not (root.path / "usr/bin/gcc").exists(), "make lab installed a C compiler"
    installed = root.shell("dpkg-query -W -f '${Package}\\n'", timeout=60).stdout.split()
    assert not {"exim4-base", "postfix", "default-mta"} & set(installed), installed

    t1 = time.monotonic()
    down = root.shell("cd /src/evpn-boot && make lab-down", timeout=300)
    print(f"newcomer[{root.suite}]: make lab-down {time.monotonic() - t1:.1f} s")
    assert down.returncode == 0, down.stdout + down.stderr
    left = root.leftovers()
    assert left == {"namespaces": [], "processes": [], "nsfs mounts": []}, left
