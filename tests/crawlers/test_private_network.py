"""The private-network rule on the address actually connected to (DNS rebinding, IPv6 forms,
failed and slow lookups, every hop)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock

from crawlers.downloadermiddlewares.private_network import (
    ConnectedPeerMiddleware,
    PrivateAddressRefused,
    PrivateNetworkMiddleware,
    ProxyRefused,
    host_is_literally_private,
)
from crawlers.failures import failure_reason
from crawlers.resolver import PrivateNetworkResolver
from indexing.sources import Source
from indexing.urls import address_is_private
from tests.conftest import REPO_ROOT

PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "169.254.169.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "fe80::1",
    "fe80::1%eth0",
    "fd12:3456::1",  # unique-local
    "fec0::1",  # deprecated site-local (fec0::/10)
    "feff:ffff::1",  # the top of fec0::/10
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 wrapping 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 wrapping 127.0.0.1
    "not an address",  # fail closed
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses(address: str) -> None:
    assert address_is_private(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert not address_is_private(address)
    assert not address_is_private(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host",
    ["127.1", "0x7f.1", "2130706433", "0177.0.0.1", "0", "localhost", "news.localhost", "::1", "[::1]"],
)
def test_literal_spellings_are_private_without_lookup(host: str) -> None:
    assert host_is_literally_private(host)


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "1e100.net", "deadbeef.example", "2606:4700::1"])
def test_names_and_public_literals_need_no_lookup(host: str) -> None:
    assert not host_is_literally_private(host)


# -- the resolver, with a scripted upstream resolver and an injected clock --------------------


class ScriptedUpstream:
    """Answers lookups from a script: each call pops the next answer (a list of IPs), or
    never answers when the answer is None (a nameserver that does not reply)."""

    def __init__(self, *answers: list[str] | None) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []
        self.silent: list[Any] = []

    def resolveHostName(
        self, receiver: Any, name: str, port: int = 0, types: Any = None, sem: str = "TCP"
    ) -> Any:  # noqa: N802
        self.calls.append(name)
        receiver.resolutionBegan(None)
        answer = self.answers.pop(0)
        if answer is None:
            self.silent.append(receiver)
            return None
        for ip in answer:
            receiver.addressResolved((IPv6Address if ":" in ip else IPv4Address)("TCP", ip, port))
        receiver.resolutionComplete()
        return None


class Receiver:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution: Any) -> None:  # noqa: N802
        pass

    def addressResolved(self, address: Any) -> None:  # noqa: N802
        assert not self.complete
        self.addresses.append(f"{address.host}:{address.port}")

    def resolutionComplete(self) -> None:  # noqa: N802
        assert not self.complete, "completed twice"
        self.complete = True


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_resolver(
    upstream: ScriptedUpstream, ttl: float = 60.0
) -> tuple[PrivateNetworkResolver, Clock, FakeTime]:
    clock, now = Clock(), FakeTime()
    resolver = PrivateNetworkResolver(reactor=None, timeout=5.0, ttl=ttl, clock=clock, monotonic=now)
    resolver.original = upstream
    return resolver, clock, now


def resolve(resolver: PrivateNetworkResolver, host: str, port: int = 80) -> Receiver:
    receiver = Receiver()
    resolver.resolveHostName(receiver, host, port)
    return receiver


def test_rebinding_name_is_refused_when_it_turns_private() -> None:
    upstream = ScriptedUpstream(["93.184.216.34"], ["127.0.0.1"])
    resolver, _, now = make_resolver(upstream, ttl=30)
    first = resolve(resolver, "rebind.example")
    assert first.complete and first.addresses == ["93.184.216.34:80"]
    # Within the TTL the checked answer is reused: the connection goes where the check looked.
    again = resolve(resolver, "rebind.example", 443)
    assert again.addresses == ["93.184.216.34:443"] and upstream.calls == ["rebind.example"]
    now.now += 31
    second = resolve(resolver, "rebind.example")
    assert second.complete and second.addresses == [], "the rebound answer reaches no connection"
    assert resolver.refused["rebind.example"] == "private_address"
    assert len(upstream.calls) == 2


@pytest.mark.parametrize(
    "answer", [["::1"], ["::ffff:127.0.0.1"], ["169.254.169.254"], ["fe80::1"], ["100.64.1.1"]]
)
def test_private_answers_are_refused(answer: list[str]) -> None:
    resolver, _, _ = make_resolver(ScriptedUpstream(answer))
    receiver = resolve(resolver, "internal.example")
    assert receiver.complete and receiver.addresses == []
    assert resolver.refused["internal.example"] == "private_address"


def test_mixed_answer_keeps_only_public_addresses() -> None:
    resolver, _, _ = make_resolver(ScriptedUpstream(["127.0.0.1", "93.184.216.34", "::1", "2606:4700::1111"]))
    receiver = resolve(resolver, "mixed.example", 8080)
    assert receiver.addresses == ["93.184.216.34:8080", "2606:4700::1111:8080"]
    assert "mixed.example" not in resolver.refused


def test_failed_lookup_fails_closed() -> None:
    upstream = ScriptedUpstream([], [])
    resolver, _, _ = make_resolver(upstream)
    receiver = resolve(resolver, "no-such-host.invalid")
    assert receiver.complete and receiver.addresses == []
    assert resolver.refused["no-such-host.invalid"] == "dns"
    resolve(resolver, "no-such-host.invalid")
    assert len(upstream.calls) == 2, "failures are not cached as answers"


def test_slow_lookup_times_out_and_late_answer_is_ignored() -> None:
    upstream = ScriptedUpstream(None)
    resolver, clock, _ = make_resolver(upstream)
    first, second = resolve(resolver, "slow.example"), resolve(resolver, "slow.example")
    # resolveHostName returned at once: the caller (the reactor) is not blocked.
    assert not first.complete and not second.complete
    assert upstream.calls == ["slow.example"], "concurrent lookups of one name share one query"
    clock.advance(4.9)
    assert not first.complete
    clock.advance(0.2)
    assert first.complete and second.complete and first.addresses == second.addresses == []
    late = upstream.silent[0]
    late.addressResolved(IPv4Address("TCP", "93.184.216.34", 0))
    late.resolutionComplete()  # the nameserver answers after all: nobody hears it
    assert first.addresses == [] and not clock.getDelayedCalls()


def test_answer_cancels_the_timeout() -> None:
    resolver, clock, _ = make_resolver(ScriptedUpstream(["93.184.216.34"]))
    resolve(resolver, "fast.example")
    assert not clock.getDelayedCalls()


def test_opted_in_hosts_may_resolve_private() -> None:
    upstream = ScriptedUpstream(["10.0.0.5"], ["10.0.0.6"], ["10.0.0.7"])
    resolver, _, _ = make_resolver(upstream)
    resolver.allow_private(["http://intranet.example/"])
    assert resolve(resolver, "intranet.example").addresses == ["10.0.0.5:80"]
    assert resolve(resolver, "news.intranet.example").addresses == ["10.0.0.6:80"]
    assert resolve(resolver, "other.example").addresses == []


def test_upstream_error_fails_closed() -> None:
    class Broken:
        def resolveHostName(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
            raise RuntimeError("boom")

    resolver, _, _ = make_resolver(ScriptedUpstream())
    resolver.original = Broken()
    receiver = resolve(resolver, "x.example")
    assert receiver.complete and receiver.addresses == []


def test_slow_getaddrinfo_does_not_block_a_real_reactor() -> None:
    """The real reactor and Twisted's thread-pool resolver; getaddrinfo takes 30 s. The
    reactor keeps ticking, and the lookup gives up after DNS_TIMEOUT (1 s)."""
    script = textwrap.dedent(
        """
        import time
        from twisted.internet import reactor, task
        from twisted.internet._resolver import GAIResolver
        from crawlers.resolver import PrivateNetworkResolver

        def slow_getaddrinfo(*args, **kwargs):
            time.sleep(30)
            return []

        ticks, result = [], {}
        reactor.installNameResolver(GAIResolver(reactor, getaddrinfo=slow_getaddrinfo))
        resolver = PrivateNetworkResolver(reactor, timeout=1.0)
        resolver.install_on_reactor()
        task.LoopingCall(lambda: ticks.append(time.monotonic())).start(0.05)
        start = time.monotonic()

        class Receiver:
            def resolutionBegan(self, r): pass
            def addressResolved(self, a): result.setdefault("addresses", []).append(a)
            def resolutionComplete(self):
                result["after"] = time.monotonic() - start
                reactor.stop()

        def report():
            print(len(ticks), round(result.get("after", -1), 2), result.get("addresses", []), flush=True)
            # The sleeping lookup thread is abandoned: a normal shutdown would join the thread
            # pool, i.e. wait out the whole 30 s sleep.
            import os; os._exit(0)

        reactor.addSystemEventTrigger("before", "shutdown", report)
        reactor.callWhenRunning(reactor.nameResolver.resolveHostName, Receiver(), "slow.example", 80)
        reactor.callLater(10, reactor.stop)
        reactor.run()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ticks, after, addresses = out.stdout.split(maxsplit=2)
    assert 0.9 <= float(after) < 3.0, "timed out after DNS_TIMEOUT"
    assert int(ticks) >= 10, "the reactor kept running during the lookup"
    assert addresses.strip() == "[]"


# -- the middlewares ----------------------------------------------------------------------


class SourcesSpider(scrapy.Spider):
    name = "sources"


@pytest.fixture
def crawler_with(tmp_path: Path) -> Callable[..., Any]:
    """A crawler whose crawl state (CrawlState, as in a real crawl) holds ``sources``."""

    def build(*sources: Source) -> Any:
        crawler = get_crawler(SourcesSpider, settings_dict={
            "WARWATCH_RUN_ID": "t", "WARWATCH_SOURCES": list(sources),
            "WARWATCH_RUNS_DIR": str(tmp_path / "runs"), "WARWATCH_STATE_DIR": str(tmp_path / "state")})
        crawler.spider = SourcesSpider()
        crawler.stats.open_spider()
        return crawler

    return build


def test_the_rule_sees_the_sources_of_the_crawl_state_not_a_spider_attribute(
        crawler_with: Callable[..., Any]) -> None:
    """The opt-in comes from CrawlState (like scope.py): a spider without ``sources_by_id`` (or
    with it renamed) changes nothing."""
    crawler = crawler_with(PUBLIC_SOURCE, OPTED_IN)
    assert not hasattr(crawler.spider, "sources_by_id")
    mw = PrivateNetworkMiddleware.from_crawler(crawler)
    mw.process_request(Request("http://127.0.0.1:8080/a", meta={"source": "lan"}))  # opted in: allowed
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request("http://127.0.0.1:8080/a", meta={"source": "pub"}))


@pytest.mark.parametrize("middleware", [PrivateNetworkMiddleware, ConnectedPeerMiddleware])
def test_without_crawl_state_the_check_fails_loudly(middleware: Any) -> None:
    """No crawl state (no WARWATCH_RUN_ID): an error at start-up, never a check that sees no sources
    (and never NotConfigured, which would switch the check off quietly)."""
    crawler = get_crawler(SourcesSpider)
    with pytest.raises(RuntimeError, match="CrawlState"):
        middleware.from_crawler(crawler)


PUBLIC_SOURCE = Source(id="pub", name="P", url="http://news.example/")
OPTED_IN = Source(id="lan", name="L", url="http://127.0.0.1:8080/", allow_private_network=True)


def response_from(url: str, peer: str | None, source: str) -> tuple[Request, HtmlResponse]:
    request = Request(url, meta={"source": source})
    ip = ipaddress.ip_address(peer) if peer is not None else None
    return request, HtmlResponse(url, body=b"<html></html>", request=request, ip_address=ip)


@pytest.mark.parametrize(
    "peer", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.169.254", "10.0.0.1", None]
)
def test_response_from_private_peer_is_refused_and_counted(peer: str | None, crawler_with: Callable[..., Any]) -> None:
    crawler = crawler_with(PUBLIC_SOURCE, OPTED_IN)
    mw = ConnectedPeerMiddleware.from_crawler(crawler)
    request, response = response_from("http://news.example/a-story-2024", peer, "pub")
    with pytest.raises(PrivateAddressRefused) as err:
        mw.process_response(request, response)
    assert crawler.stats.get_value("private_network/refused/connected") == 1
    from twisted.python.failure import Failure

    assert failure_reason(Failure(err.value)) == "private_address"


def test_response_from_public_peer_or_opted_in_source_passes(crawler_with: Callable[..., Any]) -> None:
    crawler = crawler_with(PUBLIC_SOURCE, OPTED_IN)
    mw = ConnectedPeerMiddleware.from_crawler(crawler)
    request, response = response_from("http://news.example/a-story-2024", "93.184.216.34", "pub")
    assert mw.process_response(request, response) is response
    request, response = response_from("http://127.0.0.1:8080/story", "127.0.0.1", "lan")
    assert mw.process_response(request, response) is response
    # robots.txt (no source) on the opted-in host
    robots = Request("http://127.0.0.1:8080/robots.txt")
    response = HtmlResponse(
        robots.url, body=b"", request=robots, ip_address=ipaddress.ip_address("127.0.0.1")
    )
    assert mw.process_response(robots, response) is response
    assert crawler.stats.get_value("private_network/refused/connected") is None


def test_redirect_hop_to_private_peer_is_refused(crawler_with: Callable[..., Any]) -> None:
    """The check runs next to the downloader, so the 3xx of each hop is checked before the
    redirect middleware follows it."""
    crawler = crawler_with(PUBLIC_SOURCE)
    mw = ConnectedPeerMiddleware.from_crawler(crawler)
    request = Request("http://news.example/old", meta={"source": "pub", "redirect_times": 1})
    response = HtmlResponse(
        request.url,
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
        request=request,
        ip_address=ipaddress.ip_address("::ffff:10.1.1.1"),
    )
    with pytest.raises(PrivateAddressRefused):
        mw.process_response(request, response)


@pytest.mark.parametrize(
    "url",
    ["http://127.1/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0/x", "http://2130706433/"],
)
def test_request_to_private_literal_is_refused_before_connecting(url: str, crawler_with: Callable[..., Any]) -> None:
    crawler = crawler_with(PUBLIC_SOURCE, OPTED_IN)
    mw = PrivateNetworkMiddleware.from_crawler(crawler)
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(Request(url, meta={"source": "pub"}))
    mw.process_request(Request(url, meta={"source": "lan"}))  # the opted-in source passes


def test_resolver_refusal_becomes_private_address(crawler_with: Callable[..., Any]) -> None:
    resolver, _, _ = make_resolver(ScriptedUpstream(["127.0.0.1"]))
    resolve(resolver, "rebind.example")
    crawler = crawler_with(PUBLIC_SOURCE)
    mw = PrivateNetworkMiddleware(crawler, resolver)
    request = Request("http://rebind.example/story", meta={"source": "pub"})
    with pytest.raises(PrivateAddressRefused):
        mw.process_exception(request, OSError("DNS lookup failed: no results"))
    # a retry of the same request is refused without another connection attempt
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(request)
    assert crawler.stats.get_value("private_network/refused/resolver") == 1
    mw.process_exception(Request("http://other.example/"), OSError("x"))  # not refused: passes on


def test_spider_opened_registers_opted_in_hosts(crawler_with: Callable[..., Any]) -> None:
    resolver, _, _ = make_resolver(ScriptedUpstream(["127.0.0.1"], ["127.0.0.1"]))
    lan = Source(id="lan", name="L", url="http://intranet.test/", allow_private_network=True)
    mw = PrivateNetworkMiddleware(crawler_with(PUBLIC_SOURCE, lan), resolver)
    mw.spider_opened(None)
    assert resolve(resolver, "intranet.test").addresses == ["127.0.0.1:80"]
    assert resolve(resolver, "news.example").addresses == []


def test_the_opt_in_is_the_sources_not_the_hosts(crawler_with: Callable[..., Any]) -> None:
    """A public source's request (a redirect hop included) to a host an opted-in source names is
    refused before it is sent: the resolver would hand it the intranet address."""
    resolver, _, _ = make_resolver(ScriptedUpstream(["10.1.2.3"], ["10.1.2.3"]))
    lan = Source(id="lan", name="L", url="http://intranet.test/", allow_private_network=True)
    crawler = crawler_with(PUBLIC_SOURCE, lan)
    mw = PrivateNetworkMiddleware(crawler, resolver)
    mw.spider_opened(None)
    hop = Request("http://intranet.test/admin", meta={"source": "pub", "redirect_times": 1})
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(hop)
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(Request("http://www.intranet.test/x", meta={"source": "pub"}))
    assert crawler.stats.get_value("private_network/refused/request") == 2
    assert mw.process_request(Request("http://intranet.test/story", meta={"source": "lan"})) is None
    assert mw.process_request(Request("http://news.example/story", meta={"source": "pub"})) is None
    assert resolver.original.calls == [], "nothing was looked up, let alone connected to"


def test_a_request_through_a_proxy_is_refused(crawler_with: Callable[..., Any]) -> None:
    crawler = crawler_with(PUBLIC_SOURCE, OPTED_IN)
    mw = PrivateNetworkMiddleware.from_crawler(crawler)
    for source in ("pub", "lan"):
        request = Request("http://news.example/a-story", meta={"source": source, "proxy": "http://10.0.0.9:3128"})
        with pytest.raises(ProxyRefused) as err:
            mw.process_request(request)
        from twisted.python.failure import Failure

        assert failure_reason(Failure(err.value)) == "proxy_refused"
