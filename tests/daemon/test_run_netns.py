"""``evpn-boot run`` as a real process in throwaway namespaces (netns tier).

The "host" is a throwaway netns holding a veth ``eth1`` that stands in for the
underlay NIC (its peer sits in a "fabric" netns); the router netns is created
by evpn-boot and deleted by the fixture.  L2 VNIs only (this kernel has no
VRF); readiness ``applied`` and ``--no-frr``: FRR is covered by the frr tier.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.daemon_proc import NotifyListener, daemon, node_config
from tests.support.netns import NetnsFactory, ip, list_netns

pytestmark = pytest.mark.root


@dataclass
class Node:
    host: str
    router: str
    fabric: str
    workdir: Path
    config: Path

    def write(self, vnis: list[int], **kw: object) -> None:
        self.config.write_text(node_config(host_netns=self.host, router_netns=self.router,
                                           workdir=self.workdir, vnis=vnis,
                                           host_bridge_vni=110, **kw))  # type: ignore[arg-type]

    def links(self, netns: str) -> dict[str, int]:
        """name -> ifindex."""
        out = ip("-o", "link", "show", netns=netns)
        found = {}
        for line in out.splitlines():
            index, name = line.split(":")[0:2]
            found[name.strip().split("@")[0]] = int(index)
        return found


@pytest.fixture
def node(netns: NetnsFactory, tmp_path: Path) -> Iterator[Node]:
    host, fabric = netns("host"), netns("fabric")
    router = netns.name("rt")          # evpn-boot creates it; the factory deletes it
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "leaf0", netns=host)
    ip("link", "set", "leaf0", "netns", fabric, netns=host)
    ip("addr", "add", "192.168.11.3/24", "dev", "eth1", netns=host)
    ip("link", "set", "eth1", "up", netns=host)
    ip("addr", "add", "192.168.11.2/24", "dev", "leaf0", netns=fabric)
    ip("link", "set", "leaf0", "up", netns=fabric)
    made = Node(host, router, fabric, tmp_path, tmp_path / "config.toml")
    made.write([110, 120])
    yield made


def test_sequence_stop_and_adopt(node: Node, notify: NotifyListener, tmp_path: Path) -> None:
    with daemon(node.config, notify, tmp_path / "run1.log") as first:
        ready = first.wait_ready()
        assert notify.compact() == [
            "STATUS:validating configuration",
            "STATUS:preflight checks",
            "STATUS:applying dataplane (2 L2 VNIs, 0 L3 VNIs)",
            "READY",
        ], first.output()
        assert ready["STATUS"].startswith("ready: dataplane converged (")
        assert ready["STATUS"].endswith(
            "2 L2 VNIs, 0 L3 VNIs), FRR not managed (--no-frr), readiness applied")
        assert " 0 operations" not in ready["STATUS"]
        router = node.links(node.router)
        assert {"eth1", "br-pe-110", "vni110", "br-pe-120", "vni120"} <= set(router)
        assert "br-hs-110" in node.links(node.host)
        first.signal(signal.SIGTERM)
        assert first.wait() == 0, first.output()
    assert notify.compact()[-1] == "STOPPING"
    assert notify.messages[-1][1]["STATUS"] == "stopping: dataplane and FRR left in place"

    # Everything stays in place: same links, same ifindexes (nothing recreated).
    assert node.router in list_netns()
    assert node.links(node.router) == router
    mark = len(notify.messages)
    with daemon(node.config, notify, tmp_path / "run2.log") as second:
        ready = second.wait_ready()
        assert "(0 operations, 2 L2 VNIs" in ready["STATUS"], second.output()
        assert node.links(node.router) == router
        second.signal(signal.SIGTERM)
        assert second.wait() == 0
    assert notify.compact(mark)[-2:] == ["READY", "STOPPING"]


def test_drift_is_repaired_while_running(node: Node, notify: NotifyListener,
                                         tmp_path: Path) -> None:
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        proc.wait_ready()
        delays = []
        for round_ in range(1, 4):
            start = time.monotonic()
            ip("link", "del", "vni110", netns=node.router)
            while True:
                links = node.links(node.router)
                if "vni110" in links:
                    break
                assert time.monotonic() - start < 10, proc.output()
                time.sleep(0.005)
            delays.append(time.monotonic() - start)
            # Re-created complete: enslaved to its bridge again.
            detail = ip("-d", "link", "show", "vni110", netns=node.router)
            assert "master br-pe-110" in detail, detail
            time.sleep(0.3)
            assert proc.output().count("dataplane drift repaired") == round_, proc.output()
        print(f"\ndrift repair delays: {', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_sighup_bad_config_keeps_the_running_one(node: Node, notify: NotifyListener,
                                                  tmp_path: Path) -> None:
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        proc.wait_ready()
        good = node.config.read_text()
        node.config.write_text(good.replace("vni = 120", "vni = 0"))
        mark = len(notify.messages)
        proc.signal(signal.SIGHUP)
        rejected = proc.wait_ready(timeout=30)
        assert notify.compact(mark) == ["RELOADING", "READY"]
        assert rejected["STATUS"].startswith("reload rejected: "), rejected
        assert "l2vni[1].vni" in rejected["STATUS"]
        assert "running configuration" in rejected["STATUS"]
        # The old configuration is still the one supervised: drift is repaired to it.
        ip("link", "del", "vni120", netns=node.router)
        deadline = time.monotonic() + 10
        while "vni120" not in node.links(node.router):
            assert time.monotonic() < deadline, proc.output()
            time.sleep(0.01)

        # A valid new configuration is applied on the next SIGHUP.
        node.write([110, 120, 130])
        mark = len(notify.messages)
        proc.signal(signal.SIGHUP)
        reloaded = proc.wait_ready(timeout=30)
        assert notify.compact(mark) == ["RELOADING", "READY"]
        assert reloaded["STATUS"].startswith("ready: dataplane converged ("), reloaded
        assert "3 L2 VNIs" in reloaded["STATUS"]
        assert "vni130" in node.links(node.router)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_invalid_config_exits_2_and_touches_nothing(node: Node, notify: NotifyListener,
                                                    tmp_path: Path) -> None:
    node.config.write_text(node.config.read_text().replace("asn = 64514", "asn = -1"))
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        assert proc.wait() == 2, proc.output()
        assert notify.compact()[-1].startswith("STATUS:failed: "), notify.compact()
    assert node.router not in list_netns()
    assert "eth1" in node.links(node.host)


def test_missing_underlay_nic_exits_1(node: Node, notify: NotifyListener,
                                      tmp_path: Path) -> None:
    ip("link", "del", "eth1", netns=node.host)
    # run waits for a late NIC (tests/netns/test_late_devices.py); here only briefly.
    node.write([110, 120], runtime_extra="device_timeout_s = 1\n")
    with daemon(node.config, notify, tmp_path / "run.log") as proc:
        assert proc.wait() == 1, proc.output()
    assert "underlay NIC eth1 did not appear within 1s" in (tmp_path / "run.log").read_text()
    assert "READY" not in notify.compact()
    assert not [n for n in list_netns() if n == node.router] or \
        "vni110" not in node.links(node.router)

