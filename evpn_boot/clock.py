"""Time and waiting, behind one small interface that every wait in evpn-boot takes.

Code that waits (a lock, a container coming up, a subprocess) never sleeps on
its own: it asks a :class:`Clock` to wait.  One-shot commands pass nothing and
get :data:`REAL_CLOCK` (plain ``select``).  ``evpn-boot run`` passes its
:class:`~evpn_boot.daemon.pulse.Pulse`, a Clock that also serves signals and
the systemd watchdog while it waits, so no phase can starve them.
"""

from __future__ import annotations

import select
import time
from collections.abc import Sequence
from typing import Optional, Protocol


class Clock(Protocol):
    """Monotonic time and the one blocking wait."""

    def monotonic(self) -> float: ...

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        """Block until one of ``fds`` is readable or ``timeout`` seconds pass.

        May return early with nothing readable (a signal arrived): callers loop
        on their own deadline.
        """
        ...


class RealClock:
    """``time.monotonic`` and ``select``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        readable, _, _ = select.select(list(fds), [], [], timeout)
        return list(readable)


REAL_CLOCK = RealClock()


def sleep(clock: Clock, seconds: float) -> None:
    """Let ``seconds`` pass on ``clock`` (however often its waits return early)."""
    deadline = clock.monotonic() + seconds
    while (left := deadline - clock.monotonic()) > 0:
        clock.wait([], left)
