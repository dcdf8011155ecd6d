"""``evpn-boot run``: the boot pipeline and the supervision loop.

The phase logic (:mod:`~evpn_boot.daemon.service`) sees the world only through
the small protocols in :mod:`~evpn_boot.daemon.ports`; :mod:`~evpn_boot.daemon.adapters`
binds them to the netlink, FRR, systemd and k8s packages, and unit tests bind
them to hand-written fakes.
"""
