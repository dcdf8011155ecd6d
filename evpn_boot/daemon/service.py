"""The boot pipeline of ``evpn-boot run``, up to READY=1.

validate -> preflight -> apply + verify -> FRR up -> readiness -> READY=1,
then :class:`~evpn_boot.daemon.supervise.Supervisor` takes over.  Each phase
sets ``STATUS=`` and the journald ``EVPN_PHASE`` field.  Nothing is touched
before the configuration and the preflight checks have passed.  A stop signal
is honoured between phases and during the readiness wait (exit 0: what was
already applied stays; the next run converges from there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from evpn_boot.config.model import ReadinessRequire
from evpn_boot.daemon import readiness
from evpn_boot.daemon.ports import ConvergeReport, Loader, Ports, Target
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.readiness import Verdict
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state.service import ServiceState
from evpn_boot.systemd.logs import fields, set_level, set_phase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """Tunables of the daemon; the defaults are the product's."""

    #: Seconds between BGP session polls while waiting for readiness.
    session_poll_s: float = 1.0
    #: Seconds between FRR health checks while supervising.
    frr_check_s: float = 5.0
    #: Netlink events within this window are repaired in one pass.
    drift_debounce_s: float = 0.02
    #: Full converge even without events (lost notifications, missed drift).
    resync_s: float = 300.0
    #: Longest back-off between failed repair attempts.
    retry_max_s: float = 30.0
    #: EXTEND_TIMEOUT_USEC slack beyond what we expect to wait.
    extend_margin_s: float = 30.0
    #: Asked for before FRR is started (image load, first reload).
    frr_start_extend_s: float = 120.0
    #: ``--log-level``: wins over ``runtime.log_level``.
    log_level: Optional[str] = None


#: Longest pause between two attempts to start FRR at boot.
FRR_RETRY_MAX_S = 15.0


def first_line(exc: EvpnBootError) -> str:
    """The first non-empty line of an error (for STATUS=)."""
    return next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)


@dataclass
class Started:
    """What the pipeline achieved; the supervisor's starting point."""

    target: Target
    report: ConvergeReport
    frr: str
    verdict: Verdict
    #: Set when FRR could not be started at boot (a degraded READY=1 then).
    frr_problem: Optional[str] = None


def vni_summary(target: Target) -> str:
    d = target.desired
    return f"{len(d.l2_vnis)} L2 VNIs, {len(d.l3_vnis)} L3 VNIs"


def ready_status(started: Started) -> str:
    """The STATUS= sent with READY=1 (and after a successful reload)."""
    v = started.verdict
    head = ServiceState.READY if v.met else ServiceState.DEGRADED
    text = head.line(f"dataplane converged ({started.report.operations} operations, "
                     f"{vni_summary(started.target)}), FRR {started.frr}, {v.describe()}")
    if not v.met:
        text += f" not met after {started.target.config.readiness.timeout_s:g}s; ready anyway"
    return text


class Pipeline:
    """Runs the phases up to READY=1; see the module docstring."""

    def __init__(self, ports: Ports, loader: Loader, pulse: Pulse,
                 options: Optional[Options] = None) -> None:
        self.ports = ports
        self.loader = loader
        self.options = options or Options()
        #: Built by the caller, since the adapters in ``ports`` wait through it too.
        self.pulse = pulse

    def phase(self, name: str, status: str) -> None:
        self.set_phase(name)
        self.ports.notifier.status(status)
        log.info("%s", status)

    def set_phase(self, name: str) -> None:
        """The journald EVPN_PHASE field and the phase metric."""
        set_phase(name)
        self.ports.metrics.set_phase(name)

    def apply_log_level(self, target: Target) -> None:
        set_level(self.options.log_level or target.config.runtime.log_level.value)

    def validate(self) -> Target:
        """The first phase: read, validate and derive the configuration."""
        self.phase("validate", "validating configuration")
        target = self.loader()
        self.apply_log_level(target)
        self.ports.metrics.bind(target.config.metrics.textfile)
        self.ports.metrics.set_phase("validate")
        log.info("configuration %s is valid (digest %s, %s)", target.path, target.digest,
                 vni_summary(target))
        return target

    def start(self, target: Optional[Target] = None) -> Optional[Started]:
        """Bring the node up; None when asked to stop before READY."""
        if target is None:
            target = self.validate()
        if self._stopping():
            return None

        self.phase("preflight", "preflight checks")
        self.ports.dataplane.preflight(target.desired)
        if self._stopping():
            return None

        self.phase("apply", f"applying dataplane ({vni_summary(target)})")
        report = self.ports.dataplane.converge(target.desired)
        log.info("dataplane converged and verified: %d operations%s", report.operations,
                 f" ({report.summary})" if report.summary else "")
        if self._stopping():
            return None

        frr_state = "not managed (--no-frr)"
        frr_problem: Optional[str] = None
        if self.ports.frr is not None:
            self.phase("frr", "starting FRR")
            frr_state, frr_problem = self.start_frr(target)
            if self._stopping():
                return None

        if frr_problem is not None:
            verdict: Optional[Verdict] = Verdict(
                target.config.readiness.require, False,
                total=len(readiness.neighbors_of(target.desired)))
        else:
            verdict = self.await_readiness(target)
        if verdict is None or not self.close_gate(target):
            return None
        started = Started(target, report, frr_state, verdict, frr_problem)
        self.set_phase("ready")
        status = ready_status(started)
        if verdict.met:
            log.info("%s", status)
        else:
            log.warning("%s", status)
        self.ports.notifier.ready(status)
        self.ports.metrics.set_ready(degraded=not verdict.met)
        return started

    def close_gate(self, target: Target) -> bool:
        """Before READY (so before kubelet): keep OpenPERouter's pods off this node.

        After EVPN is up, since the API path may ride the fabric; bounded by
        ``[handoff] gate_timeout_s``, and READY follows either way.  False when
        asked to stop meanwhile.
        """
        gate = self.ports.gate
        if gate is None or not target.config.handoff.enabled:
            return True
        self.phase("gate", f"closing the OpenPERouter gate, up to "
                           f"{target.config.handoff.gate_timeout_s:g}s")
        self.ports.notifier.extend_timeout(target.config.handoff.gate_timeout_s
                                           + self.options.extend_margin_s)
        closed, message = gate.close(target)
        log.log(logging.INFO if closed else logging.WARNING, "%s", message)
        return not self._stopping()

    def start_frr(self, target: Target) -> tuple[str, Optional[str]]:
        """Start FRR, retrying (bounded) a missing image or a crashing container.

        Returns (what FRR did, None), or once ``readiness.timeout_s`` has passed
        without success (a description, the problem): the pipeline then goes
        on to a degraded READY=1 so kubelet is not held forever, and the
        supervisor's health check keeps restarting FRR.  A configuration FRR's
        parser rejects is not retried (it raises: exit 6).
        """
        frr, clock = self.ports.frr, self.ports.clock
        assert frr is not None
        timeout = target.config.readiness.timeout_s
        deadline = clock.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            self.ports.notifier.extend_timeout(self.options.frr_start_extend_s)
            try:
                action = frr.up(target.desired)
            except EvpnBootError as exc:
                if exc.kind in (ErrorKind.FRR_REJECTED, ErrorKind.CONFIG):
                    raise
                first = first_line(exc)
                # The whole text: it names the image and carries the container's log.
                log.error("FRR failed to start (attempt %d): %s", attempt, exc)
                delay = min(FRR_RETRY_MAX_S, 2.0 ** attempt)
                now = clock.monotonic()
                if now + delay >= deadline:
                    log.error("FRR did not start in %d attempts within %gs "
                              "(readiness.timeout_s): going on degraded so kubelet is not "
                              "held; the health check keeps restarting FRR", attempt, timeout)
                    return f"failed to start ({first})", first
                self.ports.notifier.status(f"FRR failed to start (attempt {attempt}): {first}; "
                                           f"retrying in {delay:g}s")
                self.pulse.wait([], delay)
                if self.pulse.stop_requested:
                    return f"failed to start ({first})", first
                continue
            log.info("FRR %s", action)
            return action, None

    def await_readiness(self, target: Target) -> Optional[Verdict]:
        """Wait (bounded) for the configured condition; None when asked to stop."""
        require = target.config.readiness.require
        frr = self.ports.frr
        if require is ReadinessRequire.APPLIED:
            return Verdict(require, True)
        if frr is None:
            log.warning("readiness %s needs FRR, which --no-frr disables: ready once applied",
                        require.value)
            return Verdict(ReadinessRequire.APPLIED, True)
        clock, notifier = self.ports.clock, self.ports.notifier
        neighbors = readiness.neighbors_of(target.desired)
        timeout = target.config.readiness.timeout_s
        deadline = clock.monotonic() + timeout
        self.phase("readiness", f"waiting for BGP: {require.value}, up to {timeout:g}s "
                                f"({len(neighbors)} underlay neighbors)")
        next_extend = clock.monotonic()
        last: Optional[tuple[int, int]] = None
        while True:
            sessions = self._sessions(target)
            verdict = readiness.evaluate(require, neighbors, sessions)
            if verdict.met:
                log_neighbors(sessions)
                return verdict
            now = clock.monotonic()
            if now >= deadline:
                log.warning("readiness %s not met after %gs: %s", require.value, timeout,
                            verdict.describe())
                log_neighbors(sessions)
                return verdict
            if last != (verdict.established, verdict.total):
                last = (verdict.established, verdict.total)
                notifier.status(f"waiting for BGP: {verdict.describe()}")
            if now >= next_extend:
                # systemd's start timeout may be shorter than ours: keep it ahead.
                notifier.extend_timeout(deadline - now + self.options.extend_margin_s)
                next_extend = now + 10.0
            self.pulse.wait([], min(self.options.session_poll_s, deadline - now))
            if self.pulse.stop_requested:
                return None

    def _sessions(self, target: Target) -> dict[str, str]:
        assert self.ports.frr is not None
        try:
            return dict(self.ports.frr.sessions(target.desired))
        except EvpnBootError as exc:
            log.debug("cannot read BGP sessions yet: %s", exc)
            return {}

    def _stopping(self) -> bool:
        self.pulse.poll()
        return self.pulse.stop_requested


def log_neighbors(sessions: dict[str, str]) -> None:
    """One line per underlay neighbor, with its address as a journal field."""
    for address, state in sorted(sessions.items()):
        log.info("BGP neighbor %s is %s", address, state, extra=fields(neighbor=address))
