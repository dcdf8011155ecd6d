"""Sysctls of a namespace, through ``/proc/sys``.

``/proc/sys/net`` shows the network namespace of the thread that opens the
file, so files are opened while this thread is inside the namespace and read
or written after it has left.
"""

from __future__ import annotations

import os
from typing import Optional

from evpn_boot.netlink import nsfd


def _path(key: str) -> str:
    return os.path.join("/proc/sys", key)


def read_many(netns: str, keys: list[str]) -> list[Optional[str]]:
    """Current values; None for a knob this kernel does not have."""
    values: list[Optional[str]] = []
    with nsfd.entered(netns):
        for key in keys:
            try:
                with open(_path(key)) as handle:
                    values.append(handle.read().strip())
            except FileNotFoundError:
                values.append(None)
    return values


def write_many(netns: str, items: list[tuple[str, str]], *,
               optional: frozenset[str] | set[str] = frozenset()) -> None:
    """Write values; keys in ``optional`` may be missing on this kernel."""
    with nsfd.entered(netns):
        for key, value in items:
            try:
                with open(_path(key), "w") as handle:
                    handle.write(value)
            except FileNotFoundError:
                if key not in optional:
                    raise
