"""``lab up / status / down``: build the fabric, run the real evpn-boot, prove it.

The order is the one a real node sees: the fabric exists first (leaf, remote
host, the node's host namespace with its NIC, pod and BGP speaker), then
evpn-boot applies its generated configuration and FRR starts in the router
namespace, then traffic proves the result.  A lab record is written *before*
anything is created, so ``lab down`` can remove a failed or interrupted ``up``;
everything is also found by the namespace prefix, so even a lost record leaves
nothing behind.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Protocol

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab import fabric, native_frr, node, proof
from evpn_boot.lab.topology import LabParams, Topology, Variant, build, node_vtep

RECORD = "lab.json"


class Progress(Protocol):
    """How the orchestrator reports: one line per step, with its duration."""

    def step(self, title: str) -> AbstractContextManager[None]: ...

    def info(self, text: str) -> None: ...


@dataclass
class LabRecord:
    """What ``lab up`` made; the state file ``lab down`` and ``lab status`` read."""

    prefix: str
    variant: str
    vnis: int
    namespaces: list[str]
    frr_dirs: dict[str, str] = field(default_factory=dict)
    node_frr: str = ""              # "podman", "native" or "" (not started)
    container: str = ""
    config: str = ""
    fabric_only: bool = False
    started: float = 0.0

    @classmethod
    def load(cls, lab_dir: Path) -> Optional[LabRecord]:
        try:
            return cls(**json.loads((lab_dir / RECORD).read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise EvpnBootError(f"lab: cannot read {lab_dir / RECORD}: {exc}") from exc

    def save(self, lab_dir: Path) -> None:
        lab_dir.mkdir(parents=True, exist_ok=True)
        (lab_dir / RECORD).write_text(json.dumps(asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class UpResult:
    topology: Topology
    record: LabRecord
    ping_seconds: float
    rtt: str
    packets: list[proof.VxlanPacket]


def choose_variant(requested: Optional[Variant], prefix: str, progress: Progress) -> Variant:
    """L3 where the kernel has VRF; L2 otherwise (saying so); ``--l3`` without VRF fails."""
    has_vrf = fabric.kernel_supports_vrf(prefix)
    if requested is Variant.L3 and not has_vrf:
        raise EvpnBootError(
            "lab: --l3 needs VRF, and this kernel has no VRF support (ip link add type vrf "
            "fails: CONFIG_NET_VRF); use --l2, or a kernel with VRF", kind=ErrorKind.PREFLIGHT)
    if requested is None:
        if has_vrf:
            return Variant.L3
        progress.info("kernel has no VRF support: running the L2 variant (pod and remote host "
                      "in one L2 VNI, EVPN type-2/3 routes); --l3 needs a kernel with VRF")
        return Variant.L2
    return requested


def fabric_up(params: LabParams, progress: Progress, *, fabric_only: bool = True,
              ) -> tuple[Topology, LabRecord]:
    """Everything around the node: namespaces, links, leaf and speaker FRR, config.toml."""
    topo = build(params)
    leftovers = _lab_namespaces(params.prefix)
    if LabRecord.load(params.lab_dir) is not None or leftovers:
        raise EvpnBootError(
            f"lab: a lab is already up (or was interrupted): {', '.join(leftovers) or 'record'} "
            f"in {params.lab_dir}; run `evpn-boot lab down` first", kind=ErrorKind.PREFLIGHT)
    record = LabRecord(prefix=params.prefix, variant=params.variant.value, vnis=params.vnis,
                       namespaces=[*topo.namespaces, topo.router_netns],
                       config=str(topo.config_path), fabric_only=fabric_only,
                       started=time.time())
    record.save(params.lab_dir)
    with progress.step(f"fabric: {len(topo.namespaces)} namespaces, {len(topo.links)} links"):
        fabric.build_fabric(topo)
    for inst in topo.frr:
        run_dir = params.lab_dir / "frr" / inst.name
        record.frr_dirs[inst.name] = str(run_dir)
        record.save(params.lab_dir)
        with progress.step(f"FRR {inst.name} in {inst.netns}"):
            native_frr.start(inst.name, inst.netns, inst.config, run_dir, daemons=inst.daemons)
    topo.config_path.write_text(topo.node_config)
    return topo, record


def up(params: LabParams, progress: Progress, *, frr_mode: str = "auto",
       timeout: float = 90) -> UpResult:
    """The whole lab, proven by a ping and a VXLAN capture; removed again on failure."""
    try:
        topo, record = fabric_up(params, progress, fabric_only=False)
        with progress.step("evpn-boot apply: dataplane + FRR on the node (generated config)"):
            record.node_frr, record.container = node.apply_node(
                topo, params.lab_dir / "frr" / "node", frr_mode, progress)
            if record.node_frr == "native":
                record.frr_dirs["node"] = str(params.lab_dir / "frr" / "node")
            record.save(params.lab_dir)
        if topo.pod_attach is not None:
            ifname, bridge = topo.pod_attach
            with progress.step(f"attach the pod to {bridge} in {topo.host_netns}"):
                fabric.set_master(topo.host_netns, ifname, bridge)
        leaf = native_frr.NativeFrr("leaf", topo.capture_netns, Path(record.frr_dirs["leaf"]))
        with progress.step("BGP: leaf <-> node session Established"):
            node.wait_established(leaf, timeout)
        with progress.step(f"ping {topo.probe_target} from the remote host "
                           f"{topo.probe_source}"):
            seconds, rtt = proof.wait_for_ping(topo.probe_netns, topo.probe_target, timeout)
        with progress.step(f"capture VXLAN on the underlay ({topo.capture_ifname} in the leaf)"):
            packets, raw = proof.capture_vxlan(topo.capture_netns, topo.capture_ifname,
                                               topo.probe_netns, topo.probe_target)
        vni = topo.vnis[0]
        if not any(p.vni == vni for p in packets):
            raise EvpnBootError(f"lab: no VXLAN packet with VNI {vni} on the underlay "
                                f"({topo.capture_ifname}); tcpdump printed:\n{raw}",
                                kind=ErrorKind.VERIFY)
        if not any(node_vtep() in (p.outer_src, p.outer_dst) for p in packets):
            raise EvpnBootError(f"lab: no VXLAN packet to or from the node's VTEP "
                                f"{node_vtep()}:\n{raw}", kind=ErrorKind.VERIFY)
        return UpResult(topo, record, seconds, rtt, packets)
    except BaseException:
        progress.info("lab up failed: removing what it made")
        down(params.lab_dir, params.prefix, progress)
        raise


def down(lab_dir: Path, prefix: str, progress: Progress) -> list[str]:
    """Remove the lab: container, FRR processes, namespaces, files.  Idempotent."""
    record = LabRecord.load(lab_dir) if (lab_dir / RECORD).exists() else None
    removed: list[str] = []
    # The container is looked for even without a record: an interrupted apply may
    # have started it before the record said so.
    container = (record.container if record is not None and record.container
                 else f"{prefix}frr")
    if node.remove_container(container):
        removed.append(f"container {container}")
    frr_root = lab_dir / "frr"
    dirs = sorted(frr_root.iterdir()) if frr_root.is_dir() else []
    for run_dir in dirs:
        pids = native_frr.stop(run_dir)
        if pids:
            removed.append(f"FRR {run_dir.name} (pids {', '.join(map(str, pids))})")
    names = sorted(set(_lab_namespaces(prefix)) | set(record.namespaces if record else []))
    for ns in names:
        stray = native_frr.pids_in_netns(ns)
        if stray:
            native_frr.terminate(stray)
            removed.append(f"processes {stray} in {ns}")
    if names:
        with progress.step(f"delete namespaces {', '.join(names)}"):
            removed += [f"netns {ns}" for ns in fabric.remove_namespaces(names)]
    if lab_dir.exists():
        shutil.rmtree(lab_dir)
        removed.append(str(lab_dir))
    return removed


def status(lab_dir: Path, prefix: str) -> dict[str, object]:
    """What is up: the record, namespaces and their links, FRR instances, leaf BGP."""
    record = LabRecord.load(lab_dir)
    namespaces = _lab_namespaces(prefix)
    result: dict[str, object] = {"up": record is not None, "record": asdict(record)
                                 if record else None, "namespaces": {}}
    links: dict[str, list[tuple[str, str, str]]] = {}
    for ns in namespaces:
        links[ns] = fabric.describe(ns)
    result["namespaces"] = links
    frr: dict[str, object] = {}
    for name, run_dir in (record.frr_dirs if record else {}).items():
        pidfiles = list(Path(run_dir).glob("*.pid"))
        alive = [p.stem for p in pidfiles if _pid_alive(p)]
        frr[name] = {"run_dir": run_dir, "daemons": alive}
    if record is not None and record.container:
        frr["node"] = {"container": record.container,
                       "running": node.container_running(record.container)}
    result["frr"] = frr
    if record is not None and "leaf" in record.frr_dirs:
        leaf = native_frr.NativeFrr("leaf", f"{prefix}leaf", Path(record.frr_dirs["leaf"]))
        try:
            result["leaf_bgp"] = node.bgp_sessions(leaf)
        except EvpnBootError as exc:
            result["leaf_bgp"] = str(exc)
    return result


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()


def _lab_namespaces(prefix: str) -> list[str]:
    return [ns for ns in fabric.list_namespaces() if ns.startswith(prefix)]
