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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.state import atomic

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
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls(released_at=str(data["released_at"]), netns=str(data["netns"]),
                   frr_container=str(data.get("frr_container", "")),
                   config_digest=str(data.get("config_digest", "")))


def release_path(run_dir: Path) -> Path:
    return run_dir / RELEASE_FILE


def load(run_dir: Path) -> Optional[ReleaseRecord]:
    """The record, or None when this node was not released during this boot."""
    path = release_path(run_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            return ReleaseRecord.from_dict(json.load(handle))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        # Unreadable means "a release happened": starting FRR next to the
        # reconciler's is the worse mistake.  teardown removes the file.
        raise EvpnBootError(f"read release record {path}: {exc} (remove it, or run "
                            f"`evpn-boot teardown`, to carry the node again)",
                            kind=ErrorKind.RUNTIME) from exc


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
        atomic.write_json(path, record.to_dict(), mode=0o644)
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
