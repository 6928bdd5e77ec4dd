"""Where a page's publication date comes from when it has no JSON-LD or meta date: the URL before a
stray ``<time>``, a date by the headline even when its blocks are glued in the markup, and an
element whose class names a date -- not a date widget in the site's header, not a teaser list's
date (benchmarks/dates.py measures the rules on the development datasets)."""

from __future__ import annotations

from datetime import UTC, datetime

from indexing.extraction import extract

BODY = "<p>" + " ".join(["Die Stadtwerke meldeten am Abend neue Schäden an den Leitungen."] * 8) + "</p>"


def page(inner: str) -> str:
    return f"<html lang='de'><head><title>Stromausfall</title></head><body>{inner}</body></html>"


def test_the_urls_date_beats_the_first_time_element_of_a_sidebar() -> None:
    html = page("<aside><time datetime='2009-04-11'>11. April 2009</time></aside>"
                f"<article><h1>Stromausfall in Charkiw</h1>{BODY}</article>")
    got = extract(html, url="https://news.example/2019/10/22/stromausfall-charkiw/").published
    assert got == datetime(2019, 10, 22, tzinfo=UTC)


def test_a_date_beside_the_headline_in_glued_blocks_is_found() -> None:
    """``Wissen<span>26.02.2020</span>Lesedauer``: the spans' texts are apart, not one word."""
    html = page("<article><div class='head'><h1>Stromausfall in Charkiw</h1><div><span>Wissen</span>"
                f"<span>26.02.2020</span><span>Lesedauer ca. 7 Minuten</span></div></div>{BODY}</article>")
    assert extract(html, url="https://news.example/story").published == datetime(2020, 2, 26, tzinfo=UTC)


def test_an_element_whose_class_names_a_date_gives_the_date() -> None:
    html = page("<div class='site'><h1>Bundesamt</h1></div><main><h2>Stromausfall in Charkiw</h2>"
                f"<div class='meta'><span class='news-date'>13.01.2022</span></div>{BODY}</main>")
    assert extract(html, url="https://news.example/story").published == datetime(2022, 1, 13, tzinfo=UTC)


def test_the_site_headers_date_widget_and_a_teaser_list_give_no_date() -> None:
    """Today's date in the site's header and the dates of a list of other articles are not this
    article's: no date rather than a wrong one."""
    html = page("<header><div id='date-widget'>Feb. 19 2020</div></header>"
                "<main><h1>Stromausfall in Charkiw</h1>" + BODY + "</main>"
                "<ul><li><span class='date'>01. Juli 2020</span> Andere Meldung</li></ul>"
                "<a href='/x'><span class='date'>02. Juli 2020</span></a>")
    assert extract(html, url="https://news.example/story").published is None


def test_the_articles_own_meta_box_counts_even_in_a_list() -> None:
    """A date in a list inside the headline's own article (its meta box), after a header widget."""
    html = page("<header><span class='date'>Feb. 19 2020</span></header><article><h1>Stromausfall in Charkiw</h1>"
                f"<aside><ul><li class='content__meta__date'>26.02.2020</li></ul></aside>{BODY}</article>")
    assert extract(html, url="https://news.example/story").published == datetime(2020, 2, 26, tzinfo=UTC)


def test_a_time_element_whose_attribute_no_parser_takes_gives_the_date_it_shows() -> None:
    html = page(f"<article><h1>Stromausfall in Charkiw</h1><time datetime='01-11-2023 10:29'>1. November 2023 "
                f"10:29</time>{BODY}</article>")
    assert extract(html, url="https://news.example/story").published == datetime(2023, 11, 1, 10, 29, tzinfo=UTC)


def test_a_slash_date_is_read_as_the_pages_language_writes_it() -> None:
    """``<meta name="date" content="11/01/2023">``: 11 January on a German page; on a page in plain
    English (the United States write 1 November) no date rather than a guess."""
    body = f"<article><h1>Stromausfall in Charkiw</h1>{BODY}</article>"
    head = "<head><meta name='date' content='11/01/2023 12:43:42'></head>"
    german = f"<html lang='de'>{head}<body>{body}</body></html>"
    english = f"<html lang='en'>{head}<body>{body}</body></html>"
    assert extract(german, url="https://news.example/story").published == datetime(2023, 1, 11, tzinfo=UTC)
    assert extract(english, url="https://news.example/story").published is None
