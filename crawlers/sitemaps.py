"""XML sitemaps, sitemap indexes, gzipped sitemaps, Google News sitemaps, robots.txt lines.

Namespace-agnostic (sitemaps in the wild use wrong or missing namespaces), recovering parser,
no entity expansion; gzip is inflated with a size cap so a gzip bomb is refused, not expanded.
"""

from __future__ import annotations

import io
import itertools
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from crawlers.xmltext import absolute_http_url, local_name, repair_utf8
from indexing.dates import parse_date

logger = logging.getLogger(__name__)


class MalformedSitemap(ValueError):
    """Not a sitemap (wrong root, not XML)."""


class SitemapTooLarge(ValueError):
    """The (inflated) sitemap is over the size cap: a gzip bomb or an oversized file."""


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: datetime | None
    published: datetime | None  # news:publication_date
    is_sitemap: bool  # an entry of a sitemap index


def _local(tag: object) -> str:
    return local_name(tag)


def maybe_gunzip(body: bytes, max_size: int) -> bytes:
    """Inflate a gzip body (magic bytes, whatever the content type says), capped at max_size."""
    if body[:2] != b"\x1f\x8b":
        if len(body) > max_size:
            raise SitemapTooLarge(f"{len(body)} bytes over the cap of {max_size}")
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_size + 1)
    except zlib.error as exc:
        raise MalformedSitemap(f"broken gzip: {exc}") from exc
    if len(out) > max_size or inflater.unconsumed_tail:
        raise SitemapTooLarge(f"inflates beyond the cap of {max_size} bytes")
    return out


def parse_sitemap(body: bytes, base_url: str, max_size: int = 50 * 1024 * 1024) -> list[SitemapEntry]:
    """Entries of a urlset or a sitemapindex (gzipped or not)."""
    return list(iter_sitemap(body, base_url, max_size))


def read_sitemap(body: bytes, base_url: str, max_size: int, max_urls: int) -> tuple[list[SitemapEntry], bool]:
    """The first ``max_urls`` entries, and whether the sitemap had more (the rest is not parsed)."""
    entries = iter_sitemap(body, base_url, max_size)
    head = list(itertools.islice(entries, max_urls))
    return head, next(entries, None) is not None


def iter_sitemap(body: bytes, base_url: str, max_size: int = 50 * 1024 * 1024) -> Iterator[SitemapEntry]:
    """Entries of a urlset or a sitemapindex, parsed as a stream: each ``<url>`` is read and
    dropped from the tree at once, so a 200,000-URL sitemap never sits in memory as a tree;
    a caller that stops iterating stops the parsing."""
    data = repair_utf8(maybe_gunzip(body, max_size).lstrip())
    if not data:
        raise MalformedSitemap("empty document")
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
    )
    root: Any = None
    kind = ""
    try:
        for event, el in events:
            if root is None:
                root, kind = el, _local(el.tag)
                if kind not in ("urlset", "sitemapindex"):
                    raise MalformedSitemap(f"root element <{kind}> is not urlset/sitemapindex")
                continue
            if event != "end" or el.getparent() is not root:
                continue
            entry = _entry(el, kind, base_url)
            el.clear()
            while el.getprevious() is not None:
                del root[0]
            if entry is not None:
                yield entry
    except etree.XMLSyntaxError as exc:
        if root is None:
            raise MalformedSitemap(f"not XML: {exc}") from exc
        logger.debug("sitemap %s ends early: %s", base_url, exc)
    if root is None:
        raise MalformedSitemap("not XML")


def _entry(el: Any, kind: str, base_url: str) -> SitemapEntry | None:
    name = _local(el.tag)
    if name not in ("url", "sitemap"):
        return None
    loc = lastmod = published = None
    for child in el.iter():
        cname = _local(child.tag)
        text = (child.text or "").strip()
        if cname == "loc" and text and loc is None and child.getparent() is el:
            loc = text
        elif cname == "lastmod" and text:
            lastmod = text
        elif cname == "publication_date" and text:
            published = text
    if not loc:
        return None
    url = absolute_http_url(base_url, loc)
    if url is None:
        return None
    return SitemapEntry(
        url=url,
        lastmod=parse_date(lastmod),
        published=parse_date(published),
        is_sitemap=(kind == "sitemapindex" or name == "sitemap"),
    )


def robots_sitemaps(robots_txt: bytes, base_url: str) -> list[str]:
    """URLs of the ``Sitemap:`` lines of a robots.txt (the caller caps how many it follows)."""
    urls = []
    for raw in robots_txt.decode("utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.lower().startswith("sitemap:"):
            value = line.split(":", 1)[1].strip()
            if value:
                url = absolute_http_url(base_url, value)
                if url is not None:
                    urls.append(url)
    return urls
