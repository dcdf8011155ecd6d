"""The FRR container as systemd and Quadlet see it, from the runtime's own spec.

Three consumers start the same container: the runtime package's direct podman
path (``evpn_boot.runtime.podman.Podman.run_frr``), ``evpn-boot-frr.service``
(through ``evpn-boot frr-container run`` where evpn-boot is installed, or
rendered literally into the unit in container mode) and the Quadlet
``evpn-boot-frr.container``.  All three take the name, netns, mount,
capabilities and labels from :class:`evpn_boot.runtime.podman.ContainerSpec`, so
they cannot drift apart, and a container systemd started carries the same spec
label the runtime checks before deciding to recreate it.

Only the lifecycle differs: under systemd the unit restarts FRR, so podman's
own ``--restart`` policy is "no" there.
"""

from __future__ import annotations

from pathlib import Path

from evpn_boot.runtime.spec import (
    CONTAINER_CONFIG_DIR,
    LABEL_MANAGED,
    LABEL_SPEC,
    UNIT_RESTART_POLICY,
    ContainerSpec,
)


def systemd_spec(*, name: str, image: str, netns: str, config_dir: str) -> ContainerSpec:
    """The runtime's container spec, for a container that a unit owns."""
    return ContainerSpec(name=name, image=image, netns=netns, config_dir=Path(config_dir),
                         restart_policy=UNIT_RESTART_POLICY)


def _volume(spec: ContainerSpec) -> str:
    # :z relabels for SELinux hosts (Fedora, RHEL) and is ignored elsewhere.
    return f"{spec.config_dir}:{CONTAINER_CONFIG_DIR}:z"


def _labels(spec: ContainerSpec) -> list[str]:
    return [f"{LABEL_MANAGED}=true", f"{LABEL_SPEC}={spec.digest()}"]


def container_args(spec: ContainerSpec) -> list[str]:
    """``podman run`` options that define the container (no lifecycle flags)."""
    args = ["--name", spec.name, "--network", f"ns:{spec.netns_path}", "--cap-drop", "all"]
    for cap in spec.capabilities:
        args += ["--cap-add", cap]
    args += ["--volume", _volume(spec)]
    for label in _labels(spec):
        args += ["--label", label]
    return args


#: Where the FRR unit has podman record the container's ID (``%t`` = /run,
#: ``%n`` = the unit's name), so ``ExecStop=`` stops the container that
#: ``ExecStart=`` started whatever ``frr.container_name`` is.
UNIT_CIDFILE = "%t/%n.ctr-id"


def systemd_run_argv(spec: ContainerSpec, podman: str = "podman",
                     cidfile: str | None = None) -> list[str]:
    """The full command for a ``Type=notify`` unit that owns the container.

    The lifecycle flags follow ``podman generate systemd --new``: ``--replace``
    removes a stale container of the same name left by a crash, ``--rm`` cleans
    up on stop, ``-d`` + ``--sdnotify=conmon`` make conmon report ``READY=1``
    and its PID as ``MAINPID``, ``--cgroups=no-conmon`` keeps conmon in the
    unit's cgroup so systemd tracks it, and ``--cidfile`` records the ID the
    unit's stop commands use.
    """
    lifecycle = ["--replace", "--rm", "-d", "--sdnotify=conmon", "--cgroups=no-conmon"]
    if cidfile is not None:
        lifecycle += ["--cidfile", cidfile]
    return [podman, "run", *lifecycle, *container_args(spec), spec.image]


def quadlet_keys(spec: ContainerSpec) -> list[tuple[str, str, str]]:
    """``[Container]`` (key, value, why) of the Quadlet unit, as :func:`container_args`.

    Only keys podman 4.4's quadlet knows (it rejects unknown keys); the pull
    policy is podman's default, "missing".
    """
    keys = [
        ("ContainerName", spec.name, "The name evpn-boot finds the container by."),
        ("Image", spec.image, "frr.image from the configuration."),
        ("Network", f"ns:{spec.netns_path}", "Joins the router netns evpn-boot created."),
        ("Volume", _volume(spec), "frr.conf, daemons, vtysh.conf rendered by evpn-boot."),
        ("DropCapability", "all", "Start from no capabilities ..."),
        ("AddCapability", " ".join(spec.capabilities), "... and add only what FRR needs."),
    ]
    keys += [("Label", label, "So evpn-boot recognises the container as its own.")
             for label in _labels(spec)]
    return keys
