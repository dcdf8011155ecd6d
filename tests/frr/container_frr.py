"""FRR daemons from an FRR image, run in a throwaway namespace with podman.

The same surface as :class:`tests.frr.native.NativeFrr` (start, vtysh, configure,
wait, stop), so a fabric can put a leaf or a host speaker on FRR 10.3 (the image)
while the host's native FRR is 8.4.  The container joins the namespace
(``--network ns:``) and reads its config dir from a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from evpn_boot.runtime.podman import FRR_CAPABILITIES
from tests.frr.conftest import CONTAINERS_CONF

#: The capabilities evpn-boot gives its own FRR container.
_CAPS = ",".join(FRR_CAPABILITIES)


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=check)


class ContainerFrr:
    def __init__(self, netns: str, config: str, image: str,
                 daemons: tuple[str, ...] = ("zebra", "bgpd")) -> None:
        self.netns = netns
        self.image = image
        self.name = f"{netns}-frr"
        self.dir = Path(tempfile.mkdtemp(prefix=f"frr-{netns}-"))
        os.chmod(self.dir, 0o755)
        lines = [f"{d}=yes" for d in daemons] + ["vtysh_enable=yes"]
        lines += [f'{d}_options="-A 127.0.0.1"' for d in daemons]
        files = {"frr.conf": config, "daemons": "\n".join(lines) + "\n",
                 "vtysh.conf": "service integrated-vtysh-config\n"}
        for name, text in files.items():
            (self.dir / name).write_text(text)
            os.chmod(self.dir / name, 0o644)

    def start(self) -> None:
        _podman("rm", "--force", "--ignore", "--time", "0", self.name)
        _podman("run", "--detach", "--name", self.name, "--network",
                f"ns:/run/netns/{self.netns}", "--cap-drop", "all", "--cap-add", _CAPS,
                "--volume", f"{self.dir}:/etc/frr:z", self.image)
        self.wait(lambda: self.vtysh("show bgp summary json") is not None, "bgpd up")

    def vtysh_raw(self, *commands: str) -> subprocess.CompletedProcess[str]:
        args = ["exec", self.name, "vtysh"]
        for command in commands:
            args += ["-c", command]
        return _podman(*args, check=False)

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
                logs = _podman("logs", "--tail", "20", self.name, check=False)
                raise AssertionError(f"{self.netns} ({self.image}): timed out waiting for "
                                     f"{what}\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)

    def stop(self) -> None:
        _podman("rm", "--force", "--ignore", "--time", "0", self.name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
