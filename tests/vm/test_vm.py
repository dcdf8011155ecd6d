"""The VM tier: the seed lab reproduced end to end at boot, under real systemd.

One VM run (see :mod:`tests.vm.harness`) covers three boots of one overlay;
each check it reports becomes one test here, so a failure names exactly what
broke.  Skips, naming what is missing, where qemu/debootstrap/root are absent.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import harness, qmp

vm = pytest.mark.vm


@pytest.fixture(scope="module")
def vm_run() -> Iterator[harness.RunResult]:
    missing = harness.missing_prerequisites()
    if missing:
        pytest.skip("VM tier needs: " + ", ".join(missing))
    result = harness.run()
    print("\n" + harness.report(result))
    yield result


@vm
@pytest.mark.slow
@pytest.mark.parametrize("name", harness.EXPECTED_CHECKS)
def test_check(vm_run: harness.RunResult, name: str) -> None:
    got = vm_run.checks.get(name)
    assert got is not None, f"{name} was not reported (console: {vm_run.console})"
    assert got["ok"], f"{name}: {got.get('detail')}"


@vm
def test_no_other_check_failed(vm_run: harness.RunResult) -> None:
    extra = {n: c.get("detail") for n, c in vm_run.checks.items()
             if n not in harness.EXPECTED_CHECKS and not c.get("ok")}
    assert not extra


@vm
def test_scenario_finished(vm_run: harness.RunResult) -> None:
    assert vm_run.finished, f"the guest never reported the end (console: {vm_run.console})"


def test_console_parsing() -> None:
    """The host reads results from a noisy serial log: marked lines only, last one wins."""
    result = harness.RunResult()
    harness.parse_console(
        "[  3.1] random kernel line\n"
        'evpn-e2e[1]: EVPN-E2E {"kind": "check", "name": "a", "ok": false, "detail": "x"}\n'
        'EVPN-E2E {"kind": "check", "name": "a", "ok": true}\n'
        'EVPN-E2E {"kind": "metric", "name": "boot1.ready_s", "value": 12.5}\n'
        "EVPN-E2E {broken json\n"
        'EVPN-E2E {"kind": "done"}\n', result)
    assert result.checks["a"]["ok"] is True
    assert result.metrics == {"boot1.ready_s": 12.5}
    assert result.finished
    assert any(f.startswith("boot1.ready: not reported") for f in result.failures())


def test_qmp_hotplug_request_and_phases() -> None:
    """The hot-plug is asked for by one marked line; skipping ahead drops earlier checks."""
    assert not harness.hotplug_requested('evpn-e2e: hotplug-request\nEVPN-E2E {"kind": "x"}\n')
    assert harness.hotplug_requested(
        'noise\nevpn-e2e-hotplug[9]: EVPN-E2E {"kind": "hotplug-request", "mono": 41.2}\n')
    only = harness.expected_checks("hotplug")
    assert "provision.package" in only and "hotplug.ready-after-nic" in only
    assert not any(c.startswith(("boot1.", "boot2.", "degraded.")) for c in only)
    assert harness.expected_checks() == harness.EXPECTED_CHECKS


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                    reason="needs qemu-system-x86_64")
def test_qmp_hotplug_nic(tmp_path: Path) -> None:
    """The harness's QMP hot-plug against a real (paused, diskless) qemu: the NIC is
    on the PCI bus with the MAC the guest matches, on the hub of the cold NIC."""
    sock = tmp_path / "qmp.sock"
    proc = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", "tcg", "-S", "-nodefaults", "-display", "none",
         "-machine", "pc", "-qmp", f"unix:{sock},server=on,wait=off",
         "-netdev", "hubport,id=cold0,hubid=0",
         "-device", f"virtio-net-pci,netdev=cold0,mac={harness.COLD_NIC_MAC}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        harness.hotplug_underlay_nic(sock)
        with qmp.Qmp(sock) as mon:
            mac = mon.command("qom-get", path="/machine/peripheral/hotnic0", property="mac")
            net = mon.command("human-monitor-command", **{"command-line": "info network"})
            with pytest.raises(qmp.QmpError, match="hot0"):
                mon.command("netdev_add", type="hubport", id="hot0", hubid=0)
    finally:
        proc.kill()
        proc.wait()
    assert mac == harness.HOT_NIC_MAC
    # Both NICs' hub ports on hub 0: the leaf and the node share one wire.
    hub0 = net.split("hub 0", 1)[1].split("\nhub ", 1)[0] if "hub 0" in net else ""
    assert "cold0" in hub0 and "hot0" in hub0, net
