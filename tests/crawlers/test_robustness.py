"""Bad input never crashes a run; kill -9 resumes; politeness is observable on the wire."""

from __future__ import annotations

import gzip
import signal
import time
import zlib
from collections import Counter

from crawlers.settings import REDIRECT_MAX_TIMES
from indexing.archive import iter_manifest
from indexing.urls import canonicalize_url
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html, build_news_site, sources_yaml


def _feed(paths: list[str]) -> Route:
    items = "".join(f"<item><link>{{{{BASE}}}}{p}</link></item>" for p in paths)
    return Route(content_type="application/rss+xml", body=f"<rss><channel>{items}</channel></rss>".encode())


def test_bad_input_is_counted_by_reason(crawler: Crawler) -> None:
    crawler.env["WARWATCH_CRAWL__DOWNLOAD_TIMEOUT"] = "1"
    crawler.env["WARWATCH_CRAWL__MAX_BODY_BYTES"] = "200000"
    crawler.env["WARWATCH_CRAWL__RETRY_TIMES"] = "1"
    flaky_calls = {"n": 0}

    def flaky(_req: object) -> Route:
        flaky_calls["n"] += 1
        if flaky_calls["n"] == 1:
            return Route(429, b"slow down", headers={"Retry-After": "1"})
        return Route(body=article_html("/a/flaky-but-fine-article-1", "Flaky", "ok in the end"))

    bomb = gzip.compress(b"<html>" + b"0" * 50_000_000)
    good = ["/a/good-article-number-1", "/a/good-article-number-2"]
    bad = {
        "/a/gone-404-article": Route(404, b"no"),
        "/a/gone-410-article": Route(410, b"gone"),
        "/a/server-error-500-article": Route(500, b"oops"),
        "/a/too-slow-timeout-article": Route(body=b"<html>late</html>", delay=3),
        "/a/redirect-loop-article-1": Route(302, headers={"Location": "/a/redirect-loop-article-2"}),
        "/a/redirect-loop-article-2": Route(302, headers={"Location": "/a/redirect-loop-article-1"}),
        "/a/a-pdf-not-html-article": Route(body=b"%PDF-1.4 ...", content_type="application/pdf"),
        "/a/huge-body-over-cap-article": Route(body=b"<html>" + b"x" * 400_000),
        "/a/gzip-bomb-article-here": Route(body=bomb, headers={"Content-Encoding": "gzip"}),
        "/a/broken-charset-article-x": Route(
            body=b"<html><head><meta charset='utf-8'></head><body><p>caf\xe9 \xff\xfe</p></body></html>",
            content_type="text/html; charset=klingon",
        ),
        "/a/off-site-redirect-article": Route(
            301, headers={"Location": "http://localhost:9/elsewhere-article"}
        ),
    }
    routes = {p: Route(body=article_html(p, "Good", "fine")) for p in good}
    routes.update(bad)
    routes["/a/flaky-but-fine-article-1"] = Route(handler=flaky)
    routes["/feed.xml"] = _feed([*good, *bad, "/a/flaky-but-fine-article-1"])
    routes["/broken-feed.xml"] = Route(content_type="application/rss+xml", body=b"\x00\x01 this is <not> xml")
    routes["/broken-sitemap.xml"] = Route(
        content_type="application/xml", body=b"<html><body>a web page</body></html>"
    )
    routes["/bomb-sitemap.xml.gz"] = Route(
        content_type="application/gzip", body=gzip.compress(b" " * 60_000_000)
    )
    with SiteServer(routes) as srv:
        text = (
            sources_yaml(srv.base_url, sections=False)
            .replace(
                f"feeds: [{srv.base_url}/feed.xml]",
                f"feeds: [{srv.base_url}/feed.xml, {srv.base_url}/broken-feed.xml]",
            )
            .replace(
                f"sitemaps: [{srv.base_url}/sitemap-index.xml]",
                f"sitemaps: [{srv.base_url}/broken-sitemap.xml, {srv.base_url}/bomb-sitemap.xml.gz]",
            )
        )
        result = crawler.run("r1", crawler.sources(text))
        hits = Counter(h.bare_path for h in srv.hits)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.source()
    failed = stats["failed"]
    assert failed.get("http_404") == 1 and failed.get("http_410") == 1
    assert failed.get("http_500") == 1
    assert failed.get("timeout") == 1
    assert failed.get("redirect_loop") == 2  # both URLs of the loop were listed
    assert failed.get("non_html") == 1
    assert failed.get("too_large") == 1
    assert failed.get("gzip_bomb") == 1
    assert failed.get("offsite_redirect") == 1
    assert stats["discovery_failed"] == {"feed:malformed": 1, "sitemap:malformed": 1, "sitemap:gzip_bomb": 1}
    stored = {e["url"] for e in result.manifest}
    expected = {
        canonicalize_url(srv.url(p))
        for p in [*good, "/a/flaky-but-fine-article-1", "/a/broken-charset-article-x"]
    }
    assert stored == expected
    # 429 + Retry-After: 1 -> waited about a second before the retry
    assert hits["/a/flaky-but-fine-article-1"] == 2
    # Bounded by the work done, not by the clock: a redirect loop is cut after REDIRECT_MAX_TIMES
    # hops (each of its two URLs listed: both may run the loop), and no other URL is asked for
    # more often than 1 + RETRY_TIMES (the timeout and the 500 are retried once, nothing else is).
    loop = [p for p in hits if "redirect-loop" in p]
    assert sum(hits[p] for p in loop) <= 2 * (REDIRECT_MAX_TIMES + 1), hits
    assert max(n for p, n in hits.items() if p not in loop) <= 2, hits
    assert sum(hits.values()) <= sum(hits[p] for p in loop) + 2 * (len(routes) + 1), hits  # + robots.txt


def test_kill_9_then_resume(crawler: Crawler) -> None:
    n = 240
    site = build_news_site(n)
    for path in site.article_paths:
        site.routes[path].delay = 0.03
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN"] = "4"
    with SiteServer(site.routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url))
        proc = crawler.start("r1", sources)
        manifest1 = crawler.data_dir / "runs" / "r1" / "manifest.jsonl"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if manifest1.exists() and sum(1 for _ in iter_manifest(manifest1)) >= 40:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        first = list(iter_manifest(manifest1))
        assert 40 <= len(first) < n, "killed mid-crawl"
        n_hits = len(srv.hits)
        result = crawler.run("r2", sources)
        second_hits = srv.paths()[n_hits:]
    assert result.returncode == 0, result.stderr[-2000:]
    second = result.manifest
    urls1 = [e["url"] for e in first]
    urls2 = [e["url"] for e in second]
    expected = {canonicalize_url(srv.url(p)) for p in site.article_paths}
    assert set(urls1) | set(urls2) == expected, "nothing lost"
    assert len(urls1) + len(urls2) == len(expected), "nothing duplicated"
    stored_paths = {u.split(str(srv.port), 1)[1] for u in urls1}
    assert not stored_paths & set(second_hits), "nothing stored was fetched again"


def test_crawl_delay_from_robots_is_honoured(crawler: Crawler) -> None:
    site = build_news_site(4)
    site.routes["/robots.txt"] = Route(body=b"User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    with SiteServer(site.routes) as srv:
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url, sitemaps=False)))
        stamps = sorted(h.at for h in srv.hits if h.bare_path != "/robots.txt")
    assert result.returncode == 0
    assert len(result.manifest) >= 2 and len(stamps) >= 4
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps


def test_zlib_helper_sanity() -> None:
    # the gzip bomb fixture really is a bomb: small on the wire, huge inflated
    data = gzip.compress(b"0" * 5_000_000)
    assert len(data) < 20_000 and len(zlib.decompress(data, 16 + zlib.MAX_WBITS)) == 5_000_000
