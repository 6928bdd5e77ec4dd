"""Article pages that need JavaScript, rendered before the spider reads them (crawlers/render.py).

For an article response (or a revisit's) that is HTML and 2xx, the source's ``render`` decides:
``never``; ``always``; ``auto`` (the default) when the page is a script-rendered shell
(:func:`indexing.extraction.scripted.script_shell`). A section page is rendered the same way, and
only when it lists no article without its scripts (a listing its scripts write), so the article
links it shows in a browser are followed. A rendered response carries the DOM the
scripts left as its body and the bytes as served in ``meta["raw_body"]``: the WARC keeps the
capture as served (a ``response`` record) and the rendered page beside it (a ``conversion``
record, crawlers/pipelines/archive.py). Change detection compares the rendered pages (the
fingerprint is the DOM's): a shell's bytes stay the same when the article its scripts fetch is
edited, so a page rendered before is rendered again on each revisit.

Counted per source in the crawl report (``render``): ``rendered``, ``failed`` (the page kept as
served, the reason logged), ``unavailable`` (no browser on this machine: install Debian's
``chromium``, or set ``crawl.render_browser``), ``capped`` (``crawl.render_max_pages`` reached).
A page kept as served for any of these reasons is stored with a fingerprint its bytes never match
(``UNRENDERED``): its revisits fetch it and try to render it again.

Its place (540) is after the redirect (600) and retry (550) middlewares have seen the response:
only final answers are rendered. What the page's scripts fetch is paced like the crawl
(:class:`crawlers.render.Pace`): requests to the source's host share its download slot.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawlers.articles import RAW_BODY, UNRENDERED, is_article_link, is_html
from crawlers.extensions.crawl_state import CrawlState
from crawlers.kinds import RequestKind
from crawlers.limits import DEFAULTS
from crawlers.links import extract_links
from crawlers.render import Pace, Renderer, RenderError, find_browser
from crawlers.revisits import DUE_META
from crawlers.slots import source_slot
from crawlers.urlcache import canonical
from indexing.extraction.scripted import script_shell
from indexing.urls import url_host

if TYPE_CHECKING:
    from indexing.sources import Source

logger = logging.getLogger(__name__)


def _kept_as_served(request: Request, counts: Counter[str], reason: str) -> None:
    """A page that needed rendering goes on as served: counted by ``reason``, and marked so its
    fingerprint never matches its bytes (its revisit renders it again)."""
    request.meta[UNRENDERED] = True
    counts[reason] += 1


class RenderMiddleware:
    def __init__(self, crawler: Crawler, state: CrawlState) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.state = state
        self.delay = settings.getfloat("DOWNLOAD_DELAY", 0.0)
        self.pace: Pace | None = None
        cap = settings.get("WARWATCH_RENDER_MAX_PAGES", DEFAULTS.render_max_pages)
        self.max_pages = int(cap) if cap is not None else None
        self.section_max_links = settings.getint("WARWATCH_SECTION_MAX_LINKS", DEFAULTS.section_max_links)
        self.timeout = settings.getfloat("WARWATCH_RENDER_TIMEOUT_SECONDS", DEFAULTS.render_timeout_seconds)
        self.concurrency = settings.getint("WARWATCH_RENDER_CONCURRENCY", DEFAULTS.render_concurrency)
        self.max_bytes = settings.getint("DOWNLOAD_MAXSIZE", DEFAULTS.max_body_bytes) or DEFAULTS.max_body_bytes
        self.browser = find_browser(settings.get("WARWATCH_RENDER_BROWSER"))
        self.user_agent = settings.get("USER_AGENT")
        self.renderer: Renderer | None = None
        self.rendered: Counter[str] = Counter()  # pages sent to the browser, per source
        self._warned: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = cls(crawler, CrawlState.from_crawler(crawler))
        crawler.signals.connect(mw.close, signal=signals.spider_closed)
        return mw

    async def close(self) -> None:
        if self.renderer is not None:
            renderer, self.renderer = self.renderer, None
            await renderer.close()

    def _wanted(self, request: Request, response: Response) -> bool:
        meta = request.meta
        kind = meta.get("kind")
        if kind not in (RequestKind.ARTICLE, RequestKind.SECTION) and not meta.get("revisit"):
            return False
        source = self.state.sources_by_id.get(meta.get("source", ""))
        if source is None or source.render == "never" or not 200 <= response.status < 300 or not is_html(response):
            return False
        if kind == RequestKind.SECTION:  # only a section that lists no article without its scripts
            links = extract_links(response.body, response.url)[: self.section_max_links]
            if any(is_article_link(source, canonical(link)) for link in links):
                return False
        due = meta.get(DUE_META)
        if due is not None and hashlib.sha256(response.body).hexdigest() == due.fingerprint:
            return False  # a revisit of a page not rendered before that found the same bytes
        # (a page rendered before has its DOM's fingerprint: it is rendered again, and compared)
        return source.render == "always" or script_shell(response.body)

    async def process_response(self, request: Request, response: Response) -> Response:
        if RAW_BODY in request.meta or not self._wanted(request, response):
            return response
        source_id = request.meta["source"]
        counts = self.state.report[source_id].render
        if self.browser is None:
            _kept_as_served(request, counts, "unavailable")
            self._warn_once(source_id, f"{source_id}: {response.url} needs JavaScript and no browser is installed "
                                       "(apt-get install chromium, or set crawl.render_browser): kept as served")
            return response
        if self.max_pages is not None and self.rendered[source_id] >= self.max_pages:
            _kept_as_served(request, counts, "capped")
            return response
        self.rendered[source_id] += 1
        if self.renderer is None:
            self.renderer = Renderer(self.browser, timeout=self.timeout, max_bytes=self.max_bytes,
                                     user_agent=self.user_agent, concurrency=self.concurrency)
        ctype = (response.headers.get(b"Content-Type") or b"text/html").decode("latin-1")
        source = self.state.sources_by_id[source_id]
        try:
            html = await self.renderer.render(response.url, response.body, ctype,
                                              allow_private=source.allow_private_network, pace=self._pacing(source))
        except RenderError as exc:
            _kept_as_served(request, counts, "failed")
            logger.warning("%s: rendering failed, kept as served: %s", response.url, exc)
            return response
        counts["rendered"] += 1
        request.meta[RAW_BODY] = response.body
        return response.replace(body=html.encode("utf-8"), encoding="utf-8")

    def _pacing(self, source: Source) -> Callable[[str], Awaitable[None]] | None:
        """What the browser's requests for a page of ``source`` wait for (:class:`crawlers.render.Pace`):
        its own host's in the source's download slot, other hosts' at the crawl's delay."""
        engine = self.crawler.engine
        if engine is None:
            return None
        if self.pace is None:
            self.pace = Pace(engine.downloader, self.delay)
        pace, own, key = self.pace, url_host(source.url), source_slot(source.id)

        async def wait(url: str) -> None:
            host = url_host(url)
            mine = bool(own) and (host == own or host.endswith("." + own))
            await pace.wait(key if mine else f"host:{host}", slot=mine)

        return wait

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)
