"""compare() on the change corpus (tests/fixtures/changes/): every edit found with its kind,
no change at all on versions that differ only by furniture, and the corpus figures (recall of the
expected kinds, false changes on unchanged pairs) that issue #19's check measures."""

from __future__ import annotations

import functools

import pytest

from indexing.changes.diff import EDIT_KINDS, Change, compare
from tests.indexing.changes.corpus import Pair, articles, pairs

CHANGED = pairs("changed.yaml")
UNCHANGED = pairs("unchanged.yaml")
_BY_NAME = {(file, p.name): p for file, ps in (("changed", CHANGED), ("unchanged", UNCHANGED)) for p in ps}


@functools.cache
def _compared(file: str, name: str, backwards: bool = False) -> tuple[Change, ...]:
    """compare() on one pair (once per test session: the figures reuse the per-pair tests' work)."""
    pair = _BY_NAME[file, name]
    return tuple(compare(pair.new, pair.old) if backwards else compare(pair.old, pair.new))
LANGUAGES = ("en", "de", "ru", "uk", "pl", "fr")


def test_the_corpus_covers_every_kind_and_language() -> None:
    assert {k for p in CHANGED for k in p.expect} == set(EDIT_KINDS)
    langs = {p.new["language"] for p in CHANGED} & {p.new["language"] for p in UNCHANGED}
    assert set(LANGUAGES) <= langs
    assert len(UNCHANGED) >= 40
    assert len(_BY_NAME) == len(CHANGED) + len(UNCHANGED)  # names are unique per file
    assert all(p.old != p.new for p in UNCHANGED if p.name != "identical versions")


@pytest.mark.parametrize("pair", UNCHANGED, ids=lambda p: p.name)
def test_furniture_and_normalisation_are_no_change(pair: Pair) -> None:
    assert [c.to_dict() for c in _compared("unchanged", pair.name)] == []
    assert _compared("unchanged", pair.name, backwards=True) == ()


@pytest.mark.parametrize("pair", CHANGED, ids=lambda p: p.name)
def test_each_edit_gives_its_kinds(pair: Pair) -> None:
    changes = _compared("changed", pair.name)
    assert {c.kind for c in changes} == set(pair.expect), [c.to_dict() for c in changes]
    numbers = [(c.before, c.after, c.before_value, c.after_value) for c in changes if c.kind == "numbers"]
    for expected in pair.numbers:
        assert tuple(expected) in numbers
    assert [c.kind for c in changes] == sorted((c.kind for c in changes), key=EDIT_KINDS.index)


def test_corpus_figures() -> None:
    """The figures the issue's check measures, on this corpus: recall of the expected kinds over
    every changed pair, false changes over every unchanged pair (both directions)."""
    expected = found = 0
    for pair in CHANGED:
        kinds = {c.kind for c in _compared("changed", pair.name)}
        expected += len(pair.expect)
        found += len(set(pair.expect) & kinds)
    false_changes = sum(bool(_compared("unchanged", p.name)) + bool(_compared("unchanged", p.name, True)) for p in UNCHANGED)
    recall = found / expected
    print(f"\nchange corpus: {len(CHANGED)} changed pairs, recall of kinds {recall:.3f} ({found}/{expected}); "
          f"{len(UNCHANGED)} unchanged pairs x 2 directions, false changes {false_changes}")
    assert recall >= 0.95
    assert false_changes == 0


@pytest.mark.parametrize("key", sorted(articles()))
def test_an_article_against_itself_is_no_change(key: str) -> None:
    doc = articles()[key]
    assert compare(doc, doc) == []
    assert compare(doc, dict(doc)) == []
