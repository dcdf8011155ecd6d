"""A create killed between making /run/netns/NAME and mounting it leaves a plain
file; it must read as "no namespace" and the next create must take its place.

Found by the SIGKILL test in CI: the next apply failed with "setns: Invalid argument".
"""

from __future__ import annotations

import os

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
