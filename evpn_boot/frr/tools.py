"""Where FRR's own tools run: on the host when FRR is installed there, else in
the FRR image (through the runtime package).  Both give a
:data:`~evpn_boot.frr.validate.ToolRunner` for :class:`CommandValidator`."""

from __future__ import annotations

import contextlib
import functools
import grp
import os
import shutil
import subprocess
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
    (it may hold passwords).  The copy gets the same trust as FRR's own
    /etc/frr/frr.conf (root:frr 0640) but lives in no directory at all: it is
    a memfd, handed to the tool as an inherited descriptor and opened as
    ``/proc/self/fd/N`` (a process may always open its own descriptors, after
    dropping root too; the inode's mode and group decide).  So no copy of a
    password ever lands in /tmp or anywhere else, and a SIGKILL leaves none
    behind: the kernel frees the memfd with the last descriptor.
    """
    fd = _frr_readable_copy(conf.read_bytes())
    try:
        cmd = [a.replace("{conf}", f"/proc/self/fd/{fd}") for a in argv]
        try:
            proc = command.run(cmd, timeout=60, clock=clock, pass_fds=(fd,))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EvpnBootError(f"run {cmd[0]} to check {conf}: {exc}",
                                kind=ErrorKind.RUNTIME) from exc
    finally:
        os.close(fd)
    return proc.returncode, proc.stdout + proc.stderr


def _frr_readable_copy(data: bytes) -> int:
    """A memfd holding ``data``, mode 0640, group frr (when the group exists)."""
    fd = os.memfd_create("evpn-boot-frr-check", os.MFD_CLOEXEC)
    try:
        with contextlib.suppress(KeyError):
            os.fchown(fd, -1, grp.getgrnam(FRR_GROUP).gr_gid)
        # Not subject to the umask, but say it anyway: never readable by others.
        os.fchmod(fd, 0o640)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        raise
    return fd


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
