"""What a provisioned node receives: the config file plus the units, and what to enable.

Ignition, Butane and cloud-init documents are three spellings of this one
list, so they cannot disagree about a path, a mode or an enabled unit.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from evpn_boot.config.model import Config
from evpn_boot.provision.params import DEFAULT_IMAGE, Mode, unit_params
from evpn_boot.provision.units import KUBELET_DROPIN, SERVICE, RenderedFile, render_units

#: The configuration holds BGP password file paths and node identity: root only.
CONFIG_MODE = 0o600


@dataclasses.dataclass(frozen=True)
class NodeDocument:
    """Files to write and units to enable on one node (or a pool)."""

    mode: Mode
    files: tuple[RenderedFile, ...]
    #: Units to enable (in this order).
    enable: tuple[str, ...]
    #: kubelet drop-in (name, content), kept apart: Ignition spells drop-ins
    #: as part of a unit, cloud-init as a plain file.
    kubelet_dropin: tuple[str, str]

    def unit_files(self) -> list[RenderedFile]:
        return [f for f in self.files if f.path.startswith("/etc/systemd/system/")
                and f.path != KUBELET_DROPIN]

    def plain_files(self) -> list[RenderedFile]:
        """Files that are not systemd units (config, modules-load, tmpfiles, Quadlet)."""
        return [f for f in self.files if not f.path.startswith("/etc/systemd/system/")]


def node_document(config: Config, config_text: str, *, mode: Mode,
                  config_path: str = "/etc/evpn-boot/config.toml",
                  image: str = DEFAULT_IMAGE, quadlet: Optional[bool] = None) -> NodeDocument:
    """The node's files for ``config`` (whose exact text is ``config_text``).

    ``quadlet`` defaults to on in container mode (Fedora CoreOS and RHCOS ship
    podman >= 4.4) and off in native mode (Debian 12 has podman 4.3).
    """
    if quadlet is None:
        quadlet = mode is Mode.CONTAINER
    params = unit_params(config, mode=mode, config_path=config_path, image=image)
    units = render_units(params, quadlet=quadlet)
    dropin = next(f for f in units if f.path == KUBELET_DROPIN)
    files = [RenderedFile(config_path, CONFIG_MODE, config_text),
             *[f for f in units if f.path != KUBELET_DROPIN]]
    enable = [SERVICE.rsplit("/", 1)[1]]
    if mode is Mode.CONTAINER:
        # evpn-boot's container talks to the host's podman through its socket.
        enable.insert(0, "podman.socket")
    return NodeDocument(mode=mode, files=tuple(files), enable=tuple(enable),
                        kubelet_dropin=(KUBELET_DROPIN.rsplit("/", 1)[1], dropin.content))
