"""A small deterministic mutation fuzzer for every parser of outside input.

Each :class:`Target` mutates real inputs (saved pages, the demo site, the shipped config files,
generated feeds and sitemaps) with byte-level and token-level mutations and calls the parser the
way warwatch calls it. An exception is a *crash* unless it is the clear error the parser
defines for bad input (``MalformedFeed``, ``ConfigError``, ...). Used by ``tests/fuzz`` (a few
hundred inputs per parser, fixed seed) and by ``benchmarks/fuzz.py`` (10,000+ per parser).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MAX_INPUT = 256 * 1024

#: Tokens that parsers trip over, spliced into inputs at random places.
GENERIC_TOKENS = [
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\r",
    b"\xe2\x80\xa8",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"&amp;",
    b"&nosuch;",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='x-unknown'?>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    b'<!ENTITY xxe SYSTEM "file:///etc/passwd">',
    b"9" * 400,
    b"-1",
    b"1e309",
    b"NaN",
    b"%",
    b"%%",
    b"%00",
    b"\\",
    b"'",
    b'"',
    b"\t",
    b"\xf0\x9f\x92\xa5",
    b"\xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2",
]
DATE_TOKENS = [
    b"0001-01-01T00:00:00+01:00",
    b"0001-01-01",
    b"9999-12-31T23:59:59-01:00",
    b"9999-99-99",
    b"2024-02-30",
    b"2024-13-01T25:61:61Z",
    b"Mon, 32 Foo 2024 99:99:99 +9999",
    b"Tue, 01 Jan 0001 00:00:00 +0100",
    b"Fri, 31 Dec 9999 23:59:59 -1200",
    b"garbage",
    b"",
    b"1714564800",
    b"2024-05-01T12:00:00+25:00",
]
XML_TOKENS = [b"<", b">", b"</", b"/>", b"<loc>", b"</loc>", b"<link>", b"<item>", b"<entry>", b"<url>"]
YAML_TOKENS = [
    b"&a ",
    b"*a",
    b"*nosuch",
    b"!!python/object:os.system ",
    b"!!binary ",
    b"{",
    b"}",
    b"[",
    b"]",
    b": ",
    b"- ",
    b"? ",
    b"---\n",
    b"...\n",
    b"\n  ",
    b"~",
    b"null",
    b"true",
    b"0x1F",
    b".inf",
    b"<<: *a",
    b"id: ",
    b"url: ",
    b"query: ",
    b"http://[::1",
    b"http://127.0.0.1:99999/",
    b"(?P<",
    b"(a+)+$",
    b"[z-a]",
]
QUERY_TOKENS = [
    b"AND",
    b"OR",
    b"NOT",
    b"(",
    b")",
    b'"',
    b"*",
    b"?",
    b"~",
    b"^",
    b"title:",
    b"published:[",
    b" TO ",
    b"]",
    b"{",
    b"/",
    b"\\",
    b":",
    b"!",
    b"+",
    b"-",
    b"&&",
    b"||",
    b"\xed\xb3\xbf",
]


def mutate(rng: random.Random, data: bytes, seeds: list[bytes], tokens: list[bytes]) -> bytes:
    """1-6 random mutations of ``data`` (bounded to MAX_INPUT bytes)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(9)
        pos = rng.randint(0, len(buf))
        if kind == 0 and buf:  # flip a byte
            i = rng.randrange(len(buf))
            buf[i] = rng.randrange(256)
        elif kind == 1 and buf:  # delete a slice
            end = min(len(buf), pos + rng.randint(1, 64))
            del buf[pos:end]
        elif kind == 2 and buf:  # duplicate a slice
            start = rng.randrange(len(buf))
            chunk = buf[start : start + rng.randint(1, 256)]
            buf[pos:pos] = chunk * rng.randint(1, 8)
        elif kind in (3, 4):  # insert a token
            buf[pos:pos] = rng.choice(tokens if kind == 3 else GENERIC_TOKENS)
        elif kind == 5:  # splice with another seed
            other = rng.choice(seeds)
            start = rng.randint(0, len(other))
            buf[pos:] = other[start : start + rng.randint(0, 4096)]
        elif kind == 6:  # truncate
            del buf[pos:]
        elif kind == 7 and buf:  # replace a slice with a token
            end = min(len(buf), pos + rng.randint(1, 16))
            buf[pos:end] = rng.choice(tokens)
        else:  # random bytes
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf[:MAX_INPUT])


@dataclass
class Crash:
    target: str
    data: Any
    error: str


@dataclass
class Result:
    target: str
    inputs: int = 0
    expected_errors: int = 0
    crashes: list[Crash] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Target:
    name: str
    seeds: Callable[[], list[bytes]]
    call: Callable[[Any], Any]
    tokens: list[bytes]
    #: The parser's own errors for bad input (not crashes).
    expected: tuple[type[BaseException], ...] = ()
    #: Turns a mutated byte string into the parser's input (default: the bytes).
    prepare: Callable[[random.Random, bytes], Any] | None = None
    #: Fixed inputs that once crashed (or are known traps): always run first.
    regressions: list[Any] = field(default_factory=list)

    def run(self, n: int, seed: int, budget_seconds: float | None = None) -> Result:
        rng = random.Random(f"{self.name}:{seed}")
        seeds = self.seeds()
        result = Result(self.name)
        start = time.monotonic()
        inputs: list[Any] = list(self.regressions)
        while result.inputs < n + len(self.regressions):
            if budget_seconds is not None and time.monotonic() - start > budget_seconds:
                break
            if inputs:
                data = inputs.pop(0)
            else:
                raw = rng.choice(seeds) if rng.random() < 0.9 else b""
                raw = mutate(rng, raw, seeds, self.tokens)
                data = self.prepare(rng, raw) if self.prepare else raw
            result.inputs += 1
            try:
                self.call(data)
            except self.expected:
                result.expected_errors += 1
            except Exception:
                result.crashes.append(Crash(self.name, data, traceback.format_exc(limit=6)))
        result.seconds = time.monotonic() - start
        return result


# ---------------------------------------------------------------------------- seeds


def _files(*patterns: str, limit: int = 40) -> list[bytes]:
    out: list[bytes] = []
    for pattern in patterns:
        for path in sorted(REPO.glob(pattern))[:limit]:
            if path.is_file() and path.stat().st_size <= MAX_INPUT:
                out.append(path.read_bytes())
    return out


def _site_routes() -> dict[str, bytes]:
    from tests.crawlers.sitefixture import build_news_site

    site = build_news_site(12)
    out: dict[str, bytes] = {}
    for path, route in site.routes.items():
        body = route.body
        if route.handler is not None:
            body = route.handler(_FakeRequest()).body  # type: ignore[arg-type]
        out[path] = body.replace(b"{{BASE}}", b"http://news.example")
    return out


class _FakeServer:
    server_address = ("127.0.0.1", 80)


class _FakeRequest:
    server = _FakeServer()


def html_seeds() -> list[bytes]:
    return _files("tests/fixtures/pages/*.html", "demo/site/**/*.html", limit=25)


def feed_seeds() -> list[bytes]:
    routes = _site_routes()
    atom = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<entry><title>A</title><link rel="alternate" type="text/html" href="/a/1.html"/>'
        b"<id>tag:x,2024:1</id><published>2024-05-01T10:00:00+02:00</published></entry>"
        b"<entry><title>B</title><link href='https://news.example/b'/><updated>2024-05-02</updated></entry></feed>"
    )
    rdf = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
        b' xmlns:dc="http://purl.org/dc/elements/1.1/"><item rdf:about="https://news.example/r1">'
        b"<title>R</title><dc:date>2024-05-01T00:00:00Z</dc:date></item></rdf:RDF>"
    )
    return [routes["/feed.xml"], atom, rdf, *_files("demo/site/**/*.xml", "demo/site/**/*.rss", limit=5)]


def sitemap_seeds() -> list[bytes]:
    routes = _site_routes()
    plain = gzip.decompress(routes["/sitemap-old.xml.gz"])
    return [routes["/sitemap-index.xml"], routes["/news-sitemap.xml"], plain, routes["/sitemap-old.xml.gz"]]


def robots_seeds() -> list[bytes]:
    return [
        _site_routes()["/robots.txt"],
        b"User-agent: *\nDisallow: /private/\nAllow: /private/ok$\nCrawl-delay: 2.5\n"
        b"Sitemap: https://news.example/sitemap.xml\nSitemap: /relative-sitemap.xml\n",
        b"User-agent: warwatch\nDisallow: /\n\nUser-agent: *\nDisallow:\nRequest-rate: 1/5\nHost: x\n",
        b"\xef\xbb\xbfUSER-AGENT: *\r\nDISALLOW: /*?*sort=\r\nCrawl-Delay: 1e400\r\n",
    ]


def source_seeds() -> list[bytes]:
    return _files("config/sources.yaml", "demo/sources.yaml")


def watch_seeds() -> list[bytes]:
    extra = (
        b"watches:\n  - id: w1\n    name: Drones\n    query: drone AND strike\n"
        b"    filters: {language: [en], source: [demo]}\n"
        b"    channels:\n      file: true\n      webhook: {url_env: HOOK}\n      email: {to: [a@example.org]}\n"
    )
    return [*_files("config/watches.yaml"), extra]


def query_seeds() -> list[bytes]:
    return [
        b"drone strike",
        b'"air defence" AND Kyiv',
        b"title:Zelensky OR title:Zelenskyy",
        b"nord*",
        b"published:[2024-01-01 TO 2024-02-01]",
        "Київ обстріл".encode(),
        "Украина беспилотник".encode(),
        b"(a OR b) AND NOT c",
        b"Charkiw~2",
        b"/reg(ex)?/",
        b"a:b:c",
        b"*",
    ]


# ---------------------------------------------------------------------------- calls


def call_extract(data: bytes) -> None:
    from indexing.extraction import extract

    article = extract(data, url="https://news.example/world/2024/05/a-story.html")
    assert isinstance(article.body, str) and isinstance(article.title, str | None)


def call_feed(data: bytes) -> None:
    from crawlers.feeds import parse_feed

    for entry in parse_feed(data, "https://news.example/feed.xml"):
        assert entry.url.startswith(("http://", "https://"))


def call_sitemap(data: bytes) -> None:
    from crawlers.sitemaps import parse_sitemap

    for entry in parse_sitemap(data, "https://news.example/sitemap.xml", max_size=1024 * 1024):
        assert entry.url.startswith(("http://", "https://"))


@functools.lru_cache(maxsize=1)
def _crawl_delay_hook() -> Any:
    from scrapy.utils.test import get_crawler

    from crawlers.downloadermiddlewares.crawl_delay import CrawlDelayMiddleware

    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True, "ROBOTSTXT_USER_AGENT": "warwatch"})
    return CrawlDelayMiddleware.from_crawler(crawler)


def call_robots(data: bytes) -> None:
    """As the crawler uses robots.txt: Scrapy's parser (allowed, Crawl-delay through the
    crawl-delay middleware's hook) and the sitemap lines."""
    from scrapy import Request
    from scrapy.robotstxt import ProtegoRobotParser

    from crawlers.sitemaps import robots_sitemaps

    parser = ProtegoRobotParser(data, None)
    for path in ("/", "/private/x", "/a?sort=1", "/%E2%82%AC", "/ü"):
        parser.allowed("https://news.example" + path, "warwatch")
    hook = _crawl_delay_hook()
    hook.delays.clear()
    hook.robots_parsed(parser, Request("https://news.example/robots.txt"))
    assert all(0 <= d <= 60 for d in hook.delays.values())
    robots_sitemaps(data, "https://news.example/robots.txt")


def _load_file(loader: Callable[[Path], Any], data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="warwatch-fuzz-") as tmp:
        path = Path(tmp) / "file.yaml"
        path.write_bytes(data)
        loader(path)


def call_sources(data: bytes) -> None:
    from indexing.sources import load_sources

    _load_file(load_sources, data)


def call_watches(data: bytes) -> None:
    from indexing.alerts.config import load_config, load_watches

    _load_file(load_config, data)
    _load_file(load_watches, data)


_FILTER_VALUES = [None, "", "en", "en,uk", " , ", "demo", "war,drones", "\x00", "ü" * 50]
_DATE_VALUES = [
    None,
    "",
    "2024-05-01",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00+02:00",
    "2024-05-01T00:00",
]


def prepare_query(rng: random.Random, raw: bytes) -> dict[str, Any]:
    def date_value() -> str | None:
        if rng.random() < 0.3:
            return rng.choice(DATE_TOKENS).decode() + rng.choice(["", "Z", "T00:00", " "])
        return rng.choice(_DATE_VALUES)

    return {
        "query": raw.decode("utf-8", errors="surrogateescape"),
        "lang": rng.choice(_FILTER_VALUES),
        "source": rng.choice(_FILTER_VALUES),
        "topic": rng.choice(_FILTER_VALUES),
        "entity": rng.choice(_FILTER_VALUES),
        "since": date_value(),
        "until": date_value(),
        "size": rng.choice([0, 1, 10, -5, 10**9, 1000]),
        "order": rng.choice(["relevance", "date"]),
        "facets": rng.random() < 0.3,
        "syntax": rng.choice(["query_string", "simple_query_string"]),
    }


def call_query(args: dict[str, Any]) -> None:
    from indexing.search import build_request, expand, is_explicit, neutralise_colons

    query = args["query"]
    is_explicit(query)
    neutralise_colons(query)
    expansion = expand(query)
    body = build_request(query, expansion=expansion, **{k: v for k, v in args.items() if k != "query"})
    json.dumps(body, allow_nan=False)


def _query_error() -> tuple[type[BaseException], ...]:
    # A malformed --since/--until is the caller's error: a ValueError with the value in it; an
    # expensive query (leading or one-letter wildcards, too long) is refused with a QueryError.
    from indexing.search import QueryError

    return (ValueError, QueryError)


POISON = re.compile(rb"<(pubDate|lastmod)>[^<]*</(pubDate|lastmod)>")


def targets() -> dict[str, Target]:
    from crawlers.feeds import MalformedFeed
    from crawlers.sitemaps import MalformedSitemap, SitemapTooLarge
    from indexing.errors import ConfigError

    xml_tokens = XML_TOKENS + DATE_TOKENS
    poisoned_feed = POISON.sub(rb"<pubDate>0001-01-01T00:00:00+01:00</pubDate>", feed_seeds()[0], count=1)
    poisoned_sitemap = POISON.sub(
        rb"<lastmod>0001-01-01T00:00:00+01:00</lastmod>", sitemap_seeds()[2], count=1
    )
    return {
        t.name: t
        for t in [
            Target("extract", html_seeds, call_extract, GENERIC_TOKENS + XML_TOKENS + DATE_TOKENS),
            Target("feeds", feed_seeds, call_feed, xml_tokens, (MalformedFeed,), regressions=[poisoned_feed]),
            Target(
                "sitemaps",
                sitemap_seeds,
                call_sitemap,
                xml_tokens,
                (MalformedSitemap, SitemapTooLarge),
                regressions=[poisoned_sitemap, gzip.compress(b"<urlset>" + b" " * (2 * 1024 * 1024))],
            ),
            Target(
                "robots", robots_seeds, call_robots, [b"Disallow: ", b"Allow: ", b"Crawl-delay: ", b"*", b"$"]
            ),
            Target("sources", source_seeds, call_sources, YAML_TOKENS, (ConfigError,)),
            Target("watches", watch_seeds, call_watches, YAML_TOKENS, (ConfigError,)),
            Target(
                "search",
                query_seeds,
                call_query,
                QUERY_TOKENS,
                _query_error(),
                prepare=prepare_query,
            ),
        ]
    }
