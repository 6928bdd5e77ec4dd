"""Links of listing pages, ``rel=canonical`` and a general "looks like an article" test."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from indexing.urls import rel_canonical

# Listing, taxonomy and utility paths of news sites (any CMS): followed as sections, never
# stored as articles.
_NON_ARTICLE_SEGMENTS = {
    "tag",
    "tags",
    "category",
    "categories",
    "topic",
    "topics",
    "author",
    "authors",
    "page",
    "search",
    "login",
    "logout",
    "register",
    "signup",
    "subscribe",
    "account",
    "about",
    "contact",
    "privacy",
    "terms",
    "imprint",
    "impressum",
    "feed",
    "rss",
    "newsletter",
    "archive",
    "archives",
    "wp-admin",
    "wp-login.php",
    "cart",
    "shop",
    "jobs",
    "advertise",
    "cookies",
}
_ASSET_EXT = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|css|js|json|xml|rss|atom|pdf|zip|gz|mp3|mp4|webm|avi|mov|woff2?|ttf)$",
    re.IGNORECASE,
)
_DATE_PATH = re.compile(r"/(19|20)\d{2}/(0?[1-9]|1[0-2])(/|$)|/(19|20)\d{2}-\d{2}-\d{2}")
_NUMERIC_ID = re.compile(r"\d{4,}")


def looks_like_asset(url: str) -> bool:
    return bool(_ASSET_EXT.search(urlsplit(url).path))


def looks_like_article(url: str) -> bool:
    """Heuristic for links found on section pages (not feeds or sitemaps, which list articles
    by definition): a dated path, a long numeric id, a multi-word slug or a .html page, and no
    taxonomy/utility segment."""
    path = urlsplit(url).path
    segments = [s for s in path.lower().split("/") if s]
    if not segments or looks_like_asset(url):
        return False
    if any(s in _NON_ARTICLE_SEGMENTS for s in segments):
        return False
    last = segments[-1]
    stem = re.sub(r"\.(s?html?|php|aspx?)$", "", last)
    if _DATE_PATH.search(path):
        return True
    if _NUMERIC_ID.search(stem):
        return True
    if stem.count("-") + stem.count("_") >= 2:
        return True
    return last.endswith((".html", ".htm", ".shtml")) and len(stem) >= 6 and stem not in ("index", "default")


def _parse(body: bytes | str, base_url: str) -> etree._Element | None:
    if not body or not body.strip():
        return None
    try:
        return lxml_html.fromstring(body, base_url=base_url)
    except ValueError:
        # str with an XML encoding declaration: let lxml read the bytes instead.
        if isinstance(body, str):
            return _parse(body.encode("utf-8"), base_url)
        return None
    except etree.ParserError:
        return None


def extract_links(body: bytes | str, base_url: str) -> list[str]:
    """Absolute http(s) links of ``<a href>`` in document order (deduplicated, no fragments)."""
    doc = _parse(body, base_url)
    if doc is None:
        return []
    base = base_url
    base_el = doc.find(".//base[@href]")
    if base_el is not None:
        base = urljoin(base_url, base_el.get("href", ""))
    seen: set[str] = set()
    out: list[str] = []
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        rel = (a.get("rel") or "").lower()
        if "nofollow" in rel.split():
            continue
        try:
            url = urljoin(base, href).split("#", 1)[0]
        except ValueError:
            continue
        if url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def extract_canonical(body: bytes | str, base_url: str) -> str | None:
    """The page's ``<link rel=canonical>`` (absolute) or None (rule: ``indexing.urls.rel_canonical``)."""
    doc = _parse(body, base_url)
    return rel_canonical(doc.iter("link"), base_url) if doc is not None else None
