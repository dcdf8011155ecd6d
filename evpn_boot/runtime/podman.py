"""Podman, driven through its CLI: run FRR joined to the router namespace,
exec inside it, inspect and stop it.

The podman binary reads its own configuration (``CONTAINERS_CONF``,
``/etc/containers/...``); nothing here overrides it, so site settings (runtime,
cgroup manager, ulimits) apply unchanged.  Every failure is raised as an
:class:`EvpnBootError` naming the podman operation and the container.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from evpn_boot import command
from evpn_boot.clock import Clock
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.runtime.spec import (
    CONTAINER_CONFIG_DIR,
    FRR_CAPABILITIES,
    LABEL_MANAGED,
    LABEL_SPEC,
    ContainerSpec,
)

__all__ = ["CONTAINER_CONFIG_DIR", "FRR_CAPABILITIES", "LABEL_MANAGED", "LABEL_SPEC",
           "ContainerSpec", "ContainerState", "ExecResult", "Podman"]

@dataclass(frozen=True)
class ContainerState:
    """What ``podman inspect`` says about one container."""

    name: str
    exists: bool
    status: str = "absent"            # running, exited, created, stopped, paused ...
    running: bool = False
    pid: int = 0
    image: str = ""
    started_at: str = ""
    exit_code: Optional[int] = None
    restarts: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "exists": self.exists, "status": self.status,
                "running": self.running, "pid": self.pid, "image": self.image,
                "started_at": self.started_at, "exit_code": self.exit_code,
                "restarts": self.restarts}


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


class Podman:
    """A thin, typed wrapper of the podman CLI."""

    def __init__(self, binary: str = "podman", timeout: float = 120.0,
                 clock: Optional[Clock] = None) -> None:
        self.binary = binary
        self.timeout = timeout
        #: Waits while podman runs (the daemon's pulse; plain select otherwise).
        self.clock = clock

    def _run(self, args: Sequence[str], what: str, *, check: bool = True,
             timeout: Optional[float] = None) -> ExecResult:
        try:
            proc = command.run([self.binary, *args], timeout=timeout or self.timeout,
                               clock=self.clock)
        except FileNotFoundError as exc:
            raise EvpnBootError(f"{what}: podman not found ({self.binary})",
                                kind=ErrorKind.PREFLIGHT) from exc
        except subprocess.TimeoutExpired as exc:
            raise EvpnBootError(f"{what}: podman timed out after {exc.timeout:.0f}s",
                                kind=ErrorKind.RUNTIME) from exc
        result = ExecResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise EvpnBootError(f"{what}: podman exited {proc.returncode}: "
                                f"{_last_error(proc.stderr)}", kind=ErrorKind.RUNTIME)
        return result

    # ------------------------------------------------------------ inspection

    def inspect(self, name: str) -> ContainerState:
        result = self._run(["container", "inspect", name], f"inspect container {name}",
                           check=False)
        if result.returncode != 0:
            if "no such" in result.stderr.lower():
                return ContainerState(name=name, exists=False)
            raise EvpnBootError(f"inspect container {name}: podman exited "
                                f"{result.returncode}: {_last_error(result.stderr)}")
        try:
            data = json.loads(result.stdout)[0]
        except (ValueError, IndexError) as exc:
            raise EvpnBootError(f"inspect container {name}: unreadable podman output") from exc
        state = data.get("State", {})
        return ContainerState(
            name=name, exists=True,
            status=str(state.get("Status", "unknown")),
            running=bool(state.get("Running", False)),
            pid=int(state.get("Pid", 0) or 0),
            image=str(data.get("ImageName", "")),
            started_at=str(state.get("StartedAt", "")),
            exit_code=state.get("ExitCode"),
            restarts=int(data.get("RestartCount", 0) or 0),
            labels=dict(data.get("Config", {}).get("Labels") or {}),
        )

    def image_exists(self, image: str) -> bool:
        return self._run(["image", "exists", image], f"look up image {image}",
                         check=False).returncode == 0

    # ------------------------------------------------------------ lifecycle

    def run_frr(self, spec: ContainerSpec) -> None:
        """Start FRR detached, joined to the router namespace; it outlives evpn-boot."""
        args = ["run", "--detach", "--name", spec.name,
                "--network", f"ns:{spec.netns_path}",
                "--cap-drop", "all",
                *[arg for cap in spec.capabilities for arg in ("--cap-add", cap)],
                "--restart", spec.restart_policy,
                "--volume", f"{spec.config_dir}:{CONTAINER_CONFIG_DIR}:z",
                "--label", f"{LABEL_MANAGED}=true",
                "--label", f"{LABEL_SPEC}={spec.digest()}",
                spec.image]
        self._run(args, f"run FRR container {spec.name} (image {spec.image}, "
                        f"netns {spec.netns})")

    def kill(self, name: str, signal: str = "KILL") -> None:
        """Send ``signal`` to the container's init (PID 1 of its PID namespace).

        With KILL, the kernel then kills every other process of that namespace
        too (pid_namespaces(7)): nothing in the container runs exit handlers.
        podman records the container as stopped by the user, so its restart
        policy does not bring it back.
        """
        self._run(["kill", "--signal", signal, name], f"kill container {name} ({signal})")

    def wait(self, name: str, timeout_s: float = 30.0) -> None:
        """Block until the container is no longer running."""
        self._run(["wait", name], f"wait for container {name}", timeout=timeout_s)

    def remove(self, name: str) -> None:
        """Remove the container (stopping it first); absent is fine."""
        self._run(["rm", "--force", "--ignore", name], f"remove container {name}")

    #: ``exec``'s code when podman did not answer in time (as coreutils' timeout).
    EXEC_TIMED_OUT = 124

    def exec(self, name: str, argv: Sequence[str], *, timeout: float = 60.0,
             timeout_is_code: bool = False) -> ExecResult:
        """Run ``argv`` inside the running container; the caller checks the code.

        ``timeout_is_code``: a timeout is a code too (:attr:`EXEC_TIMED_OUT`),
        not an exception, for a poll that retries until its own deadline (FRR's
        readiness).  Seen: a remote podman exec took over 20 s in an emulated
        VM while FRR started, and the first timeout failed the whole start.
        """
        what = f"exec {argv[0]} in container {name}"
        try:
            return self._run(["exec", name, *argv], what, check=False, timeout=timeout)
        except EvpnBootError as exc:
            if not (timeout_is_code and isinstance(exc.__cause__, subprocess.TimeoutExpired)):
                raise
            return ExecResult(self.EXEC_TIMED_OUT, "", str(exc))

    def logs(self, name: str, tail: int = 20) -> str:
        """The container's last output lines (for error messages)."""
        result = self._run(["logs", "--tail", str(tail), name], f"read logs of {name}",
                           check=False)
        return (result.stdout + result.stderr).strip()

    def run_oneshot(self, image: str, argv: Sequence[str], mounts: Mapping[Path, str], *,
                    capabilities: Sequence[str] = (), timeout: float = 120.0) -> ExecResult:
        """Run ``argv`` in a throwaway container of ``image``: no network, mounts
        read-only, only ``capabilities``."""
        volumes = [arg for host, inside in mounts.items()
                   for arg in ("--volume", f"{host}:{inside}:ro,z")]
        caps = [arg for cap in capabilities for arg in ("--cap-add", cap)]
        return self._run(["run", "--rm", "--network", "none", "--cap-drop", "all", *caps,
                          *volumes, "--entrypoint", argv[0], image, *argv[1:]],
                         f"run {argv[0]} in a scratch {image} container",
                         check=False, timeout=timeout)


def _last_error(stderr: str) -> str:
    """podman's own error line, skipping warnings (e.g. about CNI files)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error")]
    return (errors or lines or ["(no message)"])[-1]
