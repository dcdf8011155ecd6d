"""FRR under evpn-boot-frr.service: when it applies, and that both paths agree on the container."""

from __future__ import annotations

from pathlib import Path

import pytest

from evpn_boot.config.load import load_config
from evpn_boot.desired.derive import NodeFacts, derive
from evpn_boot.frr import lifecycle
from evpn_boot.provision.frr_container import systemd_spec
from evpn_boot.systemd import units

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "l2-only.toml"


def test_unit_started_container_is_adopted_not_recreated() -> None:
    """The digest label written by `evpn-boot frr-container run` (the unit's ExecStart)
    equals the one converge_frr expects in unit mode, so it does not recreate it."""
    desired = derive(load_config(EXAMPLE).config, NodeFacts(hostname="n"))
    rt = desired.runtime
    from_unit = systemd_spec(name=rt.frr_container, image=rt.frr_image, netns=rt.netns,
                             config_dir=str(rt.frr_config_dir))
    assert lifecycle.container_spec(desired, unit=True).digest() == from_unit.digest()
    # ... and the direct path differs (podman restarts it there, systemd does not).
    assert lifecycle.container_spec(desired, unit=False).digest() != from_unit.digest()
    assert lifecycle.container_spec(desired, unit=False).restart_policy == "always"


@pytest.mark.parametrize("case", [
    ("abc", True, True, True),
    ("", True, True, False),      # run by hand (no INVOCATION_ID): evpn-boot runs podman
    ("abc", False, True, False),  # not a booted systemd (a container, a chroot)
    ("abc", True, False, False),  # unit not installed (pip install without install-units)
])
def test_when_the_unit_is_in_charge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    case: tuple[str, bool, bool, bool]) -> None:
    invocation, booted, installed, expected = case
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    if installed:
        (unit_dir / units.FRR_UNIT).write_text("[Service]\nExecStart=/bin/true\n")
    monkeypatch.setattr(units, "UNIT_DIRS", (unit_dir,))
    monkeypatch.setenv("INVOCATION_ID", invocation)
    real_is_dir = Path.is_dir
    monkeypatch.setattr(Path, "is_dir", lambda self: booted if str(self) == "/run/systemd/system"
                        else real_is_dir(self))
    monkeypatch.setattr(units.shutil, "which", lambda name: "/bin/systemctl")
    assert units.manages_frr() is expected
