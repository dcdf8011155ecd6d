"""Run a command to completion while the caller's clock keeps ticking.

``subprocess.run`` blocks the thread for as long as the child runs (podman can
take a minute, ``frr-reload.py`` longer).  Here the child's output pipes are
read as they become readable through :meth:`Clock.wait`, so the daemon's pulse
serves signals and the watchdog between reads.  Semantics follow
``subprocess.run(capture_output=True, text=True)``: the same exceptions
(``FileNotFoundError``, ``subprocess.TimeoutExpired`` after killing the child).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from evpn_boot.clock import REAL_CLOCK, Clock

#: Seconds between exit checks once the child closed its output, where the
#: kernel has no pidfd to say when it exits.
_EXIT_POLL_S = 0.01


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")


def _exit_fd(pid: int) -> Optional[int]:
    """An fd that becomes readable when ``pid`` exits (Linux >= 5.3), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run(argv: Sequence[str], *, timeout: float, clock: Optional[Clock] = None,
        pass_fds: tuple[int, ...] = ()) -> Completed:
    """Run ``argv``, capture its output, return when it exited or kill it at ``timeout``.

    ``pass_fds`` are inherited by the child (e.g. a memfd it opens as /proc/self/fd/N).
    """
    clock = clock or REAL_CLOCK
    deadline = clock.monotonic() + timeout
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=pass_fds)
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    open_fds = {out_fd, err_fd}
    exit_fd = _exit_fd(proc.pid)
    try:
        for fd in open_fds:
            os.set_blocking(fd, False)
        while open_fds or proc.poll() is None:
            left = deadline - clock.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(list(argv), timeout, b"".join(chunks[out_fd]),
                                                b"".join(chunks[err_fd]))
            if not open_fds:       # output closed: the child is exiting
                clock.wait([] if exit_fd is None else [exit_fd],
                           left if exit_fd is not None else min(left, _EXIT_POLL_S))
                continue
            for fd in clock.wait(sorted(open_fds), left):
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.discard(fd)
    finally:
        if proc.poll() is None:     # timed out, or interrupted by an exception
            proc.kill()
            proc.wait()
        if exit_fd is not None:
            os.close(exit_fd)
        proc.stdout.close()
        proc.stderr.close()
    return Completed(proc.returncode, _text(b"".join(chunks[out_fd])),
                     _text(b"".join(chunks[err_fd])))
