"""``render``: print what evpn-boot would write, without touching anything.

A group so each renderer is one subcommand (``render frr`` here; provisioning
formats add theirs by registering in :data:`RENDERERS`).
"""

from __future__ import annotations

import importlib
from typing import Optional

import click

#: subcommand -> ("module:attribute" of a click.Command, one-line help); loaded on use.
RENDERERS: dict[str, tuple[str, str]] = {
    "frr": ("evpn_boot.cli.frr_cmds:render_frr", "The frr.conf this node would run."),
    "ignition": ("evpn_boot.cli.provision_cmds:render_ignition",
                 "Ignition config (Fedora CoreOS/RHCOS): config, units, enabled."),
    "butane": ("evpn_boot.cli.provision_cmds:render_butane",
               "Butane (fcos) YAML of the same node provisioning."),
    "cloud-init": ("evpn_boot.cli.provision_cmds:render_cloud_init",
                   "#cloud-config: write_files + runcmd that starts evpn-boot."),
}


class _LazyRenderGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(RENDERERS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        entry = RENDERERS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, RENDERERS[name][1]) for name in sorted(RENDERERS)])


@click.group(cls=_LazyRenderGroup)
def render() -> None:
    """Print a rendered artefact (FRR config, provisioning files) to stdout."""
