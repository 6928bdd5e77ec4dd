"""The layout's arrows (DEVELOPERS.md "What may import what"), checked on the source with ast.

- ``indexing/`` (the library) imports nothing from the application layer (``warwatch``), the
  crawler (``crawlers``), the demo, Scrapy, Twisted or Airflow, not even inside a function;
- ``crawlers/`` (the Scrapy project) imports the library, never the application layer, the demo
  or Airflow;
- ``warwatch/`` (the application layer) never imports Airflow or the Scrapy project (it starts
  the crawler through the ``warwatch-crawl`` entry point);
- no function in the library is longer than 60 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

MAX_FUNCTION_LINES = 60

FORBIDDEN = {
    "indexing": {"warwatch", "crawlers", "demo", "scrapy", "twisted", "airflow"},
    "crawlers": {"warwatch", "demo", "airflow"},
    "warwatch": {"crawlers", "scrapy", "twisted", "airflow"},
}


def modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
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
