"""Refuse loopback, private, link-local and other non-public addresses (SSRF guard).

A source may opt in with ``allow_private_network: true`` (test and intranet sites). The opt-in
belongs to the source, not to its hosts: the request's source decides, on every redirect hop.
A request of a source that did not opt in is refused before it is sent when its host is one an
opted-in source names (the resolver lets such hosts resolve to private addresses, and a public
source's redirect must not reach an intranet host that way). Requests without a source
(Scrapy's own robots.txt requests) are allowed only on the hosts of sources that opted in.

HTTP(S) proxies are refused: through a proxy the connection goes to the proxy, which resolves
the target itself, so no check here would see the target's address. Scrapy's proxy middleware
is switched off (``HTTPPROXY_ENABLED = False`` in ``crawlers.settings``: ``http_proxy`` /
``https_proxy`` in the environment are ignored, the crawler connects directly) and a request
that carries ``meta["proxy"]`` anyway is refused (:class:`ProxyRefused`, ``proxy_refused``).

Three checks, none of which blocks the reactor on DNS:

1. :class:`PrivateNetworkMiddleware` (``process_request``, early): hosts that are private
   without a lookup - IP literals (IPv4, IPv6, IPv4-mapped, any ``inet_aton`` spelling such as
   ``127.1`` or ``0``), ``localhost`` - and names the resolver already refused.
2. :class:`crawlers.resolver.PrivateNetworkResolver` (at connect time): names resolve in the
   thread pool with a timeout, and only allowed addresses are handed to the connection - the
   address checked is the address connected to, on every hop. A lookup that fails or times
   out yields no address (fail closed). The middleware turns that refusal into
   :class:`PrivateAddressRefused` so the report counts it as ``private_address``.
3. :class:`ConnectedPeerMiddleware` (``process_response``, next to the downloader): the peer
   address of every response, redirects included, must be allowed; if the resolver is not
   installed or a connection went elsewhere anyway, the response is dropped and counted.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawlers.extensions.crawl_state import CrawlState
from crawlers.resolver import PrivateNetworkResolver
from crawlers.urlcache import normalised_host
from indexing.sources import Source
from indexing.urls import address_is_private, is_private_address, numeric_host, url_host

logger = logging.getLogger(__name__)


class PrivateAddressRefused(IgnoreRequest):
    """The request's host is (or resolves to, or answered from) a non-public address."""


class ProxyRefused(PrivateAddressRefused):
    """The request was to go through a proxy, where the address check cannot see the target."""


def host_is_literally_private(host: str) -> bool:
    """Private without a DNS lookup: an IP literal in any spelling, or ``localhost``."""
    numeric = numeric_host(host)
    if numeric is not None:
        return address_is_private(numeric)
    if ":" in host.strip("[]"):
        return address_is_private(host)
    return is_private_address(host, resolve=False)


def _crawl_sources(crawler: Crawler) -> dict[str, Source]:
    """The crawl's sources from its CrawlState. Without one this security check refuses to start
    (a RuntimeError, not NotConfigured, which would switch it off quietly)."""
    try:
        return CrawlState.from_crawler(crawler).sources_by_id
    except NotConfigured as exc:
        raise RuntimeError(f"the private-network check needs the crawl's CrawlState: {exc}") from exc


class _PrivateNetworkRule:
    """Which requests may reach a non-public address (shared by both middlewares)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.sources_by_id = _crawl_sources(crawler)

    def _sources(self) -> dict[str, Source]:
        return self.sources_by_id

    def allowed(self, request: Request, host: str) -> bool:
        sources = self._sources()
        source = sources.get(str(request.meta.get("source", "")))
        if source is not None:
            return bool(source.allow_private_network)
        return any(s.allow_private_network and url_host(s.url) == host for s in sources.values())

    def refuse(self, request: Request, host: str, where: str) -> PrivateAddressRefused:
        if self.stats is not None:
            self.stats.inc_value(f"private_network/refused/{where}")
        logger.warning("refusing %s: %s is a private/loopback address (%s)", request.url, host, where)
        return PrivateAddressRefused(f"private address: {host}")


def _installed_resolver() -> PrivateNetworkResolver | None:
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, PrivateNetworkResolver) else None


class PrivateNetworkMiddleware(_PrivateNetworkRule):
    def __init__(self, crawler: Crawler, resolver: PrivateNetworkResolver | None = None) -> None:
        super().__init__(crawler)
        self.resolver = resolver

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Any) -> None:
        # The reactor (and its resolver) is set up after the middlewares are built.
        self.resolver = self.resolver or _installed_resolver()
        if self.resolver is None:
            logger.warning(
                "TWISTED_DNS_RESOLVER is not crawlers.resolver.PrivateNetworkResolver: host names are "
                "checked only after connecting (ConnectedPeerMiddleware)"
            )
            return
        opted_in = [s for s in self._sources().values() if s.allow_private_network]
        self.resolver.allow_private(u for s in opted_in for u in (s.url, *s.feeds, *s.sitemaps, *s.sections))

    def _host(self, request: Request) -> str:
        return normalised_host(urlparse_cached(request).hostname or "")

    def process_request(self, request: Request) -> None:
        host = self._host(request)
        if request.meta.get("proxy"):
            if self.stats is not None:
                self.stats.inc_value("private_network/refused/proxy")
            logger.warning("refusing %s: requests through a proxy are not checked, so not made", request.url)
            raise ProxyRefused(f"proxy refused: {host}")
        known = self.resolver.refused.get(host) if self.resolver is not None else None
        opted_in_host = self.resolver is not None and self.resolver.host_allows_private(host)
        if known == "private_address" or opted_in_host or host_is_literally_private(host):
            if not self.allowed(request, host):
                raise self.refuse(request, host, "request")
        return None

    def process_exception(self, request: Request, exception: Exception) -> None:
        host = self._host(request)
        if self.resolver is not None and self.resolver.refused.get(host) == "private_address":
            if not self.allowed(request, host):
                raise self.refuse(request, host, "resolver") from exception
        return None


class ConnectedPeerMiddleware(_PrivateNetworkRule):
    """The authoritative check: the address the response actually came from."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if urlparse_cached(request).scheme not in ("http", "https"):
            return response
        peer = response.ip_address
        if peer is not None and not address_is_private(peer):
            return response
        host = normalised_host(urlparse_cached(request).hostname or "")
        if peer is not None and self.allowed(request, host):
            return response
        raise self.refuse(request, f"{host} ({peer or 'unknown peer'})", "connected")
