"""Shared fixtures and tier gating.

Tiers: unit (no marker), ``root`` (netns), ``frr``, ``vm``.  A tier that cannot
run here skips with a reason naming what is missing; it never passes silently.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import netns as netns_support
from tests.support.daemon_proc import NotifyListener


def pytest_sessionstart(session: pytest.Session) -> None:
    if netns_support.is_root() and shutil.which("ip"):
        netns_support.register_session()
        netns_support.sweep()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if netns_support.is_root() and shutil.which("ip"):
        left = netns_support.sweep()
        netns_support.unregister_session()
        if left:
            print(f"\nWARNING: swept namespaces a test left behind: {left}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = None
    if not netns_support.is_root():
        missing = "needs root (network namespaces)"
    elif shutil.which("ip") is None:
        missing = "needs iproute2's ip"
    if missing is None:
        return
    for item in items:
        if any(item.iter_markers(name=m) for m in ("root", "frr", "vm", "newcomer")):
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture
def netns() -> Iterator[netns_support.NetnsFactory]:
    """Factory of throwaway namespaces, all deleted when the test ends."""
    with netns_support.netns_factory() as factory:
        yield factory


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyListener]:
    """The systemd side of ``NOTIFY_SOCKET`` for a daemon under test, closed afterwards."""
    listener = NotifyListener(tmp_path / "notify.sock")
    try:
        yield listener
    finally:
        listener.close()


def require_kernel(kind: str) -> None:
    """Skip unless the kernel can create ``kind`` links (e.g. vrf)."""
    if not netns_support.kernel_supports(kind):
        pytest.skip(f"kernel has no {kind.upper() if kind == 'vrf' else kind} support "
                    f"(ip link add type {kind} fails)")
