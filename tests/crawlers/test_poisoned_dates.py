"""Issue 9: one poisoned date among good entries never loses the feed or the sitemap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.feeds import parse_feed
from crawlers.sitemaps import parse_sitemap
from indexing.dates import parse_date

BASE = "https://news.example.com/"
# What .NET writes for an empty DateTime, shifted out of datetime's range by the offset; years
# that overflow; nonsense; a date far in the future.
POISON = (
    "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59-01:00",
    "Mon, 01 Jan 0001 00:00:00 +0100", "Fri, 31 Dec 9999 23:59:59 -1200", "99999999999999999999",
    "2024-02-30T10:00:00Z", "2999-01-01", "not a date at all",
)


@pytest.mark.parametrize("value", POISON)
def test_poisoned_date_is_none(value: str) -> None:
    assert parse_date(value, now=datetime(2024, 5, 3, tzinfo=UTC)) is None


@pytest.mark.parametrize("poison", POISON)
def test_feed_keeps_good_entries_beside_a_poisoned_date(poison: str) -> None:
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel>
      <item><link>https://news.example.com/good-1</link><pubDate>Tue, 30 Apr 2024 10:00:00 +0200</pubDate></item>
      <item><link>https://news.example.com/poisoned-2</link><pubDate>{poison}</pubDate></item>
      <item><link>https://news.example.com/good-3</link><pubDate>2024-04-29T08:00:00Z</pubDate></item>
    </channel></rss>""".encode()
    entries = parse_feed(feed, BASE)
    assert [e.url for e in entries] == [f"{BASE}good-1", f"{BASE}poisoned-2", f"{BASE}good-3"]
    assert entries[0].published == datetime(2024, 4, 30, 8, tzinfo=UTC)
    assert entries[1].published is None
    assert entries[2].published == datetime(2024, 4, 29, 8, tzinfo=UTC)


@pytest.mark.parametrize("poison", POISON)
def test_sitemap_keeps_good_entries_beside_a_poisoned_date(poison: str) -> None:
    sitemap = f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://news.example.com/good-1</loc><lastmod>2024-05-01</lastmod></url>
      <url><loc>https://news.example.com/poisoned-2</loc><lastmod>{poison}</lastmod>
        <news:news><news:publication_date>{poison}</news:publication_date></news:news></url>
      <url><loc>https://news.example.com/good-3</loc>
        <news:news><news:publication_date>2024-05-02T09:30:00+01:00</news:publication_date></news:news></url>
    </urlset>""".encode()
    entries = parse_sitemap(sitemap, BASE)
    assert [e.url for e in entries] == [f"{BASE}good-1", f"{BASE}poisoned-2", f"{BASE}good-3"]
    assert entries[0].lastmod == datetime(2024, 5, 1, tzinfo=UTC)
    assert entries[1].lastmod is None and entries[1].published is None
    assert entries[2].published == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
