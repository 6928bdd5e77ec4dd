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

Bounds: one page at a time per crawl process, ``crawl.render_timeout_seconds`` per page (load,
then the network quiet), ``crawl.max_body_bytes`` of rendered HTML. Any failure leaves the page as
served (counted by the middleware): rendering never stops a crawl.

Playwright's objects belong to the thread that made them: every call runs on one worker thread
of this module's own (``_executor``), and the reactor awaits it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
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
#: after ``load``, how long the network may take to fall quiet (within the page's timeout)
QUIET_SECONDS = 5.0
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

    def __init__(self, lookups: ThreadPoolExecutor) -> None:
        self.lookups = lookups
        self.known: dict[str, bool] = {}

    def __call__(self, host: str) -> bool:
        if host not in self.known:
            if len(self.known) >= MAX_HOSTS:
                raise OSError(f"more than {MAX_HOSTS} hosts on one page")
            if host == "localhost" or host.endswith(".localhost"):
                self.known[host] = True
            else:
                try:
                    infos = self.lookups.submit(socket.getaddrinfo, host, None).result(timeout=LOOKUP_SECONDS)
                except (OSError, UnicodeError, FutureTimeout) as exc:
                    raise OSError(f"{host} does not resolve: {exc}") from exc
                self.known[host] = any(address_is_private(str(info[4][0]).split("%", 1)[0]) for info in infos)
        return self.known[host]


def allowed(url: str, allow_private: bool, resolve: Callable[[str], bool]) -> bool:
    """Whether the browser may fetch ``url`` for a page of a source (:data:`allow_private`: the
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
        return not resolve(host)
    except OSError:
        return False


def _in_frame(request: Any, frame: list[Any]) -> bool:
    """Whether a navigation request is the page's own main frame's (a popup's has no frame yet)."""
    try:
        return bool(frame) and request.frame == frame[0]
    except Exception:  # noqa: BLE001 - Playwright: "Frame for this navigation request is not available"
        return False


class Renderer:
    """One headless browser for a crawl process, started on first use, closed by :meth:`close`."""

    def __init__(self, executable: str, *, timeout: float, max_bytes: int, user_agent: str | None = None) -> None:
        self.executable = executable
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warwatch-render")
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="warwatch-render-dns")
        self._playwright: Any = None
        self._browser: Any = None
        self._stuck = False  # a render outlived its bound: the thread may never come back

    async def render(self, url: str, body: bytes, content_type: str, *, allow_private: bool) -> str:
        """The page's DOM after its scripts ran (HTML), rendered from ``body`` as fetched from ``url``."""
        if self._stuck:
            raise RenderError("the browser is stuck on an earlier page")
        future = self._executor.submit(self._render, url, body, content_type, allow_private)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout * 2 + 10)
        except TimeoutError as exc:
            self._stuck = True
            raise RenderError(f"no answer from the browser in {self.timeout * 2 + 10:.0f} s") from exc

    def _start(self) -> Any:
        if self._browser is None:
            try:
                from playwright.sync_api import sync_playwright

                self._playwright = sync_playwright().start()
                self._browser = self._playwright.chromium.launch(
                    executable_path=self.executable, args=list(FLAGS), timeout=self.timeout * 1000)
            except Exception as exc:  # no Playwright, a browser that does not start
                self._stop()
                raise RenderError(f"cannot start {self.executable}: {exc}") from exc
        return self._browser

    def _render(self, url: str, body: bytes, content_type: str, allow_private: bool) -> str:
        browser = self._start()
        try:
            context = browser.new_context(user_agent=self.user_agent, service_workers="block",
                                          accept_downloads=False, java_script_enabled=True)
        except Exception as exc:  # the browser died since: start a new one next time
            self._stop()
            raise RenderError(f"browser gone: {exc}") from exc
        try:
            return self._render_in(context, url, body, content_type, allow_private)
        except RenderError:
            raise
        except Exception as exc:  # Playwright's errors and timeouts
            raise RenderError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        finally:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - a dead browser's context is gone anyway
                logger.debug("closing a render context failed", exc_info=True)

    def _render_in(self, context: Any, url: str, body: bytes, content_type: str, allow_private: bool) -> str:
        document = url.split("#", 1)[0]
        private = HostCheck(self._lookups)

        def route(r: Any) -> None:
            request = r.request
            if request.is_navigation_request():
                if not served and request.url.split("#", 1)[0] == document and _in_frame(request, page_frame):
                    served.append(True)
                    r.fulfill(status=200, body=body, headers={"content-type": content_type or "text/html"})
                else:
                    # a script or meta refresh leaving the page, a reload, a popup, frames (ads): not
                    # followed. A 204 answer to a navigation leaves the browser on the page it was on.
                    r.fulfill(status=204, body=b"")
            elif request.resource_type in SKIPPED_TYPES or not allowed(request.url, allow_private, private):
                r.abort()
            else:
                r.continue_()

        served: list[bool] = []
        page_frame: list[Any] = []
        context.route("**/*", route)
        page = context.new_page()
        page_frame.append(page.main_frame)
        page.route_web_socket("**/*", lambda ws: ws.close())
        ms = self.timeout * 1000
        # the document's own load, not a later navigation's (one a script starts is answered 204)
        page.goto(url, wait_until="commit", timeout=ms)
        page.wait_for_load_state("load", timeout=ms)
        try:
            page.wait_for_load_state("networkidle", timeout=min(ms, QUIET_SECONDS * 1000))
        except Exception:  # noqa: BLE001 - a page that keeps polling: take the DOM as it is
            logger.debug("%s: network not quiet after %.0f s", url, QUIET_SECONDS)
        html = str(page.content())
        if len(html.encode("utf-8")) > self.max_bytes:
            raise RenderError(f"rendered page over {self.max_bytes} bytes")
        return html

    def _stop(self) -> None:
        for closing in (self._browser, self._playwright):
            if closing is None:
                continue
            try:
                closing.close() if closing is self._browser else closing.stop()
            except Exception:  # noqa: BLE001 - stopping what may already be dead
                logger.debug("stopping the renderer failed", exc_info=True)
        self._browser = self._playwright = None

    def close(self) -> None:
        """Stop the browser (on its thread) and the thread."""
        try:
            if not self._stuck:
                self._executor.submit(self._stop).result(timeout=30)
        except Exception:  # noqa: BLE001 - shutting down
            logger.debug("renderer did not stop cleanly", exc_info=True)
        self._executor.shutdown(wait=False)
        self._lookups.shutdown(wait=False)
