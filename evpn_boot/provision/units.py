"""Render evpn-boot's systemd units and companion files from templates.

One renderer serves every consumer: the checked-in ``systemd/`` directory (native
mode, default config), ``evpn-boot install-units`` (pip installs), the Debian and
RPM packages, and the Ignition/Butane/cloud-init documents (either mode).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator

from evpn_boot.k8s.gate import kubelet_node_labels
from evpn_boot.provision.frr_container import (
    UNIT_CIDFILE,
    quadlet_keys,
    systemd_run_argv,
    systemd_spec,
)
from evpn_boot.provision.params import UnitParams
from evpn_boot.templating import environment

_ENV = environment("evpn_boot.provision")


@dataclasses.dataclass(frozen=True)
class RenderedFile:
    """One file to place on a node: absolute path, mode, content."""

    path: str
    mode: int
    content: str


#: Where each file goes (systemd's and podman's admin directories, so a package
#: can ship the same content under /usr/lib instead: see :func:`package_layout`).
SERVICE = "/etc/systemd/system/evpn-boot.service"
FRR_SERVICE = "/etc/systemd/system/evpn-boot-frr.service"
KUBELET_DROPIN = "/etc/systemd/system/kubelet.service.d/10-evpn-boot.conf"
QUADLET = "/etc/containers/systemd/evpn-boot-frr.container"
MODULES_LOAD = "/etc/modules-load.d/evpn-boot.conf"
TMPFILES = "/etc/tmpfiles.d/evpn-boot.conf"


def _shell_join(argv: list[str]) -> str:
    """A podman command line for ``ExecStart=``, wrapped like a person would.

    An option and its value stay on one line.
    """
    groups: list[list[str]] = []
    words = [shlex.quote(a) for a in argv]
    i = 0
    while i < len(words):
        word = words[i]
        takes_value = (word.startswith("--") and "=" not in word and i + 2 < len(words)
                       and not words[i + 1].startswith("-"))
        groups.append(words[i:i + 2] if takes_value else [word])
        i += 2 if takes_value else 1
    lines: list[str] = []
    current = ""
    for group in (" ".join(g) for g in groups):
        if current and len(current) + len(group) > 72:
            lines.append(current)
            current = "    " + group
        else:
            current = f"{current} {group}" if current else group
    lines.append(current)
    return " \\\n".join(lines)


def render_units(p: UnitParams, *, quadlet: bool = True) -> list[RenderedFile]:
    """Every file of an installation in mode ``p.mode``, admin (``/etc``) paths.

    ``quadlet`` adds the Quadlet ``.container`` file.  It is an alternative to
    ``evpn-boot-frr.service`` (for hosts whose podman >= 4.4 generates the
    service from it): install one or the other, never both, since both define
    ``evpn-boot-frr.service``.
    """
    spec = systemd_spec(name=p.frr_container, image=p.frr_image, netns=p.netns,
                              config_dir=p.frr_config_dir)
    context = {
        "p": p,
        "frr_argv": _shell_join(systemd_run_argv(spec, "/usr/bin/podman", UNIT_CIDFILE)),
        "cidfile": UNIT_CIDFILE,
        "quadlet": quadlet_keys(spec),
        "gate_labels": kubelet_node_labels(),
    }

    def render(template: str) -> str:
        return _ENV.get_template(template).render(**context)

    files = [
        RenderedFile(SERVICE, 0o644, render("evpn-boot.service.j2")),
        RenderedFile(KUBELET_DROPIN, 0o644, render("10-evpn-boot.conf.j2")),
        RenderedFile(MODULES_LOAD, 0o644, render("modules-load.conf.j2")),
        RenderedFile(TMPFILES, 0o644, render("tmpfiles.conf.j2")),
    ]
    if quadlet:
        files.append(RenderedFile(QUADLET, 0o644, render("evpn-boot-frr.container.j2")))
    else:
        files.append(RenderedFile(FRR_SERVICE, 0o644, render("evpn-boot-frr.service.j2")))
    return files


#: admin path -> vendor path, for packages (files under /usr/lib belong to the
#: package manager; /etc stays the administrator's to override).
_VENDOR_PATHS = {
    SERVICE: "/usr/lib/systemd/system/evpn-boot.service",
    FRR_SERVICE: "/usr/lib/systemd/system/evpn-boot-frr.service",
    KUBELET_DROPIN: "/usr/lib/systemd/system/kubelet.service.d/10-evpn-boot.conf",
    QUADLET: "/usr/share/containers/systemd/evpn-boot-frr.container",
    MODULES_LOAD: "/usr/lib/modules-load.d/evpn-boot.conf",
    TMPFILES: "/usr/lib/tmpfiles.d/evpn-boot.conf",
}


def package_layout(files: list[RenderedFile]) -> Iterator[RenderedFile]:
    """The same files at the vendor paths a .deb or RPM installs them to."""
    for f in files:
        yield dataclasses.replace(f, path=_VENDOR_PATHS[f.path])


def source_tree_files() -> dict[str, str]:
    """The checked-in ``systemd/`` directory: relative path -> content.

    Native mode with the default configuration (what the .deb and RPM ship),
    both FRR forms, plus the container-mode units under ``container/`` for
    reference.  ``scripts/render-units`` writes it; a test keeps it in sync.
    """
    from evpn_boot.provision.params import Mode, unit_params

    def rel(path: str) -> str:
        for prefix in ("/etc/systemd/system/", "/etc/containers/systemd/", "/etc/"):
            if path.startswith(prefix):
                return path[len(prefix):]
        raise AssertionError(path)

    out: dict[str, str] = {}
    native = unit_params()
    for f in [*render_units(native, quadlet=False), *render_units(native, quadlet=True)]:
        out[rel(f.path)] = f.content
    container = unit_params(mode=Mode.CONTAINER)
    for f in render_units(container, quadlet=False):
        if f.path in (SERVICE, FRR_SERVICE):
            out["container/" + rel(f.path)] = f.content
    return out
