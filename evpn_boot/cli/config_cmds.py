"""``validate``, ``show`` and ``schema``: the configuration, checked and explained."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from evpn_boot.cli.main import Context
from evpn_boot.config.load import LoadedConfig, load_config
from evpn_boot.errors import ConfigError

if TYPE_CHECKING:
    from evpn_boot.desired.model import DesiredState


def load(ctx: Context) -> LoadedConfig:
    return load_config(ctx.config_path)


def derive_for_node(ctx: Context, loaded: LoadedConfig, *, read_host: bool) -> DesiredState:
    """The desired state for this node (or for ``--node-index``).

    ``read_host`` reads node facts (interface-derived index, NIC MTU) from the
    host; without it only the configuration and the override are used.
    """
    # Imported here, not at the top: `validate` must start fast (bench/bench_cli.py).
    from evpn_boot.desired.derive import DeriveError, NodeFacts, derive
    config = loaded.config
    if read_host:
        from evpn_boot.netlink.facts import read_node_facts
        facts = read_node_facts(config, node_index=ctx.node_index)
    else:
        import socket
        facts = NodeFacts(hostname=socket.gethostname(), interface_index=ctx.node_index)
    if ctx.node_index is not None and config.node.index is not None:
        config = config.model_copy(update={
            "node": config.node.model_copy(update={"index": ctx.node_index})})
    try:
        return derive(config, facts)
    except DeriveError as exc:
        raise ConfigError(str(loaded.path), exc.problems) from None


@click.command()
@click.option("--no-frr-check", is_flag=True,
              help="Check the file only; do not run FRR's parser on the rendered frr.conf.")
@click.pass_obj
def validate(ctx: Context, no_frr_check: bool) -> None:
    """Check the configuration (every problem listed, exit 2), then FRR's parser on
    the rendered frr.conf (exit 6 with FRR's line when it refuses)."""
    loaded = load(ctx)
    click.echo(f"{loaded.path}: valid (digest {loaded.digest})")
    if no_frr_check:
        return
    from evpn_boot.cli.frr_check import check_rendered
    pool = loaded.config.node.index is None and ctx.node_index is None
    if pool:
        # A pool file's per-node values change addresses, not FRR's grammar.
        ctx = Context(ctx.config_path, 1)
    desired = derive_for_node(ctx, loaded, read_host=False)
    note = " (rendered for node index 1 of the pool)" if pool else ""
    click.echo(check_rendered(desired) + note)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-host", is_flag=True,
              help="Do not read the host (interface-derived index, NIC MTU); use the config "
                   "and --node-index only.")
@click.pass_obj
def show(ctx: Context, as_json: bool, no_host: bool) -> None:
    """The effective configuration with defaults and every derived per-node value."""
    from evpn_boot.desired.present import desired_to_dict, desired_to_text
    loaded = load(ctx)
    needs_host = loaded.config.node.index is None and ctx.node_index is None
    desired = derive_for_node(ctx, loaded, read_host=needs_host and not no_host)
    if as_json:
        document: dict[str, Any] = {
            "config": loaded.config.model_dump(mode="json"),
            "digest": loaded.digest,
            "derived": desired_to_dict(desired),
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(desired_to_text(desired))


@click.command()
def schema() -> None:
    """The JSON Schema of the configuration file."""
    from evpn_boot.config.model import Config
    click.echo(json.dumps(Config.model_json_schema(), indent=2))
