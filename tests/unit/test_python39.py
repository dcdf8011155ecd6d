"""evpn-boot supports Python 3.9 (RHEL 9's system Python): install and run it there.

Skips when no Python 3.9 interpreter is on the machine.  The venv is cached,
keyed on pyproject.toml, so reruns only reinstall the project itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path("/var/cache/evpn-boot-tests")


def find_python39() -> str | None:
    for candidate in ("python3.9", str(Path.home() / ".pyenv/versions/3.9.18/bin/python")):
        found = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if found:
            done = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"],
                                  capture_output=True, text=True, check=False)
            if done.returncode == 0 and done.stdout.strip() == "(3, 9)":
                return found
    return None


@pytest.mark.slow
def test_install_and_validate_on_python39(tmp_path: Path) -> None:
    python39 = find_python39()
    if python39 is None:
        pytest.skip("no Python 3.9 interpreter on this machine (python3.9 not found)")
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = CACHE / f"py39-{key}"
    if not venv.is_dir():
        # Made under a temporary name, renamed when whole: a run killed halfway
        # leaves nothing the next run would trust.
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = CACHE / f"py39-{key}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([python39, "-m", "venv", str(partial)], check=True)
        partial.rename(venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # Non-editable install of the work tree: exercises the 3.9 code paths (tomli).
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True,
                   capture_output=True)
    subprocess.run([*pip, str(ROOT)], check=True, capture_output=True)
    cli = str(venv / "bin" / "evpn-boot")
    for example in sorted((ROOT / "examples").glob("*.toml")):
        done = subprocess.run([cli, "-c", str(example), "--node-index", "2", "show", "--json"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert '"vtep": "100.65.0.2/32"' in done.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text((ROOT / "examples" / "lab-l3.toml").read_text().replace("vni = 100",
                                                                              "vni = 0"))
    done = subprocess.run([cli, "-c", str(broken), "validate"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "l3vni[0].vni" in done.stderr
    # Every module byte-compiles under 3.9 (catches syntax newer than 3.9 anywhere).
    # compile() without writing .pyc files into the work tree.
    compile_all = ("import pathlib, sys\n"
                   "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.py')):\n"
                   "    compile(p.read_text(), str(p), 'exec')\n")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", compile_all,
                           str(ROOT / "evpn_boot")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
