"""Where a page says when it was published, when its JSON-LD, meta tags, URL and ``<time>`` do not
(:func:`indexing.extraction.metadata.extract_published` asks these last): a date written next to the
headline, then the first short element whose class or id names a date."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Any

from lxml import etree

from indexing.dates import parse_text_date

__all__ = ["date_near_headline", "dated_element", "spaced_text"]


def spaced_text(el: Any) -> str:
    """``el``'s text with its elements' texts apart ("Wissen", "26.02.2020" and "Lesedauer" in
    three spans are not one word)."""
    return " ".join(" ".join(el.itertext()).split())


def date_near_headline(h1: Any, dayfirst: bool = False) -> datetime | None:
    """A date written out next to the headline ("Stand: 14. März 2024, 08:15 Uhr")."""
    if h1 is None:
        return None
    region = h1.getparent()
    for _ in range(2):
        if region is None:
            return None
        try:
            text = spaced_text(region)
        except ValueError:
            return None
        if len(text) > 300:
            break
        region = region.getparent()
    start = text.find(spaced_text(h1))
    return parse_text_date(text[max(start, 0) : max(start, 0) + 1500], dayfirst=dayfirst)


#: a class or id token of an element that holds the page's date ("date", "post-date", "datum",
#: "entry-date", "pubdate", "dateline", "fecha"); "update(d)" and "modified" are the other date
_DATE_TOKEN = re.compile(r"^(?:date|dates|datum|dateline|datetime|pubdate|postdate|entrydate|publish\w*|posted\w*"
                         r"|fecha|data|timestamp|byline)$")
_DATE_TOKENS = re.compile(r"[^a-z]+")
#: elements looked at, those naming a date tried, and the longest text one may hold (a date line,
#: not a teaser with its date)
_ELEMENTS = 30_000
_DATED_ELEMENTS = 200
_DATED_TEXT = 120


def dated_element(tree: Any, h1: Any = None, dayfirst: bool = False) -> datetime | None:
    """The date in the first short element whose class or id names a date (``<span
    class="date">13.01.2022</span>``, ``<div class="field--name-node-post-date">``), outside
    navigation, asides, footers, lists, links and the site's header -- unless it is inside the
    headline's own ``<article>``, whose meta box may be any of those (never a link)."""
    own = h1.xpath("ancestor::article[1]") if h1 is not None else []
    tried = 0
    for el in itertools.islice(tree.iter(etree.Element), _ELEMENTS):
        named = f"{el.get('class') or ''} {el.get('id') or ''}"
        if named == " ":
            continue
        tokens = _DATE_TOKENS.split(named.lower())
        if not any(_DATE_TOKEN.match(t) for t in tokens):
            continue
        tried += 1
        if tried > _DATED_ELEMENTS:
            return None
        if el.xpath("ancestor-or-self::a"):
            continue
        if not (own and own[0] in el.iterancestors()) and (
                el.xpath("ancestor-or-self::*[self::nav or self::aside or self::footer or self::li]")
                or (el.xpath("ancestor::header") and not el.xpath("ancestor::article"))):
            continue  # a list's or the site header's date (today's, in a date widget)
        try:
            text = spaced_text(el)
        except ValueError:
            continue
        if 6 <= len(text) <= _DATED_TEXT:
            found = parse_text_date(text, dayfirst=dayfirst)
            if found:
                return found
    return None
