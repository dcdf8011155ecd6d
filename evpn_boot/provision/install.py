"""Write rendered files under a root directory and enable units, like ``systemctl enable``.

Enabling is done the way ``systemctl --root`` does it, by creating the
``WantedBy=`` symlink, so it works for an image being built (no running
systemd) and on a live host alike; it never talks to the service manager.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from evpn_boot.errors import EvpnBootError
from evpn_boot.provision.units import RenderedFile

_WANTED_BY = re.compile(r"^WantedBy=(.+)$", re.MULTILINE)


def _write(root: Path, f: RenderedFile) -> Path:
    target = root / f.path.lstrip("/")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f.content)
        os.chmod(tmp, f.mode)
        os.replace(tmp, target)
    except OSError as exc:
        raise EvpnBootError(f"install-units: write {target}: {exc}") from exc
    return target


def install_files(root: Path, files: Iterable[RenderedFile], *,
                  enable: Iterable[str] = ()) -> Iterator[Path]:
    """Write ``files`` under ``root`` and enable the named units; yield what was created."""
    files = list(files)
    for f in files:
        yield _write(root, f)
    for unit in enable:
        source = next((f for f in files if f.path.endswith("/" + unit)), None)
        if source is None:
            raise EvpnBootError(f"install-units: cannot enable {unit}: not among the files")
        for target in _WANTED_BY.findall(source.content):
            for wanted_by in target.split():
                link = root / "etc/systemd/system" / f"{wanted_by}.wants" / unit
                try:
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if link.is_symlink() or link.exists():
                        link.unlink()
                    link.symlink_to(source.path)
                except OSError as exc:
                    raise EvpnBootError(f"install-units: enable {unit}: {exc}") from exc
                yield link
