"""Page metadata from JSON-LD, OpenGraph, <meta>, <link>, the URL and the visible text.

Trust order for every field: JSON-LD > OpenGraph/article:* > other <meta> > markup > URL > text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from indexing.dates import date_from_url, parse_date, writes_day_first
from indexing.extraction.pagedates import date_near_headline, dated_element, spaced_text
from indexing.urls import absolute_url, rel_canonical

logger = logging.getLogger(__name__)

_ARTICLE_TYPES = re.compile(r"(Article|Posting|Report|BlogPosting|LiveBlogPosting|WebPage)$", re.I)
# "(?<!\s)": a separator's whitespace starts where a whitespace run starts (the leftmost match
# does anyway, and a match ends where a run ends); without it finditer tried every position of a
# long run of spaces, each scanning to its end (quadratic).
_TITLE_SEPARATORS = re.compile(r"(?<!\s)\s++(?:\||–|—|-|::|·|•|»|/)\s+")
# A title part that is a bare domain ("Example.com"). Applied with fullmatch only; "\A" keeps a
# search (which tries every start of a long word) linear too.
_DOMAIN_PART = re.compile(r"\A(www\.)?[\w-]++\.(com|org|net|de|fr|ua|ru|co\.uk|info|news|at|ch|be|eu)")
_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "cxenseparse:recs:publishtime",
    "article.published",
    "original-publish-date",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "last-modified",
    "dcterms.modified",
)


@dataclass
class Metadata:
    title: str | None = None
    lead: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    modified: datetime | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    canonical_url: str | None = None
    site_name: str | None = None
    lang_hint: str | None = None
    jsonld_body: str | None = None
    jsonld_types: list[str] = field(default_factory=list)
    og_type: str | None = None
    accessible_for_free: bool | None = None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = re.sub(r"\s+", " ", value).strip()
    return text or None


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 20:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, depth + 1)


def _types(obj: dict[str, Any]) -> list[str]:
    value = obj.get("@type")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def jsonld_objects(tree: Any) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.xpath('//script[contains(translate(@type,"LDJSON","ldjson"),"ld+json")]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            # Trailing commas and control characters are common; try once more leniently.
            try:
                data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
            except ValueError:
                logger.debug("unparseable JSON-LD block")
                continue
        objects.extend(_walk(data))
    return objects


def _names(value: Any, persons_only: bool = True) -> list[str]:
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            name = _clean(item)
        elif isinstance(item, dict):
            if persons_only and "Organization" in _types(item):
                continue
            name = _clean(item.get("name"))
        else:
            name = None
        if name and not name.startswith("http") and len(name) < 100:
            out.append(name)
    return out


def _meta_map(tree: Any) -> dict[str, list[str]]:
    metas: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (
            el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv") or ""
        ).strip()
        content = el.get("content")
        if key and content is not None:
            metas.setdefault(key.lower(), []).append(content.strip())
    return metas


def _first(metas: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        for value in metas.get(key, []):
            if value:
                return value
    return None


def _split_keywords(value: Any) -> list[str]:
    items = value if isinstance(value, list) else re.split(r"[,;]", value) if isinstance(value, str) else []
    return [t for t in (_clean(i) for i in items) if t]


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def strip_title(title: str, site_name: str | None, section: str | None) -> str:
    """'X | Krieg in der Ukraine' -> 'X' when the suffix (or prefix) is the site or section name."""
    title = _clean(title) or ""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _TITLE_SEPARATORS.finditer(title):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(title)))
    if len(spans) == 1:
        return title
    known = {s.casefold() for s in (site_name, section) if s}

    def furniture(span: tuple[int, int]) -> bool:
        part = title[span[0] : span[1]].strip().casefold()
        if part in known:
            return True
        if site_name and len(part) >= 3 and (part in site_name.casefold() or site_name.casefold() in part):
            return True
        return bool(_DOMAIN_PART.fullmatch(part))

    while len(spans) > 1 and furniture(spans[-1]):
        spans.pop()
    while len(spans) > 1 and furniture(spans[0]):
        spans.pop(0)
    return title[spans[0][0] : spans[-1][1]].strip()


@dataclass
class _Sources:
    """What every field reads: the page tree, its <meta> map and its main JSON-LD article."""

    tree: Any
    url: str | None
    metas: dict[str, list[str]]
    art: dict[str, Any]
    h1: Any


def _sources(tree: Any, url: str | None, objects: list[dict[str, Any]]) -> _Sources:
    articles = [o for o in objects if any(_ARTICLE_TYPES.search(t) for t in _types(o))]
    # Prefer the most specific article object (NewsArticle over a WebPage wrapper).
    articles.sort(key=lambda o: 0 if any("Article" in t or "Posting" in t for t in _types(o)) else 1)
    return _Sources(tree, url, _meta_map(tree), articles[0] if articles else {}, tree.find(".//h1"))


def extract_metadata(tree: Any, url: str | None) -> Metadata:
    """Every metadata field of the page, each read by its own function below."""
    objects = jsonld_objects(tree)
    src = _sources(tree, url, objects)
    meta = Metadata(jsonld_types=[t for o in objects for t in _types(o)])
    # site name and section first: the title depends on them
    meta.site_name = extract_site_name(src)
    meta.section = extract_section(src)
    meta.title = extract_title(src, meta.site_name, meta.section)
    meta.lead = extract_lead(src)
    meta.authors = extract_authors(src)
    meta.lang_hint = extract_lang_hint(src)
    meta.published = extract_published(src, meta.lang_hint)
    meta.modified = extract_modified(src)
    meta.tags = extract_tags(src)
    meta.canonical_url = extract_canonical_url(src)
    body = src.art.get("articleBody")
    meta.jsonld_body = body if isinstance(body, str) and len(body) > 200 else None
    meta.og_type = _first(src.metas, "og:type")
    meta.accessible_for_free = extract_accessible_for_free(src)
    return meta


def extract_site_name(src: _Sources) -> str | None:
    publisher = src.art.get("publisher")
    return _clean(_first(src.metas, "og:site_name", "application-name", "twitter:site:name")) or (
        _clean(publisher.get("name")) if isinstance(publisher, dict) else None
    )


def extract_section(src: _Sources) -> str | None:
    section = src.art.get("articleSection")
    if isinstance(section, list):
        section = next((s for s in section if isinstance(s, str)), None)
    return _clean(section) or _clean(_first(src.metas, "article:section", "section", "parsely-section"))


def extract_title(src: _Sources, site_name: str | None, section: str | None) -> str | None:
    art = src.art
    headline = _clean(art.get("headline")) or _clean(art.get("name") if art.get("@type") != "WebPage" else None)
    og_title = _clean(_first(src.metas, "og:title", "twitter:title"))
    title_el = src.tree.find(".//title")
    html_title = _clean(title_el.text_content()) if title_el is not None else None
    h1_text = _clean(src.h1.text_content()) if src.h1 is not None else None
    raw_title = headline or og_title or html_title or h1_text
    if not raw_title:
        return None
    title = strip_title(raw_title, site_name, section)
    # "<h1> – Kicker – Site" with an unknown kicker: the visible headline is the title.
    if h1_text and title != h1_text and title.casefold().startswith(h1_text.casefold()):
        if _TITLE_SEPARATORS.match(title[len(h1_text) :]):
            return h1_text
    return title


def extract_lead(src: _Sources) -> str | None:
    description = _clean(src.art.get("description")) or _clean(
        _first(src.metas, "og:description", "description", "twitter:description")
    )
    return description or _lead_in_page(src.tree)


def extract_authors(src: _Sources) -> list[str]:
    authors = _names(src.art.get("author"))
    if not authors:
        for key in ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator"):
            authors.extend(
                a for a in (_clean(v) for v in src.metas.get(key, [])) if a and not a.startswith("http")
            )
    if not authors:
        for el in src.tree.xpath('//a[@rel="author"] | //*[@itemprop="author"]//*[@itemprop="name"]')[:5]:
            name = _clean(el.text_content())
            if name and len(name) < 80:
                authors.append(name)
    return _dedupe([re.sub(r"^(by|von|par|автор:?)\s+", "", a, flags=re.I) for a in authors])


def extract_published(src: _Sources, lang_hint: str | None = None) -> datetime | None:
    """JSON-LD, then <meta>, the URL's date, the first <time datetime>, a date by the headline,
    then the first short element whose class or id names a date. The URL comes before ``<time>``:
    the first ``<time>`` of a page can be a sidebar's or a comment's, the URL's date is the CMS's.
    "10/05/2022" is read day first on a page whose language writes it so (:func:`writes_day_first`)."""
    dayfirst = writes_day_first(lang_hint)
    published = (parse_date(src.art.get("datePublished"), dayfirst=dayfirst)
                 or parse_date(src.art.get("dateCreated"), dayfirst=dayfirst))
    if published is None:
        published = parse_date(_first(src.metas, *_PUBLISHED_META), dayfirst=dayfirst)
    if published is None:
        published = date_from_url(src.url)
    if published is None:
        for el in src.tree.xpath("//time[@datetime][1] | //*[@itemprop='datePublished'][1]"):
            # the attribute, else what the element says ("01-11-2023 10:29" no parser takes,
            # "1. November 2023 10:29" shown)
            published = (parse_date(el.get("datetime") or el.get("content"), dayfirst=dayfirst)
                         or parse_date(spaced_text(el), dayfirst=dayfirst))
            if published:
                break
    return published or date_near_headline(src.h1, dayfirst) or dated_element(src.tree, src.h1, dayfirst)


def extract_modified(src: _Sources) -> datetime | None:
    return parse_date(src.art.get("dateModified")) or parse_date(_first(src.metas, *_MODIFIED_META))


def extract_tags(src: _Sources) -> list[str]:
    art, metas = src.art, src.metas
    tags = _split_keywords(art.get("keywords")) if art.get("keywords") else []
    tags = [t for t in (_clean(v) for v in metas.get("article:tag", [])) if t] or tags
    if not tags:
        tags = _split_keywords(_first(metas, "news_keywords", "parsely-tags"))
    if not tags:
        tags = [t for t in (_clean(a.text_content()) for a in src.tree.xpath('//a[@rel="tag"]')[:30]) if t]
    return _dedupe(tags)


def extract_canonical_url(src: _Sources) -> str | None:
    """``rel=canonical`` (the library's one rule), then og:url, then JSON-LD, then the page URL."""
    url = src.url
    found = rel_canonical(src.tree.iter("link"), url)
    if found:
        return found
    canonical = _first(src.metas, "og:url")
    if not canonical:
        entity = src.art.get("mainEntityOfPage")
        canonical = entity.get("@id") if isinstance(entity, dict) else entity if isinstance(entity, str) else None
        canonical = canonical or (src.art.get("url") if isinstance(src.art.get("url"), str) else None)
    return absolute_url(canonical, url) or (url if url and urlsplit(url).scheme else None)


def extract_lang_hint(src: _Sources) -> str | None:
    tree = src.tree
    html_el = tree if tree.tag == "html" else tree.find(".//html")
    lang = (html_el.get("lang") or html_el.get("xml:lang")) if html_el is not None else None
    return lang or _clean(src.art.get("inLanguage")) or _first(src.metas, "og:locale", "content-language", "language")


def extract_accessible_for_free(src: _Sources) -> bool | None:
    free = src.art.get("isAccessibleForFree")
    if isinstance(free, str):
        free = free.strip().lower() not in {"false", "0", "no"}
    return free if isinstance(free, bool) else None


_LEAD_CLASS = re.compile(
    r"(^|[\s_-])(lead|standfirst|chapo|chapeau|teaser-text|intro|dek|summary|subtitle|subheadline|"
    r"article-lead|article__lead|lede)($|[\s_-])",
    re.I,
)


def _lead_in_page(tree: Any) -> str | None:
    """The visible lead/standfirst paragraph when the page has no description."""
    for el in tree.xpath("//p[@class] | //div[@class] | //h2[@class]")[:3000]:
        if not _LEAD_CLASS.search(el.get("class") or ""):
            continue
        text = _clean(el.text_content())
        if text and 8 <= len(text.split()) <= 120:
            return text
    return None
