"""Real adapters: the daemon's ports bound to the netlink, FRR/podman and k8s packages.

Each adapter is a thin translation; the behaviour lives in the package it wraps
(netlink talks netlink, runtime talks podman, k8s talks to the API).  Imports
are local so ``evpn-boot run --help`` stays fast and a missing optional piece
fails with a message naming it.
"""

from __future__ import annotations

import json
import select
import time
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from evpn_boot.daemon.ports import ConvergeReport, DriftWatch, Handoff, Target
from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import EvpnBootError


class RealClock:
    """``time.monotonic`` and ``select``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, fds: Sequence[int], timeout: Optional[float]) -> list[int]:
        readable, _, _ = select.select(list(fds), [], [], timeout)
        return list(readable)


# ------------------------------------------------------------------- dataplane


class NetlinkDataplane:
    """Dataplane onto :mod:`evpn_boot.netlink.engine` (observe, plan, apply, verify)."""

    def preflight(self, desired: DesiredState) -> None:
        # The engine's converge runs the same checks under its lock; running them
        # first, alone, is what lets the daemon say "preflight failed" (exit 1)
        # before anything is touched.
        from evpn_boot.netlink import engine, preflight
        from evpn_boot.plan import diff
        from evpn_boot.state import store
        ownership = store.load(desired.runtime.state_dir)
        observed = engine.observe(desired, ownership)
        preflight.check(desired, observed, ownership, diff.diff(desired, observed, ownership))

    def converge(self, desired: DesiredState) -> ConvergeReport:
        from evpn_boot.netlink import engine
        from evpn_boot.plan.render import counts_text
        result = engine.converge(desired)
        return ConvergeReport(result.operations, counts_text(result.changes))

    def watch(self, desired: DesiredState) -> Sequence[DriftWatch]:
        from evpn_boot.netlink import events
        try:
            return events.watch(desired)
        except OSError as exc:
            raise EvpnBootError(f"subscribe to netlink notifications in "
                                f"{desired.runtime.netns!r}/{desired.runtime.host_netns!r}: "
                                f"{exc}") from exc


# ------------------------------------------------------------------------- FRR


class PodmanFrr:
    """FrrRuntime onto :mod:`evpn_boot.frr.lifecycle` and the podman wrapper."""

    #: Daemons that must answer vtysh for FRR to count as healthy.
    REQUIRED_DAEMONS = ("zebra", "bgpd")

    def __init__(self, podman: Optional[Any] = None) -> None:
        from evpn_boot.runtime.podman import Podman
        self.podman: Podman = podman or Podman()

    def up(self, desired: DesiredState) -> str:
        from evpn_boot.frr.lifecycle import converge_frr
        return converge_frr(desired, podman=self.podman).action

    def problem(self, desired: DesiredState) -> Optional[str]:
        name = desired.runtime.frr_container
        state = self.podman.inspect(name)
        if not state.exists:
            return f"container {name} is gone"
        if not state.running:
            return f"container {name} is {state.status} (exit code {state.exit_code})"
        result = self.podman.exec(name, ["vtysh", "-c", "show daemons"], timeout=20)
        if result.returncode != 0:
            return f"vtysh in {name} exited {result.returncode}: {result.stderr.strip()[-200:]}"
        running = set(result.stdout.split())
        dead = [d for d in self.REQUIRED_DAEMONS if d not in running]
        if dead:
            return f"daemons not running in {name}: {', '.join(dead)}"
        return None

    def restart(self, desired: DesiredState) -> None:
        from evpn_boot.frr.lifecycle import converge_frr
        name = desired.runtime.frr_container
        if self.podman.inspect(name).running:
            # Running but with dead daemons: converge would leave it "unchanged".
            self.podman.remove(name)
        converge_frr(desired, podman=self.podman)

    def sessions(self, desired: DesiredState) -> Mapping[str, str]:
        from evpn_boot.frr.status import parse_bgp_summary
        name = desired.runtime.frr_container
        result = self.podman.exec(name, ["vtysh", "-c", "show bgp summary json"], timeout=20)
        if result.returncode != 0:
            raise EvpnBootError(f"read BGP sessions in {name}: vtysh exited "
                                f"{result.returncode}: {result.stderr.strip()[-200:]}")
        try:
            data = json.loads(result.stdout or "{}")
        except ValueError as exc:
            raise EvpnBootError(f"read BGP sessions in {name}: unreadable JSON") from exc
        return {str(s["neighbor"]): str(s["state"])
                for s in parse_bgp_summary({"default": data})}

    def release(self, desired: DesiredState) -> None:
        """Stop FRR so that peers keep forwarding to us and the kernel keeps its state.

        The container's init gets SIGKILL, so the kernel kills every FRR daemon
        at once and none of them runs its exit path.  That is the point:

        * bgpd's SIGTERM path (``bgp_terminate()`` in FRRouting/frr
          bgpd/bgpd.c) sends each peer a Cease NOTIFICATION, subcode "Peer
          De-configured", in FRR 8.4.  A NOTIFICATION ends RFC 4724 graceful
          restart and the peer flushes our routes; with RFC 8538's N-bit
          (``bgp graceful-restart notification``, FRR >= 8.3, PR #11183) that
          subcode is sent as a Hard Reset (``bgp_notify_send_hard_reset()`` in
          bgpd/bgp_packet.c, RFC 8538 section 5.1), which flushes them too.
          Later FRR skips that NOTIFICATION for GR-capable peers, but that is
          disputed upstream (PR #18262 reverts it), and bgpd still withdraws
          its EVPN state from zebra on the way out.
        * zebra's SIGTERM path removes what it installed (routes, and with
          bgpd gone the EVPN remote MACs/VTEPs in the FDB) unless started with
          ``-r``; killed, it removes nothing.
        * Killed, bgpd's TCP sessions are closed by the kernel without a
          NOTIFICATION.  A peer with graceful restart treats that as a restart
          (RFC 4724 section 4.2): it keeps our routes, marked stale, for the
          restart time we advertised (FRR's default: 120 s), and the
          reconciler's FRR refreshes them when it comes up with the same
          router ID.

        This works the same for any FRR version and any init inside the image.
        Idempotent: a container that is already stopped or gone is left as it is.
        """
        from evpn_boot.frr.lifecycle import frr_unit_in_charge
        name = desired.runtime.frr_container
        state = self.podman.inspect(name)
        if state.running:
            self.podman.kill(name, "KILL")
            self.podman.wait(name)
        if frr_unit_in_charge():
            # The unit saw its container die and would restart it (Restart=on-failure,
            # after RestartSec): stop it, which cancels that; its ExecStop finds
            # nothing left to stop, so no daemon runs its exit path.
            from evpn_boot.systemd import units
            units.systemctl("stop", units.FRR_UNIT)


# --------------------------------------------------------------------- handoff


class K8sHandoff:
    """Handoff onto :class:`evpn_boot.k8s.controller.HandoffController`."""

    def __init__(self, target: Target, release: Callable[[], None], *,
                 released: bool = False) -> None:
        from evpn_boot.k8s.controller import HandoffController, controller_for, identity_for
        from evpn_boot.k8s.handoff import Phase
        controller: Optional[HandoffController]
        if released:
            # Released earlier in this boot: only re-assert state=released.
            d = target.desired
            controller = HandoffController(
                identity_for(d.node.name, target.digest, d.runtime.netns, d.node.index),
                _Hook(release), kubeconfig_path=target.config.handoff.kubeconfig,
                phase=Phase.MARKING_RELEASED)
        else:
            controller = controller_for(True, target.config.handoff.kubeconfig, target.desired,
                                        target.digest, _Hook(release))
        assert controller is not None
        self.controller = controller
        self._due: Optional[float] = 0.0

    @property
    def interval(self) -> float:
        if self._due is None:
            return 3600.0
        return max(0.0, self._due - time.monotonic())

    def step(self) -> bool:
        self._due = self.controller.step(time.monotonic())
        return self.controller.done


class _Hook:
    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    def on_release(self) -> None:
        self._release()


def k8s_handoff(target: Target, release: Callable[[], None], *,
                released: bool = False) -> Optional[Handoff]:
    """The HandoffFactory for the real daemon."""
    return K8sHandoff(target, release, released=released)


# ---------------------------------------------------------------- release ledger


class RunDirLedger:
    """ReleaseLedger onto :mod:`evpn_boot.state.release` (a file in ``runtime.run_dir``)."""

    def released(self, desired: DesiredState) -> Optional[str]:
        from evpn_boot.state import release
        record = release.load(desired.runtime.run_dir)
        return None if record is None else record.released_at

    def record(self, target: Target) -> None:
        from datetime import datetime, timezone

        from evpn_boot.state import release
        rt = target.desired.runtime
        release.save(rt.run_dir, release.ReleaseRecord(
            released_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            netns=rt.netns, frr_container=rt.frr_container, config_digest=target.digest))
