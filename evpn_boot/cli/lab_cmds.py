"""``evpn-boot lab``: the published EVPN lab in network namespaces on this machine.

Thin: parsing options and printing; the work is in :mod:`evpn_boot.lab`.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, TypeVar

import click

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab.topology import DEFAULT_LAB_DIR, PREFIX, LabParams, Variant, look_around


class StepPrinter:
    """One line per step: ``[n] title ... 1.23s`` (steps take from ms to seconds)."""

    def __init__(self) -> None:
        self.count = 0
        self.open_line = False

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self._close()
        self.count += 1
        click.echo(f"[{self.count:2d}] {title} ...", nl=False)
        # Flush now: stdout to a pipe is block-buffered, and the step may take
        # seconds (or print through a tool's own output meanwhile).
        sys.stdout.flush()
        self.open_line = True
        start = time.monotonic()
        try:
            yield
        except BaseException:
            if self.open_line:
                click.echo(" FAILED")
                self.open_line = False
            raise
        elapsed = time.monotonic() - start
        if self.open_line:
            click.echo(f" {elapsed:.2f}s")
        else:
            click.echo(f"     ... done in {elapsed:.2f}s")
        self.open_line = False

    def info(self, text: str) -> None:
        self._close()
        click.echo(f"     {text}")
        sys.stdout.flush()

    def _close(self) -> None:
        if self.open_line:
            click.echo("")
            self.open_line = False


def _require_root() -> None:
    if os.geteuid() != 0:
        raise EvpnBootError("lab: needs root (it creates network namespaces and starts FRR)",
                            kind=ErrorKind.PREFLIGHT)


def _interrupt_on_sigterm() -> None:
    """SIGTERM interrupts like Ctrl-C, so a killed ``lab up`` still removes what it made."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)


_Command = TypeVar("_Command", bound=Callable[..., None])


def _one_line_errors(command: _Command) -> _Command:
    """Any failure of a lab command is one ``evpn-boot: error: lab: ...`` line and an
    exit code (cli.main prints EvpnBootError), never a traceback."""
    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except (EvpnBootError, click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise
        except ValueError as exc:
            raise EvpnBootError(f"lab: {exc}", kind=ErrorKind.USAGE) from exc
        except Exception as exc:
            raise EvpnBootError(f"lab: {type(exc).__name__}: {exc}",
                                kind=ErrorKind.RUNTIME) from exc
    return wrapper  # type: ignore[return-value]


_variant = click.option("--l2/--l3", "l2", default=None,
                        help="Force the L2 variant (one L2 VNI) or the L3 one (VRF, the "
                             "published lab).  Default: L3 where the kernel has VRF.")
_vnis = click.option("--vnis", type=click.IntRange(1, 64), default=1, show_default=True,
                     help="How many VNIs (100, 101, ...); the pod and remote host use 100.")
_prefix = click.option("--prefix", default=PREFIX, show_default=True,
                       help="Prefix of every lab namespace.")
_lab_dir = click.option("--dir", "lab_dir", type=click.Path(file_okay=False, path_type=Path),
                        default=str(DEFAULT_LAB_DIR), show_default=True,
                        help="Lab state: record, generated config, FRR run directories.")


def _params(l2: Optional[bool], vnis: int, prefix: str, lab_dir: Path,
            printer: StepPrinter) -> LabParams:
    from evpn_boot.lab.orchestrate import choose_variant
    requested = None if l2 is None else (Variant.L2 if l2 else Variant.L3)
    variant = choose_variant(requested, prefix, printer)
    return LabParams(variant=variant, vnis=vnis, prefix=prefix, lab_dir=lab_dir)


@click.group()
def lab() -> None:
    """The published EVPN lab (leaf, remote host, node, pod) in namespaces on this machine."""


@lab.command()
@_variant
@_vnis
@click.option("--frr", "frr_mode", type=click.Choice(["auto", "podman", "native"]),
              default="auto", show_default=True,
              help="Node FRR: podman with the local image (auto: when the image exists), or "
                   "the distribution's FRR daemons run directly with the same config.")
@click.option("--timeout", type=click.FloatRange(5, 600), default=90, show_default=True,
              help="Seconds to wait for BGP and for the first ping.")
@_prefix
@_lab_dir
@_one_line_errors
def up(*, l2: Optional[bool], vnis: int, frr_mode: str, timeout: float, prefix: str,
       lab_dir: Path) -> None:
    """Build the lab, run the real evpn-boot apply + FRR, and prove it with a ping."""
    from evpn_boot.lab.orchestrate import up as lab_up
    _require_root()
    _interrupt_on_sigterm()
    started = time.monotonic()
    printer = StepPrinter()
    params = _params(l2, vnis, prefix, lab_dir, printer)
    click.echo(f"evpn-boot lab: {params.variant.value.upper()} variant, "
               f"VNI{'s' if vnis > 1 else ''} {', '.join(str(100 + i) for i in range(vnis))}")
    result = lab_up(params, printer, frr_mode=frr_mode, timeout=timeout)
    topo = result.topology
    click.echo("")
    click.echo(f"proof: {topo.probe_source} (remote host) -> {topo.probe_target} (pod): "
               f"answered after {result.ping_seconds:.1f}s, {result.rtt}")
    click.echo(f"proof: {len(result.packets)} VXLAN packets captured on the underlay "
               f"({topo.capture_ifname} in {topo.capture_netns}):")
    for p in result.packets:
        click.echo(f"  {p.outer_src} > {p.outer_dst} VXLAN vni {p.vni}: {p.inner}")
    node_frr = (f"podman container {result.record.container}"
                if result.record.node_frr == "podman" else "native FRR daemons")
    click.echo(f"node: evpn-boot apply built {topo.router_netns} from {topo.config_path}; "
               f"FRR: {node_frr}")
    click.echo("look around:")
    dirs = {name: Path(d) for name, d in result.record.frr_dirs.items()}
    for line in look_around(topo, dirs, result.record.container):
        click.echo(f"  {line}")
    click.echo(f"remove it: evpn-boot lab down        (lab up took "
               f"{time.monotonic() - started:.1f}s)")


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_prefix
@_lab_dir
@_one_line_errors
def status(as_json: bool, prefix: str, lab_dir: Path) -> None:
    """What the lab has running: namespaces, links, FRR instances, leaf BGP sessions."""
    from evpn_boot.lab.orchestrate import status as lab_status
    _require_root()
    report = lab_status(lab_dir, prefix)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    record = report["record"]
    if not report["up"]:
        click.echo("lab: not up" + (" (but namespaces with its prefix exist: run `evpn-boot "
                                    "lab down`)" if report["namespaces"] else ""))
    else:
        assert isinstance(record, dict)
        click.echo(f"lab: up, {record['variant'].upper()} variant, {record['vnis']} VNI(s)"
                   + (", fabric only" if record["fabric_only"] else "")
                   + f", config {record['config']}")
    namespaces = report["namespaces"]
    assert isinstance(namespaces, dict)
    for ns, links in namespaces.items():
        click.echo(f"  {ns}: " + ", ".join(f"{n}({k},{s})" for n, k, s in links))
    frr = report.get("frr")
    assert isinstance(frr, dict)
    for name, info in frr.items():
        assert isinstance(info, dict)
        if "container" in info:
            click.echo(f"  FRR {name}: podman container {info['container']} "
                       f"({'running' if info['running'] else 'NOT running'})")
        else:
            click.echo(f"  FRR {name}: {', '.join(info['daemons']) or 'NO daemon'} running "
                       f"(vty sockets in {info['run_dir']})")
    if "leaf_bgp" in report:
        click.echo(f"  leaf BGP: {report['leaf_bgp']}")


@lab.command()
@_prefix
@_lab_dir
@_one_line_errors
def down(prefix: str, lab_dir: Path) -> None:
    """Remove everything the lab made, even after a failed or interrupted up."""
    from evpn_boot.lab.orchestrate import down as lab_down
    _require_root()
    printer = StepPrinter()
    removed = lab_down(lab_dir, prefix, printer)
    click.echo(f"lab: removed {len(removed)} object(s)" if removed else "lab: nothing to remove")
    for item in removed:
        click.echo(f"  {item}")


@lab.group()
def fabric() -> None:
    """Only the fabric around the node (leaf, remote host, host netns, pod, speaker).

    For a node that runs evpn-boot itself (the VM harness): `fabric up` prints
    the generated evpn-boot config to use.
    """


@fabric.command("up")
@_variant
@_vnis
@_prefix
@_lab_dir
@_one_line_errors
def fabric_up(l2: Optional[bool], vnis: int, prefix: str, lab_dir: Path) -> None:
    """Build the fabric and write the node's evpn-boot config; do not run evpn-boot."""
    from evpn_boot.lab.orchestrate import down as lab_down
    from evpn_boot.lab.orchestrate import fabric_up as build_fabric
    _require_root()
    printer = StepPrinter()
    params = _params(l2, vnis, prefix, lab_dir, printer)
    try:
        topo, _ = build_fabric(params, printer)
    except BaseException:
        printer.info("fabric up failed: removing what it made")
        lab_down(lab_dir, prefix, printer)
        raise
    click.echo(f"fabric up ({params.variant.value.upper()}); node config: {topo.config_path}")
    click.echo(f"run: evpn-boot -c {topo.config_path} apply")


@fabric.command("down")
@_prefix
@_lab_dir
@_one_line_errors
def fabric_down(prefix: str, lab_dir: Path) -> None:
    """Remove the fabric (same as `lab down`)."""
    from evpn_boot.lab.orchestrate import down as lab_down
    _require_root()
    removed = lab_down(lab_dir, prefix, StepPrinter())
    click.echo(f"lab: removed {len(removed)} object(s)" if removed else "lab: nothing to remove")
