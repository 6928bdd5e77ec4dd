"""End-to-end crawls of fixture sites served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from indexing.archive import read_record
from indexing.urls import canonicalize_url
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html, build_news_site, sources_yaml


def test_full_crawl_every_channel(crawler: Crawler) -> None:
    site = build_news_site(30)
    with SiteServer(site.routes) as srv:
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url)))
        hits = srv.paths()
        user_agents = {h.user_agent for h in srv.hits}
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""
    expected = {canonicalize_url(srv.url(p)) for p in site.article_paths}
    manifest = result.manifest
    urls = [e["url"] for e in manifest]
    assert len(urls) == len(set(urls)), "one manifest entry per article"
    assert set(urls) == expected
    # robots.txt: the disallowed page is linked from the section page but never requested
    assert not any(p.startswith("/private/") for p in hits)
    # every discovery channel was used: feed, robots Sitemap line -> index -> news + gzipped
    for path in (
        "/robots.txt",
        "/feed.xml",
        "/sitemap-index.xml",
        "/news-sitemap.xml",
        "/sitemap-old.xml.gz",
        "/world/",
    ):
        assert path in hits
    # AMP duplicates were never needed, tracking params never reached the article URLs
    assert not any(".amp.html" in p for p in hits)
    assert all("utm_" not in u and "fbclid" not in u for u in urls)
    assert all("(+https://" in ua for ua in user_agents), user_agents
    for entry in manifest:
        assert entry["status"] == 200 and entry["change"] == "new" and entry["source"] == "fixture"
        assert entry["discovered_via"] in {"feed", "sitemap", "section"}
        assert entry["fetched_at"].endswith("Z") and len(entry["fingerprint"]) == 64
        record = read_record(crawler.data_dir / entry["warc_file"], entry["warc_offset"])
        assert record.url == entry["final_url"] and b"<article>" in record.body
        assert not entry["warc_file"].startswith("/")
    sitemap_entries = [e for e in manifest if e["discovered_via"] == "sitemap"]
    assert any(e["published_hint"] for e in sitemap_entries), "news:publication_date used"
    stats = result.source()
    assert stats["new"] == 30 and stats["robots_denied"] >= 1
    assert stats["failed"].get("http_404", 0) >= 1  # the broken feed link
    assert stats["flags"] == []


def test_newest_first_where_dates_are_known(crawler: Crawler) -> None:
    site = build_news_site(30, age_days=1)
    site.routes["/robots.txt"] = Route(
        body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN"] = "1"
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS"] = "1"
    with SiteServer(site.routes) as srv:
        text = sources_yaml(srv.base_url, feeds=False, sections=False).replace(
            "/sitemap-index.xml", "/news-sitemap.xml"
        )
        result = crawler.run("r1", crawler.sources(text))
        order = [p for p in srv.paths() if p in set(site.article_paths)]
    assert result.returncode == 0
    # build_news_site dates article i at now - i hours: newest first is ascending i.
    numbers = [int(p.split("story-number-")[1].split("-")[0]) for p in order]
    assert len(numbers) == 10 and numbers == sorted(numbers)
    assert all(e["published_hint"] for e in result.manifest)


def test_second_run_refetches_at_most_5_percent(crawler: Crawler) -> None:
    site = build_news_site(60)
    with SiteServer(site.routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url))
        first = crawler.run("r1", sources)
        n_first = len(srv.hits)
        second = crawler.run("r2", sources)
        second_hits = srv.paths()[n_first:]
        conditional = [h for h in srv.hits[n_first:] if h.bare_path == "/feed.xml"]
    assert first.returncode == 0 and second.returncode == 0
    article_paths = set(site.article_paths)
    refetched = [p for p in second_hits if p in article_paths]
    assert len(refetched) <= 0.05 * len(article_paths), refetched
    assert second.manifest == [] or all(e["change"] != "new" for e in second.manifest)
    assert conditional and conditional[0].headers.get("If-None-Match") == '"feed-v1"'
    assert second.source()["not_modified"] >= 1
    assert second.source()["skipped_known"] >= 1


def test_updated_article_becomes_new_version(crawler: Crawler) -> None:
    now = datetime.now(UTC)
    path = "/world/2024/05/breaking-update-story-1234.html"
    routes = {
        "/feed.xml": Route(
            content_type="application/rss+xml",
            body=(
                f"<rss><channel><item><link>{{{{BASE}}}}{path}</link><pubDate>{now.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
                "</pubDate></item></channel></rss>"
            ).encode(),
        ),
        path: Route(body=article_html(path, "Breaking", "first version")),
    }
    with SiteServer(routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False))
        first = crawler.run("r1", sources)
        assert [e["change"] for e in first.manifest] == ["new"]
        # Two hours pass (recorded fetch times moved back), the publisher edits the article.
        db = sqlite3.connect(crawler.data_dir / "state" / "crawl.sqlite")
        with db:
            db.execute(
                "UPDATE articles SET first_fetched = first_fetched - 7200, last_fetched = last_fetched - 7200, "
                "published = published - 7200"
            )
        db.close()
        srv.routes[path] = Route(body=article_html(path, "Breaking", "second version, corrected"))
        second = crawler.run("r2", sources)
        third = crawler.run("r3", sources)  # right after: not due again
    assert [(e["url"], e["change"]) for e in second.manifest] == [(first.manifest[0]["url"], "updated")]
    assert second.manifest[0]["fingerprint"] != first.manifest[0]["fingerprint"]
    assert third.manifest == []


def test_private_network_refused_unless_allowed(crawler: Crawler) -> None:
    site = build_news_site(5)
    with SiteServer(site.routes) as srv:
        text = sources_yaml(srv.base_url).replace(
            "allow_private_network: true", "allow_private_network: false"
        )
        result = crawler.run("r1", crawler.sources(text))
        hits = srv.paths()
    assert result.returncode == 0
    assert hits == [], "nothing at all is fetched from a loopback address"
    stats = result.source()
    assert stats["discovery_failed"].get("feed:private_address") == 1
    assert "no_articles" in stats["flags"] and "mostly_failed" in stats["flags"]


def test_bad_config_exits_nonzero_with_file_and_line(crawler: Crawler) -> None:
    sources = crawler.sources(
        "sources:\n  - id: x\n    url: http://127.0.0.1:1/\n    feeds: []\n    colour: red\n"
    )
    result = crawler.run("r1", sources)
    assert result.returncode == 2
    assert f"{sources}:5" in result.stderr and "colour" in result.stderr and "'x'" in result.stderr
    assert crawler.run("bad id!", sources).returncode == 2


def test_only_named_sources(crawler: Crawler) -> None:
    site = build_news_site(3)
    with SiteServer(site.routes) as srv:
        text = (
            sources_yaml(srv.base_url)
            + sources_yaml("http://127.0.0.1:9", source_id="other").split("sources:\n", 1)[1]
        )
        result = crawler.run("r1", crawler.sources(text), "--source", "fixture")
        assert crawler.run("r2", crawler.sources(text), "--source", "nope").returncode == 2
    assert result.returncode == 0
    assert set(result.report["sources"]) == {"fixture"}


def test_progress_lines(crawler: Crawler, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    site = build_news_site(6)
    progress = tmp_path / "progress.jsonl"
    with SiteServer(site.routes) as srv:
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url)), "--progress", str(progress))
    assert result.returncode == 0
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert any(e["event"] == "progress" and e["stored"] == 6 for e in events)


def test_recent_articles_are_not_refetched_immediately(crawler: Crawler) -> None:
    """Articles inside the recrawl window are re-checked with backoff, not on every run."""
    site = build_news_site(20, age_days=0.05)
    with SiteServer(site.routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url))
        crawler.run("r1", sources)
        n = len(srv.hits)
        crawler.run("r2", sources)
        again = [p for p in srv.paths()[n:] if p in set(site.article_paths)]
    assert len(again) <= 1


def test_old_articles_limit(crawler: Crawler) -> None:
    site = build_news_site(9, age_days=400)
    crawler.env["WARWATCH_CRAWL__MAX_AGE_DAYS"] = "30"
    with SiteServer(site.routes) as srv:
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url, sections=False)))
    assert result.returncode == 0
    assert result.source()["skipped_old"] >= 6
    assert timedelta(days=1)  # keep import used


def test_proxies_from_the_environment_are_not_used(crawler: Crawler) -> None:
    """Through a proxy the address check would see the proxy, not the target: the crawler
    ignores http_proxy/https_proxy and connects directly (where the check applies)."""
    site = build_news_site(3)
    with SiteServer({}) as proxy, SiteServer(site.routes) as srv:
        for name in ("no_proxy", "NO_PROXY"):
            crawler.env.pop(name, None)
        crawler.env.update({"http_proxy": proxy.base_url, "https_proxy": proxy.base_url,
                            "HTTP_PROXY": proxy.base_url})
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url)))
        proxied = proxy.paths()
    assert result.returncode == 0, result.stderr[-2000:]
    assert proxied == []
    assert result.source()["new"] == 3
