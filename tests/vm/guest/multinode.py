"""Guest side, boot1: a second evpn-boot node beside the systemd one (issue 13).

Node 1 is the real service (``perouter``, host namespace ``evlab-host``, its
speaker AS 64515 announcing 10.244.0.0/24).  Node 2 is built here with
``evpn-boot apply`` (router namespace ``perouter2``, host namespace
``evlab-host2``, index 2, VTEP 100.65.0.2), its own speaker also AS 64515
announcing 10.244.1.0/24, and an L2 VNI 110 with an anycast gateway in VRF red
(10.110.0.1/24) and a host on it.  Both hang off the lab's leaf, whose VRF red
routes the remote host.  Everything node 2 made is removed at the end, so the
next boots see the scenario they always saw.  Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

HOST2, POD2, L2H, ROUTER2 = "evlab-host2", "evlab-pod2", "evlab-l2h", "perouter2"
POD1, POD2_IP, L2_HOST, REMOTE_IP = "10.244.0.6", "10.244.1.6", "10.110.0.10", "192.168.10.1"
NODE2_UL, LEAF2_UL = "192.168.13.3", "192.168.13.2"
CONF_DIR = Path("/etc/evpn-boot-node2")
SPEAKER_DIR = Path("/run/evpn-e2e/speaker2")
CONTAINER2 = "evpn-boot-frr-node2"

NODE2_TOML = """
[node]
index = 2
name = "node2"
[runtime]
netns = "{router}"
host_netns = "{host}"
state_dir = "/var/lib/evpn-boot-node2"
run_dir = "/run/evpn-boot-node2"
[frr]
image = "{image}"
config_dir = "{conf_dir}/frr"
container_name = "{container}"
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
nic = "eth1"
[[underlay.neighbors]]
address = "{leaf}"
asn = 64512
[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
host_asn = 64515
[[l2vni]]
vni = 110
vrf = "red"
host_bridge = true
gateway_ips = ["10.110.0.1/24"]
[readiness]
require = "applied"
[handoff]
enabled = false
"""

SPEAKER2 = """frr defaults datacenter
hostname speaker2
router bgp 64515
 bgp router-id 10.244.1.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.169.10.1 remote-as 64514
 address-family ipv4 unicast
  neighbor 192.169.10.1 activate
  network 10.244.1.0/24
 exit-address-family
exit
"""

Sh = Callable[..., "subprocess.CompletedProcess[str]"]


def _ip(sh: Sh, netns: str, *args: str) -> None:
    sh("ip", "-n", netns, *args, check_rc=True)


def wire(sh: Sh) -> None:
    """Node 2's host side, its pod, the L2 host, and the leaf's second leg."""
    for ns in (HOST2, POD2, L2H):
        sh("ip", "netns", "add", ns, check_rc=True)
        _ip(sh, ns, "link", "set", "lo", "up")
    sh("ip", "-n", "evlab-leaf", "link", "add", "to-node2", "type", "veth", "peer", "name",
       "eth1", "netns", HOST2, check_rc=True)
    _ip(sh, "evlab-leaf", "addr", "add", f"{LEAF2_UL}/24", "dev", "to-node2")
    _ip(sh, "evlab-leaf", "link", "set", "to-node2", "up")
    _ip(sh, HOST2, "addr", "add", f"{NODE2_UL}/24", "dev", "eth1")
    _ip(sh, HOST2, "link", "set", "eth1", "up")
    _ip(sh, HOST2, "link", "add", "pod-e0", "type", "veth", "peer", "name", "eth0",
        "netns", POD2)
    _ip(sh, HOST2, "addr", "add", "10.244.1.1/24", "dev", "pod-e0")
    _ip(sh, HOST2, "link", "set", "pod-e0", "up")
    _ip(sh, POD2, "addr", "add", f"{POD2_IP}/24", "dev", "eth0")
    _ip(sh, POD2, "link", "set", "eth0", "up")
    _ip(sh, POD2, "route", "add", "default", "via", "10.244.1.1")
    for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0"):
        sh("ip", "netns", "exec", HOST2, "sysctl", "-qw", key, check_rc=True)


def plug_l2_host(sh: Sh) -> None:
    """A host on L2 VNI 110, behind node 2's host bridge, routed by the anycast gateway."""
    _ip(sh, HOST2, "link", "add", "l2h-e0", "type", "veth", "peer", "name", "eth0",
        "netns", L2H)
    _ip(sh, HOST2, "link", "set", "l2h-e0", "master", "br-hs-110")
    _ip(sh, HOST2, "link", "set", "l2h-e0", "up")
    _ip(sh, L2H, "addr", "add", f"{L2_HOST}/24", "dev", "eth0")
    _ip(sh, L2H, "link", "set", "eth0", "up")
    _ip(sh, L2H, "route", "add", "default", "via", "10.110.0.1")


def leaf_add_node2(leaf_vtysh_args: list[str], sh: Sh) -> None:
    sh(*leaf_vtysh_args, "-c", "configure terminal", "-c", "router bgp 64512",
       "-c", "neighbor 192.168.13.3 remote-as 64514",
       "-c", "address-family ipv4 unicast", "-c", "neighbor 192.168.13.3 activate",
       "-c", "exit-address-family", "-c", "address-family l2vpn evpn",
       "-c", "neighbor 192.168.13.3 activate", check_rc=True)


def start_speaker2(sh: Sh) -> None:
    SPEAKER_DIR.mkdir(parents=True, exist_ok=True)
    conf = SPEAKER_DIR / "frr.conf"
    conf.write_text(SPEAKER2)
    for path in (SPEAKER_DIR, conf):
        shutil.chown(path, user="frr", group="frr")
    for daemon in ("zebra", "bgpd"):
        sh("ip", "netns", "exec", HOST2, f"/usr/lib/frr/{daemon}", "-d", "-f", str(conf),
           "-i", str(SPEAKER_DIR / f"{daemon}.pid"), "--vty_socket", str(SPEAKER_DIR),
           "-z", str(SPEAKER_DIR / "zserv.api"), "-P", "0",
           "--log", f"file:{SPEAKER_DIR}/{daemon}.log", check_rc=True, timeout=30)


def apply_node2(sh: Sh, image: str) -> subprocess.CompletedProcess[str]:
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    (CONF_DIR / "config.toml").write_text(NODE2_TOML.format(
        router=ROUTER2, host=HOST2, image=image, conf_dir=CONF_DIR, container=CONTAINER2,
        leaf=LEAF2_UL))
    # Not as a service: this process runs under a unit, and evpn-boot would then
    # drive node 1's evpn-boot-frr.service; node 2 runs its own container.
    env = {k: v for k, v in os.environ.items()
           if k not in ("INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM")}
    return subprocess.run(["evpn-boot", "-c", str(CONF_DIR / "config.toml"), "apply"],
                          text=True, capture_output=True, timeout=600, env=env, check=False)


def ping(sh: Sh, netns: str, target: str, wait_s: float = 60,
         source: str = "") -> tuple[bool, float]:
    t0 = time.monotonic()
    extra = ["-I", source] if source else []
    while True:
        proc = sh("ip", "netns", "exec", netns, "ping", "-c", "2", "-i", "0.3", "-W", "2",
                  *extra, target, timeout=30)
        if proc.returncode == 0:
            return True, time.monotonic() - t0
        if time.monotonic() - t0 > wait_s:
            return False, time.monotonic() - t0
        time.sleep(1)


def only_vxlan_on_underlay(sh: Sh, probes: Callable[[], None]) -> tuple[bool, str]:
    """tcpdump on both node legs of the leaf while ``probes`` run: the pings cross
    them inside VXLAN (UDP 4789) only; a filter on ``icmp`` matches the outer
    header, so it sees only ICMP that is not encapsulated."""
    def capture(dev: str, expr: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", "evlab-leaf", "tcpdump", "-nn", "-l",
                                 "-i", dev, *expr.split()], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    caps = [(expr, capture(dev, expr)) for dev in ("to-node", "to-node2")
            for expr in ("icmp", "udp port 4789")]
    time.sleep(2)
    probes()
    time.sleep(1)
    counts = {"icmp": 0, "udp port 4789": 0}
    for expr, cap in caps:
        cap.terminate()
        out, _ = cap.communicate(timeout=20)
        counts[expr] += sum(1 for line in out.splitlines()
                            if (" > " in line and (expr == "icmp" or "VXLAN" in line)))
    bare, vxlan = counts["icmp"], counts["udp port 4789"]
    return bare == 0 and vxlan > 0, f"{vxlan} VXLAN packets, {bare} bare ICMP packets"


def cleanup(sh: Sh) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM")}
    subprocess.run(["evpn-boot", "-c", str(CONF_DIR / "config.toml"), "teardown"], text=True,
                   capture_output=True, timeout=300, env=env, check=False)
    sh("podman", "rm", "--force", "--ignore", "--time", "0", CONTAINER2, timeout=120)
    for pidfile in SPEAKER_DIR.glob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().strip()), 9)
    for ns in (L2H, POD2, HOST2, ROUTER2):
        sh("ip", "netns", "del", ns)


def run(sh: Sh, *, check: Callable[..., bool], metric: Callable[[str, Any], None],
        leaf_vtysh: Callable[[str], str], leaf_vtysh_args: list[str], image: str) -> None:
    try:
        wire(sh)
        start_speaker2(sh)
        leaf_add_node2(leaf_vtysh_args, sh)
        t0 = time.monotonic()
        proc = apply_node2(sh, image)
        metric("boot1.multinode-node2_apply_s", round(time.monotonic() - t0, 1))
        if not check("boot1.multinode-node2-apply", proc.returncode == 0,
                     (proc.stdout + proc.stderr)[-500:]):
            return
        plug_l2_host(sh)
        ok1, t1 = ping(sh, "evlab-pod", POD2_IP, wait_s=120)
        ok2, _ = ping(sh, POD2, POD1, wait_s=30)
        metric("boot1.multinode-pod_to_pod_wait_s", round(t1, 1))
        check("boot1.multinode-pod-to-pod-l3vni", ok1 and ok2,
              f"pod1 -> pod2 {ok1} (after {t1:.1f} s), pod2 -> pod1 {ok2}")
        ok3, _ = ping(sh, "evlab-remote", POD1, wait_s=30)
        ok4, _ = ping(sh, "evlab-remote", POD2_IP, wait_s=60)
        type5 = leaf_vtysh("show bgp l2vpn evpn route type prefix")
        has = {p: f"[5]:[0]:[24]:[{p}]" in type5 for p in ("10.244.0.0", "10.244.1.0",
                                                           "10.110.0.0")}
        route = leaf_vtysh("show ip route vrf red 10.244.1.0/24")
        check("boot1.multinode-remote-to-both-pods", ok3 and ok4 and has["10.244.0.0"]
              and has["10.244.1.0"],
              f"remote -> pod1 {ok3}, -> pod2 {ok4}; leaf type-5 {has}; leaf route to pod2: "
              f"{' '.join(ln.strip() for ln in route.splitlines() if 'via' in ln)[:150]}")
        ok5, t5 = ping(sh, "evlab-remote", L2_HOST, wait_s=60)
        ok6, _ = ping(sh, "evlab-pod", L2_HOST, wait_s=30)
        check("boot1.multinode-l2-host-anycast-gateway", ok5 and ok6 and has["10.110.0.0"],
              f"remote -> L2 host {ok5} (after {t5:.1f} s), pod1 (other node) -> L2 host "
              f"{ok6}; leaf has the gateway subnet's type-5: {has['10.110.0.0']}")

        def probes() -> None:
            for ns, target in (("evlab-pod", POD2_IP), ("evlab-remote", POD2_IP),
                               ("evlab-remote", L2_HOST), ("evlab-pod", L2_HOST)):
                sh("ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", target,
                   timeout=30)
        ok7, detail = only_vxlan_on_underlay(sh, probes)
        check("boot1.multinode-only-vxlan-on-underlay", ok7, detail)
    finally:
        cleanup(sh)
