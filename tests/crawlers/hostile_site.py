"""A hostile news site on 127.0.0.1: good articles next to every trap a crawler meets.

:func:`build_hostile_site` returns the routes of a :class:`HostileServer` with ``n_good`` real
articles (several paragraphs each, all listed in a sitemap, the newest in the feed and on a
section page) and these traps, each reachable the way a crawler finds it:

===================  ==========================================================================
trap                 what it is
===================  ==========================================================================
gzip_bomb_page       an article URL answering ``Content-Encoding: gzip``, 200 MB of zeros inflated
gzip_bomb_sitemap    a ``.gz`` child sitemap inflating to 200 MB
huge_page            a 50 MB page (Content-Length announced) and one without Content-Length
slow_page            one byte per second, forever
redirect_loop        a -> b -> a, and an endless chain of new redirect targets
sitemap_chain        an endless chain of sitemap indexes, each with a child of dead URLs
huge_sitemap         200,000 URLs (gzipped), all dead
huge_section         a section page with 100,000 article-looking links, all dead
robots_sitemaps      robots.txt with 500 ``Sitemap:`` lines
bad_charsets         articles whose declared charset is unknown, wrong or violated
truncated            Content-Length larger than the body, then the connection closes
poisoned_dates       a feed and a sitemap where single entries carry ``0001-01-01T00:00:00+01:00``,
                     ``9999-99-99`` or garbage as their date (the entries are good articles)
===================  ==========================================================================

:func:`run_measured` runs a command and reports its wall time and the peak RSS of its whole
process tree (``/proc``, polled), for the tests and ``benchmarks/hostile.py``.
"""

from __future__ import annotations

import functools
import gzip
import os
import random
import re
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.crawlers.sitefixture import Hit, Route, SiteServer

BOMB_BYTES = 200 * 1024 * 1024
HUGE_PAGE_BYTES = 50 * 1024 * 1024
HUGE_SITEMAP_URLS = 200_000
HUGE_SECTION_LINKS = 100_000
ROBOTS_SITEMAP_LINES = 500
POISON_DATES = ["0001-01-01T00:00:00+01:00", "9999-99-99", "not a date at all"]

#: Trap name -> article-looking paths (linked from the section page) that must fail, counted.
TRAP_PAGES = {
    "gzip_bomb_page": "/trap/2026/11/gzip-bomb-in-a-page.html",
    "huge_page": "/trap/2026/11/fifty-megabyte-page-announced.html",
    "huge_page_unannounced": "/trap/2026/11/fifty-megabyte-page-streamed.html",
    "slow_page": "/trap/2026/11/one-byte-per-second-page.html",
    "redirect_loop": "/trap/2026/11/redirect-loop-a.html",
    "redirect_chain": "/trap/2026/11/redirect-chain-0.html",
    "truncated": "/trap/2026/11/truncated-response-page.html",
}
#: Articles with broken charsets: fetched and stored like any article, never a crash.
CHARSET_PAGES = {
    "/trap/2026/11/charset-unknown-label.html": ("text/html; charset=x-no-such-charset", "utf-8"),
    "/trap/2026/11/charset-utf16-declared-utf8-sent.html": ("text/html; charset=utf-16", "utf-8"),
    "/trap/2026/11/charset-utf8-declared-cp1251-sent.html": ("text/html; charset=utf-8", "cp1251"),
    "/trap/2026/11/charset-invalid-utf8-bytes.html": ("text/html; charset=utf-8", "broken"),
}

_WORDS = (
    "army drone strike front region city officials said report ministry defence forces attack "
    "night shelling energy grid repair talks border village civilians aid convoy winter missile "
    "interceptor battalion brigade commander statement evacuation railway bridge harbour grain "
    "export sanctions parliament vote budget reconstruction volunteers hospital power station"
).split()


def paragraphs(rng: random.Random, n: int = 5) -> list[str]:
    """``n`` paragraphs of 3-5 sentences of news-like words (distinct per seed)."""
    out = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 16))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return out


def good_article(i: int, path: str, published: datetime, encoding: str = "utf-8") -> bytes:
    rng = random.Random(i)
    title = f"Report {i}: " + " ".join(rng.choice(_WORDS) for _ in range(6))
    body = "".join(f"<p>{p}</p>" for p in paragraphs(rng))
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='{encoding}'><title>{title}</title>"
        f"<link rel='canonical' href='{{{{BASE}}}}{path}'>"
        f"<meta property='article:published_time' content='{published.isoformat()}'></head>"
        f"<body><header><nav><a href='/world/'>World</a></nav></header><article><h1>{title}</h1>"
        f"<time datetime='{published.isoformat()}'>{published:%d %B %Y}</time>{body}</article>"
        "<footer>Fixture News</footer></body></html>"
    )
    return html.encode(encoding if encoding != "broken" else "utf-8")


@dataclass
class HostileSite:
    routes: dict[str, Route]
    raw: dict[str, Callable[[BaseHTTPRequestHandler, threading.Event], None]]
    good_paths: list[str]
    charset_paths: list[str]
    poisoned_paths: list[str]  # good articles listed only with a poisoned date


class DynamicRoutes(dict[str, Route]):
    """Fixed routes plus generated ones (path prefix -> route factory): endless chains without
    storing every generated route."""

    def __init__(
        self, routes: dict[str, Route], prefixes: list[tuple[str, Callable[[str], Route | None]]]
    ) -> None:
        super().__init__(routes)
        self.prefixes = prefixes

    def get(self, key: str, default: Route | None = None) -> Route | None:  # type: ignore[override]
        if key in self:
            return self[key]
        for prefix, factory in self.prefixes:
            if key.startswith(prefix):
                return factory(key)
        return default


class HostileServer(SiteServer):
    """:class:`SiteServer` plus raw routes whose handler writes the response itself (slow
    drips, truncated bodies, streamed giants)."""

    def __init__(self, site: HostileSite) -> None:
        super().__init__()
        self.routes = site.routes
        self.raw = site.raw
        self._stopping = threading.Event()
        # Clients hanging up on traps is the point: no tracebacks on stderr for it.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        writer = self.raw.get(path)
        if writer is None:
            super()._handle(req)
            return
        with self._lock:
            self.hits.append(
                Hit(req.path, 200, req.headers.get("User-Agent", ""), dict(req.headers), time.monotonic())
            )
        try:
            writer(req, self._stopping)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        req.close_connection = True


# ----------------------------------------------------------------------------- trap bodies


@functools.lru_cache(maxsize=4)
def gzip_of_zeros(size: int, prefix: bytes = b"") -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(prefix)]
    chunk = b" " * (1 << 20) if prefix else b"\0" * (1 << 20)
    parts += [packer.compress(chunk) for _ in range(size >> 20)]
    parts.append(packer.flush())
    return b"".join(parts)


def _headers(
    req: BaseHTTPRequestHandler, length: int | None, content_type: str = "text/html; charset=utf-8"
) -> None:
    req.send_response(200)
    req.send_header("Content-Type", content_type)
    if length is not None:
        req.send_header("Content-Length", str(length))
    req.send_header("Connection", "close")
    req.end_headers()


def _huge_page(announced: bool) -> Callable[[BaseHTTPRequestHandler, threading.Event], None]:
    def write(req: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        _headers(req, HUGE_PAGE_BYTES if announced else None)
        chunk = (b"<p>" + b"filler text of a giant page " * 40 + b"</p>\n") * 50
        sent = 0
        while sent < HUGE_PAGE_BYTES and not stopping.is_set():
            req.wfile.write(chunk)
            sent += len(chunk)

    return write


def _slow_page(req: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    _headers(req, 100_000)
    req.wfile.write(b"<")
    while not stopping.wait(1.0):
        req.wfile.write(b"p")
        req.wfile.flush()


def _truncated(req: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    _headers(req, 50_000)
    req.wfile.write(b"<!doctype html><html><body><article><h1>Cut</h1><p>" + b"x" * 1000)
    req.wfile.flush()


def _redirect(location: str) -> Route:
    return Route(302, headers={"Location": "{{BASE}}" + location})


def _chain_route(path: str) -> Route | None:
    m = re.fullmatch(r"/trap/2026/11/redirect-chain-(\d+)\.html", path)
    return _redirect(f"/trap/2026/11/redirect-chain-{int(m.group(1)) + 1}.html") if m else None


def _sitemap_xml(urls: list[tuple[str, str | None]]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    ]
    for loc, lastmod in urls:
        mod = f"<lastmod>{lastmod}</lastmod>" if lastmod is not None else ""
        out.append(f"<url><loc>{{{{BASE}}}}{loc}</loc>{mod}</url>")
    out.append("</urlset>")
    return "".join(out).encode()


def _index_xml(children: list[str]) -> bytes:
    items = "".join(f"<sitemap><loc>{{{{BASE}}}}{c}</loc></sitemap>" for c in children)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + items.encode()
        + b"</sitemapindex>"
    )


def _chain_index(path: str) -> Route | None:
    m = re.fullmatch(r"/trap/sitemaps/index-(\d+)\.xml", path)
    if m:
        n = int(m.group(1))
        return Route(
            body=_index_xml([f"/trap/sitemaps/index-{n + 1}.xml", f"/trap/sitemaps/dead-{n}.xml"]),
            content_type="application/xml",
        )
    m = re.fullmatch(r"/trap/sitemaps/dead-(\d+)\.xml", path)
    if m:
        n = int(m.group(1))
        return Route(
            body=_sitemap_xml([(f"/dead/chain/{n}/story-{k}-gone.html", None) for k in range(5)]),
            content_type="application/xml",
        )
    return None


def _gz_route(xml: bytes) -> Callable[[BaseHTTPRequestHandler], Route]:
    """A gzipped body with {{BASE}} filled in (the server only fills plain bodies)."""

    @functools.lru_cache(maxsize=2)
    def packed(base: str) -> bytes:
        return gzip.compress(xml.replace(b"{{BASE}}", base.encode()), compresslevel=6)

    def handler(req: BaseHTTPRequestHandler) -> Route:
        base = f"http://127.0.0.1:{req.server.server_address[1]}"  # type: ignore[index]
        return Route(body=packed(base), content_type="application/x-gzip")

    return handler


def _huge_section() -> bytes:
    links = "".join(f'<a href="/dead/h/{i}-gone-story.html">s</a>' for i in range(HUGE_SECTION_LINKS))
    return f"<html><body>{links}</body></html>".encode()


def _charset_page(i: int, path: str, declared: str, sent: str, now: datetime) -> Route:
    if sent == "broken":
        body = good_article(i, path, now).replace(b"<p>", b"<p>\xff\xfe\xc3", 3)
    else:
        body = good_article(i, path, now, encoding=sent)
    return Route(body=body, content_type=declared)


# ----------------------------------------------------------------------------- the site


def _feed(items: list[tuple[str, str]]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Fixture</title>']
    out += [
        f"<item><title>t</title><link>{{{{BASE}}}}{p}</link><pubDate>{d}</pubDate></item>" for p, d in items
    ]
    out.append("</channel></rss>")
    return "".join(out).encode()


def build_hostile_site(n_good: int = 50, now: datetime | None = None, traps: bool = True) -> HostileSite:
    """``n_good`` good articles (published in the last days, newest first) and, with
    ``traps``, every trap of this module. Without traps: the same good site, for comparison."""
    now = now or datetime.now(UTC)
    routes: dict[str, Route] = {}
    good, dates = [], {}
    for i in range(n_good):
        path = f"/news/2026/11/report-{i}-from-the-front-line.html"
        good.append(path)
        dates[path] = now - timedelta(hours=2, minutes=7 * i)
        routes[path] = Route(body=good_article(i, path, dates[path]))
    # The entries with a poisoned date are found only through that entry: the feed's first
    # ones are in no sitemap or section, the sitemap's last ones in no feed or section.
    k = min(len(POISON_DATES), len(good) // 4) if traps else 0
    feed_only, sitemap_only, rest = good[:k], good[len(good) - k :], good[k : len(good) - k]
    feed_items = [(p, poison) for p, poison in zip(feed_only, POISON_DATES, strict=False)]
    feed_items += [(p, format_datetime(dates[p])) for p in rest[:100]]
    sitemap_items: list[tuple[str, str | None]] = [(p, dates[p].isoformat()) for p in rest]
    sitemap_items += [(p, poison) for p, poison in zip(sitemap_only, POISON_DATES, strict=False)]
    poisoned = feed_only + sitemap_only
    routes["/feed.xml"] = Route(body=_feed(feed_items), content_type="application/rss+xml")
    routes["/sitemap-good.xml"] = Route(body=_sitemap_xml(sitemap_items), content_type="application/xml")
    # Most good articles are found only through the sitemap (listed after the traps).
    section = "".join(f'<a href="{p}">{i}</a>' for i, p in enumerate(rest[: max(10, len(rest) // 5)]))
    children = ["/sitemap-good.xml"]
    robots = "User-agent: *\nDisallow: /private/\nSitemap: {{BASE}}/sitemap-index.xml\n"
    raw: dict[str, Callable[[BaseHTTPRequestHandler, threading.Event], None]] = {}
    prefixes: list[tuple[str, Callable[[str], Route | None]]] = []
    charset_paths: list[str] = []
    if traps:
        section += "".join(f'<a href="{p}">trap</a>' for p in [*TRAP_PAGES.values(), *CHARSET_PAGES])
        # hostile first: the traps come before the good sitemap in the index
        children = [
            "/trap/sitemaps/index-0.xml",
            "/trap/huge-sitemap.xml.gz",
            "/trap/sitemap-bomb.xml.gz",
            *children,
        ]
        robots += "".join(
            f"Sitemap: {{{{BASE}}}}/trap/robots-sitemap-{i}.xml\n" for i in range(ROBOTS_SITEMAP_LINES)
        )
        routes[TRAP_PAGES["gzip_bomb_page"]] = Route(
            body=gzip_of_zeros(BOMB_BYTES), headers={"Content-Encoding": "gzip"}
        )
        routes["/trap/sitemap-bomb.xml.gz"] = Route(
            body=gzip_of_zeros(BOMB_BYTES, b'<?xml version="1.0"?><urlset>'),
            content_type="application/x-gzip",
        )
        huge = _sitemap_xml([(f"/dead/2026/11/gone-story-{i}.html", None) for i in range(HUGE_SITEMAP_URLS)])
        routes["/trap/huge-sitemap.xml.gz"] = Route(handler=_gz_route(huge))
        routes["/trap/hub/"] = Route(body=_huge_section())
        routes[TRAP_PAGES["redirect_loop"]] = _redirect("/trap/2026/11/redirect-loop-b.html")
        routes["/trap/2026/11/redirect-loop-b.html"] = _redirect(TRAP_PAGES["redirect_loop"])
        raw[TRAP_PAGES["huge_page"]] = _huge_page(announced=True)
        raw[TRAP_PAGES["huge_page_unannounced"]] = _huge_page(announced=False)
        raw[TRAP_PAGES["slow_page"]] = _slow_page
        raw[TRAP_PAGES["truncated"]] = _truncated
        prefixes = [("/trap/2026/11/redirect-chain-", _chain_route), ("/trap/sitemaps/", _chain_index)]
        for k, (path, (declared, sent)) in enumerate(CHARSET_PAGES.items()):
            routes[path] = _charset_page(10_000 + k, path, declared, sent, now)
            charset_paths.append(path)
    # With traps the front page is slow: it is answered after the sitemaps, whose thousands of
    # undated dead links must not take the places its links need (held links are shared fairly).
    routes["/world/"] = Route(body=f"<html><body>{section}</body></html>".encode(), delay=2.0 if traps else 0.0)
    routes["/sitemap-index.xml"] = Route(body=_index_xml(children), content_type="application/xml")
    routes["/robots.txt"] = Route(body=robots.encode(), content_type="text/plain")
    return HostileSite(DynamicRoutes(routes, prefixes), raw, good, charset_paths, poisoned)


def hostile_sources_yaml(base_url: str, traps: bool = True) -> str:
    sections = f"[{base_url}/world/, {base_url}/trap/hub/]" if traps else f"[{base_url}/world/]"
    return (
        "sources:\n"
        "  - id: fixture\n"
        "    name: Hostile Fixture News\n"
        f"    url: {base_url}/\n"
        "    language: en\n"
        f"    feeds: [{base_url}/feed.xml]\n"
        f"    sitemaps: [{base_url}/sitemap-index.xml]\n"
        f"    sections: {sections}\n"
        "    allow_private_network: true\n"
    )


# ----------------------------------------------------------------------------- measuring


@dataclass
class Measured:
    returncode: int
    seconds: float
    peak_rss_bytes: int  # of the whole process tree, polled
    timed_out: bool


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (bounded walk)."""
    total, todo, seen = 0, [pid], set[int]()
    while todo and len(seen) < 10_000:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        todo.extend(_children(p))
    return total


def run_measured(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float, log: Path, poll: float = 0.2
) -> Measured:
    """Run ``cmd`` (output to ``log``), polling the RSS of its process tree every ``poll``
    seconds; kill the whole group after ``timeout``."""
    start = time.monotonic()
    peak = 0
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, 9)
                proc.wait()
                break
            time.sleep(poll)
    return Measured(proc.returncode, time.monotonic() - start, peak, timed_out)
