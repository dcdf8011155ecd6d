"""Where FRR's own tools run: on the host when FRR is installed there, else in
the FRR image (through the runtime package).  Both give a
:data:`~evpn_boot.frr.validate.ToolRunner` for :class:`CommandValidator`."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from evpn_boot import command
from evpn_boot.clock import Clock
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.frr.validate import CommandValidator, FrrValidator
from evpn_boot.runtime.podman import FRR_CAPABILITIES, Podman

HOST_BGPD = Path("/usr/lib/frr/bgpd")
_CHECK_DIR = "/check"
FRR_GROUP = "frr"


def host_has_frr() -> bool:
    return shutil.which("vtysh") is not None and HOST_BGPD.exists()


def host_runner(argv: list[str], conf: Path, clock: Optional[Clock] = None) -> tuple[int, str]:
    """Run a host FRR tool on a copy of ``conf`` that the frr group may read.

    bgpd drops root before reading its file, and the rendered file is root-only
    (it may hold passwords): the copy gets the same trust as FRR's own
    /etc/frr/frr.conf (root:frr 0640) and is deleted right after.
    """
    with tempfile.TemporaryDirectory(prefix="evpn-boot-frr-check-") as scratch:
        copy = Path(scratch) / conf.name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        # The service's UMask=0077 narrowed the mode at creation: set it again,
        # or bgpd (running as frr) cannot read the copy.
        os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(conf.read_text(encoding="utf-8"))
        with contextlib.suppress(LookupError, PermissionError):
            shutil.chown(scratch, group=FRR_GROUP)
            shutil.chown(copy, group=FRR_GROUP)
            os.chmod(scratch, 0o750)
        cmd = [a.replace("{conf}", str(copy)) for a in argv]
        try:
            proc = command.run(cmd, timeout=60, clock=clock)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EvpnBootError(f"run {cmd[0]} to check {conf}: {exc}",
                                kind=ErrorKind.RUNTIME) from exc
    return proc.returncode, proc.stdout + proc.stderr


class ImageRunner:
    """Runs the tools in a scratch container of the FRR image, the file mounted."""

    def __init__(self, podman: Podman, image: str) -> None:
        self.podman = podman
        self.image = image

    def __call__(self, argv: list[str], conf: Path) -> tuple[int, str]:
        # As on the host, bgpd reads its file after dropping root: check a copy
        # the frr group may read, made inside the scratch container.  bgpd wants
        # its usual privileges even for -C; the container has no network.
        copy = f"/tmp/{conf.name}"
        cmd = ["/bin/sh", "-c", f'install -m 0640 -g frr "$0" {copy} && exec "$@"',
               f"{_CHECK_DIR}/{conf.name}", *[a.replace("{conf}", copy) for a in argv]]
        result = self.podman.run_oneshot(self.image, cmd, {conf.parent: _CHECK_DIR},
                                         capabilities=FRR_CAPABILITIES)
        if result.returncode in (125, 126, 127):  # podman/entrypoint failure, not FRR's
            raise EvpnBootError(f"run {argv[0]} in image {self.image} to check {conf}: "
                                f"{result.stderr.strip()[-300:]}", kind=ErrorKind.RUNTIME)
        return result.returncode, result.stdout + result.stderr


def default_validator(podman: Podman, image: str) -> FrrValidator:
    """The host's FRR when installed (fast, no container), else the FRR image.

    Both wait through ``podman.clock``: the daemon's pulse keeps ticking.
    """
    if host_has_frr():
        return CommandValidator(functools.partial(host_runner, clock=podman.clock), "host FRR")
    return CommandValidator(ImageRunner(podman, image), f"image {image}")
