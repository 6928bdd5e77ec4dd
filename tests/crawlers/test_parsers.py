"""Unit tests of the pure discovery parsers, the retry-after parser and the seen-store rules."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from crawlers.downloadermiddlewares.retry_after import parse_retry_after
from crawlers.feeds import MalformedFeed, parse_feed
from crawlers.links import extract_canonical, extract_links, looks_like_article
from crawlers.sitemaps import MalformedSitemap, SitemapTooLarge, parse_sitemap, robots_sitemaps
from crawlers.state import KnownArticle
from indexing.dates import parse_date
from tests.crawlers.seenbackend import SeenBackend

BASE = "https://news.example.com/"


def test_rss_atom_rdf() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
      <item><title>A</title><link>/a-1</link><pubDate>Tue, 30 Apr 2024 10:00:00 +0200</pubDate></item>
      <item><guid isPermaLink="true">https://news.example.com/b-2</guid><dc:date>2024-04-29T08:00:00Z</dc:date></item>
      <item><guid isPermaLink="false">tag:x</guid></item></channel></rss>"""
    entries = parse_feed(rss, BASE)
    assert [e.url for e in entries] == ["https://news.example.com/a-1", "https://news.example.com/b-2"]
    assert entries[0].published == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title>
      <link rel="self" href="https://news.example.com/self"/><link rel="alternate" type="text/html" href="https://news.example.com/c-3"/>
      <published>2024-05-01T12:00:00+00:00</published></entry></feed>"""
    assert [(e.url, e.published) for e in parse_feed(atom, BASE)] == [
        ("https://news.example.com/c-3", datetime(2024, 5, 1, 12, tzinfo=UTC))
    ]
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
      <item rdf:about="https://news.example.com/d-4"><title>d</title><link>https://news.example.com/d-4</link></item></rdf:RDF>"""
    assert [e.url for e in parse_feed(rdf, BASE)] == ["https://news.example.com/d-4"]


def test_feed_recovers_and_refuses() -> None:
    broken = b"<rss><channel><item><link>https://news.example.com/ok-1</link></item><item><link>&bogus;"
    assert [e.url for e in parse_feed(broken, BASE)] == ["https://news.example.com/ok-1"]
    for bad in (b"", b"<html><body>hi</body></html>", b"\x00\x01garbage"):
        with pytest.raises(MalformedFeed):
            parse_feed(bad, BASE)


def test_sitemaps_index_news_gzip_and_bomb() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://news.example.com/s1.xml.gz</loc><lastmod>2024-05-01</lastmod></sitemap></sitemapindex>"""
    (entry,) = parse_sitemap(index, BASE)
    assert entry.is_sitemap and entry.lastmod == datetime(2024, 5, 1, tzinfo=UTC)
    news = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://news.example.com/e-5</loc><news:news><news:publication_date>2024-05-02T09:30:00+01:00</news:publication_date></news:news></url></urlset>"""
    (e,) = parse_sitemap(gzip.compress(news), BASE)
    assert not e.is_sitemap and e.published == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    with pytest.raises(SitemapTooLarge):
        parse_sitemap(gzip.compress(b" " * 2_000_000), BASE, max_size=1_000_000)
    with pytest.raises(MalformedSitemap):
        parse_sitemap(b"<html/>", BASE)
    assert robots_sitemaps(b"User-agent: *\nSitemap: /sm.xml # c\nsitemap:https://x.org/a.xml\n", BASE) == [
        "https://news.example.com/sm.xml",
        "https://x.org/a.xml",
    ]


def test_links_canonical_and_article_heuristic() -> None:
    page = b"""<html><head><link rel="canonical" href="/world/story-one-two"></head><body>
      <a href="/world/2024/05/01/troops">d</a><a href="#top">t</a><a href="mailto:x@y">m</a>
      <a href="/tag/war-in-ukraine">tag</a><a href="/a/b.jpg">img</a><a rel="nofollow" href="/nf-1-2-3">nf</a></body></html>"""
    assert extract_canonical(page, BASE) == "https://news.example.com/world/story-one-two"
    links = extract_links(page, BASE)
    assert "https://news.example.com/world/2024/05/01/troops" in links
    assert not any("nf-1-2-3" in u or u.startswith("mailto") for u in links)
    assert looks_like_article("https://n.com/world/2024/05/01/troops")
    assert looks_like_article("https://n.com/news/north-korean-troops-arrive")
    assert looks_like_article("https://n.com/article/12345")
    assert not looks_like_article("https://n.com/tag/war-in-ukraine")
    assert not looks_like_article("https://n.com/world/")
    assert not looks_like_article("https://n.com/a/b.jpg")
    assert extract_links(b"", BASE) == [] and extract_canonical(b"   ", BASE) is None


def test_dates_and_retry_after() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_date("2030-01-01T00:00:00Z", now=now) is None  # future: unknown
    assert parse_date("not a date") is None
    assert parse_date("2024-04-30") == datetime(2024, 4, 30, tzinfo=UTC)
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after("Wed, 01 May 2024 00:00:30 GMT", now=now.timestamp()) == 30.0
    assert parse_retry_after(b"soon") is None


def test_recrawl_backoff_rule() -> None:
    now = datetime(2024, 5, 3, 12, tzinfo=UTC)
    window = timedelta(hours=48)

    def art(published_h: float, last_h: float) -> KnownArticle:
        return KnownArticle(
            "u",
            "s",
            "f",
            now - timedelta(hours=published_h),
            now - timedelta(hours=last_h),
            now - timedelta(hours=last_h),
        )

    assert not art(1, 0.1).due_for_recrawl(now, window)  # just fetched
    assert art(3, 1.5).due_for_recrawl(now, window)  # age at fetch 1.5 h, 1.5 h passed
    assert not art(10, 2).due_for_recrawl(now, window)  # age at fetch 8 h, only 2 h passed
    assert not art(60, 30).due_for_recrawl(now, window)  # outside the window


def test_seen_store_aliases_pending_validators(seen: SeenBackend) -> None:
    store = seen.open()
    now = datetime.now(UTC)
    store.add_pending([("https://e.com/a", "s", "feed", None), ("https://e.com/b", "s", "feed", now)])
    assert {p.url for p in store.pending("s")} == {"https://e.com/a", "https://e.com/b"}
    store.mark_stored("https://e.com/a", "s", "fp", now, None, aliases=["https://e.com/a-amp"])
    assert store.lookup("https://e.com/a-amp").url == "https://e.com/a"  # type: ignore[union-attr]
    assert [p.url for p in store.pending("s")] == ["https://e.com/b"]
    store.pending_failed("https://e.com/b", permanent=True)
    assert store.gave_up("https://e.com/b") and store.pending("s") == []
    store.set_validators("https://e.com/feed", '"v1"', None)
    assert store.validators("https://e.com/feed") == ('"v1"', None)
    store.close()
    reopened = seen.open()
    assert reopened.count_articles("s") == 1
    reopened.close()
