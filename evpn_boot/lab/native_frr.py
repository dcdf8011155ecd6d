"""Run Debian's FRR daemons directly inside a lab namespace.

The lab's leaf and host speaker (and the node's FRR when no container image is
available) are plain FRR processes: each instance gets its own directory for
pid files, vty sockets, the zserv socket and logs, so several instances (and
the machine's own FRR, if any) never collide.  Daemons read the integrated
``frr.conf`` with ``-f``; each one applies its own commands and skips the rest.

FRR 10 (Debian 13) moved zebra's configuration (``vrf X`` / ``vni N``, the L3
VNI binding) to mgmtd: zebra skips it when reading ``-f``, and vtysh refuses
it while mgmtd is not running.  Where ``mgmtd`` exists, each instance runs it
first, under its own pathspace (``-N``: mgmtd's sockets live in FRR's run-state
directory, shared otherwise), and once the daemons answer vtysh applies the
file (as ``frrinit.sh`` does with ``vtysh -b``), which reaches mgmtd.
"""

from __future__ import annotations

import contextlib
import hashlib
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
#: FRR's run-state and lib-state roots (``-N name`` puts an instance under ``name/``).
FRR_RUNSTATE_DIR = Path("/run/frr")
FRR_LIBSTATE_DIR = Path("/var/lib/frr")


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


def has_mgmtd() -> bool:
    """FRR 10 and later: zebra's configuration goes through mgmtd."""
    return (FRR_DAEMON_DIR / "mgmtd").exists()


def pathspace(run_dir: Path) -> str:
    """The instance's ``-N`` name: one per run directory, no slash or dot (FRR's rule)."""
    return "evlab-" + hashlib.sha256(str(run_dir).encode()).hexdigest()[:12]


def daemon_args(daemon: str, netns: str, conf: Path, run_dir: Path,
                space: Optional[str]) -> list[str]:
    """The command line of one daemon of an instance (``space``: its ``-N``, if any)."""
    args = ["ip", "netns", "exec", netns, str(FRR_DAEMON_DIR / daemon), "-d"]
    if space is not None:
        args += ["-N", space]
    if daemon != "mgmtd":  # mgmtd takes no config file: vtysh hands it its part
        args += ["-f", str(conf)]
    return [*args, "-i", str(run_dir / f"{daemon}.pid"), "--vty_socket", str(run_dir),
            "-z", str(run_dir / "zserv.api"), "-P", "0",
            "--log", f"file:{run_dir / (daemon + '.log')}"]


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
    space = pathspace(run_dir) if has_mgmtd() else None
    if space is not None:
        daemons = ("mgmtd", *daemons)
        for state in (FRR_RUNSTATE_DIR / space, FRR_LIBSTATE_DIR / space):
            state.mkdir(parents=True, exist_ok=True)
            shutil.chown(state, user=FRR_USER, group=FRR_USER)
    for path in (run_dir, conf):
        shutil.chown(path, user=FRR_USER, group=FRR_USER)
    os.chmod(run_dir, 0o750)
    os.chmod(conf, 0o640)
    for daemon in daemons:
        start_daemon(daemon_args(daemon, netns, conf, run_dir, space),
                     f"start {daemon} for FRR {name!r} in {netns}",
                     run_dir / f"{daemon}.out", timeout=timeout)
    deadline = time.monotonic() + timeout
    sockets = [run_dir / f"{daemon}.vty" for daemon in daemons]
    while not all(s.exists() for s in sockets):
        if time.monotonic() > deadline:
            raise EvpnBootError(f"lab: FRR {name!r} in {netns}: no vty socket after "
                                f"{timeout:.0f}s (see {run_dir}/*.log)")
        time.sleep(0.05)
    if space is not None:
        # The daemons read the file too (its `frr defaults` profile and their own
        # commands); vtysh hands mgmtd zebra's part.  Re-applying the rest is a no-op.
        run_tool(["vtysh", "--vty_socket", str(run_dir), "-f", str(conf)],
                 f"apply {conf} to FRR {name!r} (vtysh, through mgmtd)", timeout=timeout)
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
    space = pathspace(run_dir)
    for state in (FRR_RUNSTATE_DIR / space, FRR_LIBSTATE_DIR / space):
        shutil.rmtree(state, ignore_errors=True)
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
