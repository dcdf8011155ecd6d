"""Provisioning commands: ``render ignition|butane|cloud-init``, ``install-units``
and ``frr-container run``.

Thin: every document and unit is built by the pure renderers in
:mod:`evpn_boot.provision`; this module reads the config, writes files and
execs podman for the FRR unit.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from evpn_boot.cli.main import Context
from evpn_boot.config.load import LoadedConfig, load_config
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.provision.params import DEFAULT_IMAGE, Mode

if TYPE_CHECKING:
    from evpn_boot.provision.node import NodeDocument

_MODES = click.Choice([m.value for m in Mode])


def _load(ctx: Context, config_file: Optional[Path]) -> LoadedConfig:
    return load_config(config_file if config_file is not None else ctx.config_path)


def _config_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
        default=None, help="Configuration to embed (default: the global --config).")(f)


def _image_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option("--image", default=DEFAULT_IMAGE, show_default=True,
                        help="evpn-boot's container image (container mode).")(f)


def _quadlet_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option("--quadlet/--no-quadlet", default=None,
                        help="FRR as a Quadlet .container (podman >= 4.4) instead of "
                             "evpn-boot-frr.service. Default: on in container mode.")(f)


def _document(ctx: Context, config_file: Optional[Path], mode: str, image: str,
              quadlet: Optional[bool]) -> NodeDocument:
    from evpn_boot.provision.node import node_document
    loaded = _load(ctx, config_file)
    text = Path(loaded.path).read_text(encoding="utf-8")
    return node_document(loaded.config, text, mode=Mode(mode), image=image, quadlet=quadlet)


@click.command("ignition")
@_config_option
@click.option("--mode", type=_MODES, default=Mode.CONTAINER.value, show_default=True,
              help="container: run evpn-boot's image (hosts without Python, e.g. Fedora "
                   "CoreOS); native: run /usr/bin/evpn-boot.")
@click.option("--ignition-version", type=click.Choice(["3.4.0", "3.3.0"]), default="3.4.0",
              show_default=True, help="Ignition config spec version.")
@_image_option
@_quadlet_option
@click.pass_obj
def render_ignition(ctx: Context, *, config_file: Optional[Path], mode: str,
                    ignition_version: str, image: str, quadlet: Optional[bool]) -> None:
    """An Ignition config: the config (0600), the units, enabled."""
    from evpn_boot.provision.ignition import ignition_document
    doc = _document(ctx, config_file, mode, image, quadlet)
    click.echo(json.dumps(ignition_document(doc, version=ignition_version),
                          indent=2))


@click.command("butane")
@_config_option
@click.option("--mode", type=_MODES, default=Mode.CONTAINER.value, show_default=True,
              help="See `render ignition --help`.")
@click.option("--ignition-version", type=click.Choice(["3.4.0", "3.3.0"]), default="3.4.0",
              show_default=True,
              help="Target Ignition spec: 3.4.0 = Butane fcos 1.5.0, 3.3.0 = fcos 1.4.0.")
@_image_option
@_quadlet_option
@click.pass_obj
def render_butane(ctx: Context, *, config_file: Optional[Path], mode: str,
                  ignition_version: str, image: str, quadlet: Optional[bool]) -> None:
    """A Butane (fcos) config, for `butane --strict` to turn into Ignition."""
    from evpn_boot.provision.ignition import butane_document
    doc = _document(ctx, config_file, mode, image, quadlet)
    click.echo(butane_document(doc, version=ignition_version), nl=False)


@click.command("cloud-init")
@_config_option
@click.option("--mode", type=_MODES, default=Mode.NATIVE.value, show_default=True,
              help="native: evpn-boot is installed on the image (pip, .deb, RPM); "
                   "container: run evpn-boot's image with podman.")
@_image_option
@_quadlet_option
@click.option("--package", "packages", multiple=True, metavar="PATH",
              help="A .deb or .rpm already on the node (absolute path) to install first, "
                   "for images without evpn-boot (native mode). Repeatable.")
@click.pass_obj
def render_cloud_init(ctx: Context, *, config_file: Optional[Path], mode: str, image: str,
                      quadlet: Optional[bool], packages: tuple[str, ...]) -> None:
    """A #cloud-config: write_files, then runcmd entries that start evpn-boot.

    `systemctl start evpn-boot` blocks until READY, so put these runcmd
    entries before any `kubeadm join`.
    """
    from evpn_boot.provision.cloudinit import cloud_config, install_command
    for package in packages:
        install_command(package)      # a bad path fails before the config is read
    doc = _document(ctx, config_file, mode, image, quadlet)
    click.echo(cloud_config(doc, packages), nl=False)


def _default_bin() -> str:
    """The evpn-boot executable that is running (a pip install's console script)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "evpn-boot" and argv0.exists():
        return str(argv0.resolve())
    found = shutil.which("evpn-boot")
    return str(Path(found).resolve()) if found else "/usr/bin/evpn-boot"


@click.command("install-units")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
              show_default=True, help="Install into this root (an image being built).")
@click.option("--bin", "bin_path", default=None,
              help="evpn-boot's path on the target (default: this executable).")
@click.option("--mode", type=_MODES, default=Mode.NATIVE.value, show_default=True)
@_image_option
@_quadlet_option
@click.option("--enable/--no-enable", default=True, show_default=True,
              help="Enable evpn-boot.service (a multi-user.target.wants symlink).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Take netns, FRR image and timeouts from this config "
                                 "(default: the global --config if it exists, else defaults).")
@click.pass_obj
def install_units(ctx: Context, *, root: Path, bin_path: Optional[str], mode: str, image: str,
                  quadlet: Optional[bool], enable: bool, config_file: Optional[Path]) -> None:
    """Place the systemd units for a pip install (under /etc, the admin's directories).

    Writes evpn-boot.service, evpn-boot-frr.service (or the Quadlet), the
    kubelet drop-in, modules-load.d and tmpfiles.d, then (unless --no-enable)
    enables evpn-boot.service.  Run `systemctl daemon-reload` afterwards on a
    live system.
    """
    from evpn_boot.provision.install import install_files
    from evpn_boot.provision.params import unit_params
    from evpn_boot.provision.units import render_units
    path = config_file if config_file is not None else ctx.config_path
    config = None
    if config_file is not None or path.exists():
        config = load_config(path).config
    params = unit_params(config, mode=Mode(mode), image=image,
                         bin_path=bin_path or _default_bin(), config_path=str(ctx.config_path))
    use_quadlet = quadlet if quadlet is not None else params.mode is Mode.CONTAINER
    for written in install_files(root, render_units(params, quadlet=use_quadlet),
                                 enable=["evpn-boot.service"] if enable else []):
        click.echo(written)
    if root == Path("/"):
        click.echo("now run: systemctl daemon-reload && systemctl start evpn-boot.service",
                   err=True)


@click.group("frr-container")
def frr_container() -> None:
    """The FRR container as evpn-boot-frr.service runs it."""


@frr_container.command("run")
@click.option("--print", "print_only", is_flag=True, help="Print the podman command only.")
@click.option("--cidfile", type=click.Path(dir_okay=False), default=None,
              help="Have podman write the container's ID here (the unit's stop commands "
                   "read it).")
@click.pass_obj
def frr_container_run(ctx: Context, print_only: bool, cidfile: Optional[str]) -> None:
    """Exec podman with the FRR container's arguments (ExecStart of evpn-boot-frr.service).

    The arguments come from the config and the runtime's container spec, so the
    unit, the Quadlet and evpn-boot's own podman calls start the same container.
    Refuses (exit 1) while the router netns or frr.conf does not exist: the
    unit is started by evpn-boot once both do.
    """
    import shlex

    from evpn_boot.provision.frr_container import systemd_run_argv, systemd_spec
    config = load_config(ctx.config_path).config
    spec = systemd_spec(name=config.frr.container_name, image=config.frr.image,
                        netns=config.runtime.netns, config_dir=str(config.frr.config_dir))
    podman = shutil.which("podman")
    if podman is None:
        raise EvpnBootError("frr-container run: podman not found on PATH",
                            kind=ErrorKind.PREFLIGHT)
    argv = systemd_run_argv(spec, podman, cidfile)
    if print_only:
        click.echo(shlex.join(argv))
        return
    for needed, what in ((Path(spec.netns_path), "the router netns"),
                         (config.frr.config_dir / "frr.conf", "the FRR config")):
        if not needed.exists():
            raise EvpnBootError(f"frr-container run: {what} {needed} does not exist yet; "
                                "evpn-boot starts this unit once it does",
                                kind=ErrorKind.PREFLIGHT)
    sys.stdout.flush()
    try:
        os.execv(podman, argv)
    except OSError as exc:
        raise EvpnBootError(f"frr-container run: exec {podman}: {exc}") from exc
