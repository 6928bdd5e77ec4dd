"""The change corpus of tests/fixtures/changes/: stored article versions (articles.yaml) and pairs
of versions built from them (changed.yaml: real edits with the kinds they must give;
unchanged.yaml: furniture, normalisation, reordering and cache-busting only, which must give none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from tests.conftest import FIXTURES

DIR = FIXTURES / "changes"


@dataclass(frozen=True)
class Pair:
    name: str
    old: dict[str, Any]
    new: dict[str, Any]
    expect: tuple[str, ...] = ()
    numbers: tuple[tuple[Any, ...], ...] = field(default=())


def _load(name: str) -> Any:
    return yaml.safe_load((DIR / name).read_text(encoding="utf-8"))


def _apply(doc: dict[str, Any], spec: dict[str, Any], prefix: str, where: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for name, edits in (spec.get(prefix + "replace") or {}).items():
        for before, after in edits:
            assert before in out[name], f"{where}: {before!r} is not in {name}"
            out[name] = out[name].replace(before, after, 1)
    for name, (a, b) in (spec.get(prefix + "swap") or {}).items():
        lines = out[name].split("\n")
        i = next(k for k, line in enumerate(lines) if a in line)
        j = next(k for k, line in enumerate(lines) if b in line)
        lines[i], lines[j] = lines[j], lines[i]
        out[name] = "\n".join(lines)
    out.update(copy.deepcopy(spec.get(prefix + "set") or {}))
    return out


def pairs(file: str) -> list[Pair]:
    """The pairs of ``file`` (changed.yaml or unchanged.yaml), each with its two versions."""
    articles = _load("articles.yaml")
    out = []
    for spec in _load(file):
        base = articles[spec["article"]]
        out.append(Pair(
            name=spec["name"],
            old=_apply(base, spec, "old_", spec["name"]),
            new=_apply(base, spec, "", spec["name"]),
            expect=tuple(spec.get("expect") or ()),
            numbers=tuple(tuple(n) for n in spec.get("numbers") or ()),
        ))
    return out


def articles() -> dict[str, dict[str, Any]]:
    return dict(_load("articles.yaml"))
