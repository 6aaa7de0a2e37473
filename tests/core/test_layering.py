"""xrdemo/core is pure: it may import numpy and the standard library only (DESIGN.md)."""

import ast
import sys
from pathlib import Path

import xrdemo.core

CORE = Path(xrdemo.core.__file__).parent
ALLOWED_THIRD_PARTY = {"numpy"}


def imported_roots(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0], 0
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, (node.module or "").split(".")[0], node.level


def test_core_imports_only_numpy_and_stdlib():
    offenders = []
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 5, "core modules not found"
    for f in files:
        for line, root, level in imported_roots(f):
            if level > 0:                   # relative import inside core
                continue
            if root in ALLOWED_THIRD_PARTY or root in sys.stdlib_module_names or root == "__future__":
                continue
            offenders.append(f"{f.name}:{line} imports {root}")
    assert not offenders, "core must stay pure numpy: " + "; ".join(offenders)


def test_core_relative_imports_stay_inside_core():
    for f in sorted(CORE.glob("*.py")):
        for line, root, level in imported_roots(f):
            assert level <= 1, f"{f.name}:{line} reaches outside xrdemo.core"
