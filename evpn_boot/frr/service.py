"""FRR as the daemon sees it: up, health, sessions, restart and the handoff's release.

This is the daemon's FRR port (:class:`evpn_boot.daemon.ports.FrrRuntime`),
implemented once here so the rules live next to the FRR code they depend on:
what "healthy" means, how a sick FRR is restarted, and how FRR is stopped at
the handoff (the one stop whose manner decides whether traffic survives).
Every wait (podman, vtysh, ``frr-reload.py``, systemctl, the start poll) goes
through the clock it is given, so the daemon's pulse keeps ticking.
"""

from __future__ import annotations

from typing import Optional

from evpn_boot.clock import Clock
from evpn_boot.desired.model import DesiredState
from evpn_boot.frr.lifecycle import FrrAction, converge_frr, frr_unit_in_charge
from evpn_boot.frr.status import VTYSH_TIMEOUT_S, underlay_sessions
from evpn_boot.runtime.podman import Podman

#: Daemons that must answer vtysh for FRR to count as healthy.
REQUIRED_DAEMONS = ("zebra", "bgpd")


class FrrService:
    """FRR in its container in the router namespace; see the module docstring."""

    def __init__(self, podman: Optional[Podman] = None, clock: Optional[Clock] = None) -> None:
        self.clock = clock
        self.podman = podman or Podman(clock=clock)

    def up(self, desired: DesiredState) -> FrrAction:
        """Start FRR, or reload it in place to ``desired``."""
        return converge_frr(desired, podman=self.podman, clock=self.clock).action

    def problem(self, desired: DesiredState) -> Optional[str]:
        """None when healthy: the container runs and zebra and bgpd answer vtysh."""
        name = desired.runtime.frr_container
        state = self.podman.inspect(name)
        if not state.exists:
            return f"container {name} is gone"
        if not state.running:
            return f"container {name} is {state.status} (exit code {state.exit_code})"
        result = self.podman.exec(name, ["vtysh", "-c", "show daemons"],
                                  timeout=VTYSH_TIMEOUT_S)
        if result.returncode != 0:
            return f"vtysh in {name} exited {result.returncode}: {result.stderr.strip()[-200:]}"
        running = set(result.stdout.split())
        dead = [d for d in REQUIRED_DAEMONS if d not in running]
        if dead:
            return f"daemons not running in {name}: {', '.join(dead)}"
        return None

    def restart(self, desired: DesiredState) -> None:
        """Recreate the container (which also re-validates the configuration)."""
        name = desired.runtime.frr_container
        if self.podman.inspect(name).running:
            # Running but with dead daemons: converge would leave it "unchanged".
            self.podman.remove(name)
        converge_frr(desired, podman=self.podman, clock=self.clock)

    def sessions(self, desired: DesiredState) -> dict[str, str]:
        """Underlay neighbor address -> BGP state; raises EvpnBootError when unreadable."""
        return underlay_sessions(self.podman, desired.runtime.frr_container)

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
            units.systemctl("stop", units.FRR_UNIT, clock=self.clock)
