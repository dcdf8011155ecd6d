"""The VM tier's provisioning scenarios: Ignition (container mode, Debian 13)
and cloud-init (native mode, the .deb), one VM run each (:mod:`tests.vm.provision`).

Each check the guest reports is one test, so a failure names what broke.
Skips, naming what is missing, where qemu/mmdebstrap/root are absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.vm import harness, provision

pytestmark = [pytest.mark.vm, pytest.mark.slow]


def _missing() -> list[str]:
    missing = harness.missing_prerequisites()
    return missing + [t for t in ("mmdebstrap", "losetup", "mkfs.vfat", "mcopy")
                      if shutil.which(t) is None]


@pytest.fixture(scope="module")
def ignition_run() -> Iterator[harness.RunResult]:
    if _missing():
        pytest.skip("provisioning scenarios need: " + ", ".join(_missing()))
    result = provision.run()
    print("\n" + harness.report(result, provision.EXPECTED_IGNITION))
    yield result


@pytest.fixture(scope="module")
def cloud_init_run() -> Iterator[harness.RunResult]:
    if _missing():
        pytest.skip("provisioning scenarios need: " + ", ".join(_missing()))
    result = provision.run_cloud_init()
    print("\n" + harness.report(result, provision.EXPECTED_CLOUD_INIT))
    yield result


@pytest.mark.parametrize("name", provision.EXPECTED_IGNITION)
def test_ignition(ignition_run: harness.RunResult, name: str) -> None:
    got = ignition_run.checks.get(name)
    assert got is not None, f"{name} was not reported (console: {ignition_run.console})"
    assert got["ok"], f"{name}: {got.get('detail')}"


def test_ignition_finished(ignition_run: harness.RunResult) -> None:
    assert not ignition_run.failures(provision.EXPECTED_IGNITION)


@pytest.mark.parametrize("name", provision.EXPECTED_CLOUD_INIT)
def test_cloud_init(cloud_init_run: harness.RunResult, name: str) -> None:
    got = cloud_init_run.checks.get(name)
    assert got is not None, f"{name} was not reported (console: {cloud_init_run.console})"
    assert got["ok"], f"{name}: {got.get('detail')}"


def test_cloud_init_finished(cloud_init_run: harness.RunResult) -> None:
    assert not cloud_init_run.failures(provision.EXPECTED_CLOUD_INIT)
