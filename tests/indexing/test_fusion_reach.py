"""The echo's reach in hybrid fusion (indexing/embeddings/fusion.py: ``echo_reach``): the surest
candidates' near-duplicates in other languages come up from below the echo's head and from under
the admission bar. Pure functions on hand-made candidates."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.embeddings.fusion import FusionParams, KeywordHit, echo, fuse


def _at(cos: float, axis: int) -> np.ndarray:
    """A unit vector at centred cosine ``cos`` with (1, 0, ...), the rest along its own ``axis``
    (so two of them are as close as their cosines with the first axis make them, ``cos1 * cos2``)."""
    vec = np.zeros(8)
    vec[0], vec[axis] = cos, float(np.sqrt(max(0.0, 1 - cos * cos)))
    return vec


def _ids(ranking: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in ranking]


def _story_under_the_bar() -> tuple[list[KeywordHit], list[tuple[str, float]], dict[str, np.ndarray], dict[str, str]]:
    """A German query for a story covered in German and Russian: the keyword side finds the German
    coverage (some words and an entity, no anchor) among same-language look-alikes; the vector side
    puts the Russian coverage just under half the best neighbour's score (not a hit by the bar),
    beside a Russian look-alike and background pages as close to the query."""
    keyword = [KeywordHit("cov-de", 14.7, frozenset({"entity", "some"}))]
    keyword += [KeywordHit(f"kw{i}", 16.0 - i * 0.1, frozenset({"entity", "some"})) for i in range(12)]
    vector = [("cov-de", 0.125), ("look-de", 0.111), ("look2-de", 0.109), ("cov-ru", 0.061),
              ("look-ru", 0.061), ("bg-ru", 0.060)] + [(f"bg{i}", 0.03) for i in range(20)]
    vectors = {"cov-de": _at(1.0, 1), "cov-ru": _at(0.54, 2), "look-ru": _at(0.2, 3), "bg-ru": _at(0.1, 4),
               "look-de": _at(0.39, 5), "look2-de": _at(0.38, 6)}
    langs = {"cov-de": "de", "look-de": "de", "look2-de": "de", "cov-ru": "ru", "look-ru": "ru", "bg-ru": "ru"}
    langs |= {f"kw{i}": "de" for i in range(12)}
    return keyword, vector, vectors, langs


def test_a_neighbour_under_the_bar_is_admitted_as_the_top_candidates_near_duplicate() -> None:
    keyword, vector, vectors, langs = _story_under_the_bar()
    off = _ids(fuse(keyword, vector, vectors=vectors, languages=langs, params=FusionParams(echo_reach=0)).ranking)
    assert off[0] == "cov-de" and "cov-ru" not in off  # the failure: under the bar, never a hit
    on = _ids(fuse(keyword, vector, vectors=vectors, languages=langs).ranking)  # the defaults
    assert on[0] == "cov-de" and on.index("cov-ru") == 1, on
    # the look-alike and the background page under the bar are not near-duplicates: still no hits
    assert "look-ru" not in on and "bg-ru" not in on
    # never above its source, and the keyword side's hits are all still there
    assert set(off) <= set(on) and len(on) == len(off) + 1


def test_no_reach_without_another_language_or_the_vectors() -> None:
    keyword, vector, vectors, langs = _story_under_the_bar()
    same = {**langs, "cov-ru": "de"}  # a same-language near-duplicate: shared words, not the story
    assert "cov-ru" not in _ids(fuse(keyword, vector, vectors=vectors, languages=same).ranking)
    unknown = {k: v for k, v in langs.items() if k != "cov-ru"}  # its language unknown (kNN in the engine)
    assert "cov-ru" not in _ids(fuse(keyword, vector, vectors=vectors, languages=unknown).ranking)
    assert "cov-ru" not in _ids(fuse(keyword, vector, languages=langs).ranking)  # no vectors


def test_only_the_best_reach_candidates_echo_beyond_the_head() -> None:
    """Beyond the head (``echo_depth``) and from the reserve, only the best ``echo_reach`` are
    sources; a reserve candidate enters the scores only when the echo raises it."""
    sims = {frozenset(("a", "x")): 0.6, frozenset(("b", "y")): 0.6, frozenset(("c", "z")): 0.6,
            frozenset(("a", "r")): 0.6, frozenset(("c", "s")): 0.6}

    def similar(p: str, q: str) -> float | None:
        return sims.get(frozenset((p, q)), 0.0)

    langs = {"a": "en", "b": "de", "c": "fr", "x": "uk", "y": "uk", "z": "uk", "r": "ru", "s": "ru", "t": "ru"}
    base = {"a": 3.0, "b": 2.0, "c": 1.5, "x": 0.3, "y": 0.2, "z": 0.1}
    reserve = {"r": 0.05, "s": 0.04, "t": 0.03}
    params = FusionParams(echo=0.9, echo_depth=3, echo_low=0.35, echo_high=0.6, echo_reach=2)
    scores = dict(base)
    echo(scores, similar, params, langs, reserve)
    # x under a, y under b (both within the reach), z not (c is third); r admitted under a, s not
    # (its source c is beyond the reach), t not (no near-duplicate): the reserve never gains otherwise
    assert scores == pytest.approx({"a": 3.0, "b": 2.0, "c": 1.5, "x": 2.7, "y": 1.8, "z": 0.1, "r": 2.7})
    off = dict(base)
    echo(off, similar, FusionParams(echo=0.9, echo_depth=3, echo_reach=0), langs, reserve)
    assert off == base  # without the reach nothing beyond the head moves, the reserve stays out


def test_the_setting_reaches_the_fusion() -> None:
    from pydantic import ValidationError

    from indexing.fusionsettings import FusionSettings

    assert FusionParams(**FusionSettings(echo_reach=0).model_dump()).echo_reach == 0
    assert FusionSettings().echo_reach == FusionParams().echo_reach == 2
    with pytest.raises(ValidationError):
        FusionSettings(echo_reach=-1)
