"""Converge FRR: render, validate, write, then start, reload or restart.

The order is the safety argument: nothing is written before FRR's own parser
accepted the rendered file, and a running FRR whose configuration changed is
reloaded in place with ``frr-reload.py`` (``--test`` first, then ``--reload``),
never restarted, so BGP sessions do not flap for a config change.  Only a dead
container, or one whose run parameters (image, namespace) changed, is
(re)created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from evpn_boot.clock import REAL_CLOCK, Clock, sleep
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr import files, stale
from evpn_boot.frr.render import (
    RenderedFrr,
    SecretReader,
    read_password_file,
    read_secrets,
    render_all,
)
from evpn_boot.frr.validate import FrrValidator
from evpn_boot.runtime.podman import LABEL_SPEC, ContainerSpec, ContainerState, Podman
from evpn_boot.runtime.spec import DIRECT_RESTART_POLICY, UNIT_RESTART_POLICY

log = logging.getLogger(__name__)

FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
CONF_IN_CONTAINER = "/etc/frr/frr.conf"


#: What converging FRR did, as ``apply`` prints it and ``STATUS=`` says it.
FrrAction = Literal["started", "restarted", "reloaded", "unchanged"]


@dataclass(frozen=True)
class FrrResult:
    """What converging did, the container, and the config files it wrote."""

    action: FrrAction
    container: str
    written: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "container": self.container,
                "written": sorted(self.written)}


def container_spec(desired: DesiredState, *, unit: bool = False) -> ContainerSpec:
    """The container evpn-boot runs; under the FRR unit, systemd (not podman) restarts it."""
    rt = desired.runtime
    return ContainerSpec(name=rt.frr_container, image=rt.frr_image, netns=rt.netns,
                         config_dir=rt.frr_config_dir,
                         restart_policy=UNIT_RESTART_POLICY if unit else DIRECT_RESTART_POLICY)


def frr_unit_in_charge() -> bool:
    """FRR runs as ``evpn-boot-frr.service`` when evpn-boot is itself a service and the
    unit is installed; otherwise evpn-boot starts the container with podman."""
    from evpn_boot.systemd import units
    return units.manages_frr()


def start_container(podman: Podman, spec: ContainerSpec, *, unit: bool,
                    clock: Optional[Clock] = None) -> None:
    if unit:
        from evpn_boot.systemd import units
        # restart = start when stopped; the unit's podman run --replace takes over
        # any container of the same name.
        units.systemctl("restart", units.FRR_UNIT, clock=clock)
    else:
        podman.run_frr(spec)


def scrub(text: str, secrets: dict[str, str]) -> str:
    """``text`` with every password replaced, for messages and logs."""
    for secret in secrets.values():
        text = text.replace(secret, "<redacted>")
    return text


def converge_frr(desired: DesiredState, *, podman: Optional[Podman] = None,
                 validator: Optional[FrrValidator] = None,
                 secret_reader: SecretReader = read_password_file,
                 ready_timeout_s: float = 60.0, unit: Optional[bool] = None,
                 clock: Optional[Clock] = None) -> FrrResult:
    """Bring the FRR container to ``desired``; see the module docstring for the order.

    ``unit``: start FRR through ``evpn-boot-frr.service`` (default: when
    :func:`frr_unit_in_charge`).  ``clock``: what every wait goes through (the
    daemon's pulse; give ``podman`` the same one).
    """
    if desired.frr is None:
        raise EvpnBootError("converge FRR: the desired state has no FRR model",
                            kind=ErrorKind.CONFIG)
    podman = podman or Podman(clock=clock)
    if unit is None:
        unit = frr_unit_in_charge()
    spec = container_spec(desired, unit=unit)
    clear_stale(desired)
    if validator is None:
        from evpn_boot.frr.tools import default_validator
        validator = default_validator(podman, spec.image)
    secrets = read_secrets(desired.frr, secret_reader)
    written = write_config(desired.runtime.frr_config_dir, render_all(desired.frr, secrets),
                           validator, secrets)
    state = podman.inspect(spec.name)
    action = decide(state, spec, written)
    if action == "reloaded":
        _reload(podman, spec.name, secrets)
    if action in ("reloaded", "unchanged"):
        return FrrResult(action, spec.name, frozenset(written))
    if state.exists:
        podman.remove(spec.name)
    if not podman.image_exists(spec.image):
        raise EvpnBootError(f"run FRR container {spec.name}: image {spec.image} is not "
                            f"present (pull it, or build it with scripts/build-frr-image)",
                            kind=ErrorKind.PREFLIGHT)
    start_container(podman, spec, unit=unit, clock=clock)
    try:
        wait_ready(podman, spec.name, desired.frr.asn, ready_timeout_s, clock=clock)
    except EvpnBootError as exc:
        raise EvpnBootError(f"FRR image {spec.image}: {exc}", kind=exc.kind) from exc
    return FrrResult(action, spec.name, frozenset(written))


def clear_stale(desired: DesiredState) -> None:
    """Remove check copies and temp files a killed run left (they may hold passwords)."""
    try:
        removed = stale.remove_stale(desired.runtime.frr_config_dir)
    except OSError as exc:
        raise EvpnBootError(f"remove stale FRR check files: {exc}",
                            kind=ErrorKind.RUNTIME) from exc
    if removed:
        log.info("removed files a killed run left: %s", ", ".join(map(str, removed)),
                 extra={"EVPN_PHASE": "frr"})


def write_config(conf_dir: Path, rendered: RenderedFrr, validator: FrrValidator,
                 secrets: dict[str, str]) -> set[str]:
    """Validate, then atomically write what changed; returns the file names written.

    The temp file FRR's parser checked is the one renamed into place, so the
    file in use is byte for byte the one that was validated.
    """
    files.ensure_dir(conf_dir)  # verified before anything in it is read
    conf_mode = files.MODE_SECRET if rendered.has_secrets else files.MODE_PLAIN
    conf_path = conf_dir / "frr.conf"
    written: set[str] = set()
    if files.current(conf_path) != rendered.frr_conf:
        try:
            files.write(conf_path, rendered.frr_conf, conf_mode, check=validator.validate)
        except EvpnBootError as exc:
            raise EvpnBootError(scrub(str(exc), secrets), kind=exc.kind) from None
        written.add("frr.conf")
    elif (conf_path.stat().st_mode & 0o777) != conf_mode:
        conf_path.chmod(conf_mode)
    written |= files.write_all(
        conf_dir, {"daemons": rendered.daemons, "vtysh.conf": rendered.vtysh_conf},
        {"daemons": files.MODE_PLAIN, "vtysh.conf": files.MODE_PLAIN})
    if written:
        log.info("FRR config files written: %s", ", ".join(sorted(written)),
                 extra={"EVPN_PHASE": "frr"})
    return written


def decide(state: ContainerState, spec: ContainerSpec, written: set[str]) -> FrrAction:
    """started / restarted / reloaded / unchanged, from the container and what changed."""
    if not state.exists:
        return "started"
    if state.labels.get(LABEL_SPEC) != spec.digest():
        log.info("FRR container %s: run parameters changed, recreating", spec.name)
        return "restarted"
    if not state.running:
        log.warning("FRR container %s is %s (exit code %s): restarting", spec.name,
                    state.status, state.exit_code)
        return "restarted"
    if "daemons" in written:
        return "restarted"      # the daemon set only changes with a restart
    if "frr.conf" in written:
        return "reloaded"
    return "unchanged"


def _reload(podman: Podman, name: str, secrets: dict[str, str]) -> None:
    """``frr-reload.py --test`` then ``--reload`` inside the container."""
    for mode in ("--test", "--reload"):
        result = podman.exec(name, ["python3", FRR_RELOAD, mode, "--stdout",
                                    CONF_IN_CONTAINER], timeout=120)
        if result.returncode != 0:
            output = scrub((result.stdout + result.stderr).strip(), secrets)
            kind = ErrorKind.FRR_REJECTED if mode == "--test" else ErrorKind.RUNTIME
            raise EvpnBootError(f"frr-reload.py {mode} in container {name} exited "
                                f"{result.returncode}: {output[-800:]}", kind=kind)
    log.info("FRR in container %s reloaded in place", name, extra={"EVPN_PHASE": "frr"})


#: Seconds between two looks at a starting FRR.
READY_POLL_S = 0.5


def wait_ready(podman: Podman, name: str, asn: int, timeout_s: float,
               clock: Optional[Clock] = None) -> None:
    """Poll until FRR's running config holds our BGP instance (config loaded)."""
    clock = clock or REAL_CLOCK
    deadline = clock.monotonic() + timeout_s
    last = ""
    while True:
        state = podman.inspect(name)
        if state.exists and not state.running and state.restarts == 0 and state.exit_code:
            raise EvpnBootError(f"FRR container {name} exited {state.exit_code} while "
                                f"starting\ncontainer log:\n{podman.logs(name, tail=15)}",
                                kind=ErrorKind.RUNTIME)
        if state.running:
            result = podman.exec(name, ["vtysh", "-c", "show running-config"], timeout=20,
                                 timeout_is_code=True)
            if result.returncode == 0 and f"router bgp {asn}" in result.stdout:
                return
            last = (result.stderr or "config not loaded yet").strip()[-200:]
        if clock.monotonic() >= deadline:
            logs = podman.logs(name, tail=15) if state.exists else ""
            raise EvpnBootError(f"FRR container {name} not ready after {timeout_s:.0f}s "
                                f"({state.status}): {last}\ncontainer log:\n{logs}",
                                kind=ErrorKind.RUNTIME)
        sleep(clock, READY_POLL_S)
