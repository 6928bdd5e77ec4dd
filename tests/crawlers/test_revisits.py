"""Revisits end to end: a fixture site on 127.0.0.1 changes between two crawls (real
subprocess crawls, intervals of a second through the settings, the second check 0.2 s later).

Covered: an unchanged page -> WARC revisit record (identical payload), a 304 honoured (the
conditional GET carries the article's ETag), a 404 confirmed by a second check in the same run,
a 404-then-200 not reported, a redirect to the home page reported, a changed page a full capture,
the revisit budget share (counted on the wire), the clean stage's skip of unchanged revisits."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from indexing.archive import iter_records, read_record
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html, sources_yaml
from warwatch.pipeline.clean import _skip_reason

SLUGS = ("unchanged-story-about-troops", "etag-story-about-shelling", "deleted-story-about-losses",
         "flaky-story-about-refugees", "homed-story-about-the-front", "edited-story-about-casualties")


def _path(slug: str) -> str:
    return f"/world/2024/05/{slug}.html"


def _body(slug: str, text: str = "") -> bytes:
    prose = " ".join(f"Sentence {i} of the report on {slug.replace('-', ' ')} with details." for i in range(30))
    return article_html(_path(slug), slug.replace("-", " ").title(), prose + text, canonical=_path(slug))


def _feed(paths: list[str]) -> Route:
    now = datetime.now(UTC) - timedelta(days=1)
    items = "".join(
        f"<item><link>{{{{BASE}}}}{p}</link><pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return Route(body=f"<rss><channel>{items}</channel></rss>".encode(), content_type="application/rss+xml")


def _then(first: Route, then: Route) -> Route:
    """``first`` for the first request, ``then`` for every later one."""
    seen: list[int] = []

    def handler(req: BaseHTTPRequestHandler) -> Route:
        seen.append(1)
        return first if len(seen) == 1 else then

    return Route(handler=handler)


def _revisit_env(crawler: Crawler, plan: str = "1s", share: str = "0.3", cap: str | None = None) -> None:
    crawler.env.update({"WARWATCH_CHANGES__REVISIT_AFTER": plan, "WARWATCH_CHANGES__REVISIT_SHARE": share,
                        "WARWATCH_CHANGES__CONFIRM_DELAY_SECONDS": "0.2"})
    if cap is not None:
        crawler.env["WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE"] = cap


#: the revisit interval the tests set (``_revisit_env``), in seconds
REVISIT_AFTER = 1.0


def _until_due(first_done: float) -> None:
    """Let the revisit interval pass: the crawler is a process of its own, with its own clock
    (on a fast machine the second crawl starts within a second of the first one's fetches)."""
    time.sleep(max(0.0, REVISIT_AFTER + 0.2 - (time.monotonic() - first_done)))


def _after(srv: SiteServer, mark: int) -> Callable[[str], list[int]]:
    return lambda path: [h.status for h in srv.hits[mark:] if h.bare_path == path]


def test_revisit_answers_between_two_crawls(crawler: Crawler) -> None:
    _revisit_env(crawler)
    paths = [_path(s) for s in SLUGS]
    routes = {"/feed.xml": _feed(paths), **{_path(s): Route(body=_body(s)) for s in SLUGS}}
    routes[_path(SLUGS[1])] = Route(body=_body(SLUGS[1]), etag='"v1"')
    with SiteServer(routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False))
        first = crawler.run("r1", sources)
        first_done = time.monotonic()
        assert first.returncode == 0, first.stderr[-2000:]
        assert sorted(e["change"] for e in first.manifest) == ["new"] * 6
        # the site changes under the crawler
        srv.routes["/feed.xml"] = _feed([])  # nothing listed any more: revisits go by the schedule
        srv.routes[_path(SLUGS[2])] = Route(404, b"<html><body><h1>Not found</h1></body></html>")
        srv.routes[_path(SLUGS[3])] = _then(Route(404, b"<html><body>oops</body></html>"), Route(body=_body(SLUGS[3])))
        srv.routes[_path(SLUGS[4])] = Route(301, headers={"Location": "{{BASE}}/"})
        srv.routes["/"] = Route(body=b"<html><body><h1>Fixture News</h1><a href='/world/'>World</a></body></html>")
        srv.routes[_path(SLUGS[5])] = Route(body=_body(SLUGS[5], " Correction: the toll was 14, not 40."))
        mark = len(srv.hits)
        _until_due(first_done)
        second = crawler.run("r2", sources)
        statuses = _after(srv, mark)
        etag_hits = [h for h in srv.hits[mark:] if h.bare_path == _path(SLUGS[1])]
    assert second.returncode == 0, second.stderr[-2000:]
    by_url = {e["url"].rsplit("/", 1)[-1].removesuffix(".html"): e for e in second.manifest}
    assert set(by_url) == set(SLUGS)
    assert all(e["revisit"] is True and e["discovered_via"] == "revisit" for e in second.manifest)
    # unchanged bytes and 304: revisit records, skipped by cleaning
    for slug, status in ((SLUGS[0], 200), (SLUGS[1], 304), (SLUGS[3], 200)):
        entry = by_url[slug]
        assert (entry["change"], entry["warc_type"], entry["status"]) == ("unchanged", "revisit", status), entry
        assert "takedown" not in entry and _skip_reason(entry) == "unchanged_revisit"
        record = read_record(crawler.data_dir / entry["warc_file"], entry["warc_offset"])
        assert record.body == b"" and record.warc_headers["WARC-Type"] == "revisit"
        profile = "identical-payload-digest" if status == 200 else "server-not-modified"
        assert record.warc_headers["WARC-Profile"].endswith(profile)
        assert record.warc_headers["WARC-Refers-To-Target-URI"].endswith(_path(slug))
    assert etag_hits[0].headers.get("If-None-Match") == '"v1"'
    # the 404: suspected, checked again, confirmed, with the 404 page archived as evidence
    assert statuses(_path(SLUGS[2])) == [404, 404]
    gone = by_url[SLUGS[2]]
    assert (gone["takedown"], gone["status"], gone["revisit"]) == ("removed", 404, True)
    assert gone["first_seen"] <= gone["confirmed_at"] and gone["source"] == "fixture"
    assert read_record(crawler.data_dir / gone["warc_file"], gone["warc_offset"]).status == 404
    # the flaky 404: checked again, 200 with the stored bytes: no takedown
    assert statuses(_path(SLUGS[3])) == [404, 200]
    # the redirect to the home page
    homed = by_url[SLUGS[4]]
    assert homed["takedown"] == "redirected" and homed["final_url"].rstrip("/") == srv.base_url
    # the edited article: a full capture for the index stage to compare
    edited = by_url[SLUGS[5]]
    assert (edited["change"], edited.get("warc_type"), edited["status"]) == ("updated", None, 200)
    assert _skip_reason(edited) is None
    stats = second.source()
    assert (stats["revisits_due"], stats["revisits_done"], stats["revisits_overdue"]) == (6, 6, 0)
    assert (stats["revisits_not_modified"], stats["revisits_changed"]) == (3, 1)
    assert (stats["takedowns_suspected"], stats["takedowns_confirmed"]) == (3, 2)
    assert stats["new"] == 0


def test_revisits_stay_within_their_budget_share_and_behind_new_articles(crawler: Crawler) -> None:
    _revisit_env(crawler, share="0.25", cap="8")
    old = [_path(f"old-story-number-{i}-about-the-war") for i in range(8)]
    new = [_path(f"new-story-number-{i}-about-the-war") for i in range(3)]
    routes = {"/feed.xml": _feed(old), **{p: Route(body=_body(p.rsplit("/", 1)[-1][:-5])) for p in old + new}}
    with SiteServer(routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False))
        first = crawler.run("b1", sources)
        first_done = time.monotonic()
        assert first.returncode == 0 and len(first.manifest) == 8
        srv.routes["/feed.xml"] = _feed(new)
        mark = len(srv.hits)
        _until_due(first_done)
        second = crawler.run("b2", sources)
        hits = [h.bare_path for h in srv.hits[mark:]]
    revisited = [p for p in hits if p in old]
    assert len(revisited) == 2  # ceil(0.25 x 8): the other six wait, counted overdue
    assert sorted(p for p in hits if p in new) == sorted(new)  # the new articles, outside that budget
    stats = second.source()
    assert (stats["revisits_due"], stats["revisits_done"], stats["revisits_overdue"], stats["new"]) == (8, 2, 6, 3)


def test_warc_revisit_records_are_read_back(tmp_path: Path) -> None:
    from indexing.archive import ArchiveWriter

    with ArchiveWriter.open(tmp_path / "warc", "t", tmp_path / "m.jsonl", data_dir=tmp_path) as archive:
        full = archive.write({"url": "u"}, url="https://e.com/a", status=200, headers={"ETag": '"1"'},
                             body=b"<html>x</html>", fetched_at=datetime(2024, 5, 3, tzinfo=UTC))
        same = archive.write_revisit({"url": "u"}, url="https://e.com/a", status=200, headers={},
                                     fetched_at=datetime(2024, 5, 4, tzinfo=UTC), refers_to_uri="https://e.com/a",
                                     refers_to_date=datetime(2024, 5, 3, tzinfo=UTC), payload=b"<html>x</html>")
    records = list(iter_records(tmp_path / same["warc_file"]))
    assert [r.status for _, r in records] == [200, 200] and records[1][1].body == b""
    head = records[1][1].warc_headers
    assert head["WARC-Payload-Digest"] == read_record(tmp_path / full["warc_file"], full["warc_offset"]).warc_headers[
        "WARC-Payload-Digest"]
    assert head["WARC-Refers-To-Date"].startswith("2024-05-03")
    # every record is its own gzip member: the revisit record is a few hundred bytes
    raw = (tmp_path / same["warc_file"]).read_bytes()[same["warc_offset"]:]
    assert b"revisit" in gzip.decompress(raw)
