"""Render a fetched page in a headless Chromium (Playwright, Debian's ``chromium``): the page's own
scripts run and the DOM they leave is what extraction reads (USERS.md: sites that need
JavaScript).

The page is rendered from the bytes the crawler fetched (its capture): the browser's request for
the document itself is answered with them, so the text extracted is the text of the capture the
WARC keeps, not of a second fetch. What the scripts load (bundles, the article's JSON) comes from
the network under rules of its own (:func:`allowed`):

* only http(s) (and ``data:``/``blob:``, which never leave the browser);
* never a non-public address unless the source opted in (``allow_private_network``), checked on
  the resolved address of every request; a name that does not resolve is refused (fail closed);
* no images, media or fonts (nothing to read there), no service workers, no downloads, no
  WebSockets; each page in a fresh browser context (no cookies carried from page to page).

Bounds: ``crawl.render_concurrency`` pages at once per crawl process (one browser, a context per
page), ``crawl.render_timeout_seconds`` per page (load, then the network quiet), ``crawl.max_body_bytes``
of rendered HTML. Any failure leaves the page as served (counted by the middleware): rendering
never stops a crawl.

Playwright's asyncio API runs on the crawl's own event loop (Scrapy's asyncio reactor): a page
that renders waits without holding a thread, and the browser is another process, so a page's
busy script cannot stall the crawl.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from indexing.urls import address_is_private, numeric_host

logger = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Chromium's flags for a headless run as root in a container (ENVIRONMENT.md "Browser tests")
FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
#: resource types never fetched while rendering
SKIPPED_TYPES = frozenset({"image", "media", "font"})
#: after ``load``, how long the network may take to fall quiet (within the page's timeout), and how
#: long without a request under way counts as quiet (Playwright's "networkidle" waits 500 ms)
QUIET_SECONDS = 5.0
QUIET_AFTER = 0.2
#: a page's scripts may reach this many host names, each looked up in at most this many seconds
MAX_HOSTS = 30
LOOKUP_SECONDS = 3.0


class RenderError(Exception):
    """The page could not be rendered (no browser, a crash, a timeout, too big)."""


def find_browser(configured: str | None) -> str | None:
    """The browser executable: ``configured`` (a path or a name on PATH), else the first of
    :data:`BROWSERS` on PATH; None when there is none."""
    if configured:
        return shutil.which(configured)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class HostCheck:
    """Whether a host is or resolves to a non-public address, for one page's render: each name
    looked up once, in at most :data:`LOOKUP_SECONDS`, and at most :data:`MAX_HOSTS` names per
    page (a page that asks for more gets no more: ``OSError``, refused). A name that does not
    resolve raises ``OSError`` (refused: fail closed)."""

    def __init__(self) -> None:
        self.known: dict[str, bool] = {}

    async def __call__(self, host: str) -> bool:
        if host not in self.known:
            if len(self.known) >= MAX_HOSTS:
                raise OSError(f"more than {MAX_HOSTS} hosts on one page")
            if host == "localhost" or host.endswith(".localhost"):
                self.known[host] = True
            else:
                loop = asyncio.get_running_loop()
                try:
                    infos = await asyncio.wait_for(loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP),
                                                   LOOKUP_SECONDS)
                except (OSError, UnicodeError, TimeoutError) as exc:
                    raise OSError(f"{host} does not resolve: {exc}") from exc
                if not infos:
                    raise OSError(f"{host} does not resolve")
                self.known[host] = any(address_is_private(str(info[4][0]).split("%", 1)[0]) for info in infos)
        return self.known[host]


async def allowed(url: str, allow_private: bool, resolve: Callable[[str], Awaitable[bool]]) -> bool:
    """Whether the browser may fetch ``url`` for a page of a source (``allow_private``: the
    source's ``allow_private_network``). ``resolve(host)``: whether the host is or resolves to a
    non-public address (raises ``OSError`` when it does not resolve: refused)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return True
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if allow_private:
        return True
    host = parts.hostname
    numeric = numeric_host(host)
    if numeric is not None:
        return not address_is_private(numeric)
    try:
        ipaddress.ip_address(host)
        return not address_is_private(host)
    except ValueError:
        pass
    try:
        return not await resolve(host)
    except OSError:
        return False


def _in_frame(request: Any, frame: list[Any]) -> bool:
    """Whether a navigation request is the page's own main frame's (a popup's has no frame yet)."""
    try:
        return bool(frame) and request.frame == frame[0]
    except Exception:  # noqa: BLE001 - Playwright: "Frame for this navigation request is not available"
        return False


class _Inflight:
    """The page's requests under way (started, not yet finished or failed)."""

    def __init__(self, page: Any) -> None:
        self.count = 0
        self.changed = asyncio.Event()
        page.on("request", lambda _: self._add(1))
        page.on("requestfinished", lambda _: self._add(-1))
        page.on("requestfailed", lambda _: self._add(-1))

    def _add(self, n: int) -> None:
        self.count = max(0, self.count + n)
        self.changed.set()

    async def quiet(self, period: float, bound: float) -> bool:
        """Wait until no request has been under way for ``period`` seconds (a script that fetches
        the article is done), at most ``bound`` seconds; whether it went quiet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        while loop.time() < deadline:
            self.changed.clear()
            wait = min(period, deadline - loop.time()) if self.count == 0 else deadline - loop.time()
            try:
                await asyncio.wait_for(self.changed.wait(), max(wait, 0.0))
            except TimeoutError:
                if self.count == 0:
                    return True
        return False


class Pace:
    """Spaces the requests the browser makes while rendering, per site, as the crawler spaces its
    own. A request to the source's own host (or a subdomain) waits for the source's download slot:
    its delay (``crawl.download_delay``, raised by robots.txt ``Crawl-delay``, AutoThrottle or a
    ``Retry-After`` hold) after the slot's last request, and then counts as that last request, so
    the crawler's next fetch waits after it too. A request to any other host (a CDN serving the
    bundle) waits ``default_delay`` after the previous request to that host. With no delay
    (politeness off) nothing waits. One request at a time waits per key; what a render waits is
    within its page's bound."""

    MAX_KEYS = 10_000

    def __init__(self, downloader: Any, default_delay: float) -> None:
        self.downloader = downloader
        self.default_delay = max(0.0, default_delay)
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def wait(self, key: str, *, slot: bool) -> None:
        """Wait the turn of one request under ``key``: a download slot's key when ``slot``, else a host's."""
        if len(self._locks) > self.MAX_KEYS:  # a long crawl over many hosts: forget the idle ones
            self._locks = {k: lk for k, lk in self._locks.items() if lk.locked()}
            self._last = {k: t for k, t in self._last.items() if k in self._locks}
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self.downloader.slots.get(key) if slot else None
            delay = float(found.delay) if found is not None else self.default_delay
            last = max(float(found.lastseen) if found is not None else 0.0, self._last.get(key, 0.0))
            if delay > 0 and (ahead := last + delay - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
            now = time.monotonic()
            self._last[key] = now
            if found is not None:
                found.lastseen = max(float(found.lastseen), now)


class Renderer:
    """One headless browser for a crawl process, started on first use, closed by :meth:`close`."""

    def __init__(self, executable: str, *, timeout: float, max_bytes: int, user_agent: str | None = None,
                 concurrency: int = 1) -> None:
        self.executable = executable
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._starting = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None

    async def render(self, url: str, body: bytes, content_type: str, *, allow_private: bool,
                     pace: Callable[[str], Awaitable[None]] | None = None) -> str:
        """The page's DOM after its scripts ran (HTML), rendered from ``body`` as fetched from ``url``;
        ``pace(url)`` is awaited before each request the page makes (:class:`Pace`)."""
        async with self._slots:
            browser = await self._start()
            try:
                context = await browser.new_context(user_agent=self.user_agent, service_workers="block",
                                                    accept_downloads=False, java_script_enabled=True)
            except Exception as exc:  # the browser died since: start a new one next time
                await self._stop()
                raise RenderError(f"browser gone: {exc}") from exc
            try:
                # the page's whole bound, whatever step a hostile page stalls (a busy script stalls content())
                return await asyncio.wait_for(self._render_in(context, url, body, content_type, allow_private, pace),
                                              self.timeout + QUIET_SECONDS + 5)
            except RenderError:
                raise
            except Exception as exc:  # Playwright's errors and timeouts
                raise RenderError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
            finally:
                try:
                    await context.close()
                except Exception:  # noqa: BLE001 - a dead browser's context is gone anyway
                    logger.debug("closing a render context failed", exc_info=True)

    async def _start(self) -> Any:
        async with self._starting:
            if self._browser is None:
                try:
                    from playwright.async_api import async_playwright

                    self._playwright = await async_playwright().start()
                    self._browser = await self._playwright.chromium.launch(
                        executable_path=self.executable, args=list(FLAGS), timeout=self.timeout * 1000)
                except Exception as exc:  # no Playwright, a browser that does not start
                    await self._stop()
                    raise RenderError(f"cannot start {self.executable}: {exc}") from exc
            return self._browser

    async def _render_in(self, context: Any, url: str, body: bytes, content_type: str, allow_private: bool,
                         pace: Callable[[str], Awaitable[None]] | None) -> str:
        document = url.split("#", 1)[0]
        private = HostCheck()
        served: list[bool] = []
        page_frame: list[Any] = []

        async def route(r: Any) -> None:
            request = r.request
            if request.is_navigation_request():
                if not served and request.url.split("#", 1)[0] == document and _in_frame(request, page_frame):
                    served.append(True)
                    await r.fulfill(status=200, body=body, headers={"content-type": content_type or "text/html"})
                else:
                    # a script or meta refresh leaving the page, a reload, a popup, frames (ads): not
                    # followed. A 204 answer to a navigation leaves the browser on the page it was on.
                    await r.fulfill(status=204, body=b"")
            elif request.resource_type in SKIPPED_TYPES or not await allowed(request.url, allow_private, private):
                await r.abort()
            else:
                if pace is not None:
                    await pace(request.url)
                await r.continue_()

        await context.route("**/*", route)
        page = await context.new_page()
        inflight = _Inflight(page)
        page_frame.append(page.main_frame)
        await page.route_web_socket("**/*", lambda ws: ws.close())
        ms = self.timeout * 1000
        # the document's own load, not a later navigation's (one a script starts is answered 204)
        await page.goto(url, wait_until="commit", timeout=ms)
        await page.wait_for_load_state("load", timeout=ms)
        if not await inflight.quiet(QUIET_AFTER, min(self.timeout, QUIET_SECONDS)):
            logger.debug("%s: network not quiet after %.0f s", url, QUIET_SECONDS)
        html = str(await page.content())
        if len(html.encode("utf-8")) > self.max_bytes:
            raise RenderError(f"rendered page over {self.max_bytes} bytes")
        return html

    async def _stop(self) -> None:
        browser, playwright, self._browser, self._playwright = self._browser, self._playwright, None, None
        for closing in (browser, playwright):
            if closing is None:
                continue
            try:
                await (closing.close() if closing is browser else closing.stop())
            except Exception:  # noqa: BLE001 - stopping what may already be dead
                logger.debug("stopping the renderer failed", exc_info=True)

    async def close(self) -> None:
        """Stop the browser and its driver."""
        await self._stop()
