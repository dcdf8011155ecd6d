"""``run``: the boot service (what ``evpn-boot.service`` executes).

Thin: builds the real ports and hands over to :func:`evpn_boot.daemon.supervise.run_daemon`.
Exit codes: 0 stopped by a signal or released to the cluster, 1 preflight
failed, 2 invalid configuration, 4 runtime failure (5 lock held, 6 FRR rejected
the rendered configuration, 7 verification failed); see docs/run.md.
"""

from __future__ import annotations

from typing import Optional

import click

from evpn_boot.cli.main import Context

LEVELS = ("debug", "info", "warning", "error")


@click.command()
@click.option("--no-frr", is_flag=True,
              help="Dataplane only: do not start, reload or watch FRR (readiness then means "
                   "'applied'). For tests, benchmarks, or FRR managed elsewhere.")
@click.option("--log-level", type=click.Choice(LEVELS), default=None,
              help="Overrides runtime.log_level from the configuration.")
@click.pass_obj
def run(ctx: Context, no_frr: bool, log_level: Optional[str]) -> None:
    """Bring the node up, tell systemd it is ready, then keep it converged.

    validate -> preflight -> apply + verify -> FRR up -> readiness -> READY=1 ->
    supervise (netlink drift repair, FRR health, SIGHUP reload) until the
    handoff to the in-cluster reconciler, or forever when handoff is disabled.
    SIGTERM leaves the dataplane and FRR running.
    """
    # systemd first: NOTIFY_SOCKET must leave the environment before any child starts.
    from evpn_boot.daemon.status_record import RecordingNotifier
    from evpn_boot.systemd.logs import setup_logging
    from evpn_boot.systemd.notify import Notifier
    notifier = RecordingNotifier(Notifier.from_environment())
    setup_logging(log_level or "info")

    from evpn_boot.cli.config_cmds import derive_for_node
    from evpn_boot.clock import RealClock
    from evpn_boot.config.load import load_config
    from evpn_boot.daemon import adapters
    from evpn_boot.daemon.adapters import wait_for_devices
    from evpn_boot.daemon.ports import Ports, Target
    from evpn_boot.daemon.pulse import Pulse, SignalInbox
    from evpn_boot.daemon.service import Options
    from evpn_boot.daemon.supervise import run_daemon
    from evpn_boot.metrics.textfile import MetricsFile

    first_load = [True]

    def loader() -> Target:
        loaded = load_config(ctx.config_path)
        if first_load[0]:
            # Boot only: a reload finds its NIC (moved) or is rejected at once.
            first_load[0] = False
            wait_for_devices(loaded.config, pulse, notifier)
        desired = derive_for_node(ctx, loaded, read_host=True)
        notifier.bind(desired.runtime.run_dir)
        return Target(loaded.config, desired, loaded.digest, loaded.path)

    clock = RealClock()
    signals = SignalInbox()
    # Every adapter waits through the pulse: signals and WATCHDOG=1 are served
    # while podman, frr-reload.py or a held lock keep the daemon waiting.
    pulse = Pulse(clock, notifier, signals)
    ports = Ports(
        dataplane=adapters.NetlinkDataplane(clock=pulse),
        notifier=notifier,
        clock=clock,
        frr=None if no_frr else adapters.frr_service(pulse),
        handoff=adapters.K8sHandoffFactory(pulse),
        ledger=adapters.RunDirLedger(),
        gate=adapters.K8sBootGate(pulse),
        health=adapters.K8sHealthFactory(pulse),
        metrics=MetricsFile(),
    )
    try:
        code = run_daemon(ports, loader, pulse, Options(log_level=log_level))
    finally:
        signals.close()
    if code:
        raise click.exceptions.Exit(code)
