"""A programmable news site on 127.0.0.1 for crawler tests and the benchmark.

Routes map a path (without query) to a :class:`Route` (status, headers, body, delay, or a
callable). Every request is logged so tests can assert what was (never) fetched.
:func:`build_news_site` generates a site with a feed, a sitemap index (a Google News sitemap
and a gzipped sitemap), a section page, robots.txt with a disallowed area, AMP and tracking
duplicates, a redirect and broken links.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "text/html; charset=utf-8"
    handler: Callable[[BaseHTTPRequestHandler], Route] | None = None
    etag: str | None = None  # enables conditional GET (304)


@dataclass(frozen=True)
class Hit:
    path: str  # path + query as requested
    status: int
    user_agent: str
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() on arrival

    @property
    def bare_path(self) -> str:
        return self.path.split("?", 1)[0]


class SiteServer:
    def __init__(self, routes: dict[str, Route] | None = None, port: int = 0) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                site._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}" if self.port != 80 else "http://127.0.0.1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self) -> list[str]:
        with self._lock:
            return [h.bare_path for h in self.hits]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        path = urlsplit(req.path).path
        route = self.routes.get(path)
        if route is not None and route.handler is not None:
            route = route.handler(req)
        if route is None:
            route = Route(404, b"<html><body>not found</body></html>")
        if route.delay:
            time.sleep(route.delay)
        status, body = route.status, route.body
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = route.etag
            if req.headers.get("If-None-Match") == route.etag:
                status, body = 304, b""
        body = body.replace(b"{{BASE}}", self.base_url.encode())
        headers = {k: v.replace("{{BASE}}", self.base_url) for k, v in headers.items()}
        with self._lock:
            self.hits.append(
                Hit(req.path, status, req.headers.get("User-Agent", ""), dict(req.headers), arrived)
            )
        try:
            req.send_response(status)
            for k, v in headers.items():
                req.send_header(k, v)
            if "Content-Length" not in headers:
                req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            if status != 304:
                req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def article_html(
    slug: str, title: str, body: str, canonical: str | None = None, extra_links: str = ""
) -> bytes:
    canon = f'<link rel="canonical" href="{{{{BASE}}}}{canonical}">' if canonical else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{canon}</head>"
        f"<body><article><h1>{title}</h1><p>{body}</p></article>{extra_links}</body></html>"
    ).encode()


@dataclass
class NewsSite:
    routes: dict[str, Route]
    article_paths: list[str]  # distinct articles (canonical paths)
    disallowed: list[str]


def build_news_site(n_articles: int = 30, now: datetime | None = None, age_days: float = 10.0) -> NewsSite:
    """A site of ``n_articles`` articles published ``age_days`` ago and earlier (outside the
    default 48 h recrawl window), discoverable through every channel."""
    now = now or datetime.now(UTC)
    routes: dict[str, Route] = {}
    paths: list[str] = []
    dates: dict[str, datetime] = {}
    for i in range(n_articles):
        section = ("world", "politics", "europe")[i % 3]
        path = f"/{section}/2024/05/story-number-{i}-troops-report.html"
        paths.append(path)
        dates[path] = now - timedelta(days=age_days, hours=i)
        routes[path] = Route(
            body=article_html(path, f"Story {i}", f"Body of story {i}. " * 20, canonical=path)
        )
        # AMP variant: same article, rel=canonical points to the original.
        amp = path.replace(".html", ".amp.html")
        routes[amp] = Route(body=article_html(amp, f"Story {i} (AMP)", f"Body {i}", canonical=path))
    third = max(1, n_articles // 3)
    feed_items = paths[:third]
    news_items = paths[third : 2 * third]
    gz_items = paths[2 * third :]

    def rss(items: list[str]) -> bytes:
        out = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>']
        for k, p in enumerate(items):
            link = f"{{{{BASE}}}}{p}?utm_source=rss&utm_medium=feed" if k % 2 == 0 else f"{{{{BASE}}}}{p}"
            out.append(
                f"<item><title>x</title><link>{link}</link><pubDate>{format_datetime(dates[p])}</pubDate></item>"
            )
        # a broken link and an AMP duplicate in the feed
        out.append("<item><link>{{BASE}}/world/2024/05/missing-article-gone-404.html</link></item>")
        if items:
            out.append(f"<item><link>{{{{BASE}}}}{items[0].replace('.html', '.amp.html')}</link></item>")
        out.append("</channel></rss>")
        return "".join(out).encode()

    def news_sitemap(items: list[str]) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        ]
        for p in items:
            out.append(
                f"<url><loc>{{{{BASE}}}}{p}</loc><news:news><news:publication>"
                f"<news:name>T</news:name><news:language>en</news:language></news:publication>"
                f"<news:publication_date>{dates[p].isoformat()}</news:publication_date>"
                f"<news:title>x</news:title></news:news></url>"
            )
        out.append("</urlset>")
        return "".join(out).encode()

    def plain_sitemap(items: list[str]) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        ]
        out += [
            f"<url><loc>{{{{BASE}}}}{p}</loc><lastmod>{dates[p].date().isoformat()}</lastmod></url>"
            for p in items
        ]
        out.append("</urlset>")
        return "".join(out).encode()

    routes["/feed.xml"] = Route(body=rss(feed_items), content_type="application/rss+xml", etag='"feed-v1"')
    routes["/sitemap-index.xml"] = Route(
        body=(
            b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<sitemap><loc>{{BASE}}/news-sitemap.xml</loc></sitemap>"
            b"<sitemap><loc>{{BASE}}/sitemap-old.xml.gz</loc></sitemap></sitemapindex>"
        ),
        content_type="application/xml",
        etag='"idx-v1"',
    )
    routes["/news-sitemap.xml"] = Route(
        body=news_sitemap(news_items), content_type="application/xml", etag='"news-v1"'
    )
    routes["/sitemap-old.xml.gz"] = Route(body=b"", content_type="application/x-gzip", etag='"gz-v1"')
    routes["/sitemap-old.xml.gz"].handler = _gz_handler(plain_sitemap(gz_items), '"gz-v1"')
    # Section page: links to every article (some with tracking params), tag pages, off-site
    # links and the disallowed area.
    links = "".join(f'<a href="{p}?fbclid=abc">s</a>' for p in paths[: n_articles // 2])
    links += '<a href="/tag/war-in-ukraine">tag</a><a href="https://elsewhere.example.org/x-y-z-1234">ext</a>'
    links += '<a href="/private/secret-report-2024-05-01.html">private</a><a href="/old-link-redirected-1234">r</a>'
    routes["/world/"] = Route(body=f"<html><body>{links}</body></html>".encode())
    routes["/old-link-redirected-1234"] = Route(301, headers={"Location": "{{BASE}}" + paths[0]})
    routes["/private/secret-report-2024-05-01.html"] = Route(body=article_html("/private/x", "secret", "no"))
    routes["/robots.txt"] = Route(
        body=b"User-agent: *\nDisallow: /private/\n\nSitemap: {{BASE}}/sitemap-index.xml\n",
        content_type="text/plain",
    )
    return NewsSite(routes=routes, article_paths=paths, disallowed=["/private/"])


def _gz_handler(xml: bytes, etag: str) -> Callable[[BaseHTTPRequestHandler], Route]:
    def handler(req: BaseHTTPRequestHandler) -> Route:
        port = req.server.server_address[1]
        body = xml.replace(b"{{BASE}}", f"http://127.0.0.1:{port}".encode())
        return Route(body=gzip.compress(body), content_type="application/x-gzip", etag=etag)

    return handler


def sources_yaml(
    base_url: str,
    feeds: bool = True,
    sitemaps: bool = True,
    sections: bool = True,
    source_id: str = "fixture",
    extra: str = "",
) -> str:
    lines = [
        "sources:",
        f"  - id: {source_id}",
        "    name: Fixture News",
        f"    url: {base_url}/",
        "    language: en",
        f"    feeds: [{base_url}/feed.xml]" if feeds else "    feeds: []",
        f"    sitemaps: [{base_url}/sitemap-index.xml]" if sitemaps else "    sitemaps: []",
        f"    sections: [{base_url}/world/]" if sections else "    sections: []",
        "    allow_private_network: true",
    ]
    return "\n".join(lines) + "\n" + extra
