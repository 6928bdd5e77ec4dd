"""Hybrid fusion (indexing/embeddings/fusion.py) on hand-made candidate lists: pure functions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from indexing.embeddings.fusion import FusionParams, KeywordHit, agreement, anchor, fuse, is_strong


def _ids(ranking: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in ranking]


def test_an_overwhelming_keyword_answer_is_not_overturned_by_a_nearer_look_alike() -> None:
    """The seed case: the keyword side knows the story through its topic tag (every part of the
    query, a tag among them) with a score far above anything else; the small model puts a
    'troops' article of another country nearest to the query."""
    keyword = [KeywordHit("seed", 91.3, frozenset({"complete", "topic", "entity", "some"})),
               KeywordHit("hong-kong", 7.2, frozenset({"some"}))]
    vector = [("hong-kong", 0.109), ("palace", 0.108), ("seed", 0.090)] + [(f"bg{i}", 0.06) for i in range(20)]
    fused = fuse(keyword, vector)
    assert _ids(fused.ranking)[0] == "seed"
    assert not fused.weak


def test_a_look_alike_sharing_words_does_not_overturn_coverage_in_other_languages() -> None:
    """The seven-language case: an English query matches the English coverage (all its words)
    and an English look-alike (some words, weighed ``weak``); the vector side finds the coverage in
    every language, near-duplicates of the English coverage once language means are removed (the
    look-alike is not): the agreement with that anchor keeps the look-alike below all of them."""
    keyword = [KeywordHit("cov-en", 60.0, frozenset({"all", "some"})),
               KeywordHit("look-en", 50.0, frozenset({"some"}))]
    vector = [("cov-de", 0.15), ("cov-fr", 0.14), ("cov-uk", 0.135), ("cov-en", 0.13), ("look-en", 0.10)]
    vector += [(f"bg{i}", 0.05) for i in range(20)]
    near, far = np.asarray([0.7, 0.714]), np.asarray([0.2, 0.98])  # centred cosine with cov-en: 0.7, 0.2
    vectors = {"cov-en": np.asarray([1.0, 0.0]), "cov-de": near, "cov-fr": near, "cov-uk": near, "look-en": far}
    ranking = _ids(fuse(keyword, vector, vectors=vectors).ranking)
    assert ranking[0] == "cov-en"
    assert ranking.index("look-en") > max(ranking.index(c) for c in ("cov-de", "cov-fr", "cov-uk"))


def test_strong_evidence() -> None:
    assert is_strong(frozenset({"all"}), one_concept=False)
    assert is_strong(frozenset({"complete", "topic"}), one_concept=False)
    assert is_strong(frozenset({"complete", "entity", "names"}), one_concept=False)
    # every part only through name skeletons: they collide on real pages
    assert not is_strong(frozenset({"complete", "names"}), one_concept=False)
    assert not is_strong(frozenset({"some", "names", "entity"}), one_concept=False)
    # a one-concept query ("Kursk"): its entity tag, its names or its phrase are the whole query
    assert is_strong(frozenset({"entity"}), one_concept=True)
    assert is_strong(frozenset({"names"}), one_concept=True)
    assert not is_strong(frozenset({"some"}), one_concept=True)


def test_no_good_match_when_neither_side_is_confident() -> None:
    params = FusionParams(vector_confidence=0.09)
    weak_keyword = [KeywordHit("a", 10.0, frozenset({"names", "some"}))]
    assert fuse(weak_keyword, [("b", 0.07), ("a", 0.05)], params=params).weak
    assert not fuse(weak_keyword, [("b", 0.12), ("a", 0.05)], params=params).weak  # the vector side is
    strong = [KeywordHit("a", 10.0, frozenset({"all"}))]
    assert not fuse(strong, [("b", 0.07)], params=params).weak  # the keyword side is
    assert fuse([], [("b", 0.05)], params=params).weak
    # the ranking is still there: the nearest articles
    nearest = fuse([], [("b", 0.08), ("c", 0.07)], params=params)
    assert nearest.weak and _ids(nearest.ranking) == ["b", "c"]


def test_a_neighbour_needs_the_admission_score_unless_the_keyword_side_found_it_too() -> None:
    params = FusionParams(admit=0.06, admit_ratio=0.0)
    keyword = [KeywordHit("k", 5.0, frozenset({"all"})), KeywordHit("low-both", 1.0, frozenset({"some"}))]
    vector = [("near", 0.1), ("far", 0.03), ("low-both", 0.02)]
    ranking = _ids(fuse(keyword, vector, params=params).ranking)
    assert "far" not in ranking
    assert set(ranking) == {"k", "near", "low-both"}


def test_equal_inputs_give_equal_rankings_and_ties_go_by_id() -> None:
    vector = [("b", 0.1), ("a", 0.1), ("c", 0.05)]
    assert _ids(fuse([], vector).ranking) == ["a", "b", "c"]
    assert fuse([], vector).ranking == fuse([], list(reversed(vector))).ranking


def test_each_sides_best_two_are_on_the_first_page() -> None:
    from indexing.embeddings.fusion import first_page

    ranking = [(c, 1.0 - n / 10) for n, c in enumerate("abcdefgh")]
    assert first_page(ranking, ["a", "b"], 3) == ranking  # already there: untouched
    page = first_page(ranking, ["a", "g", "h"], 4)
    assert [i for i, _ in page[:4]] == ["a", "b", "g", "h"]  # c and d, the lowest others, make room
    assert [i for i, _ in page[4:]] == ["c", "d", "e", "f"]
    keyword = [KeywordHit("kw-name", 10.0, frozenset({"names"})), KeywordHit("kw2", 9.0, frozenset({"some"}))]
    vector = [(f"v{i}", 0.2 - i / 100) for i in range(12)]
    fused = fuse(keyword, vector)
    assert {"kw-name", "kw2", "v0", "v1"} <= {i for i, _ in fused.page(4)[:4]}
    # a filter that removes a side's best: the next present one is not raised in its place
    assert "kw-name" not in {i for i, _ in fused.page(4, lambda i: i != "kw-name")}


def test_a_neighbour_needs_half_the_best_neighbours_score() -> None:
    params = FusionParams(admit=0.0, admit_ratio=0.5)
    ranking = _ids(fuse([KeywordHit("k", 1.0, frozenset({"some"}))], [("v1", 0.2), ("v2", 0.11), ("v3", 0.09),
                                                                          ("k", 0.01)], params=params).ranking)
    assert ranking[0] == "v1" and "v2" in ranking and "v3" not in ranking and "k" in ranking


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _story_case() -> tuple[list[KeywordHit], list[tuple[str, float]], dict[str, np.ndarray]]:
    """A story in English and Ukrainian, queried in English: the keyword side has the English
    coverage with every word (the anchor) and an English look-alike sharing some words; the
    vector side ranks the look-alike and a background page above the Ukrainian coverage. Centred
    vectors: the Ukrainian coverage is the anchor's near-duplicate, the others are not."""
    keyword = [KeywordHit("cov-en", 40.0, frozenset({"all", "some"})),
               KeywordHit("look-en", 30.0, frozenset({"some"}))]
    vector = [("cov-en", 0.14), ("look-en", 0.12), ("bg", 0.11), ("cov-uk", 0.08)]
    vector += [(f"far{i}", 0.03) for i in range(10)]
    vectors = {"cov-en": _unit(1, 0, 0), "cov-uk": _unit(0.7, 0.714, 0), "look-en": _unit(0.3, 0, 0.954),
               "bg": _unit(0.05, 0.5, 0.86)}
    return keyword, vector, vectors


def test_coverage_in_another_language_climbs_above_look_alikes_by_agreement_with_the_anchor() -> None:
    keyword, vector, vectors = _story_case()
    without = _ids(fuse(keyword, vector).ranking)
    assert without.index("cov-uk") > without.index("look-en")  # the failure the agreement mends
    ranking = _ids(fuse(keyword, vector, vectors=vectors).ranking)
    assert ranking[:2] == ["cov-en", "cov-uk"], ranking
    # switched off, or with no vectors at all: the fusion as it was
    assert _ids(fuse(keyword, vector, vectors=vectors, params=FusionParams(agreement=0.0)).ranking) == without
    assert _ids(fuse(keyword, vector, vectors={}).ranking) == without


def test_no_anchor_without_strong_evidence() -> None:
    """A hit that shares only some words anchors nothing: its near-duplicates gain nothing."""
    keyword, vector, vectors = _story_case()
    weak_only = [KeywordHit(h.id, h.score, frozenset({"some"})) for h in keyword]
    assert anchor(weak_only, one_concept=False) is None
    assert fuse(weak_only, vector, vectors=vectors).ranking == fuse(weak_only, vector).ranking


def test_the_anchor_is_the_best_scored_strong_hit() -> None:
    keyword = [KeywordHit("weak-top", 50.0, frozenset({"some"})), KeywordHit("strong2", 20.0, frozenset({"all"})),
               KeywordHit("strong1", 30.0, frozenset({"complete", "topic"}))]
    assert anchor(keyword, one_concept=False) == "strong1"
    assert anchor([KeywordHit("kursk", 5.0, frozenset({"entity"}))], one_concept=True) == "kursk"


def test_agreement_ramps_from_low_to_high() -> None:
    params = FusionParams(agreement=1.5, agree_low=0.4, agree_high=0.6)
    assert agreement(0.2, params) == 0.0
    assert agreement(0.4, params) == 0.0
    assert agreement(0.5, params) == pytest.approx(0.75)
    assert agreement(0.6, params) == pytest.approx(1.5)
    assert agreement(0.95, params) == pytest.approx(1.5)
    assert agreement(0.95, FusionParams(agreement=0.0)) == 0.0
    step = FusionParams(agreement=1.0, agree_low=0.5, agree_high=0.5)
    assert agreement(0.49, step) == 0.0 and agreement(0.51, step) == 1.0


def test_centred_unit_vectors_take_away_the_language() -> None:
    """Two articles that differ only by their language's offset are the same once centred."""
    from indexing.embeddings.refine import centred_unit

    story = np.asarray([0.2, 0.9, 0.1], dtype=np.float32)
    offsets = np.asarray([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)  # per language
    data = np.stack([story + offsets[0], story + offsets[1], offsets[0] + [0, 0, 0.3]])
    out = centred_unit(data, np.asarray([0, 1, 0]), offsets)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    assert float(out[0] @ out[1]) == pytest.approx(1.0, abs=1e-6)
    assert float(out[0] @ out[2]) < 0.5


def test_the_matrix_gives_centred_vectors_of_the_ids_it_holds() -> None:
    from indexing.embeddings.matrix import VectorMatrix

    matrix = VectorMatrix("i", "m", 3)
    matrix.load(["a", "b"], np.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), ["en", "uk"])
    got = matrix.centred(["a", "missing", "b", "a"])
    assert sorted(got) == ["a", "b"]
    assert all(np.isclose(np.linalg.norm(v), 1.0) for v in got.values())
    assert matrix.centred(["missing"]) == {}


def test_a_near_duplicate_of_the_anchor_never_overtakes_it() -> None:
    """The article a query names word for word (the anchor) and a same-language rewrite of the
    same event that the vector side ranks higher: the rewrite climbs beside the anchor, not over
    it (every article of the demo site is found first by its own title)."""
    one, dup = np.asarray([1.0, 0.0]), np.asarray([0.9, float(np.sqrt(1 - 0.81))])
    keyword = [KeywordHit("own-title", 30.0, frozenset({"complete", "topic"})),
               KeywordHit("rewrite", 24.0, frozenset({"some"}))]
    vector = [("rewrite", 0.20), ("own-title", 0.15)]
    ranking = _ids(fuse(keyword, vector, vectors={"own-title": one, "rewrite": dup}).ranking)
    assert ranking[:2] == ["own-title", "rewrite"], ranking


def _look_alike_case() -> tuple[list[KeywordHit], list[tuple[str, float]], dict[str, float]]:
    """A story in German queried in English (class b): the keyword side reaches it and an English
    look-alike through the same entity and some words, level (no hit carries the whole query);
    the vector side of title and lead puts them level too. The story's headline is the one that
    says what the query says."""
    keyword = [KeywordHit("look-en", 19.0, frozenset({"entity", "some"})),
               KeywordHit("story-de", 18.6, frozenset({"entity", "some"})),
               KeywordHit("other-en", 17.0, frozenset({"entity", "some"}))]
    vector = [("look-de", 0.104), ("look-en", 0.102), ("story-de", 0.101)] + [(f"bg{i}", 0.06) for i in range(20)]
    titles = {"look-en": 0.04, "story-de": 0.11, "look-de": 0.07, "other-en": 0.02, "bg0": 0.0}
    return keyword, vector, titles


def test_without_an_anchor_the_title_nearest_the_query_lifts_the_story() -> None:
    keyword, vector, titles = _look_alike_case()
    assert anchor(keyword, one_concept=False) is None
    without = _ids(fuse(keyword, vector).ranking)
    assert without[0] == "look-en"  # the failure title closeness mends
    ranking = _ids(fuse(keyword, vector, titles=titles).ranking)
    assert ranking[0] == "story-de", ranking
    # switched off, or no title scores: the fusion as it was
    assert _ids(fuse(keyword, vector, titles=titles, params=FusionParams(title=0.0)).ranking) == without
    assert _ids(fuse(keyword, vector, titles={}).ranking) == without


def test_title_closeness_is_not_used_with_an_anchor() -> None:
    """When a keyword hit carries the whole query the keyword side is sure: titles change nothing."""
    keyword, vector, titles = _look_alike_case()
    sure = [KeywordHit("look-en", 40.0, frozenset({"all", "some"})), *keyword[1:]]
    assert anchor(sure, one_concept=False) == "look-en"
    assert fuse(sure, vector, titles=titles).ranking == fuse(sure, vector).ranking


def test_retitle_rescales_over_the_head_and_leaves_the_rest() -> None:
    from indexing.embeddings.fusion import retitle

    scores = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.5}
    params = FusionParams(title=2.0, title_depth=3)
    retitle(scores, {"a": 0.05, "b": 0.15, "c": 0.10, "d": 0.9}, params)
    # over the head (a, b, c): b nearest gains 2, a farthest 0, c half-way; d is below the head
    assert scores == pytest.approx({"a": 3.0, "b": 4.0, "c": 2.0, "d": 0.5})
    one = {"a": 3.0, "b": 2.0}
    retitle(one, {"b": 0.2}, params)  # a single title score says nothing about the others
    assert one == {"a": 3.0, "b": 2.0}
    missing = {"a": 3.0, "b": 2.0, "c": 1.0}
    retitle(missing, {"a": 0.1, "c": 0.3}, params)  # b has no title vector: gains nothing
    assert missing == pytest.approx({"a": 3.0, "b": 2.0, "c": 3.0})


def test_title_rows_score_titles_centred_by_their_language() -> None:
    """The matrix's title rows: the query's cosine with each title minus its cosine with the
    title's language mean; rows without a title vector are left out; a replaced row moves its
    language's sums with it."""
    from indexing.embeddings.matrix import VectorMatrix

    matrix = VectorMatrix("i", "m", 3)
    body = np.eye(3, dtype=np.float32)
    titles = np.asarray([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    matrix.load(["a", "b", "c"], body, ["en", "en", "uk"], titles=titles)
    matrix.load(["no-title"], body[:1], ["en"])
    query = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    got = matrix.title_scores(["a", "b", "c", "no-title", "missing"], query)
    assert sorted(got) == ["a", "b", "c"]
    assert got["a"] > got["b"]
    # same language: the same mean taken away (title rows are float16, as OpenSearch stores them)
    assert got["a"] - got["b"] == pytest.approx(0.4, abs=1e-3)
    from indexing.embeddings.refine import CENTRING_PRIOR

    overall = titles.sum(axis=0) / 3
    uk_mean = (titles[2] + CENTRING_PRIOR * overall) / (1 + CENTRING_PRIOR)
    assert got["c"] == pytest.approx(float(titles[2] @ query - uk_mean @ query), abs=1e-3)
    assert matrix.title_scores(["missing"], query) == {}
    from indexing.embeddings.titles import TitleRows

    rows = TitleRows(3)
    rows.extend([titles[0], titles[1]], [1, 1])
    rows.set(0, None, 1)  # re-embedded without a title: out of the sums, out of the scores
    assert rows.counts[1] == 1.0 and np.allclose(rows.sums[1], titles[1], atol=1e-3)
    assert list(rows.scores([0, 1, 7], query)) == [1]


def _at(cos: float) -> np.ndarray:
    """A 2-d unit vector at centred cosine ``cos`` with (1, 0)."""
    return np.asarray([cos, float(np.sqrt(max(0.0, 1 - cos * cos)))])


def _story_in_two_languages() -> tuple[list[KeywordHit], list[tuple[str, float]], dict[str, np.ndarray]]:
    """A story in English and French queried in English, no keyword hit carrying the whole query
    (no anchor): the English coverage first, an English look-alike second, the French coverage
    (the English article's near-duplicate in the model's space once languages are centred) third."""
    keyword = [KeywordHit("cov-en", 12.1, frozenset({"entity", "some"})),
               KeywordHit("look-en", 11.4, frozenset({"entity", "some"})),
               KeywordHit("cov-fr", 10.2, frozenset({"entity", "some"}))]
    vector = [("cov-en", 0.109), ("look-en", 0.097), ("bg1", 0.075), ("cov-fr", 0.053)]
    vector += [(f"bg{i}", 0.05) for i in range(2, 20)]
    vectors = {"cov-en": _at(1.0), "cov-fr": _at(0.62), "look-en": _at(0.2), "bg1": _at(-0.1)}
    return keyword, vector, vectors


LANGS = {"cov-en": "en", "cov-fr": "fr", "look-en": "en", "bg1": "de"}
#: the weights the two-language case was built for (a hit with some words weighs 0.4): with the
#: shipped 0.8 the French coverage's own keyword evidence lifts it without the echo
TWO = FusionParams(weak=0.4)


def test_the_other_language_coverage_follows_its_best_ranked_article_up() -> None:
    keyword, vector, vectors = _story_in_two_languages()
    assert anchor(keyword, one_concept=False) is None
    off = _ids(fuse(keyword, vector, vectors=vectors, languages=LANGS, params=replace(TWO, echo=0.0)).ranking)
    assert off[:2] == ["cov-en", "look-en"] and off.index("cov-fr") > 2  # the failure the echo mends
    on = _ids(fuse(keyword, vector, vectors=vectors, languages=LANGS, params=TWO).ranking)  # the echo on
    assert on[:3] == ["cov-en", "cov-fr", "look-en"], on
    # without vectors, or without languages (none known), the echo changes nothing
    assert _ids(fuse(keyword, vector, languages=LANGS, params=TWO).ranking) == off
    assert _ids(fuse(keyword, vector, vectors=vectors, params=TWO).ranking) == off


def test_a_same_language_near_duplicate_is_not_echoed() -> None:
    """Two articles in one language on one subject are close in the model's space through shared
    words and style, even centred: a same-language look-alike must not follow the story up."""
    keyword, vector, vectors = _story_in_two_languages()
    same = {**LANGS, "cov-fr": "en"}  # the near-duplicate is now in the top article's language
    params = replace(TWO, echo=0.95)
    off = _ids(fuse(keyword, vector, vectors=vectors, languages=same, params=replace(TWO, echo=0.0)).ranking)
    assert _ids(fuse(keyword, vector, vectors=vectors, languages=same, params=params).ranking) == off


def test_echo_never_lifts_above_the_source_and_needs_the_ramp() -> None:
    from indexing.embeddings.fusion import echo

    sims = {frozenset(("a", "c")): 0.7, frozenset(("a", "b")): 0.3, frozenset(("b", "d")): 0.525}

    def similar(x: str, y: str) -> float | None:
        return sims.get(frozenset((x, y)), 0.0)

    langs = {"a": "en", "b": "de", "c": "fr", "d": "uk", "e": "ru"}
    scores = {"a": 2.0, "b": 1.5, "c": 0.4, "d": 0.2, "e": 0.1}
    echo(scores, similar, FusionParams(echo=0.9, echo_depth=4, echo_low=0.45, echo_high=0.6), langs)
    # c: full ramp under a (0.9 x 2.0); d: half the ramp under b (0.9 x 1.5 x 0.5); b: under the
    # ramp with a, unchanged; e: beyond the head, unchanged; a: nothing above it
    assert scores == pytest.approx({"a": 2.0, "b": 1.5, "c": 1.8, "d": 0.675, "e": 0.1})
    assert scores["c"] < scores["a"]
    low = {"a": 2.0, "c": 1.95}
    echo(low, similar, FusionParams(echo=0.9, echo_depth=4), langs)  # already above the echo: never lowered
    assert low == {"a": 2.0, "c": 1.95}
    before = dict(scores)
    echo(scores, similar, FusionParams(echo=0.0), langs)  # off
    assert scores == before


def test_echo_takes_scores_before_any_rise_no_chains() -> None:
    """c is a's near-duplicate, d is c's but not a's: d rises by c's own score, not by c's raised one."""
    from indexing.embeddings.fusion import echo

    sims = {frozenset(("a", "c")): 0.9, frozenset(("c", "d")): 0.9}
    scores = {"a": 2.0, "c": 1.0, "d": 0.5}
    echo(scores, lambda x, y: sims.get(frozenset((x, y)), 0.0), FusionParams(echo=0.8, echo_depth=3),
         {"a": "en", "c": "fr", "d": "uk"})
    assert scores == pytest.approx({"a": 2.0, "c": 1.6, "d": 0.8})


def test_the_matrix_gives_the_languages_of_the_ids_it_holds() -> None:
    from indexing.embeddings.matrix import VectorMatrix

    m = VectorMatrix("idx", "model", 2)
    m.load(["a", "b", "c"], np.asarray([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]), ["en", None, "fr"])
    assert m.languages(["c", "a", "b", "zz", "a"]) == {"c": "fr", "a": "en", "b": None}
    assert m.languages(["zz"]) == {}


def test_the_settings_carry_every_fusion_constant_with_the_same_defaults() -> None:
    """``search.scoring`` is what hybrid search hands the fusion: the same fields and defaults, and
    an echo share of 1 or more (a near-duplicate over its source) is refused."""
    from pydantic import ValidationError

    from indexing.fusionsettings import FusionSettings

    assert FusionParams(**FusionSettings().model_dump()) == FusionParams()
    assert FusionParams(**FusionSettings(echo=0.0).model_dump()).echo == 0.0
    with pytest.raises(ValidationError):
        FusionSettings(echo=1.0)
