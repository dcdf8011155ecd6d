"""Host side of the VM end-to-end tier: build, boot, collect, judge.

The VM tier exists because this build machine's kernel has no VRF and no
systemd as PID 1: only a real Debian VM shows the L3 VNI dataplane, the boot
ordering kubelet depends on, a reboot and the installed package together.

Flow (``python -m tests.vm.harness``, also what ``make e2e-vm`` runs):

1. the FRR container image (``scripts/build-frr-image``) saved to an archive,
   cached keyed on the image id;
2. ``tests/vm/build-image``: a bookworm disk image with the distribution kernel
   and that FRR image preloaded, cached under ``/var/cache/evpn-boot-tests/vm/``
   keyed on its inputs;
3. the project package: the ``.deb`` from ``make deb``;
4. a per-run *payload* disk (ext4, label ``E2E-PAYLOAD``) with those artefacts
   and ``tests/vm/guest/`` (the scenario's units and checks);
5. qemu (TCG: KVM hangs on this machine) boots a copy-on-write overlay of the
   cached image, so the cache stays clean; the guest provisions itself, reboots
   into the scenario, reboots again, runs the degraded variant, reboots into
   the hot-plug boot and powers off.  Results come back as ``EVPN-E2E {json}``
   lines on the serial console.  The run is bounded in time and qemu is always
   killed.

The VM has one qemu hub (no host network): a cold-plugged virtio NIC that the
guest's lab moves into its leaf, and, in the ``hotplug`` boot only, a second
NIC on the same hub that the harness hot-plugs over QMP (:mod:`tests.vm.qmp`)
``HOTPLUG_DELAY_S`` after the guest reports that evpn-boot is waiting for it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tests.vm import qmp

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GUEST = HERE / "guest"
CACHE = Path(os.environ.get("EVPN_E2E_CACHE", "/var/cache/evpn-boot-tests/vm"))
MARK = "EVPN-E2E "
RESULT_RE = re.compile(r"EVPN-E2E (\{.*\})\s*$")
#: Every check the scenario must report, in the order the guest runs them.
EXPECTED_CHECKS = (
    "provision.package",
    "provision.frr-image",
    "boot1.lab-up",
    "boot1.ready",
    "boot1.ready-after-established",
    "boot1.kubelet-after-ready",
    "boot1.vrf-red",
    "boot1.br-pe-100",
    "boot1.vni100",
    "boot1.frr-in-its-unit",
    "boot1.ping-pod-type5",
    "boot1.vxlan-vni100-on-wire",
    "boot1.restart-no-loss",
    "boot1.multinode-node2-apply",
    "boot1.multinode-pod-to-pod-l3vni",
    "boot1.multinode-remote-to-both-pods",
    "boot1.multinode-l2-host-anycast-gateway",
    "boot1.multinode-only-vxlan-on-underlay",
    "boot1.release-gate-opened",
    "boot1.router-standin-after-release",
    "boot2.ready",
    "boot2.kubelet-after-ready",
    "boot2.gate-closed-before-ready",
    "boot2.router-standin-gated",
    "boot2.ping-pod-type5",
    "boot2.teardown-restores-host",
    "degraded.ready-degraded",
    "degraded.ready-after-timeout",
    "degraded.kubelet-started",
    "degraded.status-shows-degraded",
    "degraded.journal-shows-degraded",
    "hotplug.lab-up",
    "hotplug.ready",
    "hotplug.kubelet-after-ready",
    "hotplug.waited-for-nic",
    "hotplug.daemon-did-the-wait",
    "hotplug.ready-after-nic",
    "hotplug.no-restart",
    "hotplug.underlay-over-hotplugged-nic",
)
#: The boots of one run, in order (the guest's ``check.py`` chains them).
PHASES = ("boot1", "boot2", "degraded", "hotplug")
#: Development only: ``EVPN_E2E_FIRST_PHASE=hotplug`` provisions, then skips
#: straight to that boot (the checks of the skipped boots are not expected).
#: CI never sets it; unset means the whole chain.
FIRST_PHASE_ENV = "EVPN_E2E_FIRST_PHASE"
#: The lab's leaf leg (cold-plugged) and the underlay NIC hot-plugged later;
#: the guest matches them by MAC (tests/vm/guest/hook, lab-up).
COLD_NIC_MAC = "52:54:00:e2:e0:01"
HOT_NIC_MAC = "52:54:00:e2:e0:02"
#: Seconds between the guest's "evpn-boot is waiting" mark and the device_add.
HOTPLUG_DELAY_S = 20.0


def first_phase() -> str:
    value = os.environ.get(FIRST_PHASE_ENV, "") or PHASES[0]
    if value not in PHASES:
        raise RuntimeError(f"{FIRST_PHASE_ENV}={value!r}: not one of {', '.join(PHASES)}")
    return value


def expected_checks(first: str = PHASES[0]) -> tuple[str, ...]:
    """EXPECTED_CHECKS, less those of the boots skipped by ``first``."""
    skipped = PHASES[:PHASES.index(first)]
    return tuple(c for c in EXPECTED_CHECKS if c.split(".", 1)[0] not in skipped)


def log(msg: str) -> None:
    print(f"e2e-vm: {msg}", file=sys.stderr, flush=True)


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the tier (empty list: it can run)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (debootstrap, chroot, podman storage)")
    for tool in ("qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "podman",
                 "dpkg-deb"):
        if shutil.which(tool) is None:
            missing.append(tool)
    return missing


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE, **kw)


def build_base_image(frr_archive: Path) -> Path:
    """The cached OS image with the FRR image preloaded (builds it on a miss, ~3 min)."""
    out = _run([str(HERE / "build-image"), str(CACHE), str(frr_archive)]
               ).stdout.strip().splitlines()
    return Path(out[-1])


def frr_image_archive() -> tuple[str, Path]:
    """Build (or reuse) the local FRR image and save it as an archive for the guest."""
    tag = _run([str(REPO / "scripts" / "build-frr-image")]).stdout.strip().splitlines()[-1]
    image_id = _run(["podman", "image", "inspect", "--format", "{{.Id}}", tag]).stdout.strip()
    archive = CACHE / f"frr-image-{image_id[:16]}.tar"
    if not archive.exists():
        # Written under a temporary name and renamed: a killed save leaves
        # nothing a later run would trust.
        tmp = archive.with_suffix(f".{os.getpid()}.tmp")
        for stale in CACHE.glob("frr-image-*.tmp"):
            stale.unlink(missing_ok=True)
        _run(["podman", "save", "--format", "docker-archive", "-o", str(tmp), tag])
        tmp.rename(archive)
        for old in CACHE.glob("frr-image-*.tar"):
            if old != archive:
                old.unlink()
    return tag, archive


def project_package() -> Path:
    """The project's .deb, built from the work tree with ``make deb``."""
    _run(["make", "-C", str(REPO), "deb"], stderr=subprocess.STDOUT)
    debs = sorted((REPO / "dist").glob("evpn-boot_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise RuntimeError("make deb produced no dist/evpn-boot_*.deb")
    return debs[-1]


@dataclass
class RunResult:
    """What one VM run reported."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    console: Path = Path()
    wall_s: float = 0.0

    def failures(self, expected: tuple[str, ...] = EXPECTED_CHECKS) -> list[str]:
        out = []
        for name in expected:
            got = self.checks.get(name)
            if got is None:
                out.append(f"{name}: not reported")
            elif not got.get("ok"):
                out.append(f"{name}: {got.get('detail', '')}")
        out.extend(f"{n}: unexpected check failed: {c.get('detail', '')}"
                   for n, c in self.checks.items()
                   if n not in expected and not c.get("ok"))
        if not self.finished:
            out.append("guest did not report the end of the scenario")
        return out


def marked_records(text: str) -> Iterator[dict[str, Any]]:
    """Every well-formed ``EVPN-E2E {json}`` record of a noisy serial log, in order."""
    for line in text.splitlines():
        m = RESULT_RE.search(line)
        if not m:
            continue
        try:
            rec = json.loads(m.group(1))
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield rec


def parse_console(text: str, result: RunResult) -> None:
    """Collect every marked line (later lines win) from the serial log."""
    for rec in marked_records(text):
        kind = rec.get("kind")
        if kind == "check":
            result.checks[rec["name"]] = rec
        elif kind == "metric":
            result.metrics[rec["name"]] = rec["value"]
        elif kind == "done":
            result.finished = True


def make_payload(workdir: Path, deb: Path, frr_tag: str, first: str = PHASES[0]) -> Path:
    """The per-run payload disk: guest scripts, the .deb, the FRR image's tag."""
    root = workdir / "payload"
    shutil.copytree(GUEST, root)
    shutil.copy2(deb, root / "evpn-boot.deb")
    (root / "frr-image.tag").write_text(frr_tag + "\n")
    (root / "first-phase").write_text(first + "\n")
    size_mb = int(deb.stat().st_size / 2**20) + 32
    img = workdir / "payload.img"
    _run(["mkfs.ext4", "-q", "-F", "-L", "E2E-PAYLOAD", "-d", str(root), str(img),
          f"{size_mb}M"])
    shutil.rmtree(root)
    return img


def hotplug_requested(text: str) -> bool:
    """Has the guest asked for the underlay NIC (``{"kind": "hotplug-request"}``)?"""
    return any(rec.get("kind") == "hotplug-request" for rec in marked_records(text))


def hotplug_underlay_nic(sock: Path) -> None:
    """The late NIC: a second port on hub 0 (the leaf's wire) and a virtio NIC on it."""
    with qmp.Qmp(sock) as mon:
        mon.command("netdev_add", type="hubport", id="hot0", hubid=0)
        mon.command("device_add", driver="virtio-net-pci", id="hotnic0", netdev="hot0",
                    mac=HOT_NIC_MAC, romfile="")


def boot(image_dir: Path, payload: Path, workdir: Path, timeout_s: float,
         extra_drives: tuple[Path, ...] = (), *, lab_wire: bool = False) -> RunResult:
    """Boot a fresh overlay of the cached image until the guest powers off.

    ``extra_drives``: raw images attached read-only after the payload (the
    cloud-init scenario's NoCloud seed disk).  ``lab_wire``: the qemu hub with
    the leaf's cold-plugged NIC, and the hot-plug of the node's underlay NIC
    when the guest asks for it (the main scenario's hot-plug boot); the
    provisioning scenarios boot without NICs.
    """
    overlay = workdir / "overlay.qcow2"
    _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
          "-b", str(image_dir / "disk.img"), str(overlay)])
    console = workdir / "console.log"
    qmp_sock = workdir / "qmp.sock"
    cmd = [
        "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "2048",
        "-nographic", "-monitor", "none", "-serial", f"file:{console}", "-nic", "none",
        "-kernel", str(image_dir / "vmlinuz"), "-initrd", str(image_dir / "initrd.img"),
        "-append", "console=ttyS0 root=/dev/vda rw quiet loglevel=3 "
                   "systemd.show_status=false panic=-1",
        "-drive", f"file={overlay},format=qcow2,if=virtio",
        "-drive", f"file={payload},format=raw,if=virtio,readonly=on",
    ]
    for drive in extra_drives:
        cmd += ["-drive", f"file={drive},format=raw,if=virtio,readonly=on"]
    if lab_wire:
        # The lab's wire: hub 0, the leaf's NIC on it now, the node's hot-plugged later.
        cmd += ["-qmp", f"unix:{qmp_sock},server=on,wait=off",
                "-netdev", "hubport,id=cold0,hubid=0",
                "-device", f"virtio-net-pci,netdev=cold0,mac={COLD_NIC_MAC},romfile="]
    result = RunResult(console=console)
    start = time.monotonic()
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads here
    seen = 0
    plug_at: Optional[float] = None
    plugged = False
    try:
        while proc.poll() is None and time.monotonic() - start < timeout_s:
            time.sleep(1)
            seen = _echo_marks(console, seen)
            if lab_wire and plug_at is None and console.exists() and hotplug_requested(
                    console.read_text(errors="replace")):
                plug_at = time.monotonic() + HOTPLUG_DELAY_S
                log(f"guest waits for the underlay NIC: hot-plugging it in "
                    f"{HOTPLUG_DELAY_S:.0f} s")
            if plug_at is not None and not plugged and time.monotonic() >= plug_at:
                plugged = True
                t_plug = time.monotonic()
                try:
                    hotplug_underlay_nic(qmp_sock)
                    log(f"hot-plugged virtio-net-pci mac {HOT_NIC_MAC} on hub 0")
                except (qmp.QmpError, OSError, ValueError) as exc:
                    log(f"hot-plug failed: {exc}")
                result.metrics["host.hotplug_qmp_s"] = round(time.monotonic() - t_plug, 2)
                result.metrics["host.hotplug_at_vm_wall_s"] = round(t_plug - start, 1)
        if proc.poll() is None:
            log(f"timeout after {timeout_s:.0f} s: killing qemu")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _echo_marks(console, seen)
        result.wall_s = time.monotonic() - start
        if console.exists():
            parse_console(console.read_text(errors="replace"), result)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if err.strip():
        log("qemu stderr: " + err.strip()[-2000:])
    return result


def _die_with_parent() -> None:
    """In the child: SIGKILL qemu if the harness dies, whatever kills it."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _echo_marks(console: Path, seen: int) -> int:
    """Print new marked console lines as they arrive (the CI log shows progress)."""
    if not console.exists():
        return seen
    lines = console.read_text(errors="replace").splitlines()
    for line in lines[seen:]:
        if MARK in line or "evpn-e2e:" in line:
            print("  vm| " + line.strip(), flush=True)
    return len(lines)


def run(timeout_s: float = 1200, keep: bool = False) -> RunResult:
    """The whole tier: artefacts, payload, one bounded VM run."""
    missing = missing_prerequisites()
    if missing:
        raise RuntimeError("cannot run the VM tier, missing: " + ", ".join(missing))
    t0 = time.monotonic()
    # Every artefact below lands in the cache: it must exist first (a fresh
    # machine has none of it; seen: podman save -o into a missing directory).
    CACHE.mkdir(parents=True, exist_ok=True)
    frr_tag, archive = frr_image_archive()
    image_dir = build_base_image(archive)
    deb = project_package()
    build_s = time.monotonic() - t0
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=CACHE))
    try:
        payload = make_payload(workdir, deb, frr_tag, first_phase())
        result = boot(image_dir, payload, workdir, timeout_s, lab_wire=True)
        result.metrics["host.artefacts_s"] = round(build_s, 1)
        result.metrics["host.vm_wall_s"] = round(result.wall_s, 1)
        saved = CACHE / "last-console.log"
        if result.console.exists():
            shutil.copy2(result.console, saved)
            result.console = saved
        return result
    finally:
        if keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(result: RunResult, expected: tuple[str, ...] = EXPECTED_CHECKS) -> str:
    lines = ["VM end-to-end checks:"]
    names = list(expected) + [n for n in result.checks if n not in expected]
    for name in names:
        got = result.checks.get(name)
        status = "MISSING" if got is None else ("ok" if got.get("ok") else "FAIL")
        detail = "" if got is None else str(got.get("detail", ""))
        lines.append(f"  {status:7} {name:40} {detail}")
    lines.append("metrics (seconds of CLOCK_MONOTONIC inside the VM unless noted):")
    lines.extend(f"  {k:40} {v}" for k, v in sorted(result.metrics.items()))
    lines.append(f"console log: {result.console}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=1200, help="VM run bound (s)")
    parser.add_argument("--keep", action="store_true", help="keep the run's overlay")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    # SIGTERM (CI cancelling the job) unwinds like Ctrl-C, so qemu is killed
    # and the run directory removed by the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        result = run(args.timeout, args.keep)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"error: {exc}")
        out = getattr(exc, "stdout", None)
        if out:
            log(str(out)[-3000:])
        return 1
    expected = expected_checks(first_phase())
    print(report(result, expected))
    if args.json:
        args.json.write_text(json.dumps({"checks": result.checks, "metrics": result.metrics,
                                         "finished": result.finished}, indent=2))
    failures = result.failures(expected)
    for f in failures:
        print(f"FAILED: {f}")
    print("e2e-vm: " + ("PASS" if not failures else f"{len(failures)} check(s) failed"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
