"""``export``: the configuration as other tools' resources."""

from __future__ import annotations

import click

from evpn_boot.cli.main import Context
from evpn_boot.config.load import load_config


@click.group()
def export() -> None:
    """The configuration as another tool's resources."""


@export.command()
@click.option("-n", "--namespace", default="openperouter-system", show_default=True,
              help="Namespace of the exported resources.")
@click.pass_obj
def openperouter(ctx: Context, namespace: str) -> None:
    """OpenPERouter Underlay, L3VNI and L2VNI resources equivalent to the config (YAML).

    Hand them to the in-cluster reconciler (``kubectl apply -f -``) so that it
    keeps the node on the same intent after the handoff.  Notes about what has
    no equivalent, or needs a Secret, are printed as comments first.
    """
    from evpn_boot.export.openperouter import export_openperouter, to_yaml

    loaded = load_config(ctx.config_path)
    click.echo(to_yaml(export_openperouter(loaded.config, namespace)), nl=False)
