"""Dependencies inside provenflow point one way (DESIGN.md, "Layout").

Every module under `provenflow/` is parsed (not imported) and each of its imports of provenflow
is resolved to a layer: the top-level package `provenflow` itself, or the first name under it
(`provenflow.fsm._lifecycle` is in layer `fsm`, `provenflow/cli.py` is layer `cli`). A module
may import its own layer and the layers `ALLOWED` lists for it:

- `errors` and `_gc` (pausing the garbage collector) import nothing of ours; `failure` (a
  leaf) and `fsm` import only those two;
- `flows` and `persistence` import `fsm`, `errors` and `failure`;
- `engine` adds `flows` and `persistence`; `locks` imports `persistence` (and what it may);
  `jobs` adds `engine` and `locks`;
- `verification`, `diagrams` and the top-level `provenflow/__init__.py` import anything but
  `cli`; only `__main__` imports `cli`.

Imports are found anywhere in a module (inside functions and `if TYPE_CHECKING:` too), in the
forms `import provenflow.x`, `from provenflow.x import y`, `from provenflow import x` and
relative imports. A new layer (a new top-level module or subpackage) needs a rule here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "provenflow"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

_BASE = frozenset({"errors", "_gc"})
_DATA = _BASE | {"failure", "fsm"}
_ENGINE = _DATA | {"flows", "persistence", "engine"}
_EVERY_LAYER = frozenset(
    {
        PACKAGE,
        "__main__",
        "_gc",
        "cli",
        "diagrams",
        "engine",
        "errors",
        "failure",
        "flows",
        "fsm",
        "jobs",
        "locks",
        "persistence",
        "verification",
    }
)
_ALL_BUT_CLI = _EVERY_LAYER - {"cli", "__main__"}

ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "_gc": frozenset(),
    "failure": _BASE,
    "fsm": _BASE,
    "flows": _DATA,
    "persistence": _DATA,
    "engine": _ENGINE,
    "locks": _DATA | {"persistence"},
    "jobs": _ENGINE | {"jobs", "locks"},
    "verification": _ALL_BUT_CLI,
    "diagrams": _ALL_BUT_CLI,
    PACKAGE: _ALL_BUT_CLI,
    "cli": _EVERY_LAYER - {"__main__"},
    "__main__": _EVERY_LAYER,
}
"""For each layer, the other layers of provenflow it may import."""


def layer_of(module: str) -> str:
    """Return the layer of a dotted module name under provenflow (`PACKAGE` for the top)."""
    parts = module.split(".")
    assert parts[0] == PACKAGE, module
    return parts[1] if len(parts) > 1 else PACKAGE


def module_name(path: Path) -> tuple[str, bool]:
    """Return the dotted name of the module at `path` and whether it is a package `__init__`."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _is_layer_name(name: str) -> bool:
    return (
        name in _EVERY_LAYER
        or (PACKAGE_DIR / name).is_dir()
        or (PACKAGE_DIR / f"{name}.py").is_file()
    )


def _from_import_targets(node: ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Return the provenflow modules a `from ... import ...` statement reaches (maybe none)."""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level - 1 >= len(package):
            return [f"<relative import beyond {PACKAGE}>"]
        base = package[: len(package) - (node.level - 1)]
        if node.module:
            base = [*base, *node.module.split(".")]
    elif node.module and node.module.split(".")[0] == PACKAGE:
        base = node.module.split(".")
    else:
        return []
    if len(base) > 1:
        return [".".join(base)]
    # `from provenflow import x`: x is a layer (a submodule) or a name of the top package.
    return [
        f"{PACKAGE}.{alias.name}" if _is_layer_name(alias.name) else PACKAGE for alias in node.names
    ]


def imported_modules(
    module: str, source: str, *, is_package: bool = False
) -> list[tuple[int, str]]:
    """Return (line, provenflow module) for every import of provenflow in `source`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.split(".")[0] == PACKAGE
            )
        elif isinstance(node, ast.ImportFrom):
            found.extend(
                (node.lineno, target) for target in _from_import_targets(node, module, is_package)
            )
    return sorted(found)


def find_violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Return one message per import in `source` that breaks the direction rules."""
    layer = layer_of(module)
    if layer not in ALLOWED:
        return [f"{module}: layer {layer!r} has no rule in ALLOWED; add one (see DESIGN.md)"]
    problems = []
    for line, target in imported_modules(module, source, is_package=is_package):
        if target.startswith("<"):
            problems.append(f"{module}:{line}: {target}")
            continue
        target_layer = layer_of(target)
        if target_layer != layer and target_layer not in ALLOWED[layer]:
            allowed = ", ".join(sorted(ALLOWED[layer])) or "nothing of provenflow"
            problems.append(
                f"{module}:{line}: {layer!r} may not import {target} "
                f"(layer {target_layer!r}); {layer!r} may import: {allowed}"
            )
    return problems


def _package_modules() -> list[Path]:
    return sorted(PACKAGE_DIR.rglob("*.py"))


def test_the_package_has_modules() -> None:
    names = {module_name(path)[0] for path in _package_modules()}
    assert {"provenflow", "provenflow.errors", "provenflow.fsm", "provenflow.cli"} <= names


@pytest.mark.parametrize(
    "path", _package_modules(), ids=lambda path: str(path.relative_to(PACKAGE_DIR.parent))
)
def test_module_imports_point_one_way(path: Path) -> None:
    module, is_package = module_name(path)
    source = path.read_text(encoding="utf-8")
    assert find_violations(module, source, is_package=is_package) == []


# The checker itself, on made-up modules.


@pytest.mark.parametrize(
    ("module", "is_package", "source", "bad_target"),
    [
        ("provenflow.errors", False, "from provenflow.fsm import LIFECYCLES", "provenflow.fsm"),
        ("provenflow.fsm.task", False, "import provenflow.engine.core", "provenflow.engine.core"),
        ("provenflow.fsm.task", False, "from ..engine import run", "provenflow.engine"),
        ("provenflow.fsm", True, "from .. import flows", "provenflow.flows"),
        ("provenflow.fsm", True, "from provenflow import Task", "provenflow"),
        ("provenflow.flows.atom", False, "from provenflow import engine", "provenflow.engine"),
        ("provenflow.persistence", True, "from ..flows import Task", "provenflow.flows"),
        ("provenflow.failure", False, "from provenflow import fsm", "provenflow.fsm"),
        ("provenflow.engine.run", False, "from provenflow.jobs import Board", "provenflow.jobs"),
        (
            "provenflow.locks._sql",
            False,
            "from provenflow.engine import Engine",
            "provenflow.engine",
        ),
        ("provenflow.engine._lease", False, "from provenflow.locks import x", "provenflow.locks"),
        ("provenflow.diagrams.dot", False, "from provenflow import cli", "provenflow.cli"),
        ("provenflow", True, "from .cli import main", "provenflow.cli"),
        ("provenflow.verification", True, "import provenflow.cli", "provenflow.cli"),
        (
            "provenflow.flows.atom",
            False,
            "def later():\n    from provenflow.engine import Engine\n",
            "provenflow.engine",
        ),
    ],
)
def test_checker_catches_a_violation(
    module: str, is_package: bool, source: str, bad_target: str
) -> None:
    problems = find_violations(module, source, is_package=is_package)
    assert len(problems) == 1, problems
    assert f"may not import {bad_target} " in problems[0]
    assert problems[0].startswith(f"{module}:")


@pytest.mark.parametrize(
    ("module", "is_package", "source"),
    [
        ("provenflow.errors", False, "from collections.abc import Iterable\nimport json"),
        ("provenflow.fsm.task", False, "from provenflow.fsm._lifecycle import build_lifecycle"),
        ("provenflow.fsm.task", False, "from ._lifecycle import build_lifecycle"),
        ("provenflow.fsm._bridge", False, "from ..errors import UsageError"),
        ("provenflow.flows.atom", False, "from provenflow import errors, failure, fsm"),
        (
            "provenflow.engine.run",
            False,
            "from ..persistence import Storage\nfrom ..flows import x",
        ),
        ("provenflow.jobs.board", False, "from provenflow.engine import Engine"),
        ("provenflow.jobs.board", False, "from provenflow.locks import open_locks"),
        ("provenflow.locks._sql", False, "from provenflow.persistence._sql_engine import x"),
        ("provenflow.verification.check", False, "import provenflow\nfrom ..engine import core"),
        ("provenflow", True, "from provenflow import fsm\nfrom provenflow.errors import X"),
        ("provenflow.__main__", False, "from provenflow.cli import main"),
        ("provenflow.cli", False, "from provenflow import __version__\nfrom .fsm import x"),
    ],
)
def test_checker_allows_the_permitted_direction(module: str, is_package: bool, source: str) -> None:
    assert find_violations(module, source, is_package=is_package) == []


def test_checker_refuses_a_layer_without_a_rule() -> None:
    problems = find_violations("provenflow.plugins", "import json")
    assert problems == [
        "provenflow.plugins: layer 'plugins' has no rule in ALLOWED; add one (see DESIGN.md)"
    ]


def test_checker_catches_a_relative_import_beyond_the_package() -> None:
    problems = find_violations("provenflow.fsm.task", "from ... import x")
    assert problems == ["provenflow.fsm.task:1: <relative import beyond provenflow>"]


def test_checker_reports_the_line() -> None:
    source = "import json\n\nfrom provenflow.engine import Engine\n"
    (problem,) = find_violations("provenflow.fsm.task", source)
    assert problem.startswith("provenflow.fsm.task:3: 'fsm' may not import provenflow.engine ")
