"""Guest checks of the provisioning scenarios (stdlib only; helpers from
``../check.py``, the bookworm scenario's checker).

Phases (``/var/lib/evpn-e2e/phase``), one per boot of the same overlay:

* ``ign1``: the first boot after Ignition wrote the node's files: the presets
  Ignition wrote enabled evpn-boot and podman.socket, the Quadlet generator
  made evpn-boot-frr.service, evpn-boot runs from its own image (no evpn-boot
  on the host), READY after the leaf's session, the kubelet stand-in after
  READY, the L3 VNI ping to the pod answers; then reboot.
* ``ign2``: the same after a reboot; then power off.
* ``ci1``: cloud-init's first boot (scenario cloud-init, Debian 12): its
  runcmd installed the .deb, enabled and started evpn-boot (READY before the
  "kubeadm join" stand-in entry starts the kubelet stand-in); same dataplane
  and ping checks; then power off.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import check as base  # the guest directory's checker
from check import RUN, STATE, check, metric, note, sh, unit_mono, unit_prop

GUEST = Path(__file__).resolve().parents[1]


def readiness(phase: str) -> Optional[float]:
    ready = unit_mono("evpn-boot.service", "ActiveEnterTimestampMonotonic")
    started = unit_mono("evpn-boot.service", "ExecMainStartTimestampMonotonic")
    kube_exec = unit_mono("kubelet.service", "ExecMainStartTimestampMonotonic")
    path = RUN / "kubelet-started"
    deadline = time.monotonic() + 60     # cloud-init's runcmd starts it --no-block
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(1)
    kube = float(path.read_text()) if path.exists() else None
    userspace = int(sh("systemctl", "show", "-p", "UserspaceTimestampMonotonic",
                       "--value").stdout.strip() or 0) / 1e6
    for key, value in (("userspace", userspace), ("evpn_boot_exec", started), ("ready", ready),
                       ("kubelet_recorded", kube)):
        if value is not None:
            metric(f"{phase}.{key}_s", round(value, 3))
    state = unit_prop("evpn-boot.service", "ActiveState")
    check(f"{phase}.ready", state == "active" and ready is not None,
          f"evpn-boot.service {state}, READY at {ready} s, "
          f"status {unit_prop('evpn-boot.service', 'StatusText')!r}")
    check(f"{phase}.kubelet-after-ready",
          ready is not None and kube is not None and kube >= ready
          and kube_exec is not None and kube_exec >= ready,
          f"READY {ready} s, kubelet stand-in started {kube} s (exec {kube_exec} s)")
    if ready is not None and kube is not None:
        metric(f"{phase}.kubelet_minus_ready_s", round(kube - ready, 3))
    return ready


def established_before_ready(phase: str, ready: Optional[float]) -> None:
    path = RUN / "observe.json"
    obs = json.loads(path.read_text()) if path.exists() else {}
    up, down = obs.get("first_up_poll_end"), obs.get("last_down_poll_start")
    if up is not None:
        metric(f"{phase}.established_by_s", round(up, 3))
    check(f"{phase}.ready-after-established",
          ready is not None and up is not None and (down is None or down < ready),
          f"leaf saw the session down last at {down} s, Established by {up} s, READY {ready} s")


def provisioned_units(phase: str) -> None:
    enabled = {u: sh("systemctl", "is-enabled", u).stdout.strip()
               for u in ("evpn-boot.service", "podman.socket")}
    check(f"{phase}.enabled-by-ignition-presets",
          all(v == "enabled" for v in enabled.values()), f"systemctl is-enabled: {enabled}")
    fragment = unit_prop("evpn-boot-frr.service", "FragmentPath")
    source = unit_prop("evpn-boot-frr.service", "SourcePath")
    check(f"{phase}.quadlet-made-frr-unit",
          fragment.startswith("/run/systemd/generator") and source.endswith(".container"),
          f"evpn-boot-frr.service from {fragment} (source {source})")


def from_its_image(phase: str) -> None:
    want = (GUEST / "evpn-boot-image.tag").read_text().strip()
    got = sh("podman", "inspect", "--format", "{{.ImageName}} {{.State.Status}}",
             "evpn-boot", timeout=60)
    host_bin = sh("sh", "-c", "command -v evpn-boot").stdout.strip()
    check(f"{phase}.evpn-boot-from-its-image",
          got.returncode == 0 and got.stdout.split()[:2] == [want, "running"] and not host_bin,
          f"container evpn-boot: {got.stdout.strip() or got.stderr.strip()[-200:]!r} "
          f"(want {want} running); evpn-boot on the host: {host_bin or 'none'}")
    frr_unit = unit_prop("evpn-boot-frr.service", "ActiveState")
    frr = sh("podman", "inspect", "--format", "{{.State.Status}}", "evpn-boot-frr", timeout=60)
    check(f"{phase}.frr-in-its-unit", frr_unit == "active" and frr.stdout.strip() == "running",
          f"evpn-boot-frr.service {frr_unit}; container {frr.stdout.strip() or frr.stderr[-100:]}")


def cloud_init_ran(phase: str) -> None:
    status = sh("cloud-init", "status", "--long", timeout=120)
    text = " ".join(status.stdout.split())
    check(f"{phase}.cloud-init-done", status.returncode == 0 and "status: done" in text,
          f"cloud-init status rc {status.returncode}: {text[:300]}")
    seed(phase)
    pkg = sh("dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Status}", "evpn-boot")
    enabled = sh("systemctl", "is-enabled", "evpn-boot.service").stdout.strip()
    check(f"{phase}.installed-by-cloud-init",
          pkg.stdout.endswith(" installed") and enabled == "enabled",
          f"{pkg.stdout or pkg.stderr.strip()}; evpn-boot.service {enabled}")
    frr_unit = unit_prop("evpn-boot-frr.service", "ActiveState")
    fragment = unit_prop("evpn-boot-frr.service", "FragmentPath")
    check(f"{phase}.frr-in-its-unit", frr_unit == "active",
          f"evpn-boot-frr.service {frr_unit} ({fragment})")


def seed(phase: str) -> None:
    """cloud-init read *our* user-data, from the CIDATA disk (not a fallback)."""
    status_path = Path("/run/cloud-init/status.json")
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    source = str(status.get("v1", {}).get("datasource") or "")
    got = Path("/var/lib/cloud/instance/user-data.txt")
    ours = (GUEST / "user-data").read_bytes()
    same = got.exists() and got.read_bytes() == ours
    check(f"{phase}.seed-from-cidata-disk",
          source.startswith("DataSourceNoCloud") and "seed=/dev/" in source and same,
          f"datasource {source!r}; {got} is the rendered user-data: {same}")


def vrf(phase: str) -> None:
    red = base.link(base.ROUTER, "red")
    kind = (red or {}).get("linkinfo", {}).get("info_kind")
    check(f"{phase}.vrf-red", kind == "vrf" and "UP" in (red or {}).get("flags", []),
          f"router netns link red: kind {kind}, flags {(red or {}).get('flags')}")


#: What the L3 VNI ping's path looks like from FRR, asked of both ends.
L3VNI_COMMANDS = ("show bgp vrf red ipv4 unicast", "show ip route vrf red",
                  "show evpn vni detail", "show vrf vni", "show bgp l2vpn evpn vni",
                  "show bgp l2vpn evpn route detail type prefix")


def node_vtysh(command: str) -> str:
    done = sh("podman", "exec", "evpn-boot-frr", "vtysh", "-c", command, timeout=60)
    return done.stdout + done.stderr


def l3vni_views() -> None:
    """After a failure: the leaf's and the node's view of VRF red, for the log."""
    for command in L3VNI_COMMANDS:
        for who, ask in (("leaf", base.leaf_vtysh), ("node", node_vtysh)):
            for line in ask(command).splitlines()[:60]:
                note(f"[{who}: {command}] {line}")
    for cmd in (["ip", "-n", base.LEAF, "-d", "link"], ["ip", "-n", base.LEAF, "route", "show",
                                                          "vrf", "red"],
                ["bridge", "-n", base.LEAF, "fdb"], ["ip", "-n", base.LEAF, "neigh"],
                ["ip", "-n", base.ROUTER, "route", "show", "vrf", "red"]):
        done = sh(*cmd, timeout=30)
        for line in (done.stdout + done.stderr).splitlines()[:60]:
            note(f"[{' '.join(cmd[:4])}] {line}")


def run() -> None:
    phase = (STATE / "phase").read_text().strip()
    note(f"checks of phase {phase}")
    nxt, action = {"ign1": ("ign2", "reboot")}.get(phase, ("done", "poweroff"))
    try:
        if phase.startswith("ci"):
            # This unit cannot be ordered after cloud-final (see its unit file):
            # wait for cloud-init to finish its runcmd (which starts evpn-boot).
            waited = sh("cloud-init", "status", "--wait", timeout=900)
            note(f"cloud-init status --wait: rc {waited.returncode} "
                 f"{' '.join(waited.stdout.split())[-200:]}")
        ready = readiness(phase)
        established_before_ready(phase, ready)
        if phase == "ign1":
            provisioned_units(phase)
        if phase.startswith("ign"):
            from_its_image(phase)
        else:
            cloud_init_ran(phase)
        vrf(phase)
        base.ping_pod(f"{phase}.ping-pod-type5")
    except Exception:  # report and move on: the host must get an answer
        check(f"{phase}.checker", False, traceback.format_exc()[-500:])
    finally:
        if base.FAILED:
            base.diagnostics()
            l3vni_views()
            for cmd in (["podman", "logs", "--tail", "30", "evpn-boot"],
                        ["journalctl", "-b", "--no-pager", "-n", "40", "-u", "cloud-final"]):
                done = sh(*cmd, timeout=60)
                for line in (done.stdout + done.stderr).splitlines()[-40:]:
                    note(f"[{cmd[0]}] {line}")
        (STATE / "phase").write_text(nxt + "\n")
        if nxt == "done":
            base.emit({"kind": "done"})
        note(f"phase {phase} done; {action}")
        sh("journalctl", "--sync")
        os.sync()
        subprocess.run(["systemctl", "--no-block", action], check=False)


def kubelet() -> None:
    """The kubelet stand-in: record when it started, then idle like a daemon."""
    RUN.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    (RUN / "kubelet-started").write_text(f"{started:.6f}\n")
    note(f"kubelet stand-in started at {started:.3f} s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        run()
    elif sys.argv[1:] == ["kubelet"]:
        kubelet()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} run|kubelet")
