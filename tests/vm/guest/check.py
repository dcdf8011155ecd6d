"""Guest side of the VM tier: the kubelet stand-in, the session observer and
the per-boot checks (run with the VM's own /usr/bin/python3, stdlib only).

Phases, one per boot of the same overlay (``/var/lib/evpn-e2e/phase``):

* ``boot1``: cold boot after provisioning: ordering, dataplane, traffic over
  L3 VNI 100, restart without loss, then a second node beside this one
  (``multinode.py``); then the handoff to the OpenPERouter router stand-in
  (``cluster.py``): released, the gate opened, the stand-in started only after
  evpn-boot's FRR stopped; then reboot.
* ``boot2``: a reboot after a release: EVPN up again before the kubelet
  stand-in, the gate closed before READY, the router stand-in not admitted;
  then ``evpn-boot teardown`` must give the host namespace back as it was;
  then reboot.
* ``degraded``: the leaf never answers: READY only after the (short) timeout,
  marked degraded, kubelet still starts; then reboot.
* ``hotplug``: the underlay NIC is absent at boot: ``hotplug-watch`` tells the
  host when evpn-boot says it waits for it, the host hot-plugs a virtio NIC 20 s
  later (QMP), udev names it ``ul0`` and addresses it; evpn-boot (never
  restarted) sends READY after it appeared, kubelet after READY; then power off.

Every result is one ``EVPN-E2E {json}`` line on the console (stdout of the
unit is journal+console); the host harness reads them from the serial log.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional

STATE = Path("/var/lib/evpn-e2e")
RUN = Path("/run/evpn-e2e")
LEAF, REMOTE, HOST = "evlab-leaf", "evlab-remote", "evlab-host"
ROUTER = "perouter"
NODE_UNDERLAY, LEAF_UNDERLAY = "192.168.11.3", "192.168.11.2"
POD = "10.244.0.6"
VTEP = "100.65.0.1"
DEGRADED_TIMEOUT_S = 20.0
HOT_NIC = "ul0"
#: Generous bound on NIC appearance -> READY under TCG (measured: see the metric).
HOTPLUG_READY_BOUND_S = 120.0


def mono() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def emit(rec: dict[str, Any]) -> None:
    print("EVPN-E2E " + json.dumps(rec, sort_keys=True), flush=True)


FAILED: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    if not ok:
        FAILED.append(name)
    emit({"kind": "check", "name": name, "ok": bool(ok), "detail": detail[:600]})
    return bool(ok)


def metric(name: str, value: Any) -> None:
    emit({"kind": "metric", "name": name, "value": value})


def note(msg: str) -> None:
    print(f"evpn-e2e: {msg}", flush=True)


def sh(*cmd: str, timeout: float = 60, check_rc: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, check=False, text=True, capture_output=True,
                          timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> rc {proc.returncode}: {proc.stderr.strip()}")
    return proc


def unit_prop(unit: str, prop: str) -> str:
    return sh("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()


def unit_mono(unit: str, prop: str) -> Optional[float]:
    value = unit_prop(unit, prop)
    return int(value) / 1e6 if value.isdigit() and int(value) > 0 else None


def leaf_vtysh(command: str) -> str:
    """Ask the lab's leaf FRR (native daemons with their own vty directory)."""
    vty = (RUN / "leaf-vty").read_text().strip()
    return sh("vtysh", "--vty_socket", vty, "-c", command, timeout=30).stdout


def leaf_session_state() -> str:
    try:
        data = json.loads(leaf_vtysh(f"show bgp neighbors {NODE_UNDERLAY} json") or "{}")
    except (ValueError, OSError, subprocess.SubprocessError):
        return "unknown"
    return str(data.get(NODE_UNDERLAY, {}).get("bgpState", "absent"))


def link(netns: str, name: str) -> Optional[dict[str, Any]]:
    out = sh("ip", "-n", netns, "-j", "-d", "link", "show", "dev", name).stdout
    try:
        data = json.loads(out or "[]")
    except ValueError:
        return None
    return data[0] if data else None


def host_snapshot() -> dict[str, Any]:
    """What teardown must give back: the host netns' links and addresses, the netns list."""
    links = json.loads(sh("ip", "-n", HOST, "-j", "-d", "addr", "show").stdout or "[]")
    return {
        "netns": sorted(line.split()[0] for line in
                        sh("ip", "netns", "list").stdout.splitlines() if line.strip()),
        "links": sorted(
            [ln["ifname"], ln.get("linkinfo", {}).get("info_kind", ""), ln.get("mtu"),
             "UP" in ln.get("flags", []),
             sorted(f"{a['local']}/{a['prefixlen']}" for a in ln.get("addr_info", [])
                    if a.get("scope") != "link")]
            for ln in links),
    }


# --- units -----------------------------------------------------------------

def kubelet() -> None:
    """The kubelet stand-in: record when it started, then idle like a daemon."""
    RUN.mkdir(parents=True, exist_ok=True)
    started = mono()
    (RUN / "kubelet-started").write_text(f"{started:.6f}\n")
    note(f"kubelet stand-in started at {started:.3f} s")
    import cluster  # beside this file: kubelet restarts the router pod bound here, if admitted
    cluster.kubelet()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


def observe() -> None:
    """Poll the leaf until the session is Established; write the time bounds."""
    RUN.mkdir(parents=True, exist_ok=True)
    out = RUN / "observe.json"
    last_down: Optional[float] = None
    deadline = mono() + 600
    while mono() < deadline:
        begin = mono()
        state = leaf_session_state()
        end = mono()
        if state == "Established":
            out.write_text(json.dumps({"last_down_poll_start": last_down,
                                       "first_up_poll_end": end}))
            note(f"leaf sees the underlay session Established by {end:.3f} s")
            return
        last_down = begin
        out.write_text(json.dumps({"last_down_poll_start": last_down}))
        time.sleep(0.3)


# --- checks ----------------------------------------------------------------

def readiness(phase: str) -> dict[str, Optional[float]]:
    times = {
        "userspace": int(sh("systemctl", "show", "-p", "UserspaceTimestampMonotonic",
                            "--value").stdout.strip() or 0) / 1e6,
        "evpn_boot_exec": unit_mono("evpn-boot.service", "ExecMainStartTimestampMonotonic"),
        "ready": unit_mono("evpn-boot.service", "ActiveEnterTimestampMonotonic"),
        "kubelet_exec": unit_mono("kubelet.service", "ExecMainStartTimestampMonotonic"),
    }
    path = RUN / "kubelet-started"
    times["kubelet_recorded"] = float(path.read_text()) if path.exists() else None
    for key, value in times.items():
        if value is not None:
            metric(f"{phase}.{key}_s", round(value, 3))
    state = unit_prop("evpn-boot.service", "ActiveState")
    check(f"{phase}.ready", state == "active" and times["ready"] is not None,
          f"evpn-boot.service {state}, READY at {times['ready']} s, "
          f"status {unit_prop('evpn-boot.service', 'StatusText')!r}")
    ready, kube = times["ready"], times["kubelet_recorded"]
    after = unit_prop("kubelet.service", "After").split()
    check(f"{phase}.kubelet-after-ready" if phase != "degraded" else "degraded.kubelet-started",
          ready is not None and kube is not None and kube >= ready
          and times["kubelet_exec"] is not None and times["kubelet_exec"] >= ready,
          f"READY {ready} s, kubelet started {kube} s (exec {times['kubelet_exec']} s); "
          f"kubelet After= has evpn-boot.service: {'evpn-boot.service' in after}")
    if ready is not None and kube is not None:
        metric(f"{phase}.kubelet_minus_ready_s", round(kube - ready, 3))
    return times


def established_before_ready(ready: Optional[float]) -> None:
    path = RUN / "observe.json"
    obs = json.loads(path.read_text()) if path.exists() else {}
    up, down = obs.get("first_up_poll_end"), obs.get("last_down_poll_start")
    if up is not None:
        metric("boot1.established_by_s", round(up, 3))
    if down is not None:
        metric("boot1.last_seen_down_s", round(down, 3))
    # A poll that started after READY and still saw the session down would
    # prove READY came first; the session must have been seen up at all.
    ok = ready is not None and up is not None and (down is None or down < ready)
    check("boot1.ready-after-established", ok,
          f"leaf saw the session down last at {down} s, Established by {up} s, READY {ready} s")


def dataplane() -> None:
    vrf = link(ROUTER, "red")
    info = (vrf or {}).get("linkinfo", {})
    check("boot1.vrf-red", bool(vrf) and info.get("info_kind") == "vrf"
          and "UP" in vrf.get("flags", []) and bool(info.get("info_data", {}).get("table")),
          f"kind {info.get('info_kind')}, table {info.get('info_data', {}).get('table')}, "
          f"flags {(vrf or {}).get('flags')}")
    br = link(ROUTER, "br-pe-100")
    info = (br or {}).get("linkinfo", {})
    check("boot1.br-pe-100", bool(br) and info.get("info_kind") == "bridge"
          and br.get("master") == "red" and "UP" in br.get("flags", []),
          f"kind {info.get('info_kind')}, master {(br or {}).get('master')}, "
          f"mac {(br or {}).get('address')}, flags {(br or {}).get('flags')}")
    vx = link(ROUTER, "vni100")
    info = (vx or {}).get("linkinfo", {})
    data, port = info.get("info_data", {}), info.get("info_slave_data", {})
    want = {"kind": "vxlan", "id": 100, "local": VTEP, "port": 4789, "learning": False,
            "master": "br-pe-100", "port_learning": False, "neigh_suppress": True}
    got = {"kind": info.get("info_kind"), "id": data.get("id"), "local": data.get("local"),
           "port": data.get("port"), "learning": data.get("learning"),
           "master": (vx or {}).get("master"), "port_learning": port.get("learning"),
           "neigh_suppress": port.get("neigh_suppress")}
    check("boot1.vni100", got == want,
          ", ".join(f"{k}={v}" + ("" if want[k] == v else f" (want {want[k]})")
                    for k, v in got.items()))
    # Under systemd FRR is the FRR unit's container, not one evpn-boot started itself.
    frr_unit = unit_prop("evpn-boot-frr.service", "ActiveState")
    frr_ctr = sh("podman", "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}",
                 "evpn-boot-frr", timeout=60)
    check("boot1.frr-in-its-unit", frr_unit == "active" and frr_ctr.returncode == 0,
          f"evpn-boot-frr.service {frr_unit}; container restart policy "
          f"{frr_ctr.stdout.strip() or frr_ctr.stderr.strip()[:100]!r}")


def ping_pod(name: str, wait_s: float = 90) -> bool:
    """Remote host -> pod through the leaf's VRF, EVPN type-5, VNI 100."""
    deadline = mono() + wait_s
    t0 = mono()
    proc = sh("true")
    while mono() < deadline:
        proc = sh("ip", "netns", "exec", REMOTE, "ping", "-c", "3", "-i", "0.3", "-W", "2",
                  POD, timeout=30)
        if proc.returncode == 0:
            break
        time.sleep(1)
    type5 = leaf_vtysh("show bgp l2vpn evpn route type prefix")
    has5 = "[5]:[0]:[24]:[10.244.0.0]" in type5
    route = leaf_vtysh("show ip route vrf red 10.244.0.0/24")
    summary = re.findall(r"\d+ packets transmitted, \d+ received[^\n]*", proc.stdout)
    metric(f"{name}_wait_s", round(mono() - t0, 1))
    return check(name, proc.returncode == 0 and has5,
                 f"{summary[-1] if summary else proc.stderr.strip()}; leaf has type-5 "
                 f"10.244.0.0/24: {has5}; leaf route: "
                 f"{' '.join(ln.strip() for ln in route.splitlines() if 'via' in ln)[:200]}")


def vxlan_on_wire() -> None:
    cap = subprocess.Popen(
        ["ip", "netns", "exec", LEAF, "tcpdump", "-nn", "-l", "-c", "4", "-i", "to-node",
         "udp", "port", "4789"], text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    sh("ip", "netns", "exec", REMOTE, "ping", "-c", "4", "-i", "0.3", POD, timeout=30)
    try:
        out, _ = cap.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        cap.kill()
        out, _ = cap.communicate()
    vnis = sorted(set(re.findall(r"vni (\d+)", out)))
    first = next((ln for ln in out.splitlines() if "VXLAN" in ln), "")
    check("boot1.vxlan-vni100-on-wire", vnis == ["100"],
          f"VNIs seen on the underlay: {vnis}; e.g. {first[:200]}")


def restart_without_loss() -> None:
    ping = subprocess.Popen(["ip", "netns", "exec", REMOTE, "ping", "-i", "0.2", "-W", "1", POD],
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(2)
    t0 = mono()
    rc = sh("systemctl", "restart", "evpn-boot.service", timeout=300).returncode
    restart_s = mono() - t0
    time.sleep(3)
    ping.send_signal(signal.SIGINT)
    out, _ = ping.communicate(timeout=20)
    got = {int(s) for s in re.findall(r"icmp_seq=(\d+) ttl", out)}
    sent = re.search(r"(\d+) packets transmitted", out)
    total = int(sent.group(1)) if sent else 0
    # The last request may still be in flight when ping is interrupted.
    lost = sorted(set(range(1, total)) - got)
    metric("boot1.restart_s", round(restart_s, 1))
    metric("boot1.restart_pings_sent", total)
    check("boot1.restart-no-loss", rc == 0 and total > 10 and not lost
          and unit_prop("evpn-boot.service", "ActiveState") == "active",
          f"systemctl restart rc {rc} in {restart_s:.1f} s; {total} pings, lost {lost}")


def router_starts() -> list[dict[str, Any]]:
    import cluster
    path = cluster.STARTS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def release_to_router_standin() -> None:
    """boot1: the handoff request; evpn-boot releases, the gate opens, the router starts."""
    import cluster
    cluster.request_handoff()
    deadline = mono() + 90
    node: dict[str, Any] = {}
    while mono() < deadline:
        node = cluster.load_node()
        if node["metadata"]["annotations"].get("evpn-boot.io/state") == "released" \
                and router_starts():
            break
        time.sleep(1)
    ann, gate = node["metadata"]["annotations"], cluster.gate_of(node)
    starts = router_starts()
    check("boot1.release-gate-opened",
          ann.get("evpn-boot.io/state") == "released" and gate == "released",
          f"state {ann.get('evpn-boot.io/state')!r}, gate {gate!r}, evpn-boot.service "
          f"{unit_prop('evpn-boot.service', 'ActiveState')}, evpn-boot-frr.service "
          f"{unit_prop('evpn-boot-frr.service', 'ActiveState')}")
    time.sleep(3)
    bgpd = sh("pgrep", "-f", "/usr/lib/frr/bgpd -Z").stdout.split()
    netns = sh("ip", "netns", "identify", bgpd[0]).stdout.strip() if bgpd else ""
    log = RUN / "router-standin.log"
    tail = log.read_text()[-200:] if log.exists() else ""
    # Asserted: it started once, after evpn-boot's FRR had stopped.  Reported
    # only: whether its bgpd kept running in perouter (not what this checks).
    check("boot1.router-standin-after-release",
          len(starts) == 1 and not starts[0]["evpn_boot_frr_running"],
          f"router stand-in starts {starts}; its bgpd pids {bgpd} in netns {netns!r}; "
          f"its output {tail!r}")


def gate_at_reboot(ready: Optional[float]) -> None:
    """boot2 (after a release): the gate closed before READY; the router never admitted."""
    import cluster
    boot = cluster.boot_id()
    log = cluster.GATE_LOG
    changes = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    closed = [c for c in changes if c["boot"] == boot and c["gate"] == "supervising"]
    mine = [(round(c["mono"], 3), c["gate"]) for c in changes if c["boot"] == boot]
    check("boot2.gate-closed-before-ready",
          bool(closed) and ready is not None and closed[0]["mono"] < ready,
          f"gate changes this boot {mine}, READY {ready} s")
    time.sleep(2)
    active = unit_prop("openpe-router.service", "ActiveState")
    starts = router_starts()
    check("boot2.router-standin-gated", not starts and active != "active",
          f"router stand-in starts this boot {starts}; openpe-router.service {active}; "
          f"evpn-boot-frr.service {unit_prop('evpn-boot-frr.service', 'ActiveState')}")


def teardown_restores_host() -> None:
    before = json.loads((STATE / "host-before.json").read_text())
    sh("systemctl", "stop", "evpn-boot.service", timeout=120)
    proc = sh("evpn-boot", "teardown", timeout=300)
    after = host_snapshot()
    diff = [f"{k}: before {before[k]} after {after[k]}" for k in before if before[k] != after[k]]
    check("boot2.teardown-restores-host", proc.returncode == 0 and not diff,
          f"teardown rc {proc.returncode} {proc.stderr.strip()[-200:]}; "
          + ("; ".join(diff) if diff else "host netns links/addresses and netns list as before"))


def degraded() -> None:
    times = readiness("degraded")
    ready, started = times["ready"], times["evpn_boot_exec"]
    status_text = unit_prop("evpn-boot.service", "StatusText")
    check("degraded.ready-degraded", ready is not None and "degraded" in status_text.lower(),
          f"READY at {ready} s, STATUS={status_text!r}")
    waited = (ready - started) if ready is not None and started is not None else None
    if waited is not None:
        metric("degraded.ready_after_start_s", round(waited, 2))
    check("degraded.ready-after-timeout", waited is not None and waited >= DEGRADED_TIMEOUT_S,
          f"READY {waited} s after evpn-boot started; timeout_s {DEGRADED_TIMEOUT_S}")
    status = sh("evpn-boot", "status", timeout=60)
    check("degraded.status-shows-degraded", "degraded" in status.stdout.lower(),
          f"rc {status.returncode}: {' '.join(status.stdout.split())[:300]}")
    journal = sh("journalctl", "-b", "-u", "evpn-boot.service", "-o", "json", timeout=60).stdout
    hits = []
    for line in journal.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        text = json.dumps(rec).lower()
        if "degraded" in text:
            hits.append(str(rec.get("MESSAGE", ""))[:160])
    check("degraded.journal-shows-degraded", bool(hits),
          f"{len(hits)} journal entries mention degraded; first: {hits[:1]}")


def hotplug_watch() -> None:
    """hotplug boot: once evpn-boot's STATUS= says it waits for the NIC, ask the host."""
    if (STATE / "phase").read_text().strip() != "hotplug":
        return
    RUN.mkdir(parents=True, exist_ok=True)
    deadline = mono() + 600
    while mono() < deadline:
        status = unit_prop("evpn-boot.service", "StatusText")
        if "waiting for underlay NIC" in status:
            now = mono()
            (RUN / "waiting.json").write_text(json.dumps({"status": status, "mono": now}))
            note(f"evpn-boot waits ({status!r}) at {now:.3f} s")
            emit({"kind": "hotplug-request", "mono": round(now, 3)})
            return
        if unit_prop("evpn-boot.service", "ActiveState") == "active":
            note(f"evpn-boot became active without waiting for the NIC: {status!r}")
            return
        time.sleep(0.5)


def journal(*args: str) -> list[dict[str, Any]]:
    out = sh("journalctl", "-b", "-o", "json", "--no-pager", *args, timeout=120).stdout
    recs = []
    for line in out.splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            continue
    return recs


def message(rec: dict[str, Any]) -> str:
    msg = rec.get("MESSAGE", "")
    return bytes(msg).decode(errors="replace") if isinstance(msg, list) else str(msg)


def journal_mono(rec: dict[str, Any]) -> float:
    """When journald received it, CLOCK_MONOTONIC (the kernel's own stamp is sched_clock)."""
    return int(rec["__MONOTONIC_TIMESTAMP"]) / 1e6


def hotplug() -> None:
    times = readiness("hotplug")
    ready, started = times["ready"], times["evpn_boot_exec"]
    # When the NIC appeared: the kernel's lines about it (PCI hot-add, then
    # udev's rename to ul0), as journald received them (an upper bound).
    kernel = journal("-k")
    pci = [journal_mono(r) for r in kernel if "[1af4:1000]" in message(r)
           and started is not None and journal_mono(r) > started]
    renamed = [journal_mono(r) for r in kernel
               if f"{HOT_NIC}: renamed from" in message(r)]
    appeared = renamed[0] if renamed else None
    for key, value in (("nic_pci_added_s", pci[0] if pci else None),
                       ("nic_appeared_s", appeared)):
        if value is not None:
            metric(f"hotplug.{key}", round(value, 3))
    added_log = RUN / "nic-added.log"
    added = " ".join(added_log.read_text().split()) if added_log.exists() else "(no udev RUN)"

    # evpn-boot said what it waited for: STATUS= (seen by hotplug-watch), the journal.
    waiting_path = RUN / "waiting.json"
    waiting = json.loads(waiting_path.read_text()) if waiting_path.exists() else {}
    logged = [(journal_mono(r), message(r)) for r in journal("-u", "evpn-boot.service")
              if f"waiting for underlay NIC {HOT_NIC}" in message(r)]
    check("hotplug.waited-for-nic",
          "waiting for underlay NIC " + HOT_NIC in waiting.get("status", "") and bool(logged),
          f"STATUS={waiting.get('status')!r} seen at {waiting.get('mono')} s; journal: "
          f"{[(round(t, 3), m[:120]) for t, m in logged[:2]]}")
    if appeared is not None and started is not None:
        metric("hotplug.nic_after_evpn_boot_start_s", round(appeared - started, 2))

    # Which mechanism waited: the installed unit has no device ordering, so
    # systemd started evpn-boot before the NIC existed and the daemon's own
    # netlink wait did it.  (The unit `install-units --config` renders would
    # carry Wants=/After= on the .device: reported, not installed.)
    deps = " ".join(unit_prop("evpn-boot.service", p)
                    for p in ("After", "Wants", "Requires", "BindsTo"))
    dev_deps = [d for d in deps.split() if d.startswith("sys-subsystem-net-devices")]
    render = Path("/tmp/evpn-e2e-render")
    sh("rm", "-rf", str(render))
    proc = sh("evpn-boot", "install-units", "--root", str(render), "--no-enable",
              "--config", "/etc/evpn-boot/config.toml", timeout=120)
    rendered = sorted({ln.strip() for f in render.rglob("evpn-boot.service")
                       for ln in f.read_text().splitlines()
                       if "sys-subsystem-net-devices" in ln and not ln.startswith("#")})
    sh("rm", "-rf", str(render))
    check("hotplug.daemon-did-the-wait",
          not dev_deps and started is not None and appeared is not None
          and appeared - started >= 10,
          f"installed unit's device dependencies {dev_deps}; evpn-boot started {started} s, "
          f"NIC named {HOT_NIC} at {appeared} s; the unit install-units --config renders "
          f"(rc {proc.returncode}) has {rendered}")

    check("hotplug.ready-after-nic",
          ready is not None and appeared is not None
          and appeared < ready <= appeared + HOTPLUG_READY_BOUND_S,
          f"NIC PCI hot-add {pci[:1]} s, named {appeared} s, READY {ready} s "
          f"(bound {HOTPLUG_READY_BOUND_S:g} s); udev RUN: {added[:200]}")
    if ready is not None and appeared is not None:
        metric("hotplug.nic_to_ready_s", round(ready - appeared, 2))

    restarts = unit_prop("evpn-boot.service", "NRestarts")
    result = unit_prop("evpn-boot.service", "Result")
    check("hotplug.no-restart", restarts == "0" and result == "success"
          and unit_prop("evpn-boot.service", "ActiveState") == "active",
          f"NRestarts={restarts} Result={result} "
          f"ExecMainStart {started} s, MainPID {unit_prop('evpn-boot.service', 'MainPID')}")

    # The underlay rides the hot-plugged NIC: in the router namespace with its
    # address, and the leaf (behind the cold-plugged NIC, same qemu hub) sees
    # the session Established.
    ul = link(ROUTER, HOT_NIC)
    addrs = json.loads(sh("ip", "-n", ROUTER, "-j", "addr", "show", "dev", HOT_NIC
                          ).stdout or "[]")
    cidrs = [f"{a['local']}/{a['prefixlen']}" for ln in addrs for a in ln.get("addr_info", [])
             if a.get("family") == "inet"]
    deadline = mono() + 60
    state = leaf_session_state()
    while state != "Established" and mono() < deadline:
        time.sleep(2)
        state = leaf_session_state()
    obs_path = RUN / "observe.json"
    obs = json.loads(obs_path.read_text()) if obs_path.exists() else {}
    check("hotplug.underlay-over-hotplugged-nic",
          ul is not None and f"{NODE_UNDERLAY}/24" in cidrs and state == "Established"
          and (ul or {}).get("address") == "52:54:00:e2:e0:02",
          f"{HOT_NIC} in {ROUTER}: mac {(ul or {}).get('address')}, {cidrs}, flags "
          f"{(ul or {}).get('flags')}; leaf sees {NODE_UNDERLAY} {state} (first seen "
          f"Established by {obs.get('first_up_poll_end')} s, READY {ready} s)")


def diagnostics() -> None:
    """After a failed check: what the host cannot see otherwise (console only)."""
    for cmd in (["systemctl", "--failed", "--no-pager"],
                ["journalctl", "-b", "--no-pager", "-n", "60", "-u", "evpn-boot.service",
                 "-u", "evpn-boot-frr.service", "-u", "evpn-e2e-lab.service"],
                ["ip", "-n", ROUTER, "-br", "link"], ["ip", "netns", "list"]):
        proc = sh(*cmd, timeout=60)
        for line in (proc.stdout + proc.stderr).splitlines():
            note(f"[{cmd[0]}] {line}")


def run() -> None:
    phase = (STATE / "phase").read_text().strip()
    note(f"checks of phase {phase}")
    nxt, action = {"boot1": ("boot2", "reboot"), "boot2": ("degraded", "reboot"),
                   "degraded": ("hotplug", "reboot"),
                   "hotplug": ("done", "poweroff")}.get(phase, ("done", "poweroff"))
    try:
        if phase == "boot1":
            times = readiness("boot1")
            established_before_ready(times["ready"])
            dataplane()
            if ping_pod("boot1.ping-pod-type5"):
                vxlan_on_wire()
            restart_without_loss()
            import multinode  # beside this file (the guest directory)
            vty = (RUN / "leaf-vty").read_text().strip()
            image = (Path(__file__).resolve().parent / "frr-image.tag").read_text().strip()
            multinode.run(sh, check=check, metric=metric, leaf_vtysh=leaf_vtysh,
                          leaf_vtysh_args=["vtysh", "--vty_socket", vty], image=image)
            release_to_router_standin()
        elif phase == "boot2":
            times = readiness("boot2")
            gate_at_reboot(times["ready"])
            ping_pod("boot2.ping-pod-type5")
            teardown_restores_host()
        elif phase == "degraded":
            degraded()
        elif phase == "hotplug":
            hotplug()
    except Exception:  # report and move on: the host must get an answer
        check(f"{phase}.checker", False, traceback.format_exc()[-500:])
    finally:
        if FAILED:
            diagnostics()
        (STATE / "phase").write_text(nxt + "\n")
        if nxt == "done":
            emit({"kind": "done"})
        note(f"phase {phase} done; {action}")
        sh("journalctl", "--sync")
        os.sync()
        subprocess.run(["systemctl", "--no-block", action], check=False)


def main() -> None:
    mode = sys.argv[1]
    if mode == "kubelet":
        kubelet()
    elif mode == "observe":
        observe()
    elif mode == "hotplug-watch":
        hotplug_watch()
    elif mode == "snapshot":
        print(json.dumps(host_snapshot()))
    elif mode == "run":
        run()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
