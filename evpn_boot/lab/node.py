"""The node in the lab: the real ``evpn-boot apply`` and FRR in the router namespace.

The lab exists to show evpn-boot itself working, so nothing here re-implements
it: ``apply`` is the installed CLI run as a subprocess against the generated
configuration, and it runs FRR in podman (the product path) when the local FRR
image exists.  Without an image (no registry here; ``scripts/build-frr-image``
makes one), or where podman cannot run, the dataplane is applied with
``--skip-frr`` and the same rendered ``frr.conf`` runs on Debian's FRR daemons
in the router namespace.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Protocol

from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab import native_frr
from evpn_boot.lab.proc import run_tool
from evpn_boot.lab.topology import Topology

FRR_MODES = ("auto", "podman", "native")


class _Reporter(Protocol):
    def info(self, text: str) -> None: ...


def evpn_boot_command() -> list[str]:
    """The evpn-boot CLI of this very installation (the venv's script, or -c main)."""
    script = Path(sys.executable).parent / "evpn-boot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from evpn_boot.cli.main import main; main()"]


def apply(config_path: Path, *, with_frr: bool, timeout: float = 180) -> str:
    """Run ``evpn-boot -c CONFIG apply`` (``--skip-frr`` unless ``with_frr``).

    A subprocess, as a user runs it: the lab imports no CLI code.
    """
    args = [*evpn_boot_command(), "-c", str(config_path), "apply"]
    if not with_frr:
        args.append("--skip-frr")
    return run_tool(args, f"`evpn-boot {' '.join(args[-2:])}`", timeout=timeout)


def desired_state(config_path: Path) -> DesiredState:
    """The node's desired state, derived exactly as ``evpn-boot apply`` derives it."""
    from evpn_boot.config.load import load_config
    from evpn_boot.desired.derive import DeriveError, derive
    from evpn_boot.errors import ConfigError
    from evpn_boot.netlink.facts import read_node_facts
    loaded = load_config(config_path)
    try:
        return derive(loaded.config, read_node_facts(loaded.config))
    except DeriveError as exc:
        raise ConfigError(str(config_path), exc.problems) from None


def apply_node(topo: Topology, run_dir: Path, mode: str, reporter: _Reporter,
               ) -> tuple[str, str]:
    """The real ``evpn-boot apply`` on the node; returns ("podman", container) or ("native", "").

    With the FRR image present, ``apply`` itself runs FRR in podman (the product
    path).  Otherwise (or if podman cannot run here) the dataplane is applied with
    ``--skip-frr`` and the same rendered frr.conf runs on the distribution's daemons.
    """
    if mode not in FRR_MODES:
        raise EvpnBootError(f"lab: --frr must be one of {', '.join(FRR_MODES)}",
                            kind=ErrorKind.USAGE)
    desired = desired_state(topo.config_path)
    if mode != "native":
        from evpn_boot.runtime.podman import Podman
        podman = Podman()
        image = desired.runtime.frr_image
        usable = shutil.which("podman") is not None and podman.image_exists(image)
        if not usable and mode == "podman":
            raise EvpnBootError(f"lab: --frr podman: image {image} is not present "
                                "(build it with scripts/build-frr-image)",
                                kind=ErrorKind.PREFLIGHT)
        if usable:
            try:
                apply(topo.config_path, with_frr=True)
                return "podman", desired.runtime.frr_container
            except EvpnBootError as exc:
                podman.remove(desired.runtime.frr_container)
                if mode == "podman":
                    raise
                reporter.info(f"FRR in podman failed ({str(exc).splitlines()[-1]}); using "
                              "native FRR instead (does podman need CONTAINERS_CONF here?)")
        else:
            reporter.info(f"no FRR image {image}: the node's frr.conf runs on the "
                          "distribution's FRR daemons (scripts/build-frr-image makes one)")
    apply(topo.config_path, with_frr=False)
    assert desired.frr is not None
    from evpn_boot.frr.render import read_secrets, render_frr_conf
    conf = render_frr_conf(desired.frr, read_secrets(desired.frr))
    daemons = ("zebra", "bgpd") + (("bfdd",) if any(n.bfd for n in desired.frr.neighbors)
                                   else ())
    native_frr.start("node", desired.runtime.netns, conf, run_dir, daemons=daemons)
    return "native", ""


def bgp_sessions(frr: native_frr.NativeFrr) -> dict[str, str]:
    """"afi peer" -> state, from ``show bgp summary json`` (all address families)."""
    text = frr.vtysh("show bgp summary json")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EvpnBootError(f"lab: unreadable `show bgp summary json` from "
                            f"{frr.name}: {text[:200]}") from exc
    sessions = {}
    for afi, summary in data.items():
        if isinstance(summary, dict):
            for peer, info in summary.get("peers", {}).items():
                sessions[f"{afi} {peer}"] = str(info.get("state", "?"))
    return sessions


def wait_established(frr: native_frr.NativeFrr, timeout: float) -> dict[str, str]:
    """Poll until every session of ``frr`` is Established (underlay and EVPN)."""
    deadline = time.monotonic() + timeout
    sessions: dict[str, str] = {}
    while time.monotonic() < deadline:
        sessions = bgp_sessions(frr)
        if sessions and all(state == "Established" for state in sessions.values()):
            return sessions
        time.sleep(0.5)
    raise EvpnBootError(f"lab: BGP sessions of {frr.name} not Established after "
                        f"{timeout:.0f}s: {sessions}", kind=ErrorKind.VERIFY)


def remove_container(name: str) -> bool:
    """Remove the node's FRR container if it exists; True when one was removed."""
    if shutil.which("podman") is None:
        return False
    from evpn_boot.runtime.podman import Podman
    podman = Podman()
    if not podman.inspect(name).exists:
        return False
    podman.remove(name)
    return True


def container_running(name: str) -> bool:
    if shutil.which("podman") is None:
        return False
    from evpn_boot.runtime.podman import Podman
    return Podman().inspect(name).running
