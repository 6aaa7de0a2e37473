"""The module map in docs/architecture.md holds: every import in the package (at module level and
inside functions) points down the layer table or stays in its layer, and no modules import each
other in a cycle."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xrdemo"
DOC = ROOT / "docs" / "architecture.md"


def modules(package: Path) -> dict[str, Path]:
    out = {}
    for f in package.rglob("*.py"):
        parts = f.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = f
    return out


def imports_of(name: str, path: Path, known: dict) -> set[str]:
    """Every xrdemo module ``name`` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts if path.name == "__init__.py" else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def layer_table(text: str):
    """[(layer, [module prefixes], {allowed layers})] from the doc's table."""
    block = text.split("<!-- layers: the test parses this table -->", 1)[1].split("<!-- /layers -->", 1)[0]
    rows = []
    for line in block.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        layer, mods, allowed = cells
        prefixes = re.findall(r"`([\w.]+)`", mods)
        rows.append((layer, prefixes, {a.strip() for a in allowed.split(",") if a.strip() not in ("—", "")}))
    return rows


def layer_of(module: str, rows) -> str | None:
    """The layer whose module prefix matches longest (the package itself, ``xrdemo``, matches
    only its own ``__init__``)."""
    best, best_len = None, -1
    for layer, prefixes, _ in rows:
        for p in prefixes:
            covers = module == p or ("." in p and module.startswith(p + "."))
            if covers and len(p) > best_len:
                best, best_len = layer, len(p)
    return best


def violations(package: Path, rows) -> list[str]:
    known = modules(package)
    allowed = {layer: set(a) | {layer} for layer, _, a in rows}
    bad = []
    for name, path in sorted(known.items()):
        src = layer_of(name, rows)
        if src is None:
            bad.append(f"{name} is in no layer of docs/architecture.md")
            continue
        for target in sorted(imports_of(name, path, known)):
            dst = layer_of(target, rows)
            if dst not in allowed[src]:
                bad.append(f"{name} ({src}) imports {target} ({dst})")
    return bad


def cycles(package: Path) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    known = modules(package)
    graph = {m: imports_of(m, p, known) for m, p in known.items()}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return out


def test_every_import_follows_the_layer_table():
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    assert len(rows) >= 8, "the layer table in docs/architecture.md was not found"
    bad = violations(PACKAGE, rows)
    assert not bad, "imports against docs/architecture.md:\n" + "\n".join(bad)


def test_core_depends_on_nothing_else_in_the_package():
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    core = [r for r in rows if r[0] == "core"]
    assert core and core[0][2] == set()


def test_no_import_cycles():
    found = cycles(PACKAGE)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "xrdemo"


def test_the_checks_catch_a_cycle_hidden_in_a_function_and_an_upward_import(tmp_path):
    # The shapes the old tree had: net/session.py -> recording.py (the app layer) inside a function,
    # and audio/io.py <-> audio/realtime.py.
    pkg = _write(tmp_path, {
        "xrdemo/__init__.py": "",
        "xrdemo/net/__init__.py": "",
        "xrdemo/net/session.py": "def make_state():\n    from ..recording import build\n",
        "xrdemo/recording.py": "from .net.session import make_state\n",
        "xrdemo/audio/__init__.py": "",
        "xrdemo/audio/io.py": "from .realtime import AHEAD\n",
        "xrdemo/audio/realtime.py": "def f():\n    from .io import Feeder\n",
    })
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    bad = violations(pkg, rows)
    assert any("xrdemo.net.session (net) imports xrdemo.recording (modes)" in b for b in bad), bad
    found = cycles(pkg)
    assert ["xrdemo.audio.io", "xrdemo.audio.realtime"] in found
    assert ["xrdemo.net.session", "xrdemo.recording"] in found


@pytest.mark.parametrize("missing", ["xrdemo.brand_new"])
def test_a_module_outside_every_layer_is_reported(tmp_path, missing):
    pkg = _write(tmp_path, {"xrdemo/__init__.py": "", "xrdemo/brand_new.py": ""})
    rows = [(layer, [p for p in prefixes if p != "xrdemo"], a) for layer, prefixes, a in
            layer_table(DOC.read_text(encoding="utf-8"))]
    assert any(missing in b for b in violations(pkg, rows))
