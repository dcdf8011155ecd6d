"""``plan``, ``apply`` and ``teardown``: thin wrappers over evpn_boot.netlink.engine."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from evpn_boot.cli.config_cmds import derive_for_node, load
from evpn_boot.cli.main import Context
from evpn_boot.desired.model import Runtime
from evpn_boot.errors import EXIT_CHANGES_PENDING

if TYPE_CHECKING:
    from evpn_boot.frr.lifecycle import FrrResult


@click.command("plan")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--exit-code", is_flag=True,
              help=f"Exit {EXIT_CHANGES_PENDING} when changes are pending, 0 when in sync.")
@click.option("-v", "--verbose", is_flag=True, help="Also list objects already in sync (=).")
@click.pass_obj
def plan(ctx: Context, as_json: bool, exit_code: bool, verbose: bool) -> None:
    """Show what `apply` would change (+ create, - delete, ~ change, = in sync)."""
    from evpn_boot.netlink import engine
    from evpn_boot.plan.render import plan_to_dict, plan_to_text
    desired = derive_for_node(ctx, load(ctx), read_host=True)
    the_plan = engine.plan(desired)
    if as_json:
        click.echo(json.dumps(plan_to_dict(the_plan), indent=2))
    else:
        click.echo(plan_to_text(the_plan, verbose=verbose))
    if exit_code and not the_plan.empty:
        raise click.exceptions.Exit(EXIT_CHANGES_PENDING)


@click.command("apply")
@click.option("--skip-frr", is_flag=True, help="Apply the dataplane only, not FRR.")
@click.pass_obj
def apply(ctx: Context, skip_frr: bool) -> None:
    """Converge the dataplane (then FRR), verify, and summarise what changed."""
    from evpn_boot.netlink import engine
    from evpn_boot.state import release
    started = time.monotonic()
    desired = derive_for_node(ctx, load(ctx), read_host=True)
    release.refuse_if_released(desired.runtime.run_dir)
    result = engine.converge(desired)
    elapsed = time.monotonic() - started
    if result.changed:
        from evpn_boot.plan.render import counts_text
        click.echo(f"dataplane: applied {result.ops} changes ({counts_text(result.changes)}) "
                   f"and verified in {elapsed:.2f} s")
    else:
        click.echo(f"dataplane: in sync, nothing to do ({elapsed:.2f} s)")
    if skip_frr:
        return
    from evpn_boot.frr.lifecycle import converge_frr
    click.echo(frr_summary(converge_frr(desired)))


def frr_summary(result: FrrResult) -> str:
    """One line saying what converging FRR did (started/reloaded/restarted/unchanged)."""
    wrote = f", wrote {', '.join(sorted(result.written))}" if result.written else ""
    return f"frr: {result.action} (container {result.container}{wrote})"


@click.command("teardown")
@click.option("--discard-state", is_flag=True,
              help="Set aside a state file evpn-boot refuses to trust (exit 8) and tear "
                   "down without it.")
@click.pass_obj
def teardown(ctx: Context, discard_state: bool) -> None:
    """Remove everything evpn-boot created; give the underlay NIC back."""
    from evpn_boot.netlink import engine
    loaded = load(ctx)
    runtime = loaded.config.runtime
    done = engine.teardown(Runtime(
        netns=runtime.netns, host_netns=runtime.host_netns, state_dir=runtime.state_dir,
        run_dir=runtime.run_dir, frr_image="", frr_config_dir=loaded.config.frr.config_dir,
        frr_container=loaded.config.frr.container_name), discard_state=discard_state)
    from evpn_boot.state import release
    if release.clear(runtime.run_dir):     # the next `run` carries the node again
        done.append(f"- release record {release.release_path(runtime.run_dir)}")
    for line in done:
        click.echo(line)
    click.echo("teardown: done" if done else "teardown: nothing to remove")
