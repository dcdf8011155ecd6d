"""The lab's native FRR command lines: FRR 10's mgmtd gets its own pathspace per
instance and no config file (vtysh hands it zebra's part, as ``vtysh -b`` does)."""

from __future__ import annotations

from pathlib import Path

from evpn_boot.lab import native_frr


def test_without_mgmtd_each_daemon_reads_the_file() -> None:
    args = native_frr.daemon_args("zebra", "evlab-leaf", Path("/r/frr.conf"), Path("/r"), None)
    assert args[:6] == ["ip", "netns", "exec", "evlab-leaf", "/usr/lib/frr/zebra", "-d"]
    assert args[args.index("-f") + 1] == "/r/frr.conf"
    assert "-N" not in args


def test_with_mgmtd_every_daemon_shares_the_instance_pathspace() -> None:
    space = native_frr.pathspace(Path("/run/evpn-boot-lab/frr/leaf"))
    mgmtd = native_frr.daemon_args("mgmtd", "ns", Path("/r/frr.conf"), Path("/r"), space)
    bgpd = native_frr.daemon_args("bgpd", "ns", Path("/r/frr.conf"), Path("/r"), space)
    for args in (mgmtd, bgpd):
        assert args[args.index("-N") + 1] == space
        assert args[args.index("--vty_socket") + 1] == "/r"
    assert "-f" not in mgmtd  # mgmtd 10.3 has no -f: it prints its usage and exits
    assert bgpd[bgpd.index("-f") + 1] == "/r/frr.conf"


def test_pathspace_is_stable_distinct_and_allowed_by_frr() -> None:
    leaf = native_frr.pathspace(Path("/run/lab/frr/leaf"))
    assert leaf == native_frr.pathspace(Path("/run/lab/frr/leaf"))
    assert leaf != native_frr.pathspace(Path("/run/lab/frr/speaker"))
    assert "/" not in leaf and "." not in leaf
