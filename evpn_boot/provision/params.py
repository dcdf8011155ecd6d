"""What a set of units depends on: install mode, paths, image names, timeouts.

Two install modes exist because two kinds of hosts exist:

* ``native``: evpn-boot is installed on the host (pip, .deb, RPM) and the unit
  runs ``/usr/bin/evpn-boot run``.
* ``container``: the host has no Python (Fedora CoreOS, RHCOS); the unit runs
  evpn-boot's own container image with podman, and every unit must be plain
  systemd + podman, with no evpn-boot on the host to help.

Values that come from the configuration file (readiness timeout, netns, FRR
image, config dir) are read from it when one is given, so a rendered unit always
matches the config it ships with; without one, the model's defaults are used.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import PurePosixPath
from typing import Optional

from evpn_boot.config.model import Config, FrrConfig, ReadinessConfig, RuntimeConfig
from evpn_boot.config.underlay import underlay_parents

#: The evpn-boot image the container mode runs (built by ``make image``).
DEFAULT_IMAGE = "ghcr.io/evpn-boot/evpn-boot:latest"

#: Time for everything in ``run`` except the readiness wait: validation,
#: netlink apply + verify, FRR config check and container start.
START_MARGIN_S = 180
#: Extra start time in container mode: the first boot pulls evpn-boot's image.
PULL_MARGIN_S = 420


#: The taint kubelet registers the Node with (k8s.health.TAINT_KEY, no value, NoSchedule).
REGISTER_TAINT = "evpn-boot.io/fabric-unavailable=:NoSchedule"


class Mode(str, enum.Enum):
    NATIVE = "native"
    CONTAINER = "container"


@dataclasses.dataclass(frozen=True)
class UnitParams:
    """Everything the unit templates need; build it with :func:`unit_params`."""

    mode: Mode
    bin_path: str
    image: str
    config_path: str
    netns: str
    state_dir: str
    run_dir: str
    frr_image: str
    frr_config_dir: str
    frr_container: str
    readiness_timeout_s: float
    #: systemd device units of underlay NICs named in the config.
    underlay_devices: tuple[str, ...] = ()
    #: ``--register-with-taints`` value for kubelet ("" = none): ``[health] register_tainted``.
    register_taint: str = ""

    @property
    def start_margin_s(self) -> int:
        return START_MARGIN_S + (PULL_MARGIN_S if self.mode is Mode.CONTAINER else 0)

    @property
    def start_timeout_s(self) -> int:
        """``TimeoutStartSec=``: the readiness wait plus the work before it.

        evpn-boot also sends ``EXTEND_TIMEOUT_USEC`` during long waits; this is
        the ceiling when it cannot (e.g. a hung netlink call).
        """
        return math.ceil(self.readiness_timeout_s) + self.start_margin_s

    @property
    def config_dir(self) -> str:
        return str(PurePosixPath(self.config_path).parent)

    @property
    def runtime_directory(self) -> str:
        """``RuntimeDirectory=`` for run_dir when it is directly under /run, else ""."""
        return _directory_under(self.run_dir, "/run")

    @property
    def state_directory(self) -> str:
        """``StateDirectory=`` for state_dir when it is directly under /var/lib, else ""."""
        return _directory_under(self.state_dir, "/var/lib")


def _directory_under(path: str, base: str) -> str:
    parent, name = PurePosixPath(path).parent, PurePosixPath(path).name
    return name if str(parent) == base else ""


def unit_params(config: Optional[Config] = None, *, mode: Mode = Mode.NATIVE,
                bin_path: str = "/usr/bin/evpn-boot", image: str = DEFAULT_IMAGE,
                config_path: str = "/etc/evpn-boot/config.toml") -> UnitParams:
    """Unit parameters for ``config`` (or the defaults when there is none)."""
    runtime = config.runtime if config is not None else RuntimeConfig()
    frr = config.frr if config is not None else FrrConfig()
    readiness = config.readiness if config is not None else ReadinessConfig()
    return UnitParams(
        mode=mode,
        bin_path=bin_path,
        image=image,
        config_path=config_path,
        netns=runtime.netns,
        state_dir=str(runtime.state_dir),
        run_dir=str(runtime.run_dir),
        frr_image=frr.image,
        frr_config_dir=str(frr.config_dir),
        frr_container=frr.container_name,
        readiness_timeout_s=readiness.timeout_s,
        underlay_devices=_underlay_devices(config),
        register_taint=(REGISTER_TAINT if config is not None
                        and config.health.register_tainted else ""),
    )


def device_unit(ifname: str) -> str:
    """The systemd device unit of a network interface (``systemd-escape`` rules).

    Interface names are at most 15 bytes of ``[A-Za-z0-9_.:-]`` in practice; the
    characters systemd escapes among those are ``-`` (``\\x2d``) and a leading
    ``.``.
    """
    escaped = "".join(
        c if (c.isascii() and (c.isalnum() or c in "_.:")) and not (i == 0 and c == ".")
        else "".join(f"\\x{b:02x}" for b in c.encode())
        for i, c in enumerate(ifname))
    return f"sys-subsystem-net-devices-{escaped}.device"


def _underlay_devices(config: Optional[Config]) -> tuple[str, ...]:
    if config is None:
        return ()
    return tuple(device_unit(n) for n in underlay_parents(config.underlay))
