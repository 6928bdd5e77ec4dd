"""RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom feeds: article links with their dates.

Parsing is namespace-agnostic and uses lxml's recovering parser, so feeds with stray
namespaces, undeclared entities or a broken tail still give the entries before the damage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from crawlers.xmltext import absolute_http_url, local_name, repair_utf8
from indexing.dates import parse_date

logger = logging.getLogger(__name__)


class MalformedFeed(ValueError):
    """The document is not a feed at all (no RSS/Atom root and no entries)."""


@dataclass(frozen=True)
class FeedEntry:
    url: str
    published: datetime | None
    title: str | None = None


def _local(tag: object) -> str:
    return local_name(tag)


def _child_text(el: etree._Element, *names: str) -> str | None:
    for child in el:
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)


def parse_feed(body: bytes, base_url: str) -> list[FeedEntry]:
    """Entries of an RSS or Atom feed (absolute URLs, in document order)."""
    body = repair_utf8(body.lstrip())
    if not body:
        raise MalformedFeed("empty document")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedFeed(f"not XML: {exc}") from exc
    if root is None:
        raise MalformedFeed("not XML")
    root_name = _local(root.tag)
    if root_name not in ("rss", "feed", "rdf", "channel"):
        raise MalformedFeed(f"root element <{root_name}> is not rss/feed/RDF")
    entries: list[FeedEntry] = []
    for el in root.iter():
        name = _local(el.tag)
        if name == "item":
            link = _child_text(el, "link")
            if not link:
                for child in el:
                    if _local(child.tag) == "guid" and (child.get("isPermaLink", "true").lower() != "false"):
                        link = (child.text or "").strip() or None
            if not link:
                about = el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                link = about.strip() if about else None
            date = _child_text(el, "pubdate", "date", "published", "issued", "updated", "modified")
        elif name == "entry":
            link = None
            for child in el:
                if _local(child.tag) == "link" and child.get("href"):
                    rel = (child.get("rel") or "alternate").lower()
                    ctype = (child.get("type") or "text/html").lower()
                    if rel == "alternate" and ("html" in ctype or not link):
                        link = child.get("href")
            if not link:
                link = _child_text(el, "link", "id")
            date = _child_text(el, "published", "issued", "created", "updated", "modified", "date")
        else:
            continue
        if not link:
            continue
        url = absolute_http_url(base_url, link.strip())
        if url is None:
            continue
        entries.append(FeedEntry(url=url, published=parse_date(date), title=_child_text(el, "title")))
    return entries
