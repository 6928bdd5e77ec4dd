"""The freshness benchmark's news site: articles published at chosen moments into an RSS feed
(conditional GETs answered), and the webhook receiver that timestamps the alerts.

Used by ``benchmarks/freshness.py``; tested in ``tests/benchmarks/test_freshness.py``.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.crawlers.sitefixture import Route, SiteServer

#: the feed lists this many newest articles (a real feed is bounded too)
FEED_ITEMS = 50

_WORDS = (
    "army brigade convoy border bridge ceasefire city council drone energy grid factory harbour "
    "highway hospital infantry minister negotiation oblast officer parliament pipeline railway "
    "reservoir refinery region river satellite school shelling spokesman station supply tank "
    "town trench village volunteer warehouse winter artillery aid ambassador analyst battalion "
    "blackout checkpoint coalition corridor damage defence delegation embassy evacuation frontline "
    "governor humanitarian inspection investigation logistics mayor militia mobilisation morning "
    "night offensive outpost port prosecutor radar recovery refugee repair report rescue sanctions "
    "sapper shipment siege sniper summit survey tribunal troops truce tunnel unit vessel weapons "
    "airfield barracks bunker cargo crossing depot district engineer fuel garrison headquarters "
    "island lorry medic observer patrol plant power reactor reserve route sector signal storage"
).split()


# --------------------------------------------------------------------------- the publishing site
@dataclass
class Article:
    index: int
    path: str
    title: str
    paragraphs: list[str]
    published: datetime | None = None
    published_mono: float | None = None


def make_articles(n: int, rng: random.Random) -> list[Article]:
    """``n`` different stories (random prose: no two are near-duplicates), each naming the watch's
    words in its title and lead."""
    def sentence() -> str:
        return " ".join(rng.sample(_WORDS, 12)).capitalize() + "."

    out = []
    for i in range(n):
        title = f"Freshness probe {i}: {' '.join(rng.sample(_WORDS, 5))}"
        lead = f"The freshness probe number {i} reports on {' and '.join(rng.sample(_WORDS, 3))}. " + sentence()
        paragraphs = [lead] + [" ".join(sentence() for _ in range(4)) for _ in range(5)]
        out.append(Article(i, f"/news/{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}-probe-{i}.html",
                           title, paragraphs))
    return out


def publication_offsets(n: int, minutes: float, rng: random.Random) -> list[float]:
    """Seconds after the start at which each article appears: uniform at random, sorted."""
    return sorted(rng.uniform(0, minutes * 60) for _ in range(n))


def article_html(a: Article) -> bytes:
    assert a.published is not None
    iso = a.published.isoformat()
    body = "".join(f"<p>{p}</p>" for p in a.paragraphs)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{a.title}</title>"
            f"<meta property='article:published_time' content='{iso}'>"
            f"<link rel='canonical' href='{{{{BASE}}}}{a.path}'></head><body><article><h1>{a.title}</h1>"
            f"<time datetime='{iso}'>{iso}</time>{body}</article></body></html>").encode()


def feed_xml(published: list[Article]) -> bytes:
    items = []
    for a in sorted(published, key=lambda x: x.published or datetime.min.replace(tzinfo=UTC), reverse=True)[:FEED_ITEMS]:
        assert a.published is not None
        items.append(f"<item><title>{a.title}</title><link>{{{{BASE}}}}{a.path}</link>"
                     f"<guid>{{{{BASE}}}}{a.path}</guid><pubDate>{format_datetime(a.published)}</pubDate></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Freshness site</title>'
            "<link>{{BASE}}/</link><description>probe</description>" + "".join(items) + "</channel></rss>").encode()


class PublishingSite:
    """A :class:`SiteServer` whose feed gains articles when :meth:`publish` is called."""

    def __init__(self) -> None:
        self.server = SiteServer()
        self.published: list[Article] = []
        self._lock = threading.Lock()
        self._set_feed()

    def __enter__(self) -> PublishingSite:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, a: Article) -> str:
        return self.server.url(a.path)

    def _set_feed(self) -> None:
        version = len(self.published)
        self.server.routes["/feed.xml"] = Route(
            body=feed_xml(self.published), content_type="application/rss+xml; charset=utf-8",
            etag=f'"feed-{version}"')

    def publish(self, a: Article, now: datetime | None = None) -> None:
        """The page first, then the feed entry: a crawler never sees a link to a missing page."""
        with self._lock:
            a.published = (now or datetime.now(UTC)).replace(microsecond=0)
            a.published_mono = time.monotonic()
            self.server.routes[a.path] = Route(body=article_html(a))
            self.published.append(a)
            self._set_feed()


# --------------------------------------------------------------------------- the alert receiver
class WebhookReceiver:
    """Records, per article URL, when the first alert naming it arrived (time.monotonic())."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.alerts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                outer.alerts += 1
                for art in payload.get("articles") or []:
                    for key in ("url", "canonical_url"):
                        if art.get(key):
                            outer.arrivals.setdefault(str(art[key]), arrived)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
