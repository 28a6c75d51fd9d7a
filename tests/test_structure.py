"""The source tree's shape: imports point one way (no circles, lazy imports included), no file over 400 lines
and no function over 60."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "core", "datatools", "dcase", "embeddings", "leaderboard", "methods")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, modules: dict) -> set[str]:
    """Project modules `path` imports anywhere in it (a `from package import name` counts the name's module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def test_no_module_imports_itself_through_others():
    modules = _modules()
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    # a package's __init__ re-exports its modules: an edge from a module to its own package's __init__ is
    # the usual `from methods import ...` inside the package, and not a circle of the code's own making
    for m in graph:
        graph[m] = {n for n in graph[m] if not m.startswith(n + ".")}
    circles = set()

    def visit(node, path):
        for nxt in graph[node]:
            if nxt in path:
                cycle = path[path.index(nxt):]
                circles.add(tuple(sorted(cycle)))
            elif len(path) < 8:
                visit(nxt, path + [nxt])

    for m in graph:
        visit(m, [m])
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in sorted(circles))


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules().values() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_function_is_over_60_lines():
    long = {f"{p.relative_to(ROOT)}:{node.name}": node.end_lineno - node.lineno + 1 for p in _modules().values()
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60}
    assert not long, long
