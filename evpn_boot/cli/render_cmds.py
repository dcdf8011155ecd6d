"""``render``: print what evpn-boot would write, without touching anything.

A group so each renderer is one subcommand (``render frr`` here; provisioning
formats add theirs by registering in :data:`RENDERERS`).
"""

from __future__ import annotations

import click

from evpn_boot.cli.main import LazyGroup

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


@click.group(cls=LazyGroup, registry=RENDERERS)
def render() -> None:
    """Print a rendered artefact (FRR config, provisioning files) to stdout."""
