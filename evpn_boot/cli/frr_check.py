"""``validate``'s second half: FRR's own parser on the rendered configuration.

A bad ``raw_config`` should be caught where a fleet's file is written, not at
every node's boot.  The tools are the host's FRR when installed, else the
configured image when podman has it locally (nothing is pulled); the output
says which, or that neither was there.  Passwords are not read: they render as
a placeholder word, which FRR's grammar accepts like the real one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

from evpn_boot.desired.model import DesiredState
from evpn_boot.errors import EvpnBootError
from evpn_boot.frr.render import redacted_secrets, render_frr_conf
from evpn_boot.frr.validate import FrrValidator


def pick_validator(image: str) -> tuple[Optional[FrrValidator], str]:
    """(validator, where), or (None, why not) when no FRR tools are at hand."""
    from evpn_boot.frr.tools import ImageRunner, host_has_frr, host_runner
    from evpn_boot.frr.validate import CommandValidator
    if host_has_frr():
        return CommandValidator(host_runner, "host FRR"), "host FRR tools"
    from evpn_boot.runtime.podman import Podman
    podman = Podman()
    try:
        present = podman.image_exists(image)
    except EvpnBootError:       # no podman at all: the image is "not there"
        present = False
    if present:
        return CommandValidator(ImageRunner(podman, image), f"image {image}"), f"image {image}"
    return None, f"no FRR tools on this host and image {image} is not present locally"


def check_rendered(desired: DesiredState) -> str:
    """Run FRR's parser on ``desired``'s frr.conf; raise FRR_REJECTED, or say what ran."""
    assert desired.frr is not None
    validator, where = pick_validator(desired.runtime.frr_image)
    if validator is None:
        return f"FRR check skipped: {where}"
    text = render_frr_conf(desired.frr, redacted_secrets(desired.frr))
    with tempfile.TemporaryDirectory(prefix="evpn-boot-validate-") as scratch:
        conf = Path(scratch) / "frr.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        validator.validate(conf)
    return f"FRR check ({where}): rendered frr.conf accepted"
