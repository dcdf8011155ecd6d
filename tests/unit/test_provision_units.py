"""Rendered systemd units: in sync with systemd/, accepted by systemd-analyze, installable."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evpn_boot.config.load import load_config
from evpn_boot.provision.params import Mode, device_unit, unit_params
from evpn_boot.provision.units import (
    FRR_SERVICE,
    QUADLET,
    SERVICE,
    package_layout,
    render_units,
    source_tree_files,
)
from evpn_boot.runtime.podman import ContainerSpec, Podman
from tests.support.units import EXAMPLES, REPO, require_tool, systemd_verify

EVPN_BOOT = str(Path(sys.executable).with_name("evpn-boot"))


def test_checked_in_systemd_dir_matches_the_templates() -> None:
    expected = source_tree_files()
    on_disk = {str(p.relative_to(REPO / "systemd")): p.read_text()
               for p in (REPO / "systemd").rglob("*") if p.is_file()}
    assert on_disk == expected, "systemd/ is stale: run scripts/render-units"


def _write(tmp_path: Path, files: list, *, kubelet: bool = True) -> list[str]:  # type: ignore[type-arg]
    names = []
    for f in files:
        name = f.path.split("/etc/systemd/system/", 1)[-1]
        if f.path.startswith("/etc/systemd/system/"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(f.content)
            if "/" not in name:
                names.append(name)
    if kubelet:  # a stand-in kubelet, so its drop-in is loaded and checked too
        (tmp_path / "kubelet.service").write_text(
            "[Unit]\nDescription=kubelet stand-in\n[Service]\nExecStart=/bin/true\n")
        names.append("kubelet.service")
    return names


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_units_pass_systemd_analyze_verify(tmp_path: Path, mode: Mode, example: Path) -> None:
    config = load_config(example).config
    params = unit_params(config, mode=mode, bin_path=EVPN_BOOT)
    names = _write(tmp_path, render_units(params, quadlet=False))
    assert set(names) == {"evpn-boot.service", "evpn-boot-frr.service", "kubelet.service"}
    result = systemd_verify(tmp_path, *names)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr   # warnings count as failures


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a bad directive produces output."""
    files = render_units(unit_params(bin_path=EVPN_BOOT), quadlet=False)
    broken = [type(f)(f.path, f.mode, f.content.replace("Type=notify", "Type=notifyy"))
              for f in files]
    names = _write(tmp_path, broken, kubelet=False)
    result = systemd_verify(tmp_path, *names)
    assert "notifyy" in result.stderr


def test_kubelet_dropin_orders_without_binding(tmp_path: Path) -> None:
    dropin = next(f for f in render_units(unit_params()) if "kubelet.service.d" in f.path)
    directives = [line for line in dropin.content.splitlines()
                  if line and not line.startswith("#")]
    assert directives == ["[Unit]", "Wants=evpn-boot.service", "After=evpn-boot.service",
                          "[Service]",
                          'Environment="EVPN_BOOT_KUBELET_ARGS=--node-labels='
                          'evpn-boot.io/gate=supervising"']


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.replace("\\\n", " ").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_service_directives(tmp_path: Path) -> None:
    native = _directives(next(f.content for f in render_units(unit_params())
                              if f.path == SERVICE))
    assert native["Type"] == ["notify"]
    assert native["ExecStart"] == ["/usr/bin/evpn-boot --config /etc/evpn-boot/config.toml run"]
    assert native["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert native["Restart"] == ["on-failure"]
    assert native["KillMode"] == ["mixed"]
    assert "kubelet.service" in native["Before"][0]
    assert "crio.service" in native["Before"][0]
    assert "containerd.service" in native["Before"][0]
    # No mount namespace: /run/netns bind mounts must stay visible to the host.
    for key in ("ProtectSystem", "PrivateTmp", "ProtectHome", "PrivateDevices",
                "ProtectKernelModules", "ReadOnlyPaths", "ProtectControlGroups"):
        assert key not in native, key
    container = _directives(next(f.content for f in render_units(
        unit_params(mode=Mode.CONTAINER)) if f.path == SERVICE))
    start = container["ExecStart"][0]
    for flag in ("--sdnotify=container", "--privileged", "--network host", "--pid host",
                 "/run/netns:/run/netns:rshared", "/etc/evpn-boot:/etc/evpn-boot",
                 "/var/lib/evpn-boot:/var/lib/evpn-boot"):
        assert flag in start, flag
    assert container["NotifyAccess"] == ["all"]


def test_start_timeout_follows_the_readiness_timeout(tmp_path: Path) -> None:
    example = (REPO / "examples" / "lab-l3.toml").read_text()
    path = tmp_path / "c.toml"
    path.write_text(example.replace("timeout_s = 120", "timeout_s = 600"))
    params = unit_params(load_config(path).config)
    service = next(f.content for f in render_units(params) if f.path == SERVICE)
    assert "TimeoutStartSec=780s" in service     # 600 + 180
    assert "Wants=sys-subsystem-net-devices-eth1.device" in service


@pytest.mark.parametrize("name", ["eth1", "ens-3", "enp0s31f6", "a:b", ".x", "bond0.100"])
def test_device_unit_escaping_matches_systemd_escape(name: str) -> None:
    tool = require_tool("systemd-escape", "systemd")
    escaped = subprocess.run([tool, name], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert device_unit(name) == f"sys-subsystem-net-devices-{escaped}.device"


def test_frr_unit_and_quadlet_use_the_runtime_container_spec() -> None:
    """The FRR unit, the Quadlet and the runtime agree on the container."""
    runtime = ContainerSpec(name="evpn-boot-frr", image="quay.io/frrouting/frr:10.4.3",
                            netns="perouter", config_dir=Path("/etc/evpn-boot/frr"),
                            restart_policy="no")
    files = {f.path: f.content for f in render_units(
        unit_params(mode=Mode.CONTAINER), quadlet=False)}
    start = _directives(files[FRR_SERVICE])["ExecStart"][0]
    for cap in runtime.capabilities:
        assert f"--cap-add {cap}" in start
    assert f"io.evpn-boot.spec={runtime.digest()}" in start
    assert "--network ns:/run/netns/perouter" in start
    quadlet = _directives(next(f.content for f in render_units(unit_params())
                               if f.path == QUADLET))
    assert quadlet["AddCapability"] == [" ".join(runtime.capabilities)]
    assert f"io.evpn-boot.spec={runtime.digest()}" in quadlet["Label"]
    assert quadlet["Network"] == ["ns:/run/netns/perouter"]
    assert Podman  # the runtime module imported above is the one the daemon uses


def test_package_layout_moves_everything_under_usr() -> None:
    for f in package_layout(render_units(unit_params(), quadlet=False)):
        assert f.path.startswith(("/usr/lib/", "/usr/share/")), f.path


def test_install_units_into_a_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = subprocess.run(
        [EVPN_BOOT, "--config", str(REPO / "examples" / "lab-l3.toml"), "install-units",
         "--root", str(root), "--bin", "/usr/local/bin/evpn-boot"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    service = root / "etc/systemd/system/evpn-boot.service"
    assert "ExecStart=/usr/local/bin/evpn-boot " in service.read_text()
    assert (service.stat().st_mode & 0o777) == 0o644
    assert (root / "etc/systemd/system/kubelet.service.d/10-evpn-boot.conf").is_file()
    assert (root / "etc/modules-load.d/evpn-boot.conf").read_text().count("\nvrf\n") == 1
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        pytest.skip("systemctl not installed")
    enabled = subprocess.run([systemctl, f"--root={root}", "is-enabled", "evpn-boot.service"],
                             capture_output=True, text=True, check=False)
    assert enabled.stdout.strip() == "enabled", enabled
    frr = subprocess.run([systemctl, f"--root={root}", "is-enabled", "evpn-boot-frr.service"],
                         capture_output=True, text=True, check=False)
    assert frr.stdout.strip() == "static"   # started by evpn-boot, never enabled


def test_frr_container_run_print(tmp_path: Path) -> None:
    result = subprocess.run(
        [EVPN_BOOT, "--config", str(REPO / "examples" / "lab-l3.toml"),
         "frr-container", "run", "--print"], capture_output=True, text=True, check=False)
    if result.returncode != 0 and "podman not found" in result.stderr:
        pytest.skip("podman not installed")
    assert result.returncode == 0, result.stderr
    argv = result.stdout.split()
    assert argv[1:3] == ["run", "--replace"]
    assert "--sdnotify=conmon" in argv
    assert argv[-1] == "quay.io/frrouting/frr:10.4.3"


def test_frr_unit_stops_the_container_it_started(tmp_path: Path) -> None:
    """issue 16: ExecStop/ExecStopPost used the default name whatever frr.container_name
    said; they now act on the ID podman recorded at ExecStart."""
    example = (REPO / "examples" / "lab-l3.toml").read_text()
    path = tmp_path / "c.toml"
    path.write_text(example.replace("[readiness]",
                                    '[frr]\ncontainer_name = "my-frr"\n\n[readiness]', 1))
    for params in (unit_params(), unit_params(load_config(path).config),
                   unit_params(load_config(path).config, mode=Mode.CONTAINER)):
        unit = _directives(next(f.content for f in render_units(params, quadlet=False)
                                if f.path == FRR_SERVICE))
        cid = "--cidfile %t/%n.ctr-id"
        assert unit["ExecStartPre"] == ["/bin/rm -f %t/%n.ctr-id"]
        assert cid in unit["ExecStart"][0]
        assert unit["ExecStop"] == [f"-/usr/bin/podman stop --ignore --time 20 {cid}"]
        assert unit["ExecStopPost"] == [f"-/usr/bin/podman rm --force --ignore {cid}"]
        if params.mode is Mode.NATIVE:
            # The packaged unit cannot know the config's netns or config dir.
            assert "ConditionPathExists" not in unit


def test_units_keep_the_hardening(tmp_path: Path) -> None:
    service = _directives(next(f.content for f in render_units(unit_params())
                               if f.path == SERVICE))
    assert service["RuntimeDirectory"] == ["evpn-boot"]
    assert service["RuntimeDirectoryPreserve"] == ["yes"]   # the release record survives
    assert service["StateDirectory"] == ["evpn-boot"]
    assert service["UMask"] == ["0077"]
    for unit in (service, _directives(next(
            f.content for f in render_units(unit_params(), quadlet=False)
            if f.path == FRR_SERVICE))):
        assert "CAP_SYS_TIME" in unit["CapabilityBoundingSet"][0]
        assert "CAP_NET_ADMIN" not in unit["CapabilityBoundingSet"][0]
        assert unit["SystemCallErrorNumber"] == ["EPERM"]
    other = unit_params()
    other = dataclasses.replace(other, run_dir="/srv/run", state_dir="/srv/st")
    moved = next(f.content for f in render_units(other) if f.path == SERVICE)
    assert "RuntimeDirectory" not in moved and "StateDirectory" not in moved


def test_frr_container_run_refuses_before_the_netns_exists(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text((REPO / "examples" / "lab-l3.toml").read_text().replace(
        "[readiness]", '[runtime]\nnetns = "evb-absent-ns"\n\n[readiness]', 1))
    result = subprocess.run([EVPN_BOOT, "--config", str(config), "frr-container", "run",
                             "--cidfile", str(tmp_path / "cid")],
                            capture_output=True, text=True, check=False)
    if "podman not found" in result.stderr:
        pytest.skip("podman not installed")
    assert result.returncode == 1, result.stderr
    assert "/run/netns/evb-absent-ns does not exist yet" in result.stderr
    printed = subprocess.run([EVPN_BOOT, "--config", str(config), "frr-container", "run",
                              "--print", "--cidfile", "/run/x.ctr-id"],
                             capture_output=True, text=True, check=True).stdout
    assert "--cidfile /run/x.ctr-id" in printed


def test_container_unit_creates_every_mount_source_and_passes_the_invocation() -> None:
    """podman refuses a missing bind-mount source, and evpn-boot in its image
    runs FRR through the FRR unit only when it knows it is a service."""
    unit = _directives(next(f.content for f in render_units(unit_params(mode=Mode.CONTAINER))
                            if f.path == SERVICE))
    created = set(unit["ExecStartPre"][0].split()[2:])
    words = unit["ExecStart"][0].split()
    sources = {words[i + 1].split(":")[0] for i, w in enumerate(words) if w == "--volume"}
    # Sockets and /lib/modules exist on every booted host; directories may not.
    sources -= {"/run/systemd", "/run/podman/podman.sock", "/lib/modules"}
    assert sources <= created, sources - created
    assert "/etc/kubernetes" in created
    env = [words[i + 1] for i, w in enumerate(words) if w == "--env"]
    assert "INVOCATION_ID" in env
    # systemctl in a container with the host's PID 1 otherwise ignores "start".
    assert "SYSTEMD_IGNORE_CHROOT=1" in env
