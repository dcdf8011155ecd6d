"""deploy/: the gate patch matches the label evpn-boot sets, RBAC covers the controller's calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from evpn_boot.cli import handoff_cmds
from evpn_boot.k8s.gate import GATE_CLOSED, LABEL_GATE
from evpn_boot.k8s.rollout_driver import OPENPE_GROUPS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_openperouter_patch_keeps_its_pods_off_supervising_nodes() -> None:
    patch = documents(DEPLOY / "openperouter-gate" / "gate-affinity.yaml")[0]
    terms = patch["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": LABEL_GATE, "operator": "NotIn",
                                            "values": [GATE_CLOSED]}]}]
    kustomization = documents(DEPLOY / "openperouter-gate" / "kustomization.yaml")[0]
    targets = {p["target"]["labelSelector"] for p in kustomization["patches"]}
    # Both per-node DaemonSets: the router (FRR) and the controller (creates the netns).
    assert targets == {"app.kubernetes.io/component=router",
                       "app.kubernetes.io/component=controller"}


def _rules() -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for doc in documents(DEPLOY / "handoff-controller" / "rbac.yaml"):
        for rule in doc.get("rules", []):
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_allows_exactly_what_the_controller_calls() -> None:
    rules = _rules()
    assert rules[("", "nodes")] == {"get", "list", "patch"}
    assert rules[("", "pods")] == {"list"}
    assert rules[("", "configmaps")] == {"get", "create", "patch"}
    for group_version in OPENPE_GROUPS.values():
        assert rules[(group_version.split("/")[0], "underlays")] == {"list"}


def test_the_deployment_runs_options_the_cli_has() -> None:
    docs = documents(DEPLOY / "handoff-controller" / "deployment.yaml")
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[0] == "handoff-controller" and "run" in args
    split = args.index("run")
    group_opts = {o for p in handoff_cmds.handoff_controller.params for o in p.opts}
    run_cmd = handoff_cmds.handoff_controller.commands["run"]
    assert isinstance(run_cmd, click.Command)
    run_opts = {o for p in run_cmd.params for o in p.opts}
    assert {a.split("=")[0] for a in args[1:split]} <= group_opts
    assert {a.split("=")[0] for a in args[split + 1:]} <= run_opts
    env_file = (DEPLOY / "handoff-controller" / "handoff-controller.env").read_text()
    defined = {line.split("=")[0] for line in env_file.splitlines()
               if line and not line.startswith("#")} | {"POD_NAMESPACE"}
    used = {a.split("$(")[1].rstrip(")") for a in args if "$(" in a}
    assert used <= defined
