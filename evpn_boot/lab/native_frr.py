"""Run Debian's FRR daemons directly inside a lab namespace.

The lab's leaf and host speaker (and the node's FRR when no container image is
available) are plain FRR processes: each instance gets its own directory for
pid files, vty sockets, the zserv socket and logs, so several instances (and
the machine's own FRR, if any) never collide.  Daemons read the integrated
``frr.conf`` with ``-f``; each one applies its own commands and skips the rest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.lab.proc import run_tool, start_daemon

FRR_DAEMON_DIR = Path("/usr/lib/frr")
FRR_USER = "frr"
NETNS_RUN_DIR = Path("/run/netns")


@dataclass(frozen=True)
class NativeFrr:
    """A started instance: where its sockets, pids and logs are."""

    name: str
    netns: str
    run_dir: Path

    def vtysh(self, *commands: str, timeout: float = 15) -> str:
        """Run vtysh commands against this instance; returns their output."""
        args = ["vtysh", "--vty_socket", str(self.run_dir)]
        for command in commands:
            args += ["-c", command]
        return run_tool(args, f"vtysh {' / '.join(commands)!r} on FRR {self.name!r}",
                        timeout=timeout)


def missing() -> Optional[str]:
    """Why native FRR cannot run here, or None when it can."""
    for daemon in ("zebra", "bgpd"):
        if not (FRR_DAEMON_DIR / daemon).exists():
            return f"FRR daemon {FRR_DAEMON_DIR / daemon} is missing (apt-get install frr)"
    if shutil.which("vtysh") is None:
        return "vtysh is missing (apt-get install frr)"
    return None


def start(name: str, netns: str, config: str, run_dir: Path, *,
          daemons: tuple[str, ...] = ("zebra", "bgpd"), timeout: float = 10) -> NativeFrr:
    """Write ``config`` and start ``daemons`` in ``netns``; returns once their vtys answer."""
    reason = missing()
    if reason is not None:
        raise EvpnBootError(f"lab: cannot start FRR {name!r}: {reason}", kind=ErrorKind.PREFLIGHT)
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "frr.conf"
    conf.write_text(config)
    # The daemons drop privileges to the frr user: it must own its directory.
    for path in (run_dir, conf):
        shutil.chown(path, user=FRR_USER, group=FRR_USER)
    os.chmod(run_dir, 0o750)
    os.chmod(conf, 0o640)
    for daemon in daemons:
        args = ["ip", "netns", "exec", netns, str(FRR_DAEMON_DIR / daemon), "-d",
                "-f", str(conf), "-i", str(run_dir / f"{daemon}.pid"),
                "--vty_socket", str(run_dir), "-z", str(run_dir / "zserv.api"),
                "-P", "0", "--log", f"file:{run_dir / (daemon + '.log')}"]
        start_daemon(args, f"start {daemon} for FRR {name!r} in {netns}",
                     run_dir / f"{daemon}.out", timeout=timeout)
    deadline = time.monotonic() + timeout
    sockets = [run_dir / f"{daemon}.vty" for daemon in daemons]
    while not all(s.exists() for s in sockets):
        if time.monotonic() > deadline:
            raise EvpnBootError(f"lab: FRR {name!r} in {netns}: no vty socket after "
                                f"{timeout:.0f}s (see {run_dir}/*.log)")
        time.sleep(0.05)
    return NativeFrr(name, netns, run_dir)


def stop(run_dir: Path, timeout: float = 5) -> list[int]:
    """Stop the daemons whose pid files are in ``run_dir``; returns the pids signalled."""
    pids = []
    for pidfile in sorted(run_dir.glob("*.pid")):
        try:
            pids.append(int(pidfile.read_text().strip()))
        except (OSError, ValueError):
            continue
    terminate(pids, timeout)
    return pids


def terminate(pids: list[int], timeout: float = 5) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after ``timeout``."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def pids_in_netns(netns: str) -> list[int]:
    """Processes whose network namespace is ``netns`` (what ``ip netns pids`` prints)."""
    try:
        target = os.stat(NETNS_RUN_DIR / netns)
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (target.st_ino, target.st_dev):
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie counts as gone: it holds no sockets and no namespace)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state == "Z":
        with contextlib.suppress(ChildProcessError):  # reap it if it is our own child
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
