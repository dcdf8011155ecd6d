"""The first wait of ``run``: for interfaces that appear late at boot.

Before the configuration can be derived (the node index may come from an
interface's address) and before preflight (which needs the underlay NIC), the
daemon waits, bounded by ``runtime.device_timeout_s``, for what is missing:
``STATUS=waiting for underlay NIC eth1``, ``EXTEND_TIMEOUT_USEC`` so systemd's
start timeout stays ahead, every wait on the notification fd through the pulse
(so WATCHDOG=1 and SIGTERM are served).  After the timeout it fails with a
PreflightError naming each interface (exit 1; nothing was changed).

Dual-homed under ``any-established`` (:func:`config.underlay.optional_nics`) it
waits the same timeout for every NIC, then goes on when only some of them are
missing (at least one uplink is there): a warning and ``STATUS=`` name each
missing NIC; preflight tolerates it; drift repair moves it in when it appears.
Waiting the whole timeout, not less, gives a NIC that is merely slow (firmware,
renaming) its chance to be there for the first converge.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Optional, Protocol

from evpn_boot.config.model import Config
from evpn_boot.config.underlay import underlay_parents
from evpn_boot.daemon.ports import Notifier
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.errors import PreflightError
from evpn_boot.systemd.logs import set_phase

log = logging.getLogger(__name__)

#: EXTEND_TIMEOUT_USEC is re-sent this often while waiting.
EXTEND_EVERY_S = 10.0


class Pending(Protocol):
    @property
    def name(self) -> str: ...

    def describe(self) -> str: ...


class DeviceWatch(Protocol):
    """Notifications that may mean an awaited interface arrived (:mod:`netlink.arrival`)."""

    def fileno(self) -> int: ...

    def missing(self) -> Sequence[Pending]: ...

    def close(self) -> None: ...


def awaited_names(config: Config) -> list[tuple[str, str, bool]]:
    """(interface, role, needs an IPv4 address) for what ``config`` needs from the host.

    A list, so several underlay NICs (dual-homed nodes) each get their line.
    """
    wanted = [(nic, "underlay NIC", False) for nic in underlay_parents(config.underlay)]
    index_from = config.node.index_from_interface
    if index_from is not None:
        wanted.append((index_from, "index interface", True))
    return wanted


def can_go_without(missing: Sequence[Pending], optional: Collection[str]) -> bool:
    """After the timeout: go on when every missing interface is optional and not all are."""
    names = {m.name for m in missing}
    return bool(names) and names <= set(optional) and len(names) < len(set(optional))


def await_devices(watch: DeviceWatch, pulse: Pulse, notifier: Notifier, timeout_s: float,
                  *, optional: Collection[str] = (), extend_margin_s: float = 30.0) -> bool:
    """Wait until nothing is missing: True; False when a stop was requested.

    Raises PreflightError once ``timeout_s`` passed with something still missing,
    unless :func:`can_go_without` it (``optional``: NIC names): then True.
    """
    missing = list(watch.missing())
    if not missing:
        return True
    set_phase("devices")
    began = pulse.monotonic()
    deadline = began + timeout_s
    next_extend = began
    shown: Optional[str] = None
    while missing:
        text = "waiting for " + ", ".join(m.describe() for m in missing)
        if text != shown:
            shown = text
            notifier.status(text)
            log.warning("%s (up to %gs, runtime.device_timeout_s)", text, timeout_s)
        now = pulse.monotonic()
        if now >= deadline and can_go_without(missing, optional):
            text = (", ".join(m.describe() for m in missing)
                    + f" missing after {timeout_s:g}s: going on with the other uplinks "
                    "(readiness any-established); moved in when it appears")
            notifier.status(text)
            log.warning("%s", text)
            return True
        if now >= deadline:
            raise PreflightError(
                "preflight failed, nothing was changed:\n" + "\n".join(
                    f"  - {m.describe()} did not appear within {timeout_s:g}s "
                    f"(runtime.device_timeout_s)" for m in missing))
        if now >= next_extend:
            notifier.extend_timeout(deadline - now + extend_margin_s)
            next_extend = now + EXTEND_EVERY_S
        pulse.wait([watch.fileno()], min(deadline, next_extend) - now)
        if pulse.stop_requested:
            return False
        missing = list(watch.missing())
    log.info("awaited interfaces present after %.2fs", pulse.monotonic() - began)
    return True
