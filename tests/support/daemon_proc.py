"""Run ``evpn-boot run`` as a real process against a real NOTIFY_SOCKET.

The test binds an AF_UNIX datagram socket in its tmp_path, passes it as
NOTIFY_SOCKET and reads exactly what systemd would read.  The process is
killed (by pid) and reaped however the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional

from tests.support import configs

_SCRIPT = Path(sys.executable).with_name("evpn-boot")
#: The installed entry point (what the unit runs); the module when it is not installed.
EVPN_BOOT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "evpn_boot.cli.main"]

Message = dict[str, str]


class NotifyListener:
    """The systemd side of sd_notify: a bound datagram socket, read by the test."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, Message]] = []

    def receive(self, timeout: float) -> Optional[Message]:
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return None
        message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.messages.append((time.monotonic(), message))
        return message

    def until(self, predicate: Callable[[Message], bool], timeout: float,
              what: str = "a message", alive: Optional[Callable[[], str]] = None) -> Message:
        """The first message matching ``predicate``; ``alive`` returns "" while the
        sender runs, else why it ended (so a dead process fails fast)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; got {self.compact()}")
            ended = alive() if alive is not None else ""
            if ended:
                while self.receive(0.05) is not None:
                    pass
                raise AssertionError(f"no {what}: {ended}; got {self.compact()}")
            message = self.receive(min(left, 0.2) if alive is not None else left)
            if message is not None and predicate(message):
                return message

    def compact(self, since: int = 0) -> list[str]:
        """``READY``/``RELOADING``/``STOPPING``/``STATUS:text`` (no watchdog, extends)."""
        out = []
        for _, m in self.messages[since:]:
            for key in ("READY", "RELOADING", "STOPPING"):
                if key in m:
                    out.append(key)
                    break
            else:
                if "STATUS" in m:
                    out.append("STATUS:" + m["STATUS"])
        return out

    def close(self) -> None:
        self.sock.close()


class DaemonProcess:
    def __init__(self, config: Path, notify: NotifyListener, log: Path,
                 args: tuple[str, ...] = ("--no-frr",), env: Optional[dict[str, str]] = None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["NOTIFY_SOCKET"] = str(notify.path)
        full_env.pop("JOURNAL_STREAM", None)
        self.log = log
        self.notify = notify
        self._log_file = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*EVPN_BOOT, "-c", str(config), "run", *args, "--log-level", "debug"],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=full_env)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait_ready(self, timeout: float = 60) -> Message:
        return self.notify.until(lambda m: "READY" in m, timeout, "READY=1", self._ended)

    def _ended(self) -> str:
        code = self.proc.poll()
        if code is None:
            return ""
        return f"evpn-boot run exited {code}:\n{self.output()[-3000:]}"

    def wait(self, timeout: float = 30) -> int:
        """Wait for the exit; then collect the messages it sent before exiting."""
        code = self.proc.wait(timeout)
        while self.notify.receive(0.05) is not None:
            pass
        return code

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._log_file.close()


@contextmanager
def daemon(config: Path, notify: NotifyListener, log: Path, **kw: object) -> Iterator[
        DaemonProcess]:
    proc = DaemonProcess(config, notify, log, **kw)  # type: ignore[arg-type]
    try:
        yield proc
    finally:
        proc.stop()


def node_config(*, host_netns: str, router_netns: str, workdir: Path, vnis: list[int],
                require: str = "applied", timeout_s: float = 120,
                neighbor: str = "192.168.11.2", host_bridge_vni: Optional[int] = None,
                kubeconfig: Optional[Path] = None, extra: str = "",
                gate_timeout_s: float = 20,
                image: str = "localhost/evpn-boot-frr:8.4", runtime_extra: str = "") -> str:
    """A node config whose host is a throwaway netns with a veth ``eth1`` as underlay NIC."""
    l2 = "".join(
        f"\n[[l2vni]]\nvni = {v}\n" + ("host_bridge = true\n" if v == host_bridge_vni else "")
        for v in vnis)
    handoff = (f'enabled = true\nkubeconfig = "{kubeconfig}"\ngate_timeout_s = {gate_timeout_s}'
               if kubeconfig is not None
               else "enabled = false")
    return f"""
[node]
index = 3
name = "node3"

[runtime]
netns = "{router_netns}"
host_netns = "{host_netns}"
state_dir = "{workdir}/state"
run_dir = "{workdir}/run"
{runtime_extra}
[frr]
config_dir = "{workdir}/frr"
image = "{image}"
container_name = "ebt-frr-{router_netns}"
{configs.UNDERLAY}{configs.neighbor(neighbor)}{l2}
[readiness]
require = "{require}"
timeout_s = {timeout_s}

[handoff]
{handoff}
{extra}"""
