"""The ``evpn-boot`` entry point.

Subcommands are loaded lazily (``--help`` and ``validate`` must start fast, and
only the commands that touch the kernel load the netlink code).  Every
:class:`~evpn_boot.errors.EvpnBootError` is turned into its exit code here, in
one place.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, Optional

import click

from evpn_boot import __version__
from evpn_boot.errors import EvpnBootError

#: command name -> ("module:attribute" of a click.Command, one-line help).
#: The help is here so that ``--help`` lists commands without importing them.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("evpn_boot.cli.config_cmds:validate",
                 "Check the configuration; list every problem."),
    "show": ("evpn_boot.cli.config_cmds:show",
             "The effective configuration and every derived per-node value."),
    "schema": ("evpn_boot.cli.config_cmds:schema", "The JSON Schema of the configuration."),
    "plan": ("evpn_boot.cli.dataplane_cmds:plan",
             "What apply would change in the dataplane (+ - ~ =)."),
    "apply": ("evpn_boot.cli.dataplane_cmds:apply",
              "Converge the dataplane (then FRR) and verify it."),
    "teardown": ("evpn_boot.cli.dataplane_cmds:teardown",
                 "Remove everything evpn-boot created; give the NIC back."),
    "export": ("evpn_boot.cli.export_cmds:export",
               "The configuration as another tool's resources (export openperouter)."),
    "render": ("evpn_boot.cli.render_cmds:render",
               "Print a rendered artefact (frr.conf, provisioning files)."),
    "status": ("evpn_boot.cli.frr_cmds:status",
               "Dataplane sync, FRR container, BGP sessions and EVPN VNIs."),
    "lab": ("evpn_boot.cli.lab_cmds:lab",
            "The published EVPN lab in network namespaces on this machine."),
    "install-units": ("evpn_boot.cli.provision_cmds:install_units",
                      "Place the systemd units (pip installs) and enable evpn-boot."),
    "frr-container": ("evpn_boot.cli.provision_cmds:frr_container",
                      "The FRR container as evpn-boot-frr.service runs it."),
    "handoff-controller": ("evpn_boot.cli.handoff_cmds:handoff_controller",
                           "The in-cluster half of the handoff (run, status, pause, resume)."),
    "run": ("evpn_boot.cli.run_cmd:run",
            "The boot service: apply, start FRR, READY=1, supervise until handoff."),
}

#: A lazy group's registry: name -> ("module:attribute" of a click.Command, help).
Registry = dict[str, tuple[str, str]]


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked.

    ``registry`` maps each name to its target and one-line help, so listing the
    commands (``--help``) imports none of them.
    """

    def __init__(self, *args: Any, registry: Optional[Registry] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registry: Registry = COMMANDS if registry is None else registry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.registry)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        entry = self.registry.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.registry[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class Context:
    """Global options, passed to every subcommand via ``click.pass_obj``."""

    def __init__(self, config_path: Path, node_index: Optional[int]) -> None:
        self.config_path = config_path
        self.node_index = node_index


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="EVPN_BOOT_CONFIG", show_envvar=True,
              default="/etc/evpn-boot/config.toml", show_default=True,
              help="The configuration file.")
@click.option("--node-index", type=click.IntRange(0, 65535), default=None,
              help="Override the node index (e.g. to preview one node of a pool).")
@click.version_option(__version__, "-V", "--version", prog_name="evpn-boot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, node_index: Optional[int]) -> None:
    """Bring EVPN/VXLAN networking up on a Kubernetes node before kubelet starts.

    Exit codes: 0 ok, 1 preflight failed, 2 invalid config or arguments,
    3 changes pending (plan --exit-code), 4 runtime failure, 5 another run holds
    the lock, 6 FRR rejected the rendered config, 7 verification failed,
    8 a state or release record is corrupt or not evpn-boot's (see teardown),
    9 the Kubernetes API refused or could not be reached (handoff-controller).
    """
    ctx.obj = Context(config_path, node_index)


def main(argv: Optional[list[str]] = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="evpn-boot", standalone_mode=False)
    except EvpnBootError as exc:
        click.echo(f"evpn-boot: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("evpn-boot: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("evpn-boot: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
