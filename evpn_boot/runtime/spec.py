"""How the FRR container is defined: pure data shared by every way of starting it.

The runtime's direct podman path, the ``evpn-boot-frr.service`` unit and the
Quadlet all start the container from a :class:`ContainerSpec`, so they agree on
image, namespace, mounts, capabilities and labels.  Nothing here runs podman.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

#: What FRR needs inside the router namespace, and no more (everything else is
#: dropped), found by running FRR 8.4 with less:
#: NET_ADMIN for zebra's routes/neighbors/links, NET_RAW for bfdd and ICMP,
#: NET_BIND_SERVICE for BGP's port 179; SYS_ADMIN because zebra, bgpd and bfdd
#: ask for it in their privilege set and refuse to start without it
#: ("privs_init: initial cap_set_proc failed"); CHOWN/SETUID/SETGID so the
#: start script hands /var/run/frr to the frr user and the daemons drop root;
#: DAC_OVERRIDE so root-run watchfrr, vtysh and frr-reload.py can use the frr
#: user's pid files and vty sockets.
FRR_CAPABILITIES = ("NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE", "SYS_ADMIN", "CHOWN", "SETUID",
                    "SETGID", "DAC_OVERRIDE")

#: Where FRR reads its configuration inside the container.
CONTAINER_CONFIG_DIR = "/etc/frr"
LABEL_MANAGED = "io.evpn-boot.managed"
LABEL_SPEC = "io.evpn-boot.spec"
#: Started by evpn-boot itself: podman restarts a crashed FRR.
DIRECT_RESTART_POLICY = "always"
#: Owned by evpn-boot-frr.service (or the Quadlet): systemd restarts it, podman must not.
UNIT_RESTART_POLICY = "no"


@dataclass(frozen=True)
class ContainerSpec:
    """How the FRR container is run; its digest decides whether to recreate it."""

    name: str
    image: str
    netns: str
    config_dir: Path
    restart_policy: str = DIRECT_RESTART_POLICY
    capabilities: tuple[str, ...] = FRR_CAPABILITIES

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    def digest(self) -> str:
        text = "|".join([self.image, self.netns_path, str(self.config_dir),
                         self.restart_policy, ",".join(self.capabilities)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]
