"""The package ladder (RUNGS below; README, "Package layout"), checked on the source: a module imports only from
its own rung or lower ones, and never imports an acn module inside a function.

Every import of every module under src/acn is read with ``ast`` (module level, inside ``if`` /
``try`` / ``TYPE_CHECKING`` blocks, and inside functions), relative imports resolved against the
module's package.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "acn"

# Lowest rung first; a subpackage or module inherits the rung of its top-level name under acn.
RUNGS: dict[str, int] = {
    "errors": 0,
    "utils": 0,
    "connectivity": 1,
    "blocks": 1,
    "wiring": 1,
    "causal": 1,
    "models": 2,
    "data": 3,
    "evaluation": 3,
    "serialization": 3,
    "runs": 3,
    "train": 4,
    "analysis": 5,
    "compress": 5,
    "exits": 5,
    "export": 5,
    "generation": 5,
    "experiments": 6,
    "cli": 7,
}
# acn/__init__.py (the public API) and acn/__main__.py sit above the ladder and may import anything.
TOP = ("acn", "acn.__main__")
TOP_RUNG = max(RUNGS.values()) + 1


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def rung(name: str) -> int:
    """Rung of ``acn`` module ``name``; the bare package ``acn`` is above every rung."""
    parts = name.split(".")
    if name in TOP or len(parts) == 1:
        return TOP_RUNG
    if parts[1] not in RUNGS:
        raise AssertionError(
            f"acn.{parts[1]} is not on the ladder: add it to RUNGS here and to the README's package layout"
        )
    return RUNGS[parts[1]]


def _exists(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def imported_modules(node: ast.Import | ast.ImportFrom, module: str, package: bool) -> list[str]:
    """The acn modules an import statement loads (``from pkg import sub`` names pkg.sub)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "acn"]
    if node.level:
        base = module.split(".")
        if not package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "acn":
        return []
    subs = [f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")]
    # `from acn.x import y` loads acn.x whatever y is; a submodule y adds acn.x.y
    return [target, *subs] if len(subs) < len(node.names) else subs


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []  # (node, in a function)
        self.depth = 0

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        self.found.append((node, self.depth > 0))

    visit_ImportFrom = visit_Import


def _absolute_acn(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "acn" for a in node.names)
    return node.level == 0 and (node.module or "").split(".")[0] == "acn"


def all_imports() -> list[tuple[str, int, str, bool]]:
    """(importing module, line, imported acn module, inside a function) for the whole package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for node, in_function in visitor.found:
            for target in imported_modules(node, module, is_package(path)):
                out.append((module, node.lineno, target, in_function))
    return out


def test_the_scan_sees_the_imports_it_must_judge() -> None:
    """Guards the checker itself: relative and absolute imports of known edges are found."""
    edges = {(m, t) for m, _, t, _ in all_imports()}
    assert ("acn.models.base", "acn.connectivity") in edges  # from ..connectivity import ...
    assert ("acn.models.mlp", "acn.blocks") in edges
    assert ("acn", "acn.compress.cost") in edges  # the exempt public API
    assert len(edges) > 100


def test_no_import_climbs_the_ladder() -> None:
    bad = [
        f"{m}:{line} (rung {rung(m)}) imports {t} (rung {rung(t)})"
        for m, line, t, _ in all_imports()
        if m not in TOP and rung(t) > rung(m)
    ]
    assert not bad, "imports that climb the ladder:\n" + "\n".join(bad)


def test_no_acn_import_inside_a_function() -> None:
    bad = [f"{m}:{line} imports {t} inside a function" for m, line, t, f in all_imports() if f]
    assert not bad, "\n".join(bad)


def test_every_package_is_on_the_ladder() -> None:
    for path in PACKAGE.iterdir():
        if path.name.startswith(("_", ".")) or path.name == "assets":
            continue
        if path.suffix == ".py" or path.is_dir():
            rung(f"acn.{path.stem}")  # raises for a package not in RUNGS


def test_one_import_style_inside_the_package() -> None:
    """The package imports itself relatively everywhere (no mix of ``acn.x`` and ``.x``)."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        bad += [f"{module_name(path)}:{n.lineno}" for n, _ in visitor.found if _absolute_acn(n)]
    assert not bad, "absolute acn imports inside acn: " + ", ".join(bad)


@pytest.mark.parametrize("module", ["acn.cli", "acn.models", "acn.train"])
def test_module_imports_in_a_fresh_interpreter(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
