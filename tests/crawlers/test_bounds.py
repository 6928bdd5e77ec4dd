"""Discovery bounds (issue 9): every cap comes from settings, cuts what it must and is counted
in the crawl report, and the articles beside a trap are still all fetched."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from crawlers.sitemaps import read_sitemap
from indexing.settings import CrawlSettings
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html

_XML = "application/xml"
_NOW = datetime.now(UTC)


def _urlset(paths: list[str], dates: dict[str, datetime] | None = None) -> bytes:
    rows = "".join(
        f"<url><loc>{{{{BASE}}}}{p}</loc>"
        + (f"<lastmod>{dates[p].isoformat()}</lastmod>" if dates else "")
        + "</url>"
        for p in paths
    )
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


def _index(locs: list[str]) -> bytes:
    rows = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'.encode()


def _articles(routes: dict[str, Route], prefix: str, n: int) -> list[str]:
    paths = [f"/{prefix}/2024/05/story-{prefix}-{i}-report.html" for i in range(n)]
    for p in paths:
        routes[p] = Route(body=article_html(p, p, "Body text. " * 20))
    return paths


def _sources(base: str, sitemaps: list[str], sections: list[str] | None = None) -> str:
    return (
        "sources:\n  - id: fixture\n    name: F\n"
        f"    url: {base}/\n    feeds: []\n"
        f"    sitemaps: [{', '.join(base + s for s in sitemaps)}]\n"
        f"    sections: [{', '.join(base + s for s in sections or [])}]\n"
        "    allow_private_network: true\n"
    )


def test_defaults_are_bounded() -> None:
    crawl = CrawlSettings()
    assert crawl.sitemap_max_depth == 3 and crawl.sitemap_max_children == 200
    assert crawl.sitemap_max_urls == 50_000 and crawl.section_max_links == 1000
    assert crawl.robots_max_sitemaps == 50 and crawl.max_articles_per_source == 5000
    assert crawl.time_budget_seconds and crawl.source_time_budget_seconds


def test_endless_sitemap_index_chain_stops_at_the_depth_cap_while_the_ordinary_sitemap_is_fetched(
    crawler: Crawler,
) -> None:
    routes: dict[str, Route] = {"/robots.txt": Route(body=b"User-agent: *\n", content_type="text/plain")}
    for n in range(40):  # an index pointing to the next index, "forever"
        routes[f"/chain/{n}.xml"] = Route(body=_index([f"{{{{BASE}}}}/chain/{n + 1}.xml"]), content_type=_XML)
    paths = _articles(routes, "good", 30)
    routes["/good.xml"] = Route(body=_urlset(paths), content_type=_XML)
    with SiteServer(routes) as srv:
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url, ["/chain/0.xml", "/good.xml"])))
        hits = srv.paths()
    assert result.returncode == 0, result.stderr[-2000:]
    chain = sorted(p for p in hits if p.startswith("/chain/"))
    # depth 0 (configured) .. 3 (the default cap) fetched, the 4th child counted, not fetched
    assert chain == [f"/chain/{n}.xml" for n in range(4)]
    stats = result.source()
    assert stats["capped"] == {"sitemap_depth": 1}
    assert stats["new"] == 30 and {e["url"].split(str(srv.port))[1] for e in result.manifest} == set(paths)


def test_count_caps_and_scope_are_counted(crawler: Crawler) -> None:
    routes: dict[str, Route] = {}
    children = [f"/child-{i}.xml" for i in range(5)]
    for i, child in enumerate(children):
        routes[child] = Route(body=_urlset(_articles(routes, f"c{i}", 2)), content_type=_XML)
    routes["/index.xml"] = Route(
        body=_index([f"{{{{BASE}}}}{c}" for c in children] + ["https://elsewhere.example.org/s.xml"]),
        content_type=_XML,
    )
    big = _articles(routes, "big", 60)
    routes["/big.xml"] = Route(body=_urlset(big), content_type=_XML)
    links = "".join(f'<a href="{p}">x</a>' for p in _articles(routes, "sect", 50))
    routes["/world/"] = Route(body=f"<html><body>{links}</body></html>".encode())
    robots = "".join(f"Sitemap: {{{{BASE}}}}/robots-{i}.xml\n" for i in range(5))
    routes["/robots.txt"] = Route(body=f"User-agent: *\n{robots}".encode(), content_type="text/plain")
    for i in range(5):
        routes[f"/robots-{i}.xml"] = Route(body=_urlset([]), content_type=_XML)
    crawler.env.update(
        {
            "WARWATCH_CRAWL__SITEMAP_MAX_CHILDREN": "3",
            "WARWATCH_CRAWL__SITEMAP_MAX_URLS": "25",
            "WARWATCH_CRAWL__SECTION_MAX_LINKS": "20",
            "WARWATCH_CRAWL__ROBOTS_MAX_SITEMAPS": "2",
        }
    )
    with SiteServer(routes) as srv:
        sources = _sources(srv.base_url, ["/index.xml", "/big.xml"], ["/world/"])
        result = crawler.run("r1", crawler.sources(sources))
        hits = srv.paths()
    assert result.returncode == 0, result.stderr[-2000:]
    stats = result.source()
    assert stats["capped"] == {
        "sitemap_children": 2,
        "sitemap_urls": 1,
        "section_links": 30,
        "robots_sitemaps": 3,
    }
    assert stats["out_of_scope"] == 1
    assert sum(p.startswith("/child-") for p in hits) == 3
    assert sum(p.startswith("/robots-") for p in hits) == 2
    assert sum(p.startswith("/big/") for p in hits) == 25
    assert sum(p.startswith("/sect/") for p in hits) == 20
    assert stats["discovered"] == 3 * 2 + 25 + 20 == stats["new"]


def test_newest_first_when_the_article_cap_bites(crawler: Crawler) -> None:
    routes: dict[str, Route] = {}
    paths = _articles(routes, "n", 40)
    order = [paths[(i * 7) % 40] for i in range(40)]  # listed out of date order
    dates = {p: _NOW - timedelta(days=3, hours=i) for i, p in enumerate(paths)}  # paths[0] newest
    routes["/s.xml"] = Route(body=_urlset(order, dates), content_type=_XML)
    crawler.env["WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE"] = "10"
    with SiteServer(routes) as srv:
        sources = crawler.sources(_sources(srv.base_url, ["/s.xml"]))
        first = crawler.run("r1", sources)
        second = crawler.run("r2", sources)
    for result in (first, second):
        assert result.returncode == 0, result.stderr[-2000:]
    got1 = {e["url"].split(str(srv.port))[1] for e in first.manifest}
    got2 = {e["url"].split(str(srv.port))[1] for e in second.manifest}
    assert got1 == set(paths[:10]) and first.source()["capped"] == {"articles": 30}
    # the next run takes the next newest ten
    assert got2 == set(paths[10:20]) and second.source()["capped"] == {"articles": 20}
    assert second.source()["skipped_known"] == 10


def test_a_200k_url_sitemap_is_read_streaming_up_to_the_cap() -> None:
    rows = b"".join(b"<url><loc>https://e.com/a/%d.html</loc></url>" % i for i in range(200_000))
    body = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + rows
        + b"</urlset>"
    )
    tracemalloc.start()
    try:
        entries, cut = read_sitemap(body, "https://e.com/s.xml", 50 * 1024 * 1024, 50_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cut and len(entries) == 50_000 and entries[-1].url == "https://e.com/a/49999.html"
    # the 50,000 entries kept, not a 200,000-element tree (a whole tree needs several times this)
    assert peak < 40 * 1024 * 1024, peak
    entries, cut = read_sitemap(body[:5000] + b"</urlset>", "https://e.com/s.xml", 10**6, 50_000)
    assert not cut and len(entries) > 10
