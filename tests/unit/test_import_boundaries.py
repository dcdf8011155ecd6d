"""The pure core never imports an effectful library, directly or through another module.

config -> desired -> plan and the renderers must stay testable without root,
netlink, podman, systemd or an API server (STYLE.md: pure core, thin edges).
A pure module may import another evpn_boot module only if that one is pure too.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "evpn_boot"

PURE = ["config", "desired", "plan", "provision", "export"]
EFFECTFUL_MODULES = {"pyroute2", "subprocess", "systemd", "http", "ssl", "socket",
                     "ctypes", "fcntl", "select", "signal", "threading"}
PURE_SUBMODULES = {"urllib.parse"}


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported at run time (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "evpn_boot":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@cache
def effects_of(path: Path) -> tuple[str, ...]:
    """Effectful imports reachable from ``path`` (as 'chain -> module')."""
    found: list[str] = []
    for name in sorted(imports_of(path)):
        if name in PURE_SUBMODULES:
            continue
        if name.split(".")[0] in EFFECTFUL_MODULES:
            found.append(name)
            continue
        target = module_path(name)
        if target is not None and target != path:
            found += [f"{name} -> {chain}" for chain in effects_of(target)]
    return tuple(found)


def pure_modules() -> list[Path]:
    return sorted(p for pkg in PURE for p in (PACKAGE / pkg).glob("**/*.py")
                  if (PACKAGE / pkg).is_dir())


@pytest.mark.parametrize("module", pure_modules(),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_has_no_effectful_imports(module: Path) -> None:
    assert not effects_of(module), \
        f"{module.relative_to(PACKAGE)} reaches effectful imports: {list(effects_of(module))}"


def test_the_pure_packages_exist() -> None:
    assert (PACKAGE / "config").is_dir() and (PACKAGE / "desired").is_dir()
    assert len(pure_modules()) >= 8


def test_the_checker_sees_effects() -> None:
    assert effects_of(PACKAGE / "netlink" / "facts.py"), "facts.py talks netlink"


def test_only_the_netlink_package_imports_pyroute2() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("**/*.py")
                 if "pyroute2" in {n.split(".")[0] for n in imports_of(p)}
                 and p.relative_to(PACKAGE).parts[0] != "netlink"]
    assert not offenders
