"""``export``: the configuration as other tools' resources."""

from __future__ import annotations

import click

from evpn_boot.cli.main import Context
from evpn_boot.config.load import load_config

#: The choices of --version, the newest release first (its default).
VERSIONS = ("v0.2", "main")


@click.group()
def export() -> None:
    """The configuration as another tool's resources."""


@export.command()
@click.option("-n", "--namespace", default="openperouter-system", show_default=True,
              help="Namespace of the exported resources.")
@click.option("--version", "version", type=click.Choice(VERSIONS), default=VERSIONS[0],
              show_default=True,
              help="OpenPERouter version whose CRDs the resources follow (v0.2: release "
                   "v0.2.0, API group openpe.openperouter.github.io; main: "
                   "network.openperouter.io).")
@click.pass_obj
def openperouter(ctx: Context, namespace: str, version: str) -> None:
    """OpenPERouter Underlay, L3VNI and L2VNI resources equivalent to the config (YAML).

    Apply them (``kubectl apply -f -``) so that OpenPERouter keeps the node on
    the same intent after the handoff.  A value its CRDs reject is refused
    (exit 2); a value they cannot carry (a password from a file, a multihop
    TTL on v0.2) is a warning, on stderr and as a comment above the documents.
    """
    from evpn_boot.errors import ConfigError
    from evpn_boot.export.openperouter import ExportError, Version, export_openperouter, to_yaml

    loaded = load_config(ctx.config_path)
    try:
        result = export_openperouter(loaded.config, namespace, Version(version))
    except ExportError as exc:
        raise ConfigError(f"{ctx.config_path} (export openperouter --version {version})",
                          exc.problems) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(to_yaml(result), nl=False)
