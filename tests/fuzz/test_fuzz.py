"""Every parser of outside input survives generated input (fixed seed, a few hundred inputs
each; ``benchmarks/fuzz.py --per-parser 10000`` is the long run), plus the inputs that once
crashed them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from crawlers.feeds import parse_feed
from crawlers.sitemaps import parse_sitemap, robots_sitemaps
from indexing.errors import ConfigError
from indexing.search import build_request
from indexing.sources import load_sources
from tests.fuzz.harness import targets

#: Inputs per parser in the test suite; extraction is ~50x slower per input than the rest.
PER_PARSER = {
    "extract": 40,
    "feeds": 400,
    "sitemaps": 400,
    "robots": 300,
    "sources": 200,
    "watches": 200,
    "search": 400,
}


@pytest.mark.parametrize("name", sorted(PER_PARSER))
def test_no_crash_on_generated_input(name: str) -> None:
    target = targets()[name]
    result = target.run(PER_PARSER[name], seed=20261130)
    assert result.inputs == PER_PARSER[name] + len(target.regressions)
    if result.crashes:
        first = result.crashes[0]
        pytest.fail(f"{len(result.crashes)} crashes; first on {first.data!r:.300}:\n{first.error}")


def test_every_parser_is_fuzzed() -> None:
    assert set(targets()) == {"extract", "feeds", "sitemaps", "robots", "sources", "watches", "search"}


def test_harness_reports_crashes() -> None:
    """The harness must not hide a crash (it counts the parser's own errors apart)."""
    target = targets()["feeds"]
    target.call = lambda data: int("x")  # type: ignore[assignment]  # ValueError, not MalformedFeed
    result = target.run(5, seed=1)
    assert len(result.crashes) == result.inputs and "invalid literal" in result.crashes[0].error


# -- regressions found by the fuzzer ---------------------------------------------------------


def test_feed_with_undeclared_namespace_prefixes_keeps_its_entries() -> None:
    # lxml keeps "rdf:RDF" / "dc:date" as tag names when the prefix is not declared;
    # etree.QName raised ValueError on them and the whole feed was lost.
    body = (
        b"<rdf:RDF><item rdf:about='https://news.example/a'><title>A</title><dc:date>2024-05-01</dc:date>"
        b"</item><item><link>https://news.example/b</link></item></rdf:RDF>"
    )
    entries = parse_feed(body, "https://news.example/feed")
    assert [e.url for e in entries] == ["https://news.example/b"] or len(entries) == 2
    assert "https://news.example/b" in [e.url for e in entries]


def test_sitemap_with_undeclared_prefix_and_bad_text_keeps_good_entries() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><urlset>'
        b"<url><loc>https://news.example/a</loc><news:news><news:title>x</news:title></news:news></url>"
        b"<url><loc>https://news.example/b&#xD800;</loc></url>"
        b"<url><loc>https://news.example/c\xed\xa0\x80</loc></url>"
        b"<url><loc>http://[::1</loc></url>"
        b"<url><loc>https://news.example/d</loc></url></urlset>"
    )
    urls = [e.url for e in parse_sitemap(body, "https://news.example/sitemap.xml")]
    assert urls[0] == "https://news.example/a" and urls[-1] == "https://news.example/d"
    assert len(urls) == 4, urls  # the unparseable [::1 link alone is dropped


def test_gzipped_sitemap_with_invalid_utf8() -> None:
    body = gzip.compress(b"<urlset><url><loc>https://news.example/\xff\xfe</loc></url></urlset>")
    assert len(parse_sitemap(body, "https://news.example/s.xml.gz")) == 1


def test_latin1_declared_sitemap_is_left_alone() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?><urlset><url><loc>https://news.example/caf\xe9</loc></url></urlset>'
    assert [e.url for e in parse_sitemap(body, "https://x.example/")] == ["https://news.example/café"]


def test_robots_sitemap_line_with_bad_url_is_skipped() -> None:
    robots = b"Sitemap: http://[::1\nSitemap: http://[<x>]/\nSitemap: /good.xml\n"
    assert robots_sitemaps(robots, "https://news.example/robots.txt") == ["https://news.example/good.xml"]


@pytest.mark.parametrize("char", ["\x00", "\x03", "\x18", "\ufffe"])
def test_config_with_control_character_is_a_config_error(tmp_path: Path, char: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"sources:\n  - id: a\n    name: x{char}y\n    url: https://a.example/\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=rf"{path}:3: not valid YAML"):
        load_sources(path)


def test_until_the_last_representable_day() -> None:
    body = build_request("x", until="9999-12-31")
    assert body["query"]["bool"]["filter"] == [
        {"range": {"published": {"lt": "9999-12-31T23:59:59.999999+00:00"}}}
    ]


def test_poisoned_dates_keep_their_entries() -> None:
    """One bad date must not lose the entry or the document (the date becomes unknown)."""
    poisoned = ["0001-01-01T00:00:00+01:00", "9999-99-99", "garbage", "Tue, 01 Jan 0001 00:00:00 +0100"]
    items = "".join(
        f"<item><link>https://news.example/{i}</link><pubDate>{d}</pubDate></item>"
        for i, d in enumerate(poisoned)
    )
    entries = parse_feed(f"<rss><channel>{items}</channel></rss>".encode(), "https://news.example/")
    assert len(entries) == len(poisoned)
    urls = "".join(
        f"<url><loc>https://news.example/{i}</loc><lastmod>{d}</lastmod></url>"
        for i, d in enumerate(poisoned)
    )
    assert len(parse_sitemap(f"<urlset>{urls}</urlset>".encode(), "https://news.example/")) == len(poisoned)


def test_regex_with_huge_repetition_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: a\n    url: https://a.example/\n    allow: ['\\d{99999999999}']\n")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        load_sources(path)
