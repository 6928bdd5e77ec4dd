"""The changing site of issue #19's acceptance (benchmarks/changes_site.py) and its scoring
(benchmarks/changes_score.py), without a crawler or a search node: furniture that rotates on every
request while the article stays the same, each planned change served as planned, the figures
written in each language's format, and the score counting what it must."""

from __future__ import annotations

import html
import random
import re

import pytest

from benchmarks.changes_score import score, score_alerts
from benchmarks.changes_site import (
    EDIT_KINDS,
    FLAKY,
    TAKEDOWN_MODES,
    ChangingSite,
    Truth,
    article_text,
    build_world,
    mutate,
    plan_changes,
    write_number,
)
from indexing.extraction import extract

LANGS = ("en", "de", "ru", "uk", "pl", "fr")


@pytest.mark.parametrize(("value", "kind", "lang", "written"), [
    (40, "small", "en", "40"), (10_000, "thousands", "en", "10,000"), (10_000, "thousands", "de", "10.000"),
    (10_000, "thousands", "ru", "10\u00a0000"), (3_000, "thousands", "pl", "3 000"),
    (10_000, "thousands", "fr", "10\u202f000"), (1.5, "millions", "ru", "1,5 млн"), (2.0, "millions", "uk", "2 млн"),
    (1.5, "millions", "en", "1.5 million"), (2.5, "millions", "de", "2,5 Millionen"), (1.5, "millions", "fr", "1,5 million"),
    (4.0, "millions", "fr", "4 millions"),
])
def test_figures_are_written_in_the_language_format(value: float, kind: str, lang: str, written: str) -> None:
    assert write_number(value, kind, lang) == written


def test_the_plan_covers_every_kind_and_mode_over_the_languages() -> None:
    world = build_world(60, LANGS)
    truths = plan_changes(world, random.Random(3))
    kinds = [k for t in truths for k in t.kinds]
    assert set(kinds) == set(EDIT_KINDS) | set(TAKEDOWN_MODES.values())
    assert {t.mode for t in truths if t.mode} == set(TAKEDOWN_MODES) | {FLAKY}
    assert len({t.lang for t in truths if t.kinds}) == len(LANGS)
    assert sum(not t.kinds for t in truths) >= 40
    millions = [n for t in truths for n in t.numbers if "мл" in n[0] or "illion" in n[0] or "mln" in n[0]]
    assert all(n[2] >= 1e6 and n[3] >= 1e6 for n in millions)  # "1,5 млн" is worth 1,500,000
    with pytest.raises(ValueError, match="too few"):
        plan_changes(build_world(12, ("en",)), random.Random(3))


def test_furniture_rotates_on_every_request_but_the_article_does_not() -> None:
    world = build_world(12, ("en", "uk"))
    with ChangingSite(world) as site:
        for a in world.articles[:4]:
            pages = [site.respond(a.lang, a.path)[2] for _ in range(2)]
            assert pages[0] != pages[1]
            # each kind of furniture differs: CSRF token, cache-busters, counters
            for pattern in (rb'name="csrf_token" value="(\w+)"', rb"\.jpg\?v=(\w+)", rb"app\.js\?v=(\w+)"):
                found = [re.search(pattern, p) for p in pages]
                assert all(found) and found[0].group(1) != found[1].group(1)  # type: ignore[union-attr]
            # the article itself is the same in both (its every paragraph, as the page escapes it)
            title, author, _, published, paragraphs = article_text(a, world.langs[a.lang])
            for text in (title, author, *paragraphs):
                assert all(html.escape(text).encode() in p for p in pages), text
            one, two = (extract(p, site.url(a)) for p in pages)
            assert one.status == "ok" and one.word_count >= 100 and one.published == published
            assert (one.title, one.authors, one.published) == (two.title, two.authors, two.published)


def test_each_planned_change_is_served_as_planned() -> None:
    world = build_world(60, LANGS)
    truths = plan_changes(world, random.Random(5))
    with ChangingSite(world) as site:
        before = {i: site.respond(a.lang, a.path) for i, a in enumerate(world.articles)}
        texts = [article_text(a, world.langs[a.lang]) for a in world.articles]
        mutate(world)
        for i, (a, t) in enumerate(zip(world.articles, truths, strict=True)):
            status, headers, body = site.respond(a.lang, a.path)
            text = body.decode()
            sitemap = site.respond(a.lang, "/sitemap.xml")[2].decode()
            if t.mode == FLAKY:
                assert status == 404 and site.respond(a.lang, a.path)[0] == 200 and a.path in sitemap
            elif t.mode in ("http_404", "http_410"):
                assert status == int(t.mode[-3:]) and a.path not in sitemap
            elif t.mode == "redirect_home":
                assert status == 301 and headers["Location"] == site.base[a.lang] + "/"
            elif t.mode == "redirect_section":
                assert status == 301 and headers["Location"].endswith(f"/{a.section}/")
            elif t.mode in ("soft_404", "paywall", "consent", "stub"):
                assert status == 200 and extract(body, site.url(a)).word_count < extract(before[i][2]).word_count / 2
            elif not t.kinds:
                assert status == 200 and article_text(a, world.langs[a.lang]) == texts[i]
            else:
                assert article_text(a, world.langs[a.lang]) != texts[i]
            for before_text, after_text, _, _ in t.numbers:
                assert after_text in text and before_text not in extract(body).body
            if "headline" in t.kinds:
                assert extract(body).title != extract(before[i][2]).title


def _record(url: str, kinds: list[str], rid: str, **extra: object) -> dict[str, object]:
    return {"id": rid, "url": url, "canonical_url": url, "kinds": kinds, **extra}


def test_the_score_counts_misses_false_changes_and_numbers() -> None:
    truths = [Truth("en", "/a", ("numbers",), numbers=(("40", "14", 40.0, 14.0),)), Truth("de", "/b", ("removed",), "http_404"),
              Truth("en", "/c", ()), Truth("uk", "/d", (), FLAKY), Truth("uk", "/e", ("headline", "byline"))]
    urls = [f"http://x{t.path}" for t in truths]
    records = [_record(urls[0], ["numbers"], "1", numbers=[{"before": "40", "after": "41", "before_value": 40.0,
                                                            "after_value": 41.0}]),
               _record(urls[1], ["removed"], "2"), _record(urls[2], ["text_added"], "3"),
               _record(urls[3], ["removed"], "4"), _record(urls[4], ["headline"], "5"),
               _record(urls[4], ["headline"], "6"), _record("http://elsewhere/z", ["numbers"], "7")]
    result = score(truths, urls, records)
    assert (result["planted"], result["found"], result["recall"]) == (4, 3, 0.75)
    assert result["recall_per_kind"] == {"byline": 0.0, "headline": 1.0, "numbers": 1.0, "removed": 1.0}
    assert [m["kind"] for m in result["missed"]] == ["byline"]
    assert (result["false_changes"], result["false_takedowns"]) == (1, 1)  # /c edited, the flaky one "removed"
    assert result["numbers_both_values"] == 0 and result["numbers_planted"] == 1  # 41 reported, 14 planted
    assert result["duplicate_records"] == 1 and result["stray_records"] == 1
    alerts = score_alerts([{"event": "edited", "change": {"id": "1"}}, {"event": "edited", "change": {"id": "1"}},
                           {"event": "removed", "change": {"id": "9"}}, {"event": "new"}], ["1", "2"])
    assert alerts["alerted_more_than_once"] == ["1"] and alerts["alerts_without_record"] == ["9"]
    assert alerts["change_alerts"] == 3
