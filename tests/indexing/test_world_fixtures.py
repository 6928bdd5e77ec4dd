"""The world fixtures (tests/fixtures/crosslingual/world-dev.yaml, world-validation.yaml) follow the
rules their headers state, and the dev set is large enough to choose fusion rules on: the rules
of six rounds were chosen on 14 dev queries per class a and b and did not carry to validation
(benchmarks/README.md, "Search quality on a corpus that looks like the world")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import search_world as world

LANGUAGES = {"de", "en", "fr", "uk", "ru", "pl", "es"}
#: classes a and b need at least this many dev queries each to choose a rule on
MIN_DEV_QUERIES = 30


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("split", ["dev", "validation"])
def test_each_story_is_covered_in_one_to_three_languages_with_three_lookalikes(split: str) -> None:
    data = _load(world.WORLD[split])
    stories, lookalikes = data["stories"], data["lookalikes"]
    for name, langs in stories.items():
        assert 1 <= len(langs) <= 3 and set(langs) <= LANGUAGES, name
        assert all(art["title"].strip() and len(art["body"]) > 200 for art in langs.values()), name
    per_story = Counter(a["story_like"] for a in lookalikes)
    assert {s: per_story[s] for s in stories} == dict.fromkeys(stories, 3)
    for art in lookalikes:
        # same language as the story's coverage, never a copy of it
        assert art["language"] in stories[art["story_like"]], art["title"]
        assert art["title"] not in {a["title"] for a in stories[art["story_like"]].values()}


@pytest.mark.parametrize("split", ["dev", "validation"])
def test_queries_come_in_the_stories_languages_and_two_others(split: str) -> None:
    data = _load(world.WORLD[split])
    stories, queries = data["stories"], data["queries"]
    assert set(queries) == set(stories)
    for name, by_lang in queries.items():
        own = set(stories[name])
        assert own <= set(by_lang), name
        assert len(set(by_lang) - own) >= 2, name
        assert set(by_lang) <= LANGUAGES, name
        for qs in by_lang.values():
            assert qs and all(2 <= len(q.split()) <= 6 for q in qs), (name, qs)


def test_the_dev_set_is_large_enough_to_choose_on() -> None:
    stories, queries = world.stories(world.WORLD["dev"], "world-dev")
    covered: dict[str, set[str]] = {}
    for art in stories:
        if art["story"]:
            covered.setdefault(art["story"], set()).add(art["language"])
    per_class: Counter[str] = Counter()
    for story, by_lang in queries.items():
        langs = covered[story]
        for lang, qs in by_lang.items():
            per_class[("a" if lang in langs else "b") if len(langs) == 1 else "c"] += len(qs)
    assert per_class["a"] >= MIN_DEV_QUERIES and per_class["b"] >= MIN_DEV_QUERIES, per_class
    # every language is the only coverage of at least two stories, and one of two of at least one
    solo = Counter(next(iter(langs)) for langs in covered.values() if len(langs) == 1)
    pairs = Counter(lang for langs in covered.values() if len(langs) == 2 for lang in langs)
    assert all(solo[lang] >= 2 and pairs[lang] >= 1 for lang in LANGUAGES), (solo, pairs)


def test_no_story_of_dev_is_a_story_of_validation() -> None:
    dev, validation = _load(world.WORLD["dev"]), _load(world.WORLD["validation"])
    assert not set(dev["stories"]) & set(validation["stories"])
    titles = {a["title"] for s in validation["stories"].values() for a in s.values()}
    assert not {a["title"] for s in dev["stories"].values() for a in s.values()} & titles
