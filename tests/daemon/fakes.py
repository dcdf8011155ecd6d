"""Hand-written fakes of the daemon's ports (see evpn_boot/daemon/ports.py).

Time is virtual: FakeClock.wait jumps to the next scheduled action instead of
sleeping, so a test of a 120 s readiness timeout takes milliseconds.  fds are
real (pipes/socketpairs) so the daemon's select-based logic is exercised as is.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional

from evpn_boot.config.load import parse_config
from evpn_boot.daemon.ports import ConvergeReport, DriftWatch, Target
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import EvpnBootError, PreflightError
from tests.support.configs import NODE_UNDERLAY

CONFIG = """
[node]
index = 3
""" + NODE_UNDERLAY + """
[[l2vni]]
vni = 110

[[l2vni]]
vni = 120

[readiness]
require = "{require}"
timeout_s = {timeout}

[handoff]
enabled = {handoff}
"""


def make_target(require: str = "applied", timeout: float = 120, handoff: bool = False,
                extra_vni: Optional[int] = None) -> Target:
    text = CONFIG.format(require=require, timeout=timeout, handoff=str(handoff).lower())
    if extra_vni is not None:
        text += f"\n[[l2vni]]\nvni = {extra_vni}\n"
    config = parse_config(text.encode(), "test.toml")
    desired = derive(config, NodeFacts(hostname="node3"))
    return Target(config, desired, digest=f"d{abs(hash(text)) % 10**8:08d}",
                  path=Path("test.toml"))


class FakeClock:
    """Virtual monotonic time; scheduled actions run when the daemon waits past them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.actions: list[tuple[float, Callable[[], None]]] = []
        self.waits = 0

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` at ``when`` seconds after the start (1000.0)."""
        self.actions.append((1000.0 + when, action))
        self.actions.sort(key=lambda a: a[0])

    def elapsed(self) -> float:
        return self.now - 1000.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        self.waits += 1
        if self.waits > 100_000:
            raise AssertionError("daemon loop spins without blocking")
        ready = select.select(list(fds), [], [], 0)[0]
        if ready:
            return ready
        limit = float("inf") if timeout is None else self.now + timeout
        if self.actions and self.actions[0][0] <= limit:
            when, action = self.actions.pop(0)
            self.now = max(self.now, when)
            action()
            return select.select(list(fds), [], [], 0)[0]
        if timeout is None:
            raise AssertionError("daemon would block forever with nothing scheduled")
        self.now = limit
        return []


class FakeNotifier:
    def __init__(self, watchdog_interval: Optional[float] = None,
                 clock: Optional[FakeClock] = None) -> None:
        self._interval = watchdog_interval
        self.clock = clock
        self.messages: list[dict[str, str]] = []
        self.times: list[float] = []

    @property
    def watchdog_interval(self) -> Optional[float]:
        return self._interval

    def _send(self, **fields: str) -> None:
        self.messages.append(fields)
        self.times.append(self.clock.elapsed() if self.clock else 0.0)

    def status(self, text: str) -> None:
        self._send(STATUS=text)

    def ready(self, status: Optional[str] = None) -> None:
        if status is None:
            self._send(READY="1")
        else:
            self._send(READY="1", STATUS=status)

    def reloading(self, status: str = "reloading configuration") -> None:
        self._send(RELOADING="1", STATUS=status)

    def stopping(self, status: str = "stopping") -> None:
        self._send(STOPPING="1", STATUS=status)

    def extend_timeout(self, seconds: float) -> None:
        self._send(EXTEND_TIMEOUT_USEC=str(int(seconds * 1e6)))

    def watchdog(self) -> None:
        self._send(WATCHDOG="1")

    def kinds(self) -> list[str]:
        """Compact sequence: 'STATUS:text', 'READY', 'RELOADING', ... (no watchdog/extend)."""
        out = []
        for m in self.messages:
            if "READY" in m:
                out.append("READY")
            elif "RELOADING" in m:
                out.append("RELOADING")
            elif "STOPPING" in m:
                out.append("STOPPING")
            elif "STATUS" in m:
                out.append("STATUS:" + m["STATUS"])
        return out

    def statuses(self) -> list[str]:
        return [m["STATUS"] for m in self.messages if "STATUS" in m]


class FakeWatch:
    """A pipe standing in for a netlink socket."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.closed = False

    def fileno(self) -> int:
        return self.r

    def trigger(self) -> None:
        os.write(self.w, b"x")

    def drain(self) -> bool:
        data = b""
        while select.select([self.r], [], [], 0)[0]:
            data += os.read(self.r, 4096)
        return bool(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.r)
            os.close(self.w)
            self.closed = True


class FakeDataplane:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.converged: list[tuple[float, DesiredState]] = []
        self.preflighted: list[DesiredState] = []
        self.watches: list[FakeWatch] = []
        self.pending_ops = 5            # what the next converge finds to do
        self.failures_left = 0
        self.preflight_error: Optional[str] = None

    def preflight(self, desired: DesiredState) -> None:
        self.preflighted.append(desired)
        if self.preflight_error:
            raise PreflightError(self.preflight_error)

    def converge(self, desired: DesiredState) -> ConvergeReport:
        self.converged.append((self.clock.elapsed(), desired))
        if self.failures_left:
            self.failures_left -= 1
            raise EvpnBootError("apply link vni110: Operation not permitted")
        ops, self.pending_ops = self.pending_ops, 0
        return ConvergeReport(ops, f"{ops} created" if ops else "")

    def watch(self, desired: DesiredState) -> list[DriftWatch]:
        made = [FakeWatch(), FakeWatch()]   # router and host namespaces
        self.watches.extend(made)
        return list(made)

    def drift(self, ops: int = 1) -> None:
        """Someone changed the kernel: the next converge has work; a watch fires."""
        self.pending_ops = ops
        live = [w for w in self.watches if not w.closed]
        live[0].trigger()

    def close_all(self) -> None:
        for w in self.watches:
            w.close()


class FakeFrr:
    def __init__(self) -> None:
        self.state: Mapping[str, str] = {}
        self.ups: list[DesiredState] = []
        self.broken: Optional[str] = None
        self.restarts = 0
        self.released = 0

    def up(self, desired: DesiredState) -> str:
        self.ups.append(desired)
        return "started" if len(self.ups) == 1 else "reloaded"

    def problem(self, desired: DesiredState) -> Optional[str]:
        return self.broken

    def restart(self, desired: DesiredState) -> None:
        self.restarts += 1
        self.broken = None

    def sessions(self, desired: DesiredState) -> Mapping[str, str]:
        return dict(self.state)

    def release(self, desired: DesiredState) -> None:
        self.released += 1


class FakeHandoff:
    def __init__(self, release: Callable[[], None], release_after: int,
                 done_after: Optional[int] = None) -> None:
        self.release = release
        self.steps = 0
        self.release_after = release_after
        self.done_after = done_after or release_after

    @property
    def interval(self) -> float:
        return 2.0

    def step(self) -> bool:
        self.steps += 1
        if self.steps == self.release_after:
            self.release()
        return self.steps >= self.done_after


class FakeSignals:
    def __init__(self) -> None:
        self.rx, self.tx = socket.socketpair()
        self.rx.setblocking(False)

    def fileno(self) -> int:
        return self.rx.fileno()

    def post(self, signum: int) -> None:
        self.tx.send(bytes([signum]))

    def take(self) -> list[int]:
        out: list[int] = []
        while True:
            try:
                data = self.rx.recv(64)
            except BlockingIOError:
                return out
            out.extend(data)

    def close(self) -> None:
        self.rx.close()
        self.tx.close()
