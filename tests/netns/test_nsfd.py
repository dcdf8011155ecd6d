"""A create killed between making /run/netns/NAME and mounting it leaves a plain
file; it must read as "no namespace" and the next create must take its place.

Found by the SIGKILL test in CI: the next apply failed with "setns: Invalid argument".
"""

from __future__ import annotations

import os
import subprocess

import pytest

from evpn_boot.netlink import nsfd
from tests.support.netns import NetnsFactory, ip, list_netns

pytestmark = pytest.mark.root


def test_half_created_namespace_is_replaced(netns: NetnsFactory) -> None:
    name = netns.name("stale")
    os.makedirs(nsfd.NETNS_RUN_DIR, exist_ok=True)
    with open(nsfd.path(name), "w"):
        pass                                   # what a killed create leaves
    assert not nsfd.exists(name)
    nsfd.create(name)
    assert nsfd.exists(name)
    assert name in list_netns()
    assert "lo" in ip("link", "show", netns=name)   # a real namespace now
    nsfd.delete(name)
    assert not os.path.exists(nsfd.path(name))


def test_exists_is_true_for_a_namespace_made_by_iproute2(netns: NetnsFactory) -> None:
    name = netns("made")
    assert nsfd.exists(name)
    assert not nsfd.exists(name + "-absent")


def test_probe_namespaces_of_killed_runs_are_removed(netns: NetnsFactory) -> None:
    """SIGKILL during preflight leaves its probe namespace (seen: three of them after a
    day of kill tests); the next probe removes those whose creator is gone."""
    from evpn_boot.desired.model import LinkKind
    from evpn_boot.netlink import preflight

    prefix = netns.name("probe") + "-"
    gone_pid = _exited_pid()
    stale, live = f"{prefix}{gone_pid}-abc123", f"{prefix}{os.getpid()}-def456"
    nsfd.create(stale)
    nsfd.create(live)
    try:
        assert preflight.probe_kinds({LinkKind.VXLAN}, scratch_prefix=prefix) == []
        names = [n for n in list_netns() if n.startswith(prefix)]
        assert names == [live], names       # the probe's own namespace is gone too
    finally:
        for name in (stale, live):
            nsfd.delete(name)


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
