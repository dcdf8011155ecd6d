"""Supervision after READY=1: keep the node converged until handoff or stop.

Event-driven: the loop blocks on netlink notification sockets of the router
and host namespaces, the signal wakeup fd and the next timer (FRR health,
handoff step, watchdog, the rare safety resync), never on a fixed poll of the
kernel.  Drift is repaired with the same converge the pipeline used, a few
milliseconds after the first event (so a burst is one pass).

SIGHUP re-reads the configuration: an invalid one is rejected and the running
one kept.  SIGTERM stops supervising and leaves the dataplane and FRR as they
are, so restarting evpn-boot never interrupts traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Optional

from evpn_boot.config.model import ReadinessRequire
from evpn_boot.daemon import health as node_health
from evpn_boot.daemon import readiness
from evpn_boot.daemon.ports import DriftWatch, Handoff, Loader, NodeHealthReport, Ports, Target
from evpn_boot.daemon.pulse import Pulse
from evpn_boot.daemon.service import Options, Pipeline, Started, ready_status
from evpn_boot.errors import ConfigError, EvpnBootError
from evpn_boot.state.service import ServiceState

log = logging.getLogger(__name__)

DEGRADED = ServiceState.DEGRADED


def brief(exc: EvpnBootError) -> str:
    """One line for STATUS=: the first problem of a ConfigError, else the first line."""
    if isinstance(exc, ConfigError) and exc.problems:
        more = len(exc.problems) - 1
        return f"{exc.source}: {exc.problems[0]}" + (f" (+{more} more)" if more else "")
    lines = [line.strip(" -") for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].endswith(":") and len(lines) > 1:
        more = len(lines) - 2
        return f"{lines[0]} {lines[1]}" + (f" (+{more} more)" if more else "")
    return lines[0]


class Supervisor:
    """The loop; see the module docstring."""

    def __init__(self, pipeline: Pipeline, started: Started) -> None:
        self.pipeline = pipeline
        self.ports: Ports = pipeline.ports
        self.options: Options = pipeline.options
        self.pulse = pipeline.pulse
        self.started = started
        self.watches: list[DriftWatch] = []
        self.handoff: Optional[Handoff] = None
        self.health: Optional[NodeHealthReport] = None
        #: What the last FRR health check found wrong (None: healthy).
        self.frr_problem: Optional[str] = started.frr_problem
        now = self.ports.clock.monotonic()
        self.drift_since: Optional[float] = None
        self.retry_at = now
        self.failures = 0
        self.next_resync = now + self.options.resync_s
        self.next_frr = now + self.options.frr_check_s
        self.next_handoff = now
        #: Counters, for logs and tests.
        #: Set once FRR was handed over: nothing may be repaired or restarted any more.
        self.releasing = False

    @property
    def target(self) -> Target:
        return self.started.target

    # ---------------------------------------------------------------- loop

    def run(self) -> int:
        self.pipeline.set_phase("supervise")
        self.watches = list(self.ports.dataplane.watch(self.target.desired))
        self._make_handoff()
        if self.ports.health is not None:
            self.health = self.ports.health(self.target)
        self._judge_health()
        log.info("supervising: %d netlink watches, FRR %s, handoff %s", len(self.watches),
                 "checked" if self.ports.frr else "not managed",
                 "enabled" if self.handoff else "disabled")
        try:
            while True:
                if self.pulse.stop_requested:
                    self.stop()
                    return 0
                if self.pulse.reload_requested and not self.releasing:
                    self.pulse.reload_requested = False
                    self.reload()
                now = self.ports.clock.monotonic()
                if not self.releasing:
                    self._due_work(now)
                if self.health is not None and not self.releasing:
                    due = self.health.interval
                    if due is not None and due <= 0:
                        self.health.step()
                if self.handoff is not None and now >= self.next_handoff and self.step_handoff():
                    return 0
                self._wait()
        finally:
            self._close_watches()

    def _due_work(self, now: float) -> None:
        if self.drift_since is not None and now >= max(
                self.drift_since + self.options.drift_debounce_s, self.retry_at):
            self.repair("netlink event")
        elif now >= self.next_resync:
            self.repair("periodic resync")
        if self.ports.frr is not None and now >= self.next_frr:
            self.check_frr()

    def _deadline(self) -> float:
        if self.releasing:
            assert self.handoff is not None
            return self.next_handoff
        times = [self.next_resync]
        if self.drift_since is not None:
            times.append(max(self.drift_since + self.options.drift_debounce_s, self.retry_at))
        if self.ports.frr is not None:
            times.append(self.next_frr)
        if self.handoff is not None:
            times.append(self.next_handoff)
        if self.health is not None and (due := self.health.interval) is not None:
            times.append(self.ports.clock.monotonic() + due)
        return min(times)

    def _wait(self) -> None:
        timeout = max(0.0, self._deadline() - self.ports.clock.monotonic())
        by_fd = {w.fileno(): w for w in self.watches}
        for fd in self.pulse.wait(list(by_fd), timeout):
            if by_fd[fd].drain() and self.drift_since is None:
                self.drift_since = self.ports.clock.monotonic()
                log.debug("netlink notification: checking for drift")

    def _close_watches(self) -> None:
        for watch in self.watches:
            watch.close()
        self.watches = []

    # --------------------------------------------------------------- drift

    def repair(self, why: str) -> None:
        clock = self.ports.clock
        self.drift_since = None
        began = clock.monotonic()
        try:
            report = self.ports.dataplane.converge(self.target.desired)
        except EvpnBootError as exc:
            self.failures += 1
            delay = min(self.options.retry_max_s, 2.0 ** (self.failures - 1))
            self.retry_at = clock.monotonic() + delay
            self.drift_since = clock.monotonic()     # try again when the back-off ends
            log.error("dataplane repair failed (attempt %d, retry in %gs): %s",
                      self.failures, delay, exc)
            self.ports.notifier.status(DEGRADED.line(f"dataplane repair failed: {brief(exc)}"))
            return
        self.next_resync = clock.monotonic() + self.options.resync_s
        if self.failures:
            log.info("dataplane repaired after %d failed attempts", self.failures)
            self.failures = 0
            self.ports.notifier.status(ready_status(self.started))
        took = clock.monotonic() - began
        if report.operations:
            self.ports.metrics.repaired(took)
            log.warning("dataplane drift repaired (%s): %d operations%s in %.0f ms", why,
                        report.operations, f" ({report.summary})" if report.summary else "",
                        took * 1000)
        else:
            log.debug("no drift (%s): converge found nothing to do in %.0f ms", why, took * 1000)

    # ----------------------------------------------------------------- FRR

    def check_frr(self) -> None:
        frr = self.ports.frr
        assert frr is not None
        self.next_frr = self.ports.clock.monotonic() + self.options.frr_check_s
        desired = self.target.desired
        try:
            problem = frr.problem(desired)
        except EvpnBootError as exc:
            problem = brief(exc)
        self.frr_problem = problem
        if problem is not None:
            self._judge_health()
            log.warning("FRR is unhealthy (%s): restarting it", problem)
            self.ports.notifier.status(f"restarting FRR: {problem}")
            try:
                frr.restart(desired)
            except EvpnBootError as exc:
                log.error("FRR restart failed: %s", exc)
                self.ports.notifier.status(DEGRADED.line(f"FRR restart failed: {brief(exc)}"))
                return
            self.frr_problem = None
            self.started.frr_problem = None
            self.started.frr = "restarted"
            self.ports.metrics.frr_restarted()
            log.info("FRR restarted")
            self.ports.notifier.status(ready_status(self.started))
        self._refresh_sessions()
        self._judge_health()

    def _judge_health(self) -> None:
        """Tell the Node (and the metrics) what the fabric's health is now."""
        verdict = self.started.verdict
        self.ports.metrics.set_degraded(not verdict.met or self.frr_problem is not None)
        if self.health is None or self.releasing:
            return
        self.health.update(*node_health.judge(verdict, self.frr_problem))

    def _refresh_sessions(self) -> None:
        """Keep STATUS= honest after a degraded start (sessions that come up later)."""
        require = self.target.config.readiness.require
        if require is ReadinessRequire.APPLIED or self.ports.frr is None:
            return
        try:
            sessions = self.ports.frr.sessions(self.target.desired)
        except EvpnBootError as exc:
            log.debug("cannot read BGP sessions: %s", exc)
            return
        neighbors = readiness.neighbors_of(self.target.desired)
        verdict = readiness.evaluate(require, neighbors, sessions)
        self.ports.metrics.set_sessions(readiness.established_by_neighbor(neighbors, sessions))
        old = self.started.verdict
        if (verdict.met, verdict.established) != (old.met, old.established):
            self.started.verdict = verdict
            log.info("BGP sessions changed: %s", verdict.describe())
            self.ports.notifier.status(ready_status(self.started))

    # -------------------------------------------------------------- reload

    def reload(self) -> None:
        self.pipeline.set_phase("reload")
        notifier = self.ports.notifier
        notifier.reloading("reloading configuration")
        old = self.target
        try:
            new = self.pipeline.loader()
            if new.digest != old.digest:
                self.ports.dataplane.preflight(new.desired)
        except EvpnBootError as exc:
            log.error("configuration reload rejected, keeping the running configuration "
                      "(digest %s): %s", old.digest, exc)
            notifier.ready(f"reload rejected: {brief(exc)}; running configuration "
                           f"{old.digest} kept")
            self.pipeline.set_phase("supervise")
            return
        if new.digest == old.digest:
            log.info("configuration unchanged (digest %s)", old.digest)
            notifier.ready(ready_status(self.started))
            self.pipeline.set_phase("supervise")
            return
        try:
            report = self.ports.dataplane.converge(new.desired)
            frr_state = self.ports.frr.up(new.desired) if self.ports.frr else self.started.frr
        except EvpnBootError as exc:
            log.error("applying the new configuration (digest %s) failed: %s; restoring %s",
                      new.digest, exc, old.digest)
            self._restore(old)
            notifier.ready(DEGRADED.line(f"reload failed: {brief(exc)}; configuration "
                                         f"{old.digest} restored"))
            self.pipeline.set_phase("supervise")
            return
        self._close_watches()
        self.watches = list(self.ports.dataplane.watch(new.desired))
        verdict = self.started.verdict
        if new.config.readiness.require is not verdict.require:
            verdict = readiness.Verdict(new.config.readiness.require, verdict.met)
        self.started = Started(new, report, frr_state, verdict)
        self.pipeline.apply_log_level(new)
        self.drift_since = None
        log.info("configuration reloaded (digest %s -> %s): %d operations", old.digest,
                 new.digest, report.operations)
        notifier.ready(ready_status(self.started))
        self.pipeline.set_phase("supervise")

    def _restore(self, old: Target) -> None:
        try:
            self.ports.dataplane.converge(old.desired)
            if self.ports.frr is not None:
                self.ports.frr.up(old.desired)
        except EvpnBootError as exc:
            log.error("restoring the previous configuration failed too: %s", exc)
            self.drift_since = self.ports.clock.monotonic()   # the loop keeps trying

    # ------------------------------------------------------- handoff, stop

    def _make_handoff(self) -> None:
        factory = self.ports.handoff
        if factory is None or not self.target.config.handoff.enabled:
            return
        self.handoff = factory(self.target, self._release_frr)

    def _release_frr(self) -> None:
        """The handoff's release hook: from here on the reconciler owns the node.

        FRR is stopped first, then the release is recorded: a crash in between
        leaves no record, so a restarted evpn-boot carries the node again while
        the reconciler (which has not seen ``released`` yet) waits.  The other
        order could leave our FRR running next to the reconciler's.
        """
        self.releasing = True
        # From here on the reconciler maintains EVPNReady (docs/health.md).
        self.health = None
        log.info("handoff requested: stopping FRR gracefully, leaving the dataplane in place")
        if self.ports.frr is not None:
            self.ports.frr.release(self.target.desired)
        if self.ports.ledger is not None:
            self.ports.ledger.record(self.target)

    def step_handoff(self) -> bool:
        handoff = self.handoff
        assert handoff is not None
        try:
            released = handoff.step()
        except EvpnBootError as exc:
            log.warning("handoff step failed (will retry): %s", exc)
            released = False
        self.next_handoff = self.ports.clock.monotonic() + max(0.05, handoff.interval)
        if released:
            self.pipeline.set_phase("released")
            text = ("released to the in-cluster reconciler: dataplane left in place, "
                    "no longer supervising")
            log.info("%s", text)
            self.ports.notifier.status(text)
        return released

    def stop(self) -> None:
        self.pipeline.set_phase("stop")
        text = "stopping: dataplane and FRR left in place"
        log.info("%s", text)
        self.ports.notifier.stopping(text)


def stay_released(pipeline: Pipeline, target: Target, since: str) -> int:
    """``run`` after a release earlier in this boot: READY=1, touch nothing.

    FRR is not started and the dataplane is not repaired: the in-cluster
    reconciler owns both now.  With handoff enabled, ``state=released`` is
    re-asserted on the Node (the reconciler may wait for it), then the daemon
    exits 0 as after the release itself.
    """
    ports = pipeline.ports
    pipeline.set_phase("released")
    text = (f"released to the in-cluster reconciler at {since} (this boot): FRR and "
            f"dataplane left to it, not supervising")
    log.info("%s", text)
    ports.notifier.ready(text)
    factory = ports.handoff
    handoff = None
    if factory is not None and target.config.handoff.enabled:
        handoff = factory(target, _never_release, released=True)
    while handoff is not None:
        if pipeline.pulse.stop_requested:
            break
        try:
            if handoff.step():
                log.info("Node annotation state=released re-asserted")
                break
        except EvpnBootError as exc:
            log.warning("re-asserting state=released failed (will retry): %s", exc)
        pipeline.pulse.wait([], max(0.05, handoff.interval))
    ports.notifier.stopping(text)
    return 0


def _never_release() -> None:
    raise EvpnBootError("release requested again although this node is already released")


def run_daemon(ports: Ports, loader: Loader, pulse: Pulse,
               options: Optional[Options] = None) -> int:
    """The whole of ``evpn-boot run``: pipeline, READY=1, supervision; the exit code.

    ``pulse`` waits on ``ports.clock``; the adapters in ``ports`` wait through it.
    """
    pipeline = Pipeline(ports, loader, pulse, options)
    try:
        target = pipeline.validate()
        since = ports.ledger.released(target.desired) if ports.ledger is not None else None
        if since is not None:
            return stay_released(pipeline, target, since)
        started = pipeline.start(target)
    except EvpnBootError as exc:
        if pulse.stop_requested:
            # Stopped while waiting for a late interface: what follows it failed
            # only because the wait was cut short.
            pipeline.set_phase("stop")
            log.info("stopped before ready (%s)", brief(exc))
            ports.notifier.stopping("stopped before ready: nothing was changed")
            return 0
        pipeline.set_phase("failed")
        ports.notifier.status(f"failed: {brief(exc)}")
        raise
    if started is None:
        pipeline.set_phase("stop")
        ports.notifier.stopping("stopped before ready: what was applied is left in place")
        return 0
    return Supervisor(pipeline, started).run()


__all__: Sequence[str] = ("Supervisor", "brief", "run_daemon", "stay_released")
