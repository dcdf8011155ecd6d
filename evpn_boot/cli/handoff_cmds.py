"""``evpn-boot handoff-controller``: hand nodes to OpenPERouter, one at a time.

``run`` is the controller (the Deployment in ``deploy/``); ``status``,
``pause`` and ``resume`` are for the admin (any kubeconfig allowed to read and
patch the ``evpn-boot-handoff`` ConfigMap).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Optional

import click

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.rollout.decide import Settings


class _Opts:
    def __init__(self, kubeconfig: Optional[Path], namespace: str, openpe_namespace: str,
                 openpe_version: str) -> None:
        from evpn_boot.k8s.rollout_driver import ClusterSpec
        self.kubeconfig = kubeconfig
        self.spec = ClusterSpec(namespace=namespace, openpe_namespace=openpe_namespace,
                                openpe_version=openpe_version)

    def client(self) -> Any:
        """An ApiClient: --kubeconfig, else the pod's service account, else $KUBECONFIG."""
        import os

        from evpn_boot.k8s import kubeconfig
        from evpn_boot.k8s.client import ApiClient
        from evpn_boot.k8s.rollout_driver import in_cluster_credentials
        try:
            if self.kubeconfig is not None:
                creds = kubeconfig.load(self.kubeconfig)
            else:
                found = in_cluster_credentials()
                env = os.environ.get("KUBECONFIG")
                if found is None and env:
                    found = kubeconfig.load(Path(env.split(os.pathsep)[0]))
                if found is None:
                    raise EvpnBootError("no credentials: not in a pod (no service account) "
                                        "and neither --kubeconfig nor $KUBECONFIG is set",
                                        kind=ErrorKind.USAGE)
                creds = found
            return ApiClient(creds)
        except kubeconfig.KubeconfigError as exc:
            raise EvpnBootError(str(exc), kind=ErrorKind.USAGE) from None


def _api_error(exc: Exception) -> EvpnBootError:
    return EvpnBootError(f"Kubernetes API: {exc}", kind=ErrorKind.API)


@click.group("handoff-controller")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Default: the pod's service account, else $KUBECONFIG.")
@click.option("--namespace", default="evpn-boot", show_default=True,
              help="Namespace of the evpn-boot-handoff ConfigMap (pause flag, status).")
@click.option("--openperouter-namespace", default="openperouter-system", show_default=True,
              help="Where OpenPERouter's router pods and Underlays live.")
@click.option("--openperouter-version", type=click.Choice(["v0.2", "main"]), default="v0.2",
              show_default=True, help="OpenPERouter's API group (Underlay CRD) to read.")
@click.pass_context
def handoff_controller(ctx: click.Context, kubeconfig: Optional[Path], namespace: str,
                       openperouter_namespace: str, openperouter_version: str) -> None:
    """Request the handoff node by node once OpenPERouter can take each node over."""
    ctx.obj = _Opts(kubeconfig, namespace, openperouter_namespace, openperouter_version)


@handoff_controller.command("run")
@click.option("--max-in-flight", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Nodes between 'requested' and 'router Ready' at any time.")
@click.option("--image", "images", multiple=True, envvar="EVPN_BOOT_OPENPE_IMAGES",
              help="An OpenPERouter image that must be in the Node's .status.images before "
                   "its handoff (repeat; as the kubelet reports it, e.g. REPO:TAG).")
@click.option("--stuck-after", type=click.FloatRange(1.0), default=600.0, show_default=True,
              help="Seconds after the request at which a node that is not done stops the "
                   "rollout.")
@click.option("--interval", type=click.FloatRange(0.05), default=5.0, show_default=True,
              help="Seconds between polls.")
@click.pass_obj
def run(opts: _Opts, max_in_flight: int, images: tuple[str, ...], stuck_after: float,
        interval: float) -> None:
    """The controller loop; stops cleanly on SIGTERM/SIGINT."""
    from evpn_boot.k8s.rollout_driver import RolloutDriver
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(message)s")
    if not images:
        logging.warning("handoff-controller: no --image given: nodes are requested without "
                        "checking that OpenPERouter's images are on them")
    client = opts.client()
    driver = RolloutDriver(lambda: client, opts.spec,
                           Settings(max_in_flight=max_in_flight, images=tuple(images),
                                    stuck_after_s=stuck_after))
    stop = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.info("handoff-controller: max %d in flight, images %s, OpenPERouter %s in %s",
                 max_in_flight, ", ".join(images) or "(not checked)",
                 opts.spec.openpe_version, opts.spec.openpe_namespace)
    driver.run(stop, interval)


@handoff_controller.command("status")
@click.option("--json", "as_json", is_flag=True, help="The ConfigMap's data as JSON.")
@click.pass_obj
def status(opts: _Opts, as_json: bool) -> None:
    """The rollout's summary and every node's stage, as the controller last wrote them."""
    from evpn_boot.k8s.client import ApiError
    from evpn_boot.k8s.rollout_driver import read_configmap
    try:
        data = read_configmap(opts.client(), opts.spec)
    except ApiError as exc:
        raise _api_error(exc) from None
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    paused = data.get("paused", "").lower() == "true"
    summary = data.get("summary")
    if summary is None:
        summary = (f"{'paused' if paused else 'no status yet'}: the controller has not "
                   f"written {opts.spec.namespace}/{opts.spec.configmap} yet")
    elif paused and not summary.startswith("paused"):
        summary += "  (paused: takes effect at the controller's next poll)"
    click.echo(summary)
    for node in json.loads(data.get("nodes") or "[]"):
        if node["stage"] == "not-evpn-boot":
            continue
        reason = f"  {node['reason']}" if node["reason"] else ""
        click.echo(f"  {node['name']:<24} {node['stage']:<10}{reason}")


def _set_paused(opts: _Opts, paused: bool) -> None:
    from evpn_boot.k8s.client import ApiError
    from evpn_boot.k8s.rollout_driver import write_configmap
    try:
        write_configmap(opts.client(), opts.spec, {"paused": "true" if paused else "false"})
    except ApiError as exc:
        raise _api_error(exc) from None
    click.echo("paused: no new node is requested; nodes in flight finish" if paused
                else "resumed")


@handoff_controller.command("pause")
@click.pass_obj
def pause(opts: _Opts) -> None:
    """Request no further node (the ones in flight finish)."""
    _set_paused(opts, True)


@handoff_controller.command("resume")
@click.pass_obj
def resume(opts: _Opts) -> None:
    """Continue the rollout."""
    _set_paused(opts, False)
