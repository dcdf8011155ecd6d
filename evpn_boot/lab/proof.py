"""Prove the lab works: a ping over the overlay and VXLAN seen on the underlay.

``lab up`` is only done when the remote host reaches the pod *and* a capture on
the underlay shows the packets encapsulated with the expected VNI; a lab that
merely started its processes proves nothing.  Parsing tcpdump's text is pure
(:func:`parse_vxlan`) and unit-tested; running ping/tcpdump is here too because
both are plain processes started inside lab namespaces.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass

from evpn_boot.errors import ErrorKind, EvpnBootError

_VXLAN = re.compile(
    r"IP6? (?P<src>[0-9a-fA-F.:]+)\.\d+ > (?P<dst>[0-9a-fA-F.:]+)\.(?P<port>\d+): "
    r"VXLAN\b.*?\bvni (?P<vni>\d+)")
_INNER = re.compile(r"IP6? (?P<src>[0-9a-fA-F.:]+) > (?P<dst>[0-9a-fA-F.:]+): (?P<what>.*)$")
_RTT = re.compile(r"rtt min/avg/max/mdev = [0-9./]+ ms")


@dataclass(frozen=True)
class VxlanPacket:
    """One VXLAN packet as tcpdump printed it (outer addresses, VNI, inner summary)."""

    outer_src: str
    outer_dst: str
    vni: int
    inner: str = ""


def parse_vxlan(text: str) -> list[VxlanPacket]:
    """VXLAN packets in ``tcpdump -n`` output; the inner packet is the line after."""
    packets: list[VxlanPacket] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _VXLAN.search(line)
        if match is None:
            continue
        rest = line[match.end():]
        inner_match = _INNER.search(rest)
        if inner_match is None and i + 1 < len(lines) and not _VXLAN.search(lines[i + 1]):
            inner_match = _INNER.search(lines[i + 1])
        inner = ""
        if inner_match is not None:
            inner = f"{inner_match['src']} > {inner_match['dst']}: {inner_match['what']}"
        packets.append(VxlanPacket(match["src"], match["dst"], int(match["vni"]), inner.strip()))
    return packets


def ping(netns: str, target: str, *, count: int = 3) -> tuple[bool, str]:
    """Ping ``target`` from inside ``netns``: (all answered, rtt summary or error)."""
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", netns, "ping", "-n", "-c", str(count), "-i", "0.2",
             "-W", "1", target], capture_output=True, text=True, timeout=count + 10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    rtt = _RTT.search(done.stdout)
    if rtt is not None:
        return done.returncode == 0, rtt.group(0)
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return done.returncode == 0, lines[-1] if lines else f"ping rc {done.returncode}"


def wait_for_ping(netns: str, target: str, timeout: float) -> tuple[float, str]:
    """Ping until a whole round answers (EVPN routes take seconds); (seconds, rtt)."""
    start = time.monotonic()
    last = ""
    while time.monotonic() - start < timeout:
        ok, last = ping(netns, target, count=1)
        if ok:
            ok, last = ping(netns, target, count=3)
            if ok:
                return time.monotonic() - start, last
        time.sleep(0.5)
    raise EvpnBootError(f"lab: {target} does not answer pings from {netns} after "
                        f"{timeout:.0f}s ({last})", kind=ErrorKind.VERIFY)


def capture_vxlan(netns: str, ifname: str, ping_netns: str, target: str,
                  *, packets: int = 4, timeout: float = 30) -> tuple[list[VxlanPacket], str]:
    """Capture VXLAN on ``ifname`` in ``netns`` while pinging ``target``; (packets, raw text).

    The bound is generous: opening a capture takes the kernel's rtnl lock, which
    a busy machine (namespaces and links being deleted elsewhere) can hold for
    seconds; seen: tcpdump silent for over 10 s on a loaded machine.
    """
    if shutil.which("tcpdump") is None:
        raise EvpnBootError("lab: tcpdump is missing (apt-get install tcpdump)",
                            kind=ErrorKind.PREFLIGHT)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, "tcpdump", "-n", "-l", "-i", ifname, "-c", str(packets),
         "udp", "port", "4789"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_listening(proc, timeout)
        ping(ping_netns, target, count=packets)
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    return parse_vxlan(text), text


def _wait_listening(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """tcpdump says "listening on" on stderr once its socket is open."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()   # read the fd itself: a buffered readline() hides lines
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            if b"listening on" in seen:
                return
    raise EvpnBootError(f"lab: tcpdump did not start: "
                        f"{seen.decode(errors='replace').strip() or 'no output'}")
