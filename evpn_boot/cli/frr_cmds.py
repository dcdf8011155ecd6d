"""``render frr`` and ``status``: FRR's configuration and the node's live state."""

from __future__ import annotations

import json
from typing import Any

import click

from evpn_boot.cli.config_cmds import derive_for_node, load
from evpn_boot.cli.main import Context
from evpn_boot.desired.model import DesiredState


def _desired(ctx: Context, no_host: bool) -> DesiredState:
    loaded = load(ctx)
    needs_host = loaded.config.node.index is None and ctx.node_index is None
    return derive_for_node(ctx, loaded, read_host=needs_host and not no_host)


@click.command("frr")
@click.option("--show-secrets", is_flag=True,
              help="Print BGP passwords (read from their files) instead of <redacted>.")
@click.option("--no-host", is_flag=True,
              help="Do not read the host (interface-derived index); use --node-index.")
@click.pass_obj
def render_frr(ctx: Context, show_secrets: bool, no_host: bool) -> None:
    """The frr.conf this node would run (passwords redacted unless asked)."""
    from evpn_boot.frr.render import read_secrets, redacted_secrets, render_frr_conf
    desired = _desired(ctx, no_host)
    assert desired.frr is not None
    secrets = read_secrets(desired.frr) if show_secrets else redacted_secrets(desired.frr)
    click.echo(render_frr_conf(desired.frr, secrets), nl=False)


def dataplane_status(desired: DesiredState) -> dict[str, Any]:
    """Whether the kernel matches the desired state, from the dataplane engine's plan.

    The engine is optional here: without it (or when it fails) the answer is
    ``in_sync: null`` with the reason, never a guess.
    """
    try:
        from evpn_boot.netlink import engine
        plan = engine.plan(desired)
    except ImportError:
        return {"in_sync": None, "pending": None, "error": "dataplane engine not available"}
    except Exception as exc:  # report, do not fail the whole status
        return {"in_sync": None, "pending": None, "error": f"{type(exc).__name__}: {exc}"}
    ops = getattr(plan, "ops", None)
    if ops is None:
        return {"in_sync": None, "pending": None, "error": "dataplane plan has no operations"}
    return {"in_sync": len(ops) == 0, "pending": len(ops), "error": None,
            "summary": dict(plan.summary()) if hasattr(plan, "summary") else {}}


def service_status(desired: DesiredState) -> dict[str, Any]:
    """What the ``run`` daemon last reported (its STATUS= line), from its run dir."""
    from evpn_boot.state import service
    record = service.load(desired.runtime.run_dir)
    if record is None:
        return {"state": service.ServiceState.UNKNOWN.value, "status": "", "running": False,
                "ready": False, "degraded": False}
    return {"state": record.state.value, "status": record.status, "running": record.running,
            "ready": record.ready, "degraded": record.degraded, "pid": record.pid}


def _uplink_links(desired: DesiredState) -> dict[str, str]:
    try:
        from evpn_boot.netlink.facts import uplink_states
        return uplink_states(desired.runtime.netns, desired.uplinks)
    except (ImportError, OSError):
        return {}       # shown as "absent"; the dataplane line says why, if it can


def status_document(desired: DesiredState) -> dict[str, Any]:
    from evpn_boot.frr.status import frr_status, uplink_status
    from evpn_boot.runtime.podman import Podman
    frr = frr_status(Podman(), desired.runtime.frr_container)
    sessions = frr["bgp"]["sessions"]
    return {
        "node": {"name": desired.node.name, "index": desired.node.index,
                 "vtep": str(desired.node.vtep.ip), "netns": desired.runtime.netns},
        "service": service_status(desired),
        "dataplane": dataplane_status(desired),
        "frr": frr["container"],
        "bgp": {"sessions": sessions,
                "established": sum(1 for s in sessions if s["established"]),
                "total": len(sessions)},
        "uplinks": uplink_status(desired.uplinks, _uplink_links(desired), sessions,
                                 frr["bfd"]["peers"]),
        "evpn": frr["evpn"],
        "bfd": frr["bfd"],
        "errors": frr["errors"],
    }


def _service_line(svc: dict[str, Any]) -> str:
    from evpn_boot.state.service import ServiceState
    if svc["state"] == ServiceState.UNKNOWN.value:
        return "service: no status recorded (evpn-boot run has not run this boot)"
    detail = f" (pid {svc['pid']})" if svc["running"] else " (last status)"
    return f"service: {svc['state']}{detail}: {svc['status']}"


def _text(doc: dict[str, Any]) -> str:
    c = doc["frr"]
    dp = doc["dataplane"]
    sync = {True: "in sync", False: f"{dp['pending']} change(s) pending",
            None: f"unknown ({dp['error']})"}[dp["in_sync"]]
    lines = [f"node {doc['node']['name']} (index {doc['node']['index']}, VTEP "
             f"{doc['node']['vtep']}, netns {doc['node']['netns']})",
             _service_line(doc["service"]),
             f"dataplane: {sync}",
             f"frr container {c['name']}: {c['status']}"
             + (f" since {c['started_at']}" if c["running"] else ""),
             f"bgp: {doc['bgp']['established']}/{doc['bgp']['total']} established"]
    for s in doc["bgp"]["sessions"]:
        pfx = ", ".join(f"{k} {v}/{s['prefixes_sent'].get(k, 0)}"
                        for k, v in s["prefixes_received"].items())
        lines.append(f"  {s['vrf']:<10} {s['neighbor']:<20} AS{s['remote_as']:<10} "
                     f"{s['state']:<12} up {s['uptime']:<10} rcvd/sent: {pfx}")
    lines.append(f"uplinks: {len(doc['uplinks'])}")
    for u in doc["uplinks"]:
        lines.append(f"  {u['name']:<16} link {u['link']:<8} session {u['session']:<12} "
                     f"bfd {u['bfd']}")
    lines.append(f"evpn: {len(doc['evpn']['vnis'])} VNI(s)")
    for v in doc["evpn"]["vnis"]:
        lines.append(f"  vni {v['vni']:<9} {v['type']:<3} {v['vxlan_if']:<12} macs {v['macs']}"
                     f"  remote VTEPs {', '.join(v['remote_vteps']) or '-'}")
    lines += [f"error: {e}" for e in doc["errors"]]
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """Dataplane sync, the FRR container, BGP sessions and EVPN VNIs (read from FRR)."""
    doc = status_document(_desired(ctx, no_host=False))
    click.echo(json.dumps(doc, indent=2) if as_json else _text(doc))
