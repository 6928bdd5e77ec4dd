"""The freshness benchmark's moving parts that need no Airflow: the site that publishes at random
moments (feed, conditional GETs, pages the real extractor accepts), the alert receiver and the
statistics. The whole benchmark runs by hand (benchmarks/README.md)."""

from __future__ import annotations

import json
import random
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.freshness import percentile, summarise
from benchmarks.publishing_site import (
    FEED_ITEMS,
    PublishingSite,
    WebhookReceiver,
    make_articles,
    publication_offsets,
)
from indexing.dedup import StoryIndex
from indexing.extraction import extract
from indexing.settings import DedupSettings


def _get(url: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def test_offsets_are_random_sorted_within_the_window_and_reproducible() -> None:
    a = publication_offsets(20, 30, random.Random(7))
    assert a == sorted(a) and len(a) == 20 and 0 <= a[0] and a[-1] <= 30 * 60
    assert a == publication_offsets(20, 30, random.Random(7))
    assert a != publication_offsets(20, 30, random.Random(8))
    assert a[-1] - a[0] > 15 * 60  # spread over the window, not bunched


def test_the_feed_gains_articles_and_answers_conditional_gets() -> None:
    arts = make_articles(3, random.Random(1))
    with PublishingSite() as site:
        status, headers, body = _get(site.base_url + "/feed.xml")
        assert status == 200 and ET.fromstring(body).findall("./channel/item") == []
        etag = headers["ETag"]
        assert _get(site.base_url + "/feed.xml", etag)[0] == 304
        assert _get(site.url(arts[0]))[0] == 404  # not published yet
        t1 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        site.publish(arts[0], now=t1)
        site.publish(arts[1], now=t1 + timedelta(minutes=3))
        status, headers, body = _get(site.base_url + "/feed.xml", etag)
        assert status == 200 and headers["ETag"] != etag
        items = ET.fromstring(body.replace(b"{{BASE}}", b"")).findall("./channel/item")
        links = [i.findtext("link") for i in items]
        assert links == [site.url(arts[1]), site.url(arts[0])]  # newest first
        assert items[0].findtext("pubDate") == "Mon, 30 Nov 2026 12:03:00 +0000"
        status, _, page = _get(links[0])
        assert status == 200
    art = extract(page, url=links[0])
    assert art.status == "ok" and art.title == arts[1].title
    assert "freshness probe" in art.body.lower()
    assert art.published == datetime(2026, 11, 30, 12, 3, tzinfo=UTC)


def test_every_article_is_its_own_story(tmp_path: Path) -> None:
    """One alert per story: the benchmark needs every article to be a story of its own."""
    arts = make_articles(12, random.Random(3))
    assert len({a.path for a in arts}) == 12
    with StoryIndex.open(tmp_path / "dedup.sqlite3", DedupSettings()) as stories:
        assigned = [stories.assign(a.path, "\n\n".join(a.paragraphs)) for a in arts]
    assert len({s.story_id for s in assigned}) == 12
    assert all(s.duplicate_of is None for s in assigned)


def test_the_feed_is_bounded() -> None:
    arts = make_articles(FEED_ITEMS + 5, random.Random(2))
    with PublishingSite() as site:
        for k, a in enumerate(arts):
            site.publish(a, now=datetime(2026, 11, 30, tzinfo=UTC) + timedelta(minutes=k))
        _, _, body = _get(site.base_url + "/feed.xml")
    assert len(ET.fromstring(body.replace(b"{{BASE}}", b"")).findall("./channel/item")) == FEED_ITEMS


def test_receiver_records_the_first_arrival_per_article() -> None:
    hook = WebhookReceiver()
    try:
        for _ in range(2):
            payload = {"articles": [{"url": "http://127.0.0.1/a", "canonical_url": "http://127.0.0.1/a"}]}
            req = urllib.request.Request(hook.url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - loopback
    finally:
        hook.close()
    assert hook.alerts == 2 and list(hook.arrivals) == ["http://127.0.0.1/a"]


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([float(i) for i in range(1, 21)], 95, 19.0),
    ([float(i) for i in range(1, 101)], 95, 95.0), ([5.0], 95, 5.0), ([], 95, None),
])
def test_nearest_rank_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_summary_counts_missing_articles() -> None:
    s = summarise([60.0, 120.0, None, 300.0])
    assert (s["n"], s["observed"], s["missing"], s["median_s"], s["max_s"]) == (4, 3, 1, 120.0, 300.0)
