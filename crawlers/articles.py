"""Steps of turning an article response into an item (small pure functions; the spider's
``parse_article`` strings them together): is it HTML, which URL is its key (rel=canonical when
it stays on the source's host), which other URLs are its aliases, did it change, the item."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import Response

from crawlers.links import extract_canonical, looks_like_article, looks_like_asset
from crawlers.state import KnownArticle
from crawlers.urlcache import canonical, in_scope
from indexing.dates import iso
from indexing.sources import Source

_HTML_TYPES = ("text/html", "application/xhtml+xml")
#: request meta: the page's bytes as served, when the response's body is the DOM its scripts left
#: (crawlers/downloadermiddlewares/render.py)
RAW_BODY = "raw_body"
#: request meta: a page that needed rendering was kept as served (no browser, a failed render): its
#: fingerprint never matches its bytes, so a revisit fetches and renders it again
UNRENDERED = "unrendered"


def raw_body(response: Response) -> bytes:
    """The page's bytes as served (the body itself when it was not rendered)."""
    raw = response.meta.get(RAW_BODY) if response.request is not None else None
    return raw if isinstance(raw, bytes) else response.body


def is_article_link(source: Source, url: str) -> bool:
    """Whether a (canonical) link of a section page is one of the source's articles: on its host,
    not an asset, and allowed by its ``allow`` patterns, or, without any, shaped like an article."""
    if not in_scope(source, url) or looks_like_asset(url):
        return False
    return source.url_allowed(url) if source.allow else (looks_like_article(url) and source.url_allowed(url))


def is_html(response: Response) -> bool:
    ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";", 1)[0].strip().lower()
    if ctype:
        return ctype in _HTML_TYPES
    head = response.body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def article_key(response: Response, source: Source) -> tuple[str, str]:
    """(final URL, key): the key is the page's rel=canonical when it is on the source's host,
    not an asset and not a section front page claimed by an article; else the final URL."""
    final = canonical(response.url)
    canonical_link = extract_canonical(response.body, response.url)
    if canonical_link is None:
        return final, final
    candidate = canonical(canonical_link)
    to_front = urlsplit(candidate).path in ("", "/") and urlsplit(final).path not in ("", "/")
    if in_scope(source, candidate) and not looks_like_asset(candidate) and not to_front:
        return final, candidate
    return final, final


def aliases_of(requested: str, final: str, key: str, redirect_urls: list[str]) -> list[str]:
    """Every other URL that led to this article."""
    return sorted({requested, final, key, *(canonical(u) for u in redirect_urls)} - {key})


def change_of(known: KnownArticle | None, fingerprint: str) -> str:
    if known is None:
        return "new"
    return "updated" if known.fingerprint != fingerprint else "unchanged"


def article_item(
    response: Response,
    source: Source,
    key: str,
    aliases: list[str],
    published: datetime | None,
    known: KnownArticle | None,
    fetched_at: datetime,
) -> dict[str, Any]:
    """The item the archive and seen-store pipelines take (the body leaves it in the archive)."""
    body = raw_body(response)  # as served: the capture
    # what the page says: a rendered page's DOM (an application shell's bytes stay the same when
    # the article its scripts fetch is edited)
    fingerprint = hashlib.sha256(response.body).hexdigest()
    if response.meta.get(UNRENDERED):
        fingerprint = f"unrendered:{fingerprint}"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
    meta = response.meta
    revisit = {"revisit": True, "revisit_of": meta["revisit_due"].url} if meta.get("revisit") else {}
    return {
        **revisit,
        "url": key,
        "final_url": response.url,
        "requested_url": meta["requested"],
        "status": response.status,
        "fetched_at": fetched_at,
        "source": source.id,
        "fingerprint": fingerprint,
        "content_type": (response.headers.get(b"Content-Type") or b"").decode("latin-1"),
        "discovered_via": meta["via"],
        "published_hint": iso(published) if published else None,
        "change": change_of(known, fingerprint),
        "aliases": aliases,
        "headers": headers,
        "body": body,
        #: the DOM after the page's scripts ran (None: not rendered), archived beside the capture
        "rendered": response.body if body is not response.body else None,
    }
