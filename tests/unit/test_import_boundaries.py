"""The pure core never imports an effectful library or package.

config -> desired -> plan and the renderers must stay testable without root,
netlink, podman, systemd or an API server (STYLE.md: pure core, thin edges).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "evpn_boot"

PURE = ["config", "desired", "plan", "provision", "export"]
EFFECTFUL_MODULES = {"pyroute2", "subprocess", "systemd", "http", "ssl", "socket", "urllib",
                     "ctypes", "fcntl"}
EFFECTFUL_PACKAGES = {"evpn_boot.netlink", "evpn_boot.runtime", "evpn_boot.systemd",
                      "evpn_boot.k8s", "evpn_boot.daemon", "evpn_boot.cli", "evpn_boot.state",
                      "evpn_boot.lab"}
#: Modules of pure packages allowed one effect, with the reason.
ALLOWED = {
    ("config/load.py", "stat"): "reads the config file and checks password file modes",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def pure_modules() -> list[Path]:
    return sorted(p for pkg in PURE for p in (PACKAGE / pkg).glob("**/*.py")
                  if (PACKAGE / pkg).is_dir())


@pytest.mark.parametrize("module", pure_modules(),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_has_no_effectful_imports(module: Path) -> None:
    bad = []
    for name in imports_of(module):
        top = name.split(".")[0]
        if top in EFFECTFUL_MODULES or any(name == p or name.startswith(p + ".")
                                           for p in EFFECTFUL_PACKAGES):
            bad.append(name)
    assert not bad, f"{module.relative_to(PACKAGE)} imports effectful {bad}"


def test_the_pure_packages_exist() -> None:
    assert (PACKAGE / "config").is_dir() and (PACKAGE / "desired").is_dir()
    assert len(pure_modules()) >= 8


def test_only_the_netlink_package_imports_pyroute2() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("**/*.py")
                 if "pyroute2" in {n.split(".")[0] for n in imports_of(p)}
                 and p.relative_to(PACKAGE).parts[0] != "netlink"]
    assert not offenders
