"""The VM tier: the seed lab reproduced end to end at boot, under real systemd.

One VM run (see :mod:`tests.vm.harness`) covers three boots of one overlay;
each check it reports becomes one test here, so a failure names exactly what
broke.  Skips, naming what is missing, where qemu/debootstrap/root are absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vm import harness

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
