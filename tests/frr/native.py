"""FRR running natively (Debian's daemons) inside a throwaway network namespace.

Each instance gets its own directory for vty sockets, the zebra API socket, pid
files and logs, so several run side by side and never touch the machine's own
FRR.  ``stop()`` kills every daemon it started, by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FRR_LIB = Path("/usr/lib/frr")


def have_native_frr() -> bool:
    return (FRR_LIB / "zebra").exists() and (FRR_LIB / "bgpd").exists() \
        and shutil.which("vtysh") is not None


class NativeFrr:
    def __init__(self, netns: str, config: str, daemons: tuple[str, ...] = ("zebra", "bgpd")):
        self.netns = netns
        self.daemons = daemons
        self.dir = Path(tempfile.mkdtemp(prefix=f"frr-{netns}-"))
        shutil.chown(self.dir, "frr", "frr")
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "frr.conf"
        self.conf.write_text(config)
        os.chmod(self.conf, 0o644)

    def _ns(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def start(self) -> None:
        for daemon in self.daemons:
            # bfdd's control socket is machine-wide unless given: one per instance.
            own = ["--bfdctl", str(self.dir / "bfdd.sock")] if daemon == "bfdd" else []
            subprocess.run(self._ns(
                str(FRR_LIB / daemon), "-d", "-f", str(self.conf),
                "-i", str(self.dir / f"{daemon}.pid"), "-z", str(self.dir / "zserv.api"),
                "--vty_socket", str(self.dir), "-P", "0", *own,
                "--log", f"file:{self.dir}/{daemon}.log"), check=True, timeout=30)
        self.wait(lambda: self.vtysh("show bgp summary json") is not None, "bgpd up")

    def vtysh_raw(self, *commands: str) -> subprocess.CompletedProcess[str]:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for command in commands:
            args += ["-c", command]
        return subprocess.run(self._ns(*args), capture_output=True, text=True, timeout=30,
                              check=False)

    def vtysh(self, command: str) -> Any:
        proc = self.vtysh_raw(command)
        if proc.returncode != 0:
            return None
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return None

    def configure(self, *lines: str) -> None:
        proc = self.vtysh_raw("configure terminal", *lines)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def wait(self, predicate: Any, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.netns}: timed out waiting for {what}")
            time.sleep(0.5)

    def pids(self) -> list[int]:
        found = []
        for daemon in self.daemons:
            pidfile = self.dir / f"{daemon}.pid"
            if pidfile.exists():
                with contextlib.suppress(ValueError):
                    found.append(int(pidfile.read_text().strip()))
        return found

    def stop(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
