from __future__ import annotations

import pytest

from indexing.urls import canonicalize_url, doc_id, host_in_scope, is_private_address


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/../b/./c?b=2&a=1#frag", "http://example.com/b/c?a=1&b=2"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x?", "https://example.com:8443/x"),
        (
            "https://example.com/a?utm_source=tw&utm_medium=social&id=7&fbclid=abc&gclid=1",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/a?mc_cid=1&mc_eid=2&_ga=3&msclkid=4", "https://example.com/a"),
        ("https://example.com/news/story-1/amp/", "https://example.com/news/story-1/"),
        ("https://example.com/news/story-1/amp", "https://example.com/news/story-1"),
        ("https://example.com/amp/news/story-1", "https://example.com/news/story-1"),
        ("https://example.com/news/story-1.amp.html", "https://example.com/news/story-1.html"),
        ("https://example.com/news/story-1?amp=1", "https://example.com/news/story-1"),
        ("https://example.com/news/story-1?amp", "https://example.com/news/story-1"),
        ("https://example.com/news/story-1?outputType=amp", "https://example.com/news/story-1"),
        ("https://example.com/a%7eb/%2f", "https://example.com/a~b/%2F"),
        ("https://example.com/q?x=%e2%82%ac", "https://example.com/q?x=%E2%82%AC"),
        ("https://Bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
    ],
)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected
    assert canonicalize_url(expected) == expected  # idempotent


def test_content_parameters_and_trailing_slash_are_kept() -> None:
    assert canonicalize_url("https://e.com/article?id=5&page=2") == "https://e.com/article?id=5&page=2"
    assert canonicalize_url("https://e.com/a/") != canonicalize_url("https://e.com/a")
    # "amp" as a real path segment of a one-segment path is not an AMP marker
    assert canonicalize_url("https://e.com/amp") == "https://e.com/amp"


def test_non_http_urls_untouched() -> None:
    assert canonicalize_url("mailto:a@b.c") == "mailto:a@b.c"
    assert canonicalize_url("javascript:void(0)") == "javascript:void(0)"


def test_tracking_duplicates_share_one_doc_id() -> None:
    variants = [
        "https://example.com/world/troops-arrive",
        "https://EXAMPLE.com/world/troops-arrive?utm_source=rss&utm_campaign=x",
        "https://example.com:443/world/troops-arrive#comments",
        "https://example.com/world/troops-arrive/amp?fbclid=zz",
    ]
    ids = {doc_id(canonicalize_url(v)) for v in variants}
    assert len(ids) == 1
    assert len(ids.pop()) == 32
    assert doc_id("https://a.com/1") != doc_id("https://a.com/2")


def test_private_addresses() -> None:
    for host in (
        "127.0.0.1",
        "localhost",
        "app.localhost",
        "10.0.0.8",
        "192.168.1.1",
        "172.16.5.4",
        "169.254.169.254",
        "::1",
        "[::1]",
        "0.0.0.0",
        "fd00::1",
        "100.64.0.1",
    ):
        assert is_private_address(host), host
    for host in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"):
        assert not is_private_address(host), host
    assert not is_private_address("no-such-host.invalid")


def test_host_in_scope() -> None:
    src = "https://www.example.com/"
    assert host_in_scope("https://example.com/a", src)
    assert host_in_scope("https://news.example.com/a", src)
    assert host_in_scope("http://WWW.example.com/a", src)
    assert not host_in_scope("https://badexample.com/a", src)
    assert not host_in_scope("https://example.com.evil.org/a", src)
    assert not host_in_scope("ftp://example.com/a", src)
    assert host_in_scope("http://127.0.0.1:8123/x", "http://127.0.0.1:9999/")
