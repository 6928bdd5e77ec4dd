"""Every regular expression the library and the crawler apply to page, feed or sitemap text runs in
bounded time on long adversarial input (tests/redos.py: 100 KB runs of what each pattern repeats).

The patterns are collected, not listed: every compiled pattern held by a module of
``indexing.extraction``, ``indexing.enrich``, ``crawlers`` and the text modules they use (module
globals, class attributes, and lists/tuples/dicts of them), every ``re.<function>("literal", ...)``
call in their source, and the patterns of boilerplate.yaml. A new pattern is covered the day it is
written. Each pattern runs in a worker process that is killed when it takes too long, so a bad
pattern fails this test instead of hanging it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import multiprocessing
import pkgutil
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.redos import attack_strings, worker

PACKAGES = ("indexing.extraction", "indexing.enrich", "indexing.changes", "crawlers")
MODULES = ("indexing.dates", "indexing.urls", "indexing.textfold", "indexing.translit")
#: seconds one pattern may take on all its attack strings (a linear pattern needs well under one;
#: the caption-credit pattern this test was written for needed about half an hour on one of them)
PATTERN_SECONDS = 20.0

Key = tuple[str | bytes, int]

def _modules() -> Iterator[ModuleType]:
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        yield pkg
        for info in pkgutil.walk_packages(pkg.__path__, name + "."):
            yield importlib.import_module(info.name)
    for name in MODULES:
        yield importlib.import_module(name)


def _held(obj: Any, where: str, out: dict[Key, str], depth: int = 0) -> None:
    if isinstance(obj, re.Pattern):
        out.setdefault((obj.pattern, obj.flags), where)
    elif depth < 3 and isinstance(obj, dict):
        for k, v in obj.items():
            _held(v, f"{where}[{k!r}]", out, depth + 1)
    elif depth < 3 and isinstance(obj, list | tuple | set | frozenset):
        for i, v in enumerate(obj):
            _held(v, f"{where}[{i}]", out, depth + 1)


def _literal_calls(module: ModuleType, out: dict[Key, str]) -> None:
    """``re.sub(r"...", ...)`` and the like inside functions (flags: a literal ``re.X`` or none)."""
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str | bytes)):
            continue
        flags = 0
        for arg in [*node.args[1:], *(k.value for k in node.keywords if k.arg == "flags")]:
            for name in re.findall(r"re\.([A-Z]+)", ast.unparse(arg)):
                flags |= int(getattr(re, name, 0))
        pattern = node.args[0].value
        flags = re.compile(pattern, flags).flags  # the flags a compiled copy reports (re.U added)
        out.setdefault((pattern, flags), f"{module.__name__}:{node.lineno} re.{node.func.attr}")


def collect() -> dict[Key, str]:
    from indexing.extraction.cleaning import load_boilerplate

    found: dict[Key, str] = {}
    for module in _modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                for attr, held in vars(value).items():
                    _held(held, f"{module.__name__}.{name}.{attr}", found)
            elif not inspect.ismodule(value):
                _held(value, f"{module.__name__}.{name}", found)
        _literal_calls(module, found)
    for lang, rules in load_boilerplate(str(REPO_ROOT / "config" / "boilerplate.yaml")).items():
        for i, rx in enumerate(rules.patterns):
            found.setdefault((rx.pattern, rx.flags), f"boilerplate.yaml {lang}.patterns[{i}]")
    return found


class _Worker:
    """One process running patterns one after another; replaced after a timeout."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def run(self, key: Key, timeout: float) -> tuple[str, Any]:
        self.conn.send(key)
        if not self.conn.poll(timeout):
            return "timeout", None
        status, value = self.conn.recv()
        return status, value

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            self.conn.send(None)
        self.proc.join(10)
        self.conn.close()


def test_the_collection_finds_the_patterns_it_must() -> None:
    """The walk sees module globals, class attributes, inline calls and boilerplate.yaml."""
    from indexing.extraction import images

    found = collect()
    where = set(found.values())
    assert (images._TRAILING_CREDIT.pattern, images._TRAILING_CREDIT.flags) in found
    assert any(w.startswith("crawlers.") for w in where)
    assert any(w.startswith("indexing.enrich.") for w in where)
    assert any(" re." in w for w in where)  # inline re.sub(r"...") calls
    assert any(w.startswith("boilerplate.yaml") for w in where)
    assert len(found) >= 100


@pytest.mark.slow  # ~20 s of CPU: in `make test`, not in `make test-fast`
def test_the_attack_strings_catch_catastrophic_backtracking() -> None:
    """The former caption-credit pattern (quadratic on a run of separators) is caught: its attack
    strings include a 100 KB run of its leading separator class with no credit after it."""
    old = r"[\s(\[|/–—-]*((?:photo|©)\s*:\s*[^()\[\]]{2,120})[)\]]?\s*$"
    strings = list(attack_strings(old, re.I))
    assert any(len(s) >= 100_000 and set(s) <= set(" \x00") for s in strings)
    assert any(len(s) >= 100_000 and set(s) <= set("|\x00") for s in strings)
    worker_ = _Worker()
    try:
        status, _ = worker_.run((old, re.I), timeout=5.0)
    finally:
        worker_.stop(kill=True)
    assert status == "timeout"


@pytest.mark.slow  # ~20 s of CPU: in `make test`, not in `make test-fast`
def test_every_pattern_applied_to_page_text_runs_in_bounded_time() -> None:
    found = collect()
    slow: list[str] = []
    errors: list[str] = []
    ran = 0
    worker_ = _Worker()
    try:
        for key, where in sorted(found.items(), key=lambda kv: kv[1]):
            status, value = worker_.run(key, PATTERN_SECONDS)
            if status == "timeout":
                slow.append(f"{where}: {key[0]!r} takes over {PATTERN_SECONDS:.0f} s")
                worker_.stop(kill=True)
                worker_ = _Worker()
            elif status == "error":
                errors.append(f"{where}: {value}")
            else:
                ran += value[0]
    finally:
        worker_.stop()
    assert not slow, "patterns that backtrack catastrophically:\n" + "\n".join(slow)
    assert not errors, "\n".join(errors)
    assert ran >= 10 * len(found)  # attack strings were really run, several per pattern
