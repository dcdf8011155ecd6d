"""The record that this node was released to the in-cluster reconciler during this boot.

After the handoff the reconciler owns the router namespace and runs its own
FRR.  If evpn-boot is started again before the next reboot (the unit restarts,
an operator runs ``systemctl restart``), it must not start its FRR again or
repair the dataplane: two BGP speakers with the same router ID would fight, and
a "repair" would undo what the reconciler changed.  The record says so.

It lives in ``<run_dir>/released.json``.  ``run_dir`` is ``/run/evpn-boot`` by
default, a tmpfs that is empty after a reboot, when evpn-boot must carry the
node again from scratch.  ``evpn-boot teardown`` removes it.  Written like the
ownership record: temp file, fsync, rename, so a crash leaves either no record
or a whole one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import atomic, store

RELEASE_FILE = "released.json"


@dataclass(frozen=True)
class ReleaseRecord:
    """When and what was released; kept for the STATUS line and for people."""

    released_at: str          # ISO 8601, UTC
    netns: str
    frr_container: str
    config_digest: str

    def to_dict(self) -> dict[str, str]:
        return {"released_at": self.released_at, "netns": self.netns,
                "frr_container": self.frr_container, "config_digest": self.config_digest}

    @classmethod
    def from_dict(cls, data: Any) -> ReleaseRecord:
        """Strict: every field a string, released_at and netns present, nothing else."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        fields = ("released_at", "netns", "frr_container", "config_digest")
        unknown = set(data) - set(fields)
        if unknown:
            raise ValueError(f"unknown keys {', '.join(sorted(map(str, unknown)))}")
        values = {k: data.get(k, "") for k in fields}
        for key, value in values.items():
            if not isinstance(value, str) or len(value) > 256:
                raise ValueError(f"{key} is not a short string")
        if not values["released_at"] or not values["netns"]:
            raise ValueError("released_at or netns is missing")
        return cls(**values)


def release_path(run_dir: Path) -> Path:
    return run_dir / RELEASE_FILE


def load(run_dir: Path) -> Optional[ReleaseRecord]:
    """The record, or None when this node was not released during this boot."""
    path = release_path(run_dir)
    try:
        data = store.read_record(path)
        return None if data is None else ReleaseRecord.from_dict(data)
    except ValueError as exc:
        # Unreadable means "a release happened": starting FRR next to the
        # reconciler's is the worse mistake.  Refused, with the way out.
        raise EvpnBootError(f"release record {path} {exc}: evpn-boot does not trust it.  "
                            f"If this node was not handed off during this boot, remove the "
                            f"file or run `evpn-boot teardown` (which removes it) to carry "
                            f"the node again", kind=ErrorKind.STATE) from None


def released_at(run_dir: Path) -> Optional[str]:
    """When this node was handed over during this boot; None when it was not.

    The rule ``run`` and ``apply`` share: a node released in this boot is the
    reconciler's, and evpn-boot neither converges it nor starts FRR on it.
    """
    record = load(run_dir)
    return None if record is None else record.released_at


def refuse_if_released(run_dir: Path) -> None:
    """Raise (exit 1, naming the record) when the node was released in this boot."""
    since = released_at(run_dir)
    if since is not None:
        # Converging would start a second FRR with our router ID next to the
        # reconciler's own.
        raise EvpnBootError(
            f"this node was handed off to the in-cluster reconciler at {since} "
            f"({release_path(run_dir)}); evpn-boot does not manage it again before the "
            f"next boot. `evpn-boot teardown` takes it back.", kind=ErrorKind.PREFLIGHT)


def save(run_dir: Path, record: ReleaseRecord) -> None:
    path = release_path(run_dir)
    try:
        atomic.write_json(path, record.to_dict(), mode=0o644, dir_mode=0o700)
    except OSError as exc:
        raise EvpnBootError(f"write release record {path}: {exc.strerror or exc}",
                            kind=ErrorKind.RUNTIME) from exc


def clear(run_dir: Path) -> bool:
    """Remove the record; True when there was one."""
    try:
        release_path(run_dir).unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EvpnBootError(f"remove release record {release_path(run_dir)}: "
                            f"{exc.strerror or exc}", kind=ErrorKind.RUNTIME) from exc
    return True
