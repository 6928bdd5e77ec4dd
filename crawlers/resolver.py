"""The crawl's name resolver: the private-network rule applied to the addresses Scrapy connects to.

Installed with ``TWISTED_DNS_RESOLVER``. Every connection Scrapy opens (each redirect hop and
retry included, IP literals too) asks ``reactor.nameResolver`` for addresses; this resolver
answers only with addresses the rule allows, so the address checked is the address connected
to (no second lookup that a rebinding name could answer differently).

- Lookups run in the reactor's thread pool (Twisted's getaddrinfo resolver): a slow nameserver
  never blocks the reactor. A lookup that takes longer than ``DNS_TIMEOUT`` fails.
- Fail closed: a failed or timed-out lookup yields no address, so the connection fails.
- Answers are cached for ``WARWATCH_DNS_CACHE_SECONDS`` (short, bounded): what was checked is
  what is used, and a name that changes its answer is looked up again, and checked again.
- Non-public addresses (loopback, RFC 1918, link-local, unique-local, CGNAT, multicast,
  unspecified, reserved, and IPv4 embedded in IPv4-mapped, 6to4, Teredo or NAT64 IPv6) are
  dropped unless the host belongs to a source that opted in (``allow_private_network``; the
  private-network middleware registers those hosts when the spider opens).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IHostnameResolver, IHostResolution, IResolutionReceiver
from zope.interface import implementer

# address_is_private: the one rule (indexing.urls), shared with the alert webhook
from indexing.urls import address_is_private, host_in_scope, url_host

logger = logging.getLogger(__name__)

_CACHE_SIZE = 4096
_DEFAULT_TTL = 60.0


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # pragma: no cover - Twisted never cancels name resolutions
        pass


@implementer(IResolutionReceiver)
class _Collector:
    """Receives the wrapped resolver's answer; calls ``done`` once (answer or timeout)."""

    def __init__(self, done: Callable[[list[tuple[type, str]] | None], None]) -> None:
        self._done: Callable[[list[tuple[type, str]] | None], None] | None = done
        self.addresses: list[tuple[type, str]] = []

    def resolutionBegan(self, resolution: IHostResolution) -> None:  # noqa: N802 (Twisted API)
        pass

    def addressResolved(self, address: IAddress) -> None:  # noqa: N802
        if isinstance(address, IPv4Address | IPv6Address):
            self.addresses.append((type(address), address.host))

    def resolutionComplete(self) -> None:  # noqa: N802
        self.finish(self.addresses)

    def finish(self, addresses: list[tuple[type, str]] | None) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(addresses)


# (IResolutionReceiver, port, address types): zope interfaces do not type-check as classes.
_Waiter = tuple[Any, int, Sequence[type] | None]


@implementer(IHostnameResolver)
class PrivateNetworkResolver:
    def __init__(
        self,
        reactor: Any,
        timeout: float,
        ttl: float = _DEFAULT_TTL,
        clock: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reactor = reactor
        self.original: Any = getattr(reactor, "nameResolver", None)
        self.timeout = timeout
        self.ttl = ttl
        self.clock = clock if clock is not None else reactor
        self.monotonic = monotonic
        self._cache: OrderedDict[str, tuple[float, list[tuple[type, str]]]] = OrderedDict()
        self._pending: dict[str, list[_Waiter]] = {}
        self._allowed_sources: list[str] = []
        #: host -> why its last lookup gave no usable address ("private_address", "dns").
        self.refused: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> Self:
        # Scrapy passes the CrawlerProcess here; only its settings are used.
        settings = crawler.settings
        ttl = settings.getfloat("WARWATCH_DNS_CACHE_SECONDS", _DEFAULT_TTL)
        return cls(reactor, settings.getfloat("DNS_TIMEOUT"), ttl)

    def install_on_reactor(self) -> None:
        self.original = self.reactor.nameResolver
        self.reactor.installNameResolver(self)

    def allow_private(self, source_urls: Iterable[str]) -> None:
        """Hosts in scope of these source URLs may resolve to non-public addresses."""
        self._allowed_sources = sorted(set(self._allowed_sources) | set(source_urls))

    def host_allows_private(self, host: str) -> bool:
        return any(host_in_scope(f"http://{host}/", url) for url in self._allowed_sources)

    def resolveHostName(  # noqa: N802 (Twisted API)
        self,
        resolutionReceiver: Any,  # noqa: N803 (an IResolutionReceiver)
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Sequence[type] | None = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> Any:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        host = url_host(f"http://[{hostName}]/" if ":" in hostName else f"http://{hostName}/") or hostName
        waiter = (resolutionReceiver, portNumber, addressTypes)
        cached = self._cache.get(host)
        if cached is not None and cached[0] > self.monotonic():
            self._deliver(host, cached[1], [waiter])
        elif host in self._pending:
            self._pending[host].append(waiter)
        else:
            self._pending[host] = [waiter]
            self._lookup(host, hostName)
        return resolution

    def _lookup(self, host: str, name: str) -> None:
        timer: Any = None

        def done(addresses: list[tuple[type, str]] | None) -> None:
            if timer is not None and timer.active():
                timer.cancel()
            self._answered(host, addresses)

        collector = _Collector(done)
        timer = self.clock.callLater(self.timeout, collector.finish, None)
        try:
            self.original.resolveHostName(collector, name, 0, None, "TCP")
        except Exception:  # a resolver bug must not leave the request hanging: fail closed
            logger.exception("name resolution of %s failed", host)
            collector.finish([])

    def _answered(self, host: str, addresses: list[tuple[type, str]] | None) -> None:
        waiters = self._pending.pop(host, [])
        if addresses is None:
            logger.warning("DNS lookup of %s timed out after %.0fs: refused", host, self.timeout)
            addresses = []
        elif addresses:
            self._cache[host] = (self.monotonic() + self.ttl, addresses)
            self._cache.move_to_end(host)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        self._deliver(host, addresses, waiters)

    def _deliver(self, host: str, addresses: list[tuple[type, str]], waiters: list[_Waiter]) -> None:
        allowed = [a for a in addresses if not address_is_private(a[1])]
        if len(allowed) < len(addresses) and self.host_allows_private(host):
            allowed = addresses
        self._note_refusal(host, addresses, allowed)
        for receiver, port, types in waiters:
            for kind, ip in allowed:
                if types is None or any(issubclass(kind, t) for t in types):
                    receiver.addressResolved(kind("TCP", ip, port))
            receiver.resolutionComplete()

    def _note_refusal(
        self, host: str, addresses: list[tuple[type, str]], allowed: list[tuple[type, str]]
    ) -> None:
        if allowed:
            self.refused.pop(host, None)
            return
        reason = "private_address" if addresses else "dns"
        if reason == "private_address":
            logger.warning(
                "refusing %s: it resolves to non-public addresses only %s", host, [a[1] for a in addresses]
            )
        self.refused[host] = reason
        self.refused.move_to_end(host)
        while len(self.refused) > _CACHE_SIZE:
            self.refused.popitem(last=False)
