"""Throwaway network namespaces for the root tiers.

Every namespace a test makes is named ``ebt<session><n>-<role>``; the session id
is registered with the pytest process's PID under ``/run/evpn-boot-tests/``, so
the sweep removes a crashed run's leftovers but never the namespaces of another
test session that is still running.  Tests may use ``ip`` here (product code
speaks netlink only through ``evpn_boot.netlink``).
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Optional

PREFIX = "ebt"
SESSION = secrets.token_hex(2)
SESSIONS_DIR = Path("/run/evpn-boot-tests")
_factories = itertools.count()


def run(*args: str, netns: Optional[str] = None, check: bool = True,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cmd = list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    return subprocess.run(cmd, check=check, text=True, capture_output=True, timeout=timeout)


def ip(*args: str, netns: Optional[str] = None, check: bool = True) -> str:
    prefix = ["-n", netns] if netns else []
    return run("ip", *prefix, *args, check=check).stdout


def list_netns() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def delete_netns(name: str) -> None:
    run("ip", "netns", "pids", name, check=False)
    pids = run("ip", "netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        run("kill", "-9", pid, check=False)
    run("ip", "netns", "del", name, check=False)


def register_session() -> None:
    SESSIONS_DIR.mkdir(parents=True, exist_ok=True)
    (SESSIONS_DIR / SESSION).write_text(str(os.getpid()))


def unregister_session() -> None:
    (SESSIONS_DIR / SESSION).unlink(missing_ok=True)


def _session_alive(session: str) -> bool:
    if session == SESSION:
        return False  # ours: the caller decides (sweeps at our own end)
    try:
        pid = int((SESSIONS_DIR / session).read_text())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()


def sweep(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces of this session and of dead sessions; returns their names."""
    gone = []
    for ns in list_netns():
        if ns.startswith(prefix) and not _session_alive(ns[len(prefix):len(prefix) + 4]):
            delete_netns(ns)
            gone.append(ns)
    return gone


class NetnsFactory:
    """Makes uniquely named namespaces and deletes them all at the end."""

    def __init__(self) -> None:
        self.run_id = f"{SESSION}{next(_factories):x}"
        self.made: list[str] = []

    def __call__(self, role: str) -> str:
        name = f"{PREFIX}{self.run_id}-{role}"
        assert len(name) <= 32, name
        run("ip", "netns", "add", name)
        self.made.append(name)
        ip("link", "set", "lo", "up", netns=name)
        return name

    def name(self, role: str) -> str:
        """A unique name without creating the namespace (for code under test to create)."""
        name = f"{PREFIX}{self.run_id}-{role}"
        self.made.append(name)
        return name

    def cleanup(self) -> None:
        for name in reversed(self.made):
            if name in list_netns():
                delete_netns(name)


@contextmanager
def netns_factory() -> Iterator[NetnsFactory]:
    factory = NetnsFactory()
    try:
        yield factory
    finally:
        factory.cleanup()


def is_root() -> bool:
    return os.geteuid() == 0


@cache
def kernel_supports(kind: str) -> bool:
    """Can this kernel create a link of ``kind``?  Tried in a scratch namespace."""
    if not is_root() or shutil.which("ip") is None:
        return False
    name = f"{PREFIX}{SESSION}p-probe-{kind}"
    run("ip", "netns", "add", name)
    try:
        extra = {"vrf": ["table", "10"], "vxlan": ["id", "1", "dstport", "4789"],
                 "vlan": ["link", "lo", "id", "2"], "macvlan": ["link", "lo"]}.get(kind, [])
        if kind in ("vlan", "macvlan"):
            run("ip", "-n", name, "link", "add", "probe0", "type", "veth", "peer", "probe1")
            extra = [x if x != "lo" else "probe0" for x in extra]
        if kind == "veth":
            extra = ["peer", "name", "probe-peer"]
        args = ["ip", "-n", name, "link", "add"]
        if kind in ("vlan", "macvlan"):
            args += ["link", "probe0", "name", "probe", "type", kind]
            args += [x for x in extra if x not in ("link", "probe0")]
        else:
            args += ["probe", "type", kind, *extra]
        return run(*args, check=False).returncode == 0
    finally:
        run("ip", "netns", "del", name, check=False)
