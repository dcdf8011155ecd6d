"""Host side of the provisioning scenarios: a node provisioned by Ignition itself.

Scenario ``ignition`` (container mode, Debian 13: podman 5.4 with Quadlet):

1. the trixie FRR image (``scripts/build-frr-image --suite trixie``) and
   evpn-boot's own image (``packaging/build-image``), each saved as an archive
   keyed on its image id;
2. a Debian 13 disk image (``tests/vm/build-image`` with ``ignition``,
   ``policycoreutils`` and the lab's Python libraries added, customised by
   ``provision/customize-image``), the FRR image preloaded, cached under
   ``/var/cache/evpn-boot-tests/vm/provision/`` keyed on its inputs;
3. per run, a sparse copy of that disk with evpn-boot's image loaded into its
   containers storage on the host (its id changes with every code change, so it
   is not part of the cached image), and a payload disk with the Ignition config
   (``evpn-boot render ignition --mode container --ignition-version 3.3.0``,
   the version Debian's Ignition 2.14 supports as stable), the guest scripts and
   the lab's source;
4. one bounded qemu run (``tests.vm.harness.boot``): Ignition applies the config,
   then two boots with checks, then power off.

Scenario ``cloud-init`` (native mode, this machine's Debian release, as the
``.deb`` is built for its Python): the bookworm scenario's image plus
``cloud-init``; a second disk is the NoCloud seed (vfat, label ``CIDATA``,
:func:`nocloud_seed`) with
``evpn-boot render cloud-init --package /mnt/e2e/evpn-boot.deb`` as user-data
and one appended ``runcmd`` entry standing in for ``kubeadm join`` (it enables
and starts the kubelet stand-in).  One boot prepares the machine (nothing of
evpn-boot installed), the next is cloud-init's first boot.

``python -m tests.vm.provision`` runs both, one VM run each, sharing the
artefacts they can; ``make e2e-vm`` runs it after the bookworm scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from tests.support.debian import host_codename
from tests.vm import harness
from tests.vm.harness import REPO, RunResult, _run, log

HERE = Path(__file__).resolve().parent / "provision"
CACHE = harness.CACHE / "provision"
SUITE = "trixie"
#: Added to the bookworm scenario's package list: Ignition (and what Debian's
#: build of it needs for its relabel step), the lab's Python libraries.
EXTRA_PACKAGES = ("ignition,policycoreutils,python3-pydantic,python3-click,python3-jinja2,"
                  "python3-yaml")
IGNITION_VERSION = "3.3.0"
EXPECTED_IGNITION = (
    "ign.no-evpn-boot-on-host",
    "ign.images-preloaded",
    "ign.ignition-files",
    "ign1.lab-up",
    "ign1.ready",
    "ign1.kubelet-after-ready",
    "ign1.ready-after-established",
    "ign1.enabled-by-ignition-presets",
    "ign1.quadlet-made-frr-unit",
    "ign1.evpn-boot-from-its-image",
    "ign1.frr-in-its-unit",
    "ign1.vrf-red",
    "ign1.ping-pod-type5",
    "ign2.lab-up",
    "ign2.ready",
    "ign2.kubelet-after-ready",
    "ign2.ready-after-established",
    "ign2.evpn-boot-from-its-image",
    "ign2.frr-in-its-unit",
    "ign2.vrf-red",
    "ign2.ping-pod-type5",
)
EXPECTED_CLOUD_INIT = (
    "ci.not-installed-before",
    "ci1.lab-up",
    "ci1.ready",
    "ci1.kubelet-after-ready",
    "ci1.ready-after-established",
    "ci1.cloud-init-done",
    "ci1.seed-from-cidata-disk",
    "ci1.installed-by-cloud-init",
    "ci1.frr-in-its-unit",
    "ci1.vrf-red",
    "ci1.ping-pod-type5",
)
#: The "kubeadm join" stand-in, appended after evpn-boot's runcmd entries as
#: docs/install.md tells users to.
KUBEADM_JOIN_STAND_IN = '  - ["systemctl", "enable", "--now", "--no-block", "kubelet.service"]\n'


def image_archive(tag: str, prefix: str) -> Path:
    """``podman save`` of ``tag``, cached keyed on its image id (written atomically)."""
    image_id = _run(["podman", "image", "inspect", "--format", "{{.Id}}", tag]).stdout.strip()
    archive = CACHE / f"{prefix}-{image_id[:16]}.tar"
    if not archive.exists():
        tmp = archive.with_suffix(f".{os.getpid()}.tmp")
        for stale in CACHE.glob(f"{prefix}-*.tmp"):
            stale.unlink(missing_ok=True)
        _run(["podman", "save", "--format", "docker-archive", "-o", str(tmp), tag])
        tmp.rename(archive)
        for old in CACHE.glob(f"{prefix}-*.tar"):
            if old != archive:
                old.unlink()
    return archive


def last_line(cmd: list[str], **kw: object) -> str:
    return _run(cmd, **kw).stdout.strip().splitlines()[-1]  # type: ignore[arg-type]


def base_image(frr_archive: Path, *, suite: str = SUITE, extra: str = EXTRA_PACKAGES,
               customize: str = "customize-image", cache: Path = CACHE) -> Path:
    # mmdebstrap for both releases: debootstrap cannot resolve cloud-init's dependencies.
    env = {**os.environ, "EVPN_E2E_SUITE": suite, "EVPN_E2E_EXTRA_PACKAGES": extra,
           "EVPN_E2E_CUSTOMIZE": str(HERE / customize), "EVPN_E2E_BUILDER": "mmdebstrap"}
    return Path(last_line([str(harness.HERE / "build-image"), str(cache), str(frr_archive)],
                          env=env))


def node_disk(base: Path, evpn_archive: Path, workdir: Path) -> Path:
    """This run's disk: a sparse copy of the cached one, evpn-boot's image loaded."""
    disk = workdir / "disk.img"
    _run(["cp", "--sparse=always", str(base / "disk.img"), str(disk)])
    mnt = workdir / "mnt"
    mnt.mkdir()
    runroot = Path(tempfile.mkdtemp(prefix="ebvm-run.", dir="/tmp"))
    _run(["mount", "-o", "loop", str(disk), str(mnt)])
    try:
        store = mnt / "var/lib/containers/storage"
        _run(["podman", "--root", str(store), "--runroot", str(runroot), "--storage-driver",
              "overlay", "load", "-q", "-i", str(evpn_archive)])
        for leftover in ("libpod", "overlay/.has-mount-program", "defaultNetworkBackend", "tmp"):
            path = store / leftover
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    finally:
        _run(["umount", str(mnt)])
        shutil.rmtree(runroot, ignore_errors=True)
    return disk


def node_config(frr_tag: str, out: Path) -> Path:
    """The bookworm scenario's node config, filled in, without the handoff (no
    cluster stand-in runs in these scenarios)."""
    text = (harness.GUEST / "config" / "node.toml").read_text()
    head, sep, _ = text.partition("\n[handoff]\n")
    if not sep:
        raise RuntimeError("tests/vm/guest/config/node.toml has no [handoff] section")
    text = head + "\n[handoff]\nenabled = false\n"
    conf = out.with_name("node.toml")
    conf.write_text(text.replace("@FRR_IMAGE@", frr_tag).replace("@TIMEOUT_S@", "120"))
    return conf


def ignition_config(frr_tag: str, evpn_tag: str, out: Path) -> None:
    """The node's config as an Ignition config, container mode."""
    conf = node_config(frr_tag, out)
    ign = _run([str(REPO / ".venv" / "bin" / "evpn-boot"), "render", "ignition",
                "--config", str(conf), "--mode", "container", "--image", evpn_tag,
                "--ignition-version", IGNITION_VERSION]).stdout
    out.write_text(ign)
    if shutil.which("ignition-validate"):
        _run(["ignition-validate", str(out)])


def make_payload(workdir: Path, frr_tag: str, evpn_tag: str) -> Path:
    root = workdir / "payload"
    shutil.copytree(harness.GUEST, root)
    shutil.copytree(HERE, root / "provision")
    shutil.copy2(HERE / "hook", root / "hook")
    shutil.copytree(REPO / "evpn_boot", root / "src" / "evpn_boot",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "frr-image.tag").write_text(frr_tag + "\n")
    (root / "evpn-boot-image.tag").write_text(evpn_tag + "\n")
    ignition_config(frr_tag, evpn_tag, root / "config.ign")
    img = workdir / "payload.img"
    _run(["mkfs.ext4", "-q", "-F", "-L", "E2E-PAYLOAD", "-d", str(root), str(img), "64M"])
    shutil.rmtree(root)
    return img


def cloud_init_payload(workdir: Path, frr_tag: str, deb: Path) -> Path:
    """The payload disk: the NoCloud seed's user-data and meta-data, the .deb."""
    root = workdir / "payload"
    shutil.copytree(harness.GUEST, root)
    shutil.copytree(HERE, root / "provision")
    shutil.copy2(HERE / "hook-cloud-init", root / "hook")
    shutil.copy2(deb, root / "evpn-boot.deb")
    (root / "frr-image.tag").write_text(frr_tag + "\n")
    conf = node_config(frr_tag, root / "user-data")
    user_data = _run([str(REPO / ".venv" / "bin" / "evpn-boot"), "render", "cloud-init",
                      "--config", str(conf), "--mode", "native",
                      "--package", "/mnt/e2e/evpn-boot.deb"]).stdout
    if not user_data.rstrip("\n").splitlines()[-1].startswith("  - ["):
        raise RuntimeError("render cloud-init no longer ends with its runcmd list")
    (root / "user-data").write_text(user_data + KUBEADM_JOIN_STAND_IN)
    (root / "meta-data").write_text("instance-id: evpn-e2e-cloud-init\n"
                                    "local-hostname: evpn-e2e\n")
    if shutil.which("cloud-init"):
        _run(["cloud-init", "schema", "--config-file", str(root / "user-data")])
    nocloud_seed(root / "user-data", root / "meta-data", workdir / "seed.img")
    size_mb = int(deb.stat().st_size / 2**20) + 64
    img = workdir / "payload.img"
    _run(["mkfs.ext4", "-q", "-F", "-L", "E2E-PAYLOAD", "-d", str(root), str(img),
          f"{size_mb}M"])
    shutil.rmtree(root)
    return img


def nocloud_seed(user_data: Path, meta_data: Path, img: Path) -> Path:
    """The NoCloud seed as a cloud provider hands it over: a vfat disk labelled
    ``cidata`` (cloud-init looks for the label on vfat and iso9660 only)."""
    _run(["mkfs.vfat", "-n", "CIDATA", "-C", str(img), "4096"])
    _run(["mcopy", "-o", "-i", str(img), str(user_data), str(meta_data), "::"])
    return img


def run_cloud_init(timeout_s: float = 1200, keep: bool = False) -> RunResult:
    """Scenario cloud-init: one VM run on the bookworm image plus cloud-init."""
    t0 = time.monotonic()
    suite = host_codename()  # the .deb's Python is this machine's
    cache = harness.CACHE / "cloud-init"
    cache.mkdir(parents=True, exist_ok=True)
    frr_tag, frr_archive = harness.frr_image_archive()
    base = base_image(frr_archive, suite=suite, extra="cloud-init",
                      customize="customize-cloud-init-image", cache=cache)
    deb = harness.project_package()
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=cache))
    try:
        payload = cloud_init_payload(workdir, frr_tag, deb)
        return _boot(base, payload, workdir, timeout_s, t0=t0, cache=cache,
                     extra_drives=(workdir / "seed.img",))
    finally:
        if keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _boot(image: Path, payload: Path, workdir: Path, timeout_s: float, *, t0: float,
          cache: Path, extra_drives: tuple[Path, ...] = ()) -> RunResult:
    """One VM run; its timings as metrics, its console kept in ``cache``."""
    build_s = time.monotonic() - t0
    result = harness.boot(image, payload, workdir, timeout_s, extra_drives)
    result.metrics["host.artefacts_s"] = round(build_s, 1)
    result.metrics["host.vm_wall_s"] = round(result.wall_s, 1)
    saved = cache / "last-console.log"
    if result.console.exists():
        shutil.copy2(result.console, saved)
        result.console = saved
    return result


def run(timeout_s: float = 1500, keep: bool = False) -> RunResult:
    """Scenario ignition: one VM run on the Debian 13 image."""
    missing = harness.missing_prerequisites()
    missing += [t for t in ("mmdebstrap", "losetup", "mkfs.vfat", "mcopy")
                if shutil.which(t) is None]
    if missing:
        raise RuntimeError("cannot run the provisioning scenarios, missing: " + ", ".join(missing))
    t0 = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    frr_tag = last_line([str(REPO / "scripts" / "build-frr-image"), "--suite", SUITE])
    evpn_tag = last_line([str(REPO / "packaging" / "build-image")], cwd=str(REPO))
    frr_archive = image_archive(frr_tag, "frr-image")
    evpn_archive = image_archive(evpn_tag, "evpn-boot-image")
    base = base_image(frr_archive)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=CACHE))
    try:
        disk = node_disk(base, evpn_archive, workdir)
        image_dir = workdir / "image"
        image_dir.mkdir()
        for name in ("vmlinuz", "initrd.img"):
            (image_dir / name).symlink_to(base / name)
        (image_dir / "disk.img").symlink_to(disk)
        payload = make_payload(workdir, frr_tag, evpn_tag)
        return _boot(image_dir, payload, workdir, timeout_s, t0=t0, cache=CACHE)
    finally:
        if keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=1500, help="VM run bound (s)")
    parser.add_argument("--keep", action="store_true", help="keep the run's files")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--scenario", choices=("ignition", "cloud-init", "all"), default="all")
    args = parser.parse_args(argv)
    harness.signal.signal(harness.signal.SIGTERM,
                          lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    scenarios = {"ignition": (run, EXPECTED_IGNITION),
                 "cloud-init": (run_cloud_init, EXPECTED_CLOUD_INIT)}
    chosen = list(scenarios) if args.scenario == "all" else [args.scenario]
    results: dict[str, object] = {}
    failed = 0
    for name in chosen:
        runner, expected = scenarios[name]
        t0 = time.monotonic()
        try:
            result = runner(args.timeout, args.keep)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            log(f"{name}: error: {exc}")
            out = getattr(exc, "stdout", None)
            if out:
                log(str(out)[-3000:])
            failed += 1
            continue
        print(harness.report(result, expected).replace("VM end-to-end", f"Scenario {name}"))
        print(f"  scenario wall time (host): {time.monotonic() - t0:.0f} s")
        results[name] = {"checks": result.checks, "metrics": result.metrics,
                         "finished": result.finished}
        failures = result.failures(expected)
        for f in failures:
            print(f"FAILED: {name}: {f}")
        verdict = "PASS" if not failures else f"{len(failures)} check(s) failed"
        print(f"e2e-vm {name}: {verdict}")
        failed += bool(failures)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
