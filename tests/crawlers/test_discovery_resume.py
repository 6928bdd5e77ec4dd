"""Discovery a bound cut is not lost behind a 304 (issue 16): validators are saved only for
feeds and sitemaps read completely, and what the article cap leaves over is fetched later."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from tests.crawlers.conftest import Crawler, CrawlResult
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


def _index(paths: list[str]) -> bytes:
    rows = "".join(f"<sitemap><loc>{{{{BASE}}}}{p}</loc></sitemap>" for p in paths)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'.encode()


def _articles(routes: dict[str, Route], prefix: str, n: int) -> list[str]:
    paths = [f"/{prefix}/2024/05/story-{prefix}-{i}-report.html" for i in range(n)]
    for p in paths:
        routes[p] = Route(body=article_html(p, p, "Body text. " * 20))
    return paths


def _sources(base: str, sitemap: str) -> str:
    return (
        "sources:\n  - id: fixture\n    name: F\n"
        f"    url: {base}/\n    feeds: []\n    sitemaps: [{base}{sitemap}]\n    sections: []\n"
        "    allow_private_network: true\n"
    )


def _paths(result: CrawlResult, port: int) -> set[str]:
    assert result.returncode == 0, result.stderr[-2000:]
    return {e["url"].split(str(port), 1)[1] for e in result.manifest}


def test_a_sitemap_over_the_article_cap_is_fetched_over_later_runs_not_lost_behind_a_304(
    crawler: Crawler,
) -> None:
    routes: dict[str, Route] = {"/robots.txt": Route(body=b"User-agent: *\n", content_type="text/plain")}
    paths = _articles(routes, "a", 25)
    dates = {p: _NOW - timedelta(days=3, hours=i) for i, p in enumerate(paths)}  # paths[0] newest
    routes["/s.xml"] = Route(body=_urlset(paths[::-1], dates), content_type=_XML, etag='"s-v1"')
    crawler.env["WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE"] = "10"
    with SiteServer(routes) as srv:
        sources = crawler.sources(_sources(srv.base_url, "/s.xml"))
        runs = [crawler.run(f"r{n}", sources) for n in (1, 2, 3)]
        sitemap_hits = [h for h in srv.hits if h.bare_path == "/s.xml"]
        got = [_paths(r, srv.port) for r in runs]
    # run 1: the cap; runs 2 and 3: the rest, newest first, while the sitemap answers 304
    assert got == [set(paths[:10]), set(paths[10:20]), set(paths[20:])]
    assert runs[0].source()["capped"] == {"articles": 15}
    assert [h.status for h in sitemap_hits] == [200, 304, 304]
    assert runs[1].source()["not_modified"] == 1 and runs[2].source()["capped"] == {}


def test_an_index_whose_children_were_capped_keeps_no_validators_and_the_next_run_reads_the_rest(
    crawler: Crawler,
) -> None:
    routes: dict[str, Route] = {"/robots.txt": Route(body=b"User-agent: *\n", content_type="text/plain")}
    children = [f"/child-{i}.xml" for i in range(5)]
    articles: list[str] = []
    for i, child in enumerate(children):
        mine = _articles(routes, f"c{i}", 2)
        articles += mine
        routes[child] = Route(body=_urlset(mine), content_type=_XML, etag=f'"c{i}"')
    routes["/index.xml"] = Route(body=_index(children), content_type=_XML, etag='"idx"')
    crawler.env["WARWATCH_CRAWL__SITEMAP_MAX_CHILDREN"] = "3"
    with SiteServer(routes) as srv:
        sources = crawler.sources(_sources(srv.base_url, "/index.xml"))
        first, second, third = (crawler.run(f"r{n}", sources) for n in (1, 2, 3))
        index_hits = [h for h in srv.hits if h.bare_path == "/index.xml"]
        got = _paths(first, srv.port) | _paths(second, srv.port)
    assert first.source()["capped"] == {"sitemap_children": 2}
    assert got == set(articles), "the two children the cap left are read by the next run"
    # the index was conditional only once everything it lists had been read
    assert [h.headers.get("If-None-Match") for h in index_hits] == [None, None, '"idx"']
    assert [h.status for h in index_hits] == [200, 200, 304] and third.manifest == []


def test_a_child_sitemap_that_failed_leaves_its_index_unvalidated(crawler: Crawler) -> None:
    routes: dict[str, Route] = {"/robots.txt": Route(body=b"User-agent: *\n", content_type="text/plain")}
    good, flaky = _articles(routes, "good", 2), _articles(routes, "flaky", 2)
    routes["/good.xml"] = Route(body=_urlset(good), content_type=_XML, etag='"g"')
    routes["/flaky.xml"] = Route(500, b"busy", content_type="text/plain")
    routes["/index.xml"] = Route(body=_index(["/good.xml", "/flaky.xml"]), content_type=_XML, etag='"idx"')
    crawler.env["WARWATCH_CRAWL__RETRY_TIMES"] = "0"
    with SiteServer(routes) as srv:
        sources = crawler.sources(_sources(srv.base_url, "/index.xml"))
        first = crawler.run("r1", sources)
        srv.routes["/flaky.xml"] = Route(body=_urlset(flaky), content_type=_XML, etag='"f"')
        second = crawler.run("r2", sources)
        index_status = [h.status for h in srv.hits if h.bare_path == "/index.xml"]
    assert _paths(first, srv.port) == set(good)
    assert _paths(second, srv.port) == set(flaky)
    assert index_status == [200, 200]
    db = sqlite3.connect(crawler.data_dir / "state" / "crawl.sqlite")
    try:
        saved = {r[0].split(str(srv.port), 1)[1] for r in db.execute("SELECT url FROM validators")}
    finally:
        db.close()
    assert saved == {"/index.xml", "/good.xml", "/flaky.xml"}
