"""Article pages that need JavaScript (USERS.md item 10): rendered by Debian's headless chromium
during a real crawl of a site on 127.0.0.1, the capture kept as served beside the rendered page."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from crawlers.render import find_browser
from indexing.archive import read_record
from indexing.extraction import extract
from tests.conftest import service_missing
from tests.crawlers.conftest import Crawler, CrawlResult
from tests.crawlers.sitefixture import Route, SiteServer, article_html

PARAGRAPHS = [
    "Nordkoreanische Soldaten sind nach Angaben des ukrainischen Geheimdienstes in der Region Kursk "
    "eingetroffen, wo sie an der Seite russischer Einheiten kämpfen sollen.",
    "Die Regierung in Kiew sprach von mehreren tausend Mann, die in den vergangenen Wochen über "
    "Wladiwostok verlegt worden seien; Moskau äußerte sich zunächst nicht zu den Berichten.",
    "Beobachter erwarten, dass der Einsatz die Lage an der Front in den kommenden Monaten verändert, "
    "auch wenn die Zahl der Soldaten im Vergleich zu den russischen Verbänden gering bleibt.",
]
SHELL = (b"<!doctype html><html lang='de'><head><meta charset='utf-8'><title>Truppen in Kursk</title></head>"
         b"<body><div id='app'></div><noscript>Bitte aktivieren Sie JavaScript.</noscript>"
         b"<script src='/static/app.js'></script></body></html>")
# the bundle: fetches the article's JSON, writes it into the page, asks for a picture (never fetched)
APP_JS = b"""
fetch('/api/story.json').then(r => r.json()).then(story => {
  const app = document.getElementById('app');
  const h1 = document.createElement('h1'); h1.textContent = story.title; app.appendChild(h1);
  const img = document.createElement('img'); img.src = '/static/photo.jpg'; app.appendChild(img);
  for (const text of story.paragraphs) {
    const p = document.createElement('p'); p.textContent = text; app.appendChild(p);
  }
});
"""


def _site() -> dict[str, Route]:
    section = (b"<html><body><h1>Welt</h1>"
               b"<a href='/news/2024/11/kursk-truppen'>Truppen in Kursk</a>"
               b"<a href='/news/2024/11/plain-story'>Plain story</a></body></html>")
    plain = article_html("plain", "Plain story", " ".join(["An ordinary server-rendered article."] * 30))
    return {
        "/world/": Route(body=section),
        "/news/2024/11/kursk-truppen": Route(body=SHELL),
        "/news/2024/11/plain-story": Route(body=plain),
        "/static/app.js": Route(body=APP_JS, content_type="application/javascript"),
        "/api/story.json": Route(body=json.dumps({"title": "Truppen in Kursk", "paragraphs": PARAGRAPHS}).encode(),
                                 content_type="application/json"),
        "/static/photo.jpg": Route(body=b"\xff\xd8\xff", content_type="image/jpeg"),
    }


def _sources(base: str, render: str | None = None) -> str:
    return "\n".join([
        "sources:", "  - id: fixture", f"    url: {base}/", f"    sections: [{base}/world/]",
        "    allow_private_network: true", *([f"    render: {render}"] if render else []),
    ]) + "\n"


def _entry(result: CrawlResult, path: str) -> dict:
    return next(e for e in result.manifest if e["url"].endswith(path))


@pytest.fixture
def browser() -> str:
    found = find_browser(None)
    if found is None:
        service_missing("no chromium on PATH (apt-get install chromium)")
    assert found is not None
    return found


def test_a_script_rendered_article_is_rendered_and_kept_as_served_beside_its_rendering(
        crawler: Crawler, browser: str) -> None:
    with SiteServer(_site()) as srv:
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url)))
        hits = [h.bare_path for h in srv.hits]
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.source()["render"] == {"rendered": 1}
    shell, plain = _entry(result, "/kursk-truppen"), _entry(result, "/plain-story")
    assert "rendered_offset" not in plain  # a page with its text in the HTML is not rendered
    served = read_record(crawler.data_dir / shell["warc_file"], shell["warc_offset"])
    rendered = read_record(crawler.data_dir / shell["warc_file"], shell["rendered_offset"])
    assert served.body == SHELL  # the capture is the page as served
    assert PARAGRAPHS[0].encode() not in served.body and PARAGRAPHS[0].encode() in rendered.body
    article = extract(rendered.body, url=shell["url"])
    assert article.status == "ok" and article.title == "Truppen in Kursk"
    assert article.body.split("\n\n") == PARAGRAPHS
    assert extract(served.body, url=shell["url"]).status_reason == "needs_javascript"
    # the document was fetched once, by the crawler: the browser rendered the capture
    assert hits.count("/news/2024/11/kursk-truppen") == 1
    assert "/api/story.json" in hits and "/static/photo.jpg" not in hits  # no images fetched


def test_render_never_keeps_the_page_as_served_and_extraction_says_why(crawler: Crawler) -> None:
    with SiteServer(_site()) as srv:
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url, render="never")))
        hits = [h.bare_path for h in srv.hits]
    assert result.returncode == 0, result.stderr[-2000:]
    shell = _entry(result, "/kursk-truppen")
    assert "rendered_offset" not in shell and result.source()["render"] == {}
    assert "/static/app.js" not in hits
    served = read_record(crawler.data_dir / shell["warc_file"], shell["warc_offset"])
    assert extract(served.body, url=shell["url"]).status_reason == "needs_javascript"


def test_without_a_browser_the_page_is_kept_as_served_and_counted(crawler: Crawler) -> None:
    crawler.env["WARWATCH_CRAWL__RENDER_BROWSER"] = "/nonexistent/chromium"
    with SiteServer(_site()) as srv:
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.source()["render"] == {"unavailable": 1}
    assert "needs JavaScript and no browser is installed" in result.stderr
    assert "rendered_offset" not in _entry(result, "/kursk-truppen")
    # and the run says so: a page no one can read is a problem of the run, not a silent loss
    from warwatch.pipeline.report import problems

    assert [p for p in problems({"crawl": result.report}) if "need JavaScript" in p] == [
        "source fixture: 1 page(s) need JavaScript and no browser is installed (apt-get install chromium, "
        "or set crawl.render_browser): kept as served, not readable"]


def test_the_browser_fetches_nothing_from_a_private_address_for_a_source_that_did_not_opt_in(browser: str) -> None:
    from crawlers.render import Renderer

    async def both() -> tuple[str, list[str], str, list[str]]:
        renderer = Renderer(browser, timeout=20, max_bytes=5_000_000)
        try:
            with SiteServer(_site()) as srv:
                url = f"{srv.base_url}/news/2024/11/kursk-truppen"
                refused = await renderer.render(url, SHELL, "text/html", allow_private=False)
                refused_hits = [h.bare_path for h in srv.hits]
                opted_in = await renderer.render(url, SHELL, "text/html", allow_private=True)
                return refused, refused_hits, opted_in, [h.bare_path for h in srv.hits]
        finally:
            await renderer.close()

    refused, refused_hits, opted_in, hits = asyncio.run(both())
    assert refused_hits == [] and PARAGRAPHS[0] not in refused
    assert "/api/story.json" in hits and PARAGRAPHS[0] in opted_in


@pytest.mark.parametrize(("url", "private_hosts", "expected"), [
    ("https://cdn.example/app.js", set(), True),
    ("data:text/javascript,1", set(), True),
    ("http://intranet.example/api", {"intranet.example"}, False),
    ("http://127.0.0.1:8080/x", set(), False),
    ("http://2130706433/x", set(), False),  # 127.0.0.1 spelled as one number
    ("http://[::1]/x", set(), False),
    ("http://169.254.169.254/latest/meta-data/", set(), False),
    ("file:///etc/passwd", set(), False),
    ("ftp://files.example/x", set(), False),
    ("http://unresolvable.example/x", None, False),  # fail closed
])
def test_what_the_browser_may_fetch(url: str, private_hosts: set[str] | None, expected: bool) -> None:
    from crawlers.render import allowed

    async def resolve(host: str) -> bool:
        if private_hosts is None:
            raise OSError("no such host")
        return host in private_hosts

    assert asyncio.run(allowed(url, False, resolve)) is expected
    if url.startswith(("http://", "https://")):
        assert asyncio.run(allowed(url, True, resolve)) is True  # a source that opted in


@pytest.mark.parametrize(("html", "shell"), [
    (SHELL, True),
    (b"<html><body><div id=root></div><script>render()</script></body></html>", True),
    (b"<html><body><p>" + b"Ein ganzer Satz mit Worten. " * 20 + b"</p><script src=a.js></script></body></html>", False),
    (b"<html><body><div id=app></div></body></html>", False),  # nothing runs: nothing to render
    (b"<html><body><div id=app></div><script type='application/ld+json'>{}</script></body></html>", False),
    (b'<html><head><script type="application/ld+json">{"articleBody": "' + b"Satz. " * 60 + b'"}</script>'
     b"</head><body><div id=app></div><script src=a.js></script></body></html>", False),  # extraction reads it
    (b"<html><body><div id=app></div><script>" + b"var a = 1; " * 5000 + b"</script></body></html>", True),
    # the shell renders its frame on the server (menu, footer) and the article in the browser
    (b"<html><body><nav>" + b"<a href=/s>Politik und Gesellschaft</a>" * 40 + b"</nav><main id=app></main>"
     b"<footer><a href=/i>Impressum</a> <a href=/d>Datenschutz und Cookies verwalten</a>"
     b"<aside>" + b"Mehr aus dem Ressort " * 10 + b"</aside></footer><script src=/app.js></script></body></html>", True),
    # ... which an article under the same frame is not
    (b"<html><body><nav>" + b"<a href=/s>Politik</a>" * 40 + b"</nav><main><header><h1>Titel</h1><p>"
     + b"Ein Satz des Artikels. " * 25 + b"</p></header></main><script src=/app.js></script></body></html>", False),
    (b"", False),
    (b"\x00\xff garbage", False),
])
def test_which_pages_are_script_rendered_shells(html: bytes, shell: bool) -> None:
    from indexing.extraction.scripted import script_shell

    assert script_shell(html) is shell


def test_hostile_scripts_cannot_hang_the_renderer_or_lead_it_elsewhere(browser: str) -> None:
    from crawlers.render import Renderer, RenderError

    pages = {
        "loop": b"<html><body><div id=app></div><script>while (true) {}</script></body></html>",
        "away": b"<html><body><div id=app></div><script>location.href = '/other'</script></body></html>",
        "refresh": b"<html><head><meta http-equiv=refresh content='0;url=/other'></head>"
                   b"<body><script>document.body.append('stayed')</script></body></html>",
        "popup": b"<html><body><script>window.open('/other'); document.body.append('stayed')</script></body></html>",
        "frame": b"<html><body><iframe src='/other'></iframe><script>document.body.append('stayed')</script></body></html>",
        "dialog": b"<html><body><script>alert('x'); document.body.append('stayed')</script></body></html>",
    }
    outcomes: dict[str, str] = {}

    async def each() -> list[str]:
        renderer = Renderer(browser, timeout=3, max_bytes=5_000_000)
        try:
            with SiteServer({"/other": Route(body=b"<html><body>ANOTHER PAGE</body></html>")}) as srv:
                for name, body in pages.items():
                    try:
                        html = await renderer.render(f"{srv.base_url}/{name}", body, "text/html", allow_private=True)
                        outcomes[name] = "stayed" if "stayed" in html and "ANOTHER" not in html else html[:200]
                    except RenderError:
                        outcomes[name] = "failed"
                return [h.bare_path for h in srv.hits]
        finally:
            await renderer.close()

    hits = asyncio.run(each())
    # a page that never loads (a busy loop, a script leaving at once) fails within the page's bound and
    # is kept as served; the others keep their own DOM; nothing of another page is fetched or read
    assert outcomes == {"loop": "failed", "away": "failed", "refresh": "stayed", "popup": "stayed",
                        "frame": "stayed", "dialog": "stayed"}
    assert "/other" not in hits


def test_the_host_check_fails_closed_and_is_bounded_per_page() -> None:
    from crawlers.render import MAX_HOSTS, HostCheck, allowed

    async def checks() -> None:
        check = HostCheck()
        assert await check("localhost") is True and await check("news.localhost") is True
        with pytest.raises(OSError):
            await check("no-such-host.invalid")  # RFC 2606: never resolves
        assert not await allowed("http://no-such-host.invalid/app.js", False, check)
        check.known.update({f"h{i}.example": False for i in range(MAX_HOSTS)})
        with pytest.raises(OSError, match="hosts on one page"):
            await check("one-more.example")
        assert await check("h0.example") is False  # a name looked up before is answered from the page's cache

    asyncio.run(checks())


def test_an_edit_behind_an_unchanged_shell_is_caught_on_revisit(crawler: Crawler, browser: str) -> None:
    """The shell's bytes never change; the article its script fetches does. The revisit renders
    the page again: the edited one is a full capture for the index stage, the other unchanged."""
    from tests.crawlers.test_revisits import _revisit_env, _until_due
    from warwatch.pipeline.clean import _skip_reason

    _revisit_env(crawler)
    routes = _site()
    routes["/api/other.json"] = Route(body=json.dumps({"title": "Andere", "paragraphs": PARAGRAPHS[1:]}).encode(),
                                      content_type="application/json")
    routes["/news/2024/11/andere"] = Route(body=SHELL.replace(b"/static/app.js", b"/static/other.js"))
    routes["/static/other.js"] = Route(body=APP_JS.replace(b"/api/story.json", b"/api/other.json"),
                                       content_type="application/javascript")
    routes["/world/"] = Route(body=b"<html><body><a href='/news/2024/11/kursk-truppen'>Truppen</a>"
                                   b"<a href='/news/2024/11/andere'>Andere</a></body></html>")
    with SiteServer(routes) as srv:
        sources = crawler.sources(_sources(srv.base_url))
        first = crawler.run("r1", sources)
        first_done = time.monotonic()
        assert first.returncode == 0, first.stderr[-2000:]
        assert first.source()["render"] == {"rendered": 2}
        edited = PARAGRAPHS[:2] + ["Korrektur: Die Zahl der Soldaten wurde nachträglich auf zwölftausend berichtigt, "
                                   "wie das Verteidigungsministerium in Kiew am Abend mitteilte."]
        srv.routes["/api/story.json"] = Route(body=json.dumps({"title": "Truppen in Kursk", "paragraphs": edited}).encode(),
                                              content_type="application/json")
        _until_due(first_done)
        second = crawler.run("r2", sources)
    assert second.returncode == 0, second.stderr[-2000:]
    by_url = {e["url"].rsplit("/", 1)[-1]: e for e in second.manifest}
    changed, same = by_url["kursk-truppen"], by_url["andere"]
    assert (changed["change"], changed["revisit"]) == ("updated", True) and _skip_reason(changed) is None
    rendered = read_record(crawler.data_dir / changed["warc_file"], changed["rendered_offset"])
    assert extract(rendered.body).body.split("\n\n") == edited
    assert read_record(crawler.data_dir / changed["warc_file"], changed["warc_offset"]).body == SHELL
    assert (same["change"], same["revisit"]) == ("unchanged", True) and _skip_reason(same) == "unchanged_revisit"
    assert second.source()["render"] == {"rendered": 2}


def test_a_section_page_whose_links_scripts_write_is_rendered_and_its_articles_followed(
        crawler: Crawler, browser: str) -> None:
    slugs = ["erste-meldung", "zweite-meldung", "dritte-meldung"]
    listing = json.dumps([f"/news/2024/11/{s}" for s in slugs]).encode()
    section_js = (b"fetch('/api/list.json').then(r => r.json()).then(urls => { for (const u of urls) {"
                  b" const a = document.createElement('a'); a.href = u; a.textContent = u;"
                  b" document.getElementById('app').appendChild(a); } });")
    routes = {
        "/world/": Route(body=b"<html><body><nav><a href='/'>Start</a></nav><div id='app'></div>"
                              b"<script src='/static/section.js'></script></body></html>"),
        "/static/section.js": Route(body=section_js, content_type="application/javascript"),
        "/api/list.json": Route(body=listing, content_type="application/json"),
        **{f"/news/2024/11/{s}": Route(body=article_html(s, s, " ".join([f"Bericht {s}."] * 80))) for s in slugs},
    }
    with SiteServer(routes) as srv:
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(e["url"].rsplit("/", 1)[-1] for e in result.manifest) == sorted(slugs)
    assert result.source()["render"] == {"rendered": 1}  # the section; its articles are served HTML
    assert not any("rendered_offset" in e for e in result.manifest)


def test_a_few_pages_without_a_browser_are_counted_but_do_not_fail_the_run() -> None:
    from warwatch.pipeline.report import problems

    def source(unavailable: int, fetched: int) -> dict:
        return {"crawl": {"sources": {"s": {"fetched": fetched, "render": {"unavailable": unavailable}}}}}

    assert problems(source(1, 100)) == []  # one short page with scripts among a hundred articles
    assert len(problems(source(30, 60))) == 1  # half the source's pages unreadable: the run says so


def test_a_page_kept_as_served_for_want_of_a_browser_is_rendered_at_its_revisit(
        crawler: Crawler, browser: str) -> None:
    from tests.crawlers.test_revisits import _revisit_env, _until_due

    _revisit_env(crawler)
    crawler.env["WARWATCH_CRAWL__RENDER_BROWSER"] = "/nonexistent/chromium"
    with SiteServer(_site()) as srv:
        sources = crawler.sources(_sources(srv.base_url))
        first = crawler.run("r1", sources)
        first_done = time.monotonic()
        crawler.env["WARWATCH_CRAWL__RENDER_BROWSER"] = browser  # the browser is installed since
        _until_due(first_done)
        second = crawler.run("r2", sources)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    shell = _entry(first, "/kursk-truppen")
    assert shell["fingerprint"].startswith("unrendered:") and "rendered_offset" not in shell
    assert not _entry(first, "/plain-story")["fingerprint"].startswith("unrendered:")
    again = _entry(second, "/kursk-truppen")
    assert (again["change"], again["revisit"]) == ("updated", True)
    rendered = read_record(crawler.data_dir / again["warc_file"], again["rendered_offset"])
    assert extract(rendered.body).body.split("\n\n") == PARAGRAPHS
    assert _entry(second, "/plain-story")["change"] == "unchanged"  # same bytes: a revisit record
    assert second.source()["render"] == {"rendered": 1}


PACED_JS = b"""
Promise.all([1, 2, 3, 4].map(i => fetch('/api/part' + i + '.json').then(r => r.json())))
  .then(parts => {
    const app = document.getElementById('app');
    for (const part of parts) { const p = document.createElement('p'); p.textContent = part.text; app.appendChild(p); }
  });
"""


def test_what_the_scripts_fetch_is_paced_like_the_crawl(crawler: Crawler, browser: str) -> None:
    """The browser's requests to the source's host wait in the source's download slot: the four
    fetches a script fires at once leave one per delay, and the crawler's own next fetch waits after
    them (without pacing the four left within milliseconds)."""
    delay = 0.4
    crawler.env["WARWATCH_CRAWL__DOWNLOAD_DELAY"] = str(delay)
    with SiteServer(_site()) as srv:
        routes = srv.routes
        routes["/static/app.js"] = Route(body=PACED_JS, content_type="application/javascript")
        for i, text in enumerate(PARAGRAPHS * 2, start=1):
            routes[f"/api/part{i}.json"] = Route(body=json.dumps({"text": text}).encode(), content_type="application/json")
        result = crawler.run("r1", crawler.sources(_sources(srv.base_url)))
        hits = sorted(srv.hits, key=lambda h: h.at)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.source()["render"] == {"rendered": 1}
    # robots.txt is fetched outside the source's slot (Scrapy's robots middleware), at the start
    own = [h for h in hits if h.headers.get("Host", "").startswith("127.0.0.1") and h.bare_path != "/robots.txt"]
    browser_paths = {"/static/app.js", *(f"/api/part{i}.json" for i in range(1, 5))}
    assert browser_paths <= {h.bare_path for h in own}
    gaps = [(b.at - a.at, b.bare_path) for a, b in zip(own, own[1:], strict=False)]
    # the browser waits the slot's delay; the crawler's jittered delay is never under half of it
    assert all(gap >= delay * 0.95 for gap, path in gaps if path in browser_paths), gaps
    assert all(gap >= delay * 0.5 * 0.95 for gap, _ in gaps), gaps
    rendered = read_record(crawler.data_dir / _entry(result, "/kursk-truppen")["warc_file"],
                           _entry(result, "/kursk-truppen")["rendered_offset"])
    assert all(p.encode() in rendered.body for p in PARAGRAPHS)  # what the paced fetches brought


def test_other_hosts_are_paced_on_their_own_and_the_slot_on_its_last_request() -> None:
    """crawlers.render.Pace on a downloader's slots (Scrapy's ``Slot``: ``delay``, ``lastseen``)."""
    from scrapy.core.downloader import Slot

    from crawlers.render import Pace

    class Downloader:
        slots = {"source:a": Slot(concurrency=4, delay=0.3, jitter=0.0)}

    slot = Downloader.slots["source:a"]

    async def go() -> list[tuple[str, float]]:
        pace, started, marks = Pace(Downloader(), default_delay=0.2), time.monotonic(), []
        slot.lastseen = started  # the crawler fetched just now: the browser waits the slot's delay

        async def one(key: str, own: bool) -> None:
            await pace.wait(key, slot=own)
            marks.append((key, time.monotonic() - started))

        await asyncio.gather(one("source:a", True), one("source:a", True), one("host:cdn", False),
                             one("host:cdn", False), one("host:other", False))
        assert slot.lastseen >= started + 0.55  # the slot's last request is the browser's second
        return marks

    marks = asyncio.run(go())
    own = sorted(t for k, t in marks if k == "source:a")
    cdn = sorted(t for k, t in marks if k == "host:cdn")
    assert 0.28 <= own[0] < 0.5 and own[1] - own[0] >= 0.28
    assert cdn[0] < 0.1 and cdn[1] - cdn[0] >= 0.19  # the crawl's delay, not held by the slot
    assert [t for k, t in marks if k == "host:other"][0] < 0.1

