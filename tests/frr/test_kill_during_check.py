"""SIGKILL ``evpn-boot apply`` while FRR's parser checks the config: no password left behind.

The real ``apply`` runs against a throwaway host namespace (tests/netns' lab)
with a BGP password file; each round changes ``raw_config`` (a comment) so FRR's
check runs again, waits until bgpd or vtysh is running as apply's child, and
kills apply at a random point of the check.  Afterwards, once one more apply
ran to its end, the password may be in exactly two files: the password file and
the frr.conf in use.  Every file under /tmp, /var/tmp, /dev/shm, /run and the
test's own directory is searched.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evpn_boot.frr.tools import host_has_frr
from tests.netns.test_dataplane import EVPN_BOOT, Lab, lab  # noqa: F401 (fixture)

pytestmark = [pytest.mark.frr, pytest.mark.root,
              pytest.mark.skipif(not host_has_frr(), reason="FRR is not installed on this "
                                                            "host (vtysh, bgpd)")]

KILLS = 20
SEARCHED = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run"))
_FILE_LIMIT = 1024 * 1024


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, cmdline) of the direct children of ``pid``."""
    try:
        ids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = []
    for child in ids:
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out.append((int(child), cmd))
    return out


def files_holding(secret: bytes, roots: list[Path]) -> set[Path]:
    found: set[Path] = set()
    for root in roots:
        for directory, dirs, names in os.walk(root, onerror=lambda _: None):
            if directory == "/run/netns":
                dirs[:] = []
                continue
            for name in names:
                path = Path(directory) / name
                try:
                    if path.is_symlink() or not path.is_file():
                        continue
                    if not 0 < path.stat().st_size <= _FILE_LIMIT:
                        continue
                    if secret in path.read_bytes():
                        found.add(path)
                except OSError:
                    continue
    return found


def test_sigkill_during_frr_check_leaves_no_secret(lab: Lab) -> None:  # noqa: F811
    password = "kill-" + secrets.token_hex(12)
    password_file = lab.tmp / "bgp.pw"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    conf_dir = lab.tmp / "frr"
    text = lab.config.read_text()
    text = text.replace('asn = 64512\n', f'asn = 64512\npassword_file = "{password_file}"\n', 1)
    text = text.replace("[readiness]", f'[frr]\nconfig_dir = "{conf_dir}"\n'
                        f'image = "localhost/evpn-boot-absent-image:0"\n'
                        'raw_config = "! round 0"\n\n[readiness]', 1)
    lab.config.write_text(text)
    lab.cli("apply", "--skip-frr")           # the dataplane, once

    kills = 0
    rounds = 0
    rng = random.Random(16)
    while kills < KILLS:
        rounds += 1
        assert rounds < KILLS * 5, f"only {kills} kills landed in a check in {rounds} rounds"
        lab.config.write_text(lab.config.read_text().replace(
            f'raw_config = "! round {rounds - 1}"', f'raw_config = "! round {rounds}"'))
        proc = subprocess.Popen([*EVPN_BOOT, "-c", str(lab.config), "apply"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        checking = False
        while proc.poll() is None and time.monotonic() < deadline:
            if any("bgpd" in cmd or "vtysh" in cmd for _, cmd in children(proc.pid)):
                checking = True
                break
            time.sleep(0.002)
        if checking:
            time.sleep(rng.uniform(0, 0.03))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        proc.wait(timeout=60)

    # The FRR tools orphaned by the kills finish on their own within moments.
    time.sleep(1.0)
    # The next start removes what the killed runs left (it then fails at the absent
    # image, after FRR's check passed and frr.conf was written).
    final = lab.cli("apply", check=False)
    assert "absent-image" in final.stderr, final.stderr
    assert password not in final.stdout + final.stderr
    holding = files_holding(password.encode(), [*SEARCHED, lab.tmp])
    assert holding == {password_file, conf_dir / "frr.conf"}, holding
    assert not list(conf_dir.glob(".*.tmp"))
    assert (conf_dir / "frr.conf").stat().st_mode & 0o777 == 0o600
    lab.cli("teardown")
