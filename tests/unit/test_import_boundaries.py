"""Two rules on evpn_boot's imports: purity, and the package graph.

Purity: config -> desired -> plan and the renderers must stay testable without
root, netlink, podman, systemd or an API server (STYLE.md: pure core, thin
edges).  A pure module may import another evpn_boot module only if that one is
pure too.

The package graph follows the data flow, cli -> daemon/lab -> adapters (and
their helpers: clock, command, fsutil) -> pure core, with no cycle and nothing
importing ``cli``.  :data:`ALLOWED` lists, per
package, what it may import: a whole package, or one pure module of an
effectful package ("state.model").  Every import counts, at module level or in
a function, typing-only ones included.  A new dependency is a decision: it is
made by editing the table, where the cycle check sees it.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "evpn_boot"

PURE = ["config", "rules", "desired", "plan", "provision", "export", "rollout"]

_CORE = {"errors", "templating", "rules", "config", "desired", "plan", "provision", "export",
         "rollout"}
#: Waiting, running a command, safe file access: the effect helpers every adapter uses.
_HELPERS = {"clock", "command", "fsutil"}
#: package -> the packages (or "package.module") it may import.  Layers, top down:
#: cli; daemon and lab (compose); netlink, frr, runtime, systemd, k8s, state
#: (effects); clock, command, fsutil (effect helpers); plan, desired, config,
#: rules, provision, export, templating, errors (pure).
ALLOWED: dict[str, frozenset[str]] = {name: frozenset(deps) for name, deps in {
    "cli": {"daemon", "lab", "netlink", "frr", "runtime", "systemd", "k8s", "state", "metrics",
            *_HELPERS, *_CORE},
    "daemon": {"netlink", "frr", "runtime", "systemd", "k8s", "state", "metrics", *_HELPERS,
               "errors", "config", "desired", "plan"},
    "lab": {"netlink", "frr", "runtime", *_HELPERS, "errors", "templating", "config", "rules",
            "desired"},
    "netlink": {"state", "clock", "errors", "config", "rules", "desired", "plan"},
    "frr": {"runtime", "systemd", "state", *_HELPERS, "errors", "templating", "config",
            "desired"},
    "k8s": {"clock", "errors", "desired", "rollout"},
    "rollout": set(),                            # pure: the handoff rollout's decisions
    "state": {"clock", "fsutil", "errors", "desired"},
    "metrics": {"state"},                        # atomic writes of the textfile
    "runtime": {"clock", "command", "errors"},
    "systemd": {"clock", "command", "errors"},
    "command": {"clock"},
    "fsutil": {"errors"},
    "clock": set(),
    "plan": {"desired", "state.model"},          # the ownership record: a pure value
    "provision": {"errors", "templating", "config", "runtime.spec",  # the container spec
                  "k8s.gate"},                                    # the gate's label
    "export": {"config"},
    "desired": {"config", "rules"},
    "config": {"errors", "rules"},
    "rules": set(),
    "templating": set(),
    "errors": set(),
}.items()}
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


def test_no_package_imports_pyroute2_but_netlink() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("**/*.py")
                 if "pyroute2" in {n.split(".")[0] for n in imports_of(p)}
                 and p.relative_to(PACKAGE).parts[0] != "netlink"]
    assert not offenders


# --------------------------------------------------------------- package graph
def package_of(path: Path, root: Path) -> str:
    """``netlink`` for evpn_boot/netlink/wire.py, ``errors`` for evpn_boot/errors.py."""
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_modules(path: Path, root: Path) -> list[tuple[str, int]]:
    """Every evpn_boot module ``path`` imports, as ("pkg.module", line), typing-only too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # "from evpn_boot.state import store" imports the module state.store.
                sub = f"{node.module}.{alias.name}"
                is_module = root.joinpath(*sub.split(".")[1:]).with_suffix(".py").exists()
                names.append(sub if is_module else node.module)
        for name in names:
            parts = name.split(".")
            if parts[0] == "evpn_boot" and len(parts) > 1:
                found.append((".".join(parts[1:]), node.lineno))
    return found


def import_graph(root: Path) -> dict[str, list[tuple[str, str]]]:
    """package -> [(imported "pkg.module", "file:line")] for every import across packages."""
    graph: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(root.glob("**/*.py")):
        source = package_of(path, root)
        for target, line in imported_modules(path, root):
            if target.split(".")[0] != source and target != "__init__":
                where = f"{path.relative_to(root)}:{line}"
                graph.setdefault(source, []).append((target, where))
    return graph


def violations(graph: Mapping[str, list[tuple[str, str]]],
               allowed: Mapping[str, frozenset[str]]) -> list[str]:
    """Each import the table does not allow, as 'file:line imports X (P may not import Q)'."""
    found = []
    for source, edges in sorted(graph.items()):
        permitted = allowed.get(source)
        for target, where in edges:
            package = target.split(".")[0]
            if permitted is None:
                found.append(f"{where}: package {source!r} is not in the table")
            elif not (package in permitted or any(
                    target == entry or target.startswith(entry + ".") for entry in permitted)):
                found.append(f"{where} imports evpn_boot.{target} "
                             f"({source} may not import {package})")
    return found


def find_cycle(allowed: Mapping[str, frozenset[str]]) -> list[str]:
    """A cycle among the packages of the table ([] when there is none)."""
    edges = {pkg: {dep.split(".")[0] for dep in deps} for pkg, deps in allowed.items()}
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(pkg: str) -> list[str]:
        state[pkg] = 1
        path.append(pkg)
        for dep in sorted(edges.get(pkg, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[pkg] = 2
        return []

    for pkg in sorted(edges):
        if pkg not in state and (cycle := visit(pkg)):
            return cycle
    return []


def test_every_import_follows_the_package_table() -> None:
    assert not violations(import_graph(PACKAGE), ALLOWED), \
        "\n".join(violations(import_graph(PACKAGE), ALLOWED))


def test_the_table_has_no_cycle() -> None:
    assert find_cycle(ALLOWED) == []


def test_nothing_imports_the_cli() -> None:
    assert not [pkg for pkg, deps in ALLOWED.items() if "cli" in deps]


def test_every_package_is_in_the_table() -> None:
    packages = {package_of(p, PACKAGE) for p in PACKAGE.glob("**/*.py")} - {"__init__"}
    assert packages == set(ALLOWED)


def test_the_pure_core_imports_only_the_pure_core() -> None:
    for package in _CORE:
        assert {dep.split(".")[0] for dep in ALLOWED[package]
                if "." not in dep} <= _CORE, package


def _tree_with(tmp_path: Path, module: str, source: str) -> Path:
    root = tmp_path / "evpn_boot"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / module).write_text(source)
    return root


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("config/upward.py", "from evpn_boot.daemon import service\n",
     "config/upward.py:1 imports evpn_boot.daemon.service (config may not import daemon)"),
    ("plan/upward.py", "def later() -> None:\n    from evpn_boot.netlink import engine\n",
     "plan/upward.py:2 imports evpn_boot.netlink.engine (plan may not import netlink)"),
    ("lab/upward.py", "import evpn_boot.cli.main\n",
     "lab/upward.py:1 imports evpn_boot.cli.main (lab may not import cli)"),
    ("desired/upward.py", "from evpn_boot.state.store import locked\n",
     "desired/upward.py:1 imports evpn_boot.state.store (desired may not import state)"),
])
def test_the_checker_fails_on_an_injected_upward_import(tmp_path: Path, module: str,
                                                        source: str, expected: str) -> None:
    root = _tree_with(tmp_path, module, source)
    assert violations(import_graph(root), ALLOWED) == [expected]


def test_the_checker_allows_one_pure_module_but_not_its_package(tmp_path: Path) -> None:
    root = _tree_with(tmp_path, "plan/ok.py", "from evpn_boot.state.model import Ownership\n")
    assert violations(import_graph(root), ALLOWED) == []
    root = _tree_with(tmp_path / "2", "plan/bad.py", "from evpn_boot.state import store\n")
    assert violations(import_graph(root), ALLOWED) == [
        "plan/bad.py:1 imports evpn_boot.state.store (plan may not import state)"]


def test_the_cycle_check_finds_a_cycle() -> None:
    table = {**ALLOWED, "config": frozenset({"errors", "rules", "desired"})}
    assert find_cycle(table) == ["config", "desired", "config"]
    assert find_cycle({"a": frozenset({"b.x"}), "b": frozenset({"c"}),
                       "c": frozenset({"a"})}) == ["a", "b", "c", "a"]
