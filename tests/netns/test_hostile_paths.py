"""Symlink and planted-file attacks on the directories evpn-boot writes into as root.

Run as a real attack: an unprivileged user (``nobody``, in a forked child that
drops to it with setgid/setuid) plants files in the configured directories
before evpn-boot runs; evpn-boot, as root, must refuse with a clear message and
touch nothing but its own files.  The victim is a root-owned file elsewhere; its
content and inode metadata are compared before and after, and so is every
entry under the scratch tree.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evpn_boot import fsutil
from evpn_boot.errors import EvpnBootError
from evpn_boot.frr import files
from evpn_boot.state import release, store
from evpn_boot.state.model import Ownership
from tests.unit.config_cases import VALID
from tests.unit.test_config_corpus import run_cli

pytestmark = pytest.mark.root

NOBODY = pwd.getpwnam("nobody")
PRECIOUS = b"root's own file, not evpn-boot's\n"


def as_nobody(action: Callable[[], None]) -> None:
    """Run ``action`` in a child process that is user nobody (no root, no capabilities)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged plant failed"


def tree(base: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every entry under ``base``: (mode, uid, size, content or link target)."""
    out: dict[str, tuple[int, int, int, bytes]] = {}
    for root, dirs, names in os.walk(base):
        for name in dirs + names:
            path = Path(root) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(path).encode()
            elif stat.S_ISREG(st.st_mode):
                body = path.read_bytes()
            else:
                body = b""
            out[str(path.relative_to(base))] = (st.st_mode, st.st_uid, st.st_size, body)
    return out


class Arena:
    """A root-owned 0755 directory under /tmp (nobody can enter, not write), the victim
    file inside it, and a directory that belongs to nobody."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="evpn-boot-attack-"))
        self.base.chmod(0o755)
        self.victim = self.base / "victim"
        self.victim.write_bytes(PRECIOUS)
        self.victim.chmod(0o644)
        self.mine = self.base / "nobody"
        self.mine.mkdir(mode=0o755)
        os.chown(self.mine, NOBODY.pw_uid, NOBODY.pw_gid)

    def snapshot(self) -> dict[str, tuple[int, int, int, bytes]]:
        return tree(self.base)


@pytest.fixture
def arena() -> Iterator[Arena]:
    a = Arena()
    try:
        yield a
    finally:
        shutil.rmtree(a.base, ignore_errors=True)


def refused(action: Callable[[], object], fragment: str) -> str:
    with pytest.raises(EvpnBootError) as info:
        action()
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_lock_symlink_in_a_directory_nobody_owns(arena: Arena) -> None:
    run_dir = arena.mine / "run"
    as_nobody(lambda: (run_dir.mkdir(), (run_dir / "lock").symlink_to(arena.victim)))
    before = arena.snapshot()
    message = refused(lambda: store.locked(run_dir).__enter__(), "owned by uid")
    assert str(run_dir) in message
    assert arena.snapshot() == before
    assert arena.victim.read_bytes() == PRECIOUS


def test_lock_symlink_in_a_world_writable_root_directory(arena: Arena) -> None:
    run_dir = arena.base / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)            # a careless admin; nobody plants in it
    as_nobody(lambda: (run_dir / "lock").symlink_to(arena.victim))
    before = arena.snapshot()
    refused(lambda: store.locked(run_dir).__enter__(), "writable by group or others")
    assert arena.snapshot() == before


def test_lock_symlink_left_in_our_own_directory_is_not_followed(arena: Arena) -> None:
    """Even where only root can write, a lock that is a symlink is refused, not truncated."""
    run_dir = arena.base / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "lock").symlink_to(arena.victim)
    refused(lambda: store.locked(run_dir).__enter__(), "is a symlink")
    assert arena.victim.read_bytes() == PRECIOUS


def test_lock_owned_by_another_user_is_refused(arena: Arena) -> None:
    run_dir = arena.base / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "lock").write_text("1\n")
    os.chown(run_dir / "lock", NOBODY.pw_uid, -1)
    refused(lambda: store.locked(run_dir).__enter__(), "owned by uid")


def test_run_dir_that_is_a_symlink_planted_in_a_sticky_directory(arena: Arena) -> None:
    sticky = arena.base / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)            # like /tmp: root-owned, sticky
    target = arena.base / "elsewhere"
    target.mkdir(mode=0o700)
    as_nobody(lambda: (sticky / "run").symlink_to(target))
    before = arena.snapshot()
    refused(lambda: store.locked(sticky / "run").__enter__(), "is a symlink")
    refused(lambda: store.save(sticky / "run", Ownership(netns="x")), "is a symlink")
    refused(lambda: files.ensure_dir(sticky / "run"), "is a symlink")
    assert arena.snapshot() == before


def test_state_dir_below_a_symlink_nobody_owns(arena: Arena) -> None:
    as_nobody(lambda: (arena.mine / "link").symlink_to(arena.base))
    state_dir = arena.mine / "link" / "state"
    before = arena.snapshot()
    refused(lambda: store.save(state_dir, Ownership(netns="x")), "owned by uid")
    assert arena.snapshot() == before


def test_planted_state_and_release_records_are_not_trusted(arena: Arena) -> None:
    state_dir = arena.mine / "state"
    run_dir = arena.mine / "run"

    def plant() -> None:
        state_dir.mkdir()
        (state_dir / "state.json").symlink_to(arena.victim)
        run_dir.mkdir()
        (run_dir / "released.json").write_text('{"released_at": "x", "netns": "y"}')

    as_nobody(plant)
    before = arena.snapshot()
    refused(lambda: store.load(state_dir), "in a directory evpn-boot does not trust")
    refused(lambda: release.load(run_dir), "in a directory evpn-boot does not trust")
    refused(lambda: store.save(state_dir, Ownership(netns="x")), "owned by uid")
    assert arena.snapshot() == before


def test_records_in_our_directories_are_opened_without_following(arena: Arena) -> None:
    """A symlink or a file of another user left in our own directories is refused too."""
    state_dir, run_dir = arena.base / "state", arena.base / "run"
    state_dir.mkdir(mode=0o700)
    run_dir.mkdir(mode=0o700)
    (state_dir / "state.json").symlink_to(arena.victim)
    (run_dir / "released.json").write_text('{"released_at": "x", "netns": "y"}')
    os.chown(run_dir / "released.json", NOBODY.pw_uid, -1)
    message = refused(lambda: store.load(state_dir), "is a symlink")
    assert "teardown --discard-state" in message
    message = refused(lambda: release.load(run_dir), "owned by uid")
    assert "evpn-boot teardown" in message
    assert arena.victim.read_bytes() == PRECIOUS


def test_frr_config_dir_nobody_owns_gets_no_file(arena: Arena) -> None:
    conf_dir = arena.mine / "frr"
    as_nobody(lambda: (conf_dir.mkdir(), (conf_dir / f".frr.conf.{os.getpid()}.tmp")
                       .symlink_to(arena.victim)))
    before = arena.snapshot()
    refused(lambda: files.write(conf_dir / "frr.conf", "secret\n", 0o600), "owned by uid")
    assert arena.snapshot() == before


def test_cli_refuses_with_exit_1_and_changes_nothing(arena: Arena, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = arena.mine / "run"
    as_nobody(lambda: (run_dir.mkdir(), (run_dir / "lock").symlink_to(arena.victim)))
    config = tmp_path / "config.toml"
    config.write_text(VALID.replace('netns = "perouter"',
                                    f'netns = "perouter"\nrun_dir = "{run_dir}"\n'
                                    f'state_dir = "{tmp_path}/state"'))
    before = arena.snapshot()
    code, _, err = run_cli(capsys, "-c", str(config), "teardown")
    assert code == 1, err
    assert str(run_dir) in err and "Traceback" not in err
    assert arena.snapshot() == before
    assert not (tmp_path / "state").exists()


def test_root_owned_symlink_above_the_directory_is_followed(arena: Arena) -> None:
    """/var/run -> /run style links (root's own) keep working."""
    real = arena.base / "real"
    real.mkdir(mode=0o755)
    (arena.base / "alias").symlink_to(real)
    with store.locked(arena.base / "alias" / "run"):
        pass
    made = real / "run"
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE((made / "lock").stat().st_mode) == 0o600


def test_directories_are_created_private_under_any_umask(arena: Arena) -> None:
    previous = os.umask(0)
    try:
        fsutil.ensure_private_dir(arena.base / "a" / "b")
    finally:
        os.umask(previous)
    for path in (arena.base / "a", arena.base / "a" / "b"):
        st = path.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 0)


def test_stale_leftovers_of_dead_runs_are_removed(arena: Arena) -> None:
    """What a SIGKILL left (temp files of dead PIDs, old /tmp check copies) goes at the next
    start; a live run's temp file and another user's directory stay."""
    from evpn_boot.frr import stale
    conf_dir = arena.base / "frr"
    conf_dir.mkdir(mode=0o750)
    child = os.fork()
    if child == 0:  # pragma: no cover - exits at once, so its PID is dead afterwards
        os._exit(0)
    os.waitpid(child, 0)
    dead = conf_dir / f".frr.conf.{child}.tmp"
    live = conf_dir / f".frr.conf.{os.getpid()}.tmp"
    for path in (dead, live):
        path.write_text("neighbor x password s3cret\n")
    tmp = arena.base / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    ours = tmp / f"{stale.LEGACY_CHECK_PREFIX}abc"
    ours.mkdir()
    (ours / "frr.conf").write_text("s3cret\n")
    theirs = tmp / f"{stale.LEGACY_CHECK_PREFIX}def"
    as_nobody(theirs.mkdir)
    removed = stale.stale_temps(conf_dir) + stale.legacy_check_dirs(tmp)
    assert set(removed) == {dead, ours}
    assert live.exists() and theirs.exists() and not dead.exists() and not ours.exists()
