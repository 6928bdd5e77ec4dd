"""`extract(html, url) -> Article`: the article a reader sees, and nothing else."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import lxml.html
from lxml import etree

from .body import extract_body, word_count
from .cleaning import (
    clean_paragraphs,
    drop_about_box,
    drop_dek,
    drop_head_datelines,
    drop_headline,
    drop_link_runs,
    drop_tail_appeals,
    drop_trailing_labels,
    insert_block_boundaries,
    link_texts,
    page_links,
    text_of,
    trim_link_tail,
)
from .decoding import decode_html, fix_mojibake, repair_mojibake
from .images import Image, extract_images
from .language import detect_language, normalise_hint
from .metadata import Metadata, extract_metadata
from .scripted import script_shell
from .status import classify

logger = logging.getLogger(__name__)

# Pages above this size are cut: real articles are far smaller, and parsing time grows with size.
MAX_HTML_CHARS = 3_000_000
# ... and trees above this many elements are cut at that point (real pages: a few thousand).
MAX_NODES = 30_000
_LOOKS_LIKE_HTML = re.compile(
    r"<\s*(html|head|body|div|p|article|main|section|span|h[1-6]|title|meta|table)\b", re.I
)
# lxml refuses a str that declares its encoding, and text with C0 controls other than
# tab/newline/CR (it cannot be stored in a tree): both are dropped before parsing.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, recover=True)
# lxml.html picks each element's class in Python (a call per element proxy, ~200,000 per page
# across the passes); every rule here and in trafilatura uses HtmlElement's methods only, so the
# C-level default lookup serves (form elements are plain HtmlElements, not FormElement & co.)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)
# Interactive furniture that never carries article text.
_NOT_TEXT = {"consent_wall", "listing_page"}
_DROP_TAGS = ("button", "select", "dialog", "template", "svg", "noscript")


@dataclass
class Article:
    url: str | None = None
    title: str | None = None
    lead: str | None = None
    body: str = ""
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    modified: datetime | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    images: list[Image] = field(default_factory=list)
    word_count: int = 0
    status: str = "ok"
    status_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "lead": self.lead,
            "body": self.body,
            "authors": list(self.authors),
            "published": self.published.isoformat() if self.published else None,
            "modified": self.modified.isoformat() if self.modified else None,
            "section": self.section,
            "tags": list(self.tags),
            "language": self.language,
            "canonical_url": self.canonical_url,
            "site_name": self.site_name,
            "images": [img.to_dict() for img in self.images],
            "word_count": self.word_count,
            "status": self.status,
            "status_reason": self.status_reason,
        }


def _no_article(url: str | None, reason: str) -> Article:
    return Article(url=url, status="no_article", status_reason=reason)


def parse_html(text: str) -> Any | None:
    """An lxml tree of the page, or None when there is nothing HTML-like to parse."""
    try:
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError, TypeError) as exc:
        logger.debug("unparseable HTML: %s", exc)
        return None
    return tree


def _strip_furniture(tree: Any) -> None:
    for el in list(tree.iter(*_DROP_TAGS)):
        parent = el.getparent()
        if parent is not None:
            el.drop_tree()


def extract(html: str | bytes, url: str | None = None) -> Article:
    """The cleaned article of one HTML page. Never raises on bad input: a page without an
    article comes back with ``status="no_article"`` and a ``status_reason``."""
    try:
        return _extract(html, url)
    except RecursionError:
        logger.warning("page too deeply nested: %s", url)
        return _no_article(url, "too_deep")
    except (
        ValueError,
        TypeError,
        AttributeError,
        LookupError,
        etree.LxmlError,
        UnicodeError,
        MemoryError,
    ) as exc:
        logger.warning("extraction failed for %s: %s: %s", url, type(exc).__name__, exc)
        return _no_article(url, "error")


def _page_tree(html: str | bytes, url: str | None) -> tuple[str, Any] | Article:
    """Decoded, bounded and parsed page, or the no-article verdict of why not."""
    if html is None or not isinstance(html, str | bytes):
        return _no_article(url, "not_html")
    text = decode_html(html)
    if len(text) > MAX_HTML_CHARS:
        text = text[:MAX_HTML_CHARS]
    text = _without_controls(text)
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        return _no_article(url, "empty")
    if not _LOOKS_LIKE_HTML.search(text[:100_000]):
        return _no_article(url, "not_html")
    tree = parse_html(text)
    if tree is None:
        return _no_article(url, "not_html")
    return text, tree


def _without_controls(text: str) -> str:
    """The page with double encoding undone (repair_mojibake, which sees no NUL) and without the
    control characters lxml cannot store. One scan of the page on most pages, which hold none:
    the NUL test and the removal after the repair run only when the scan found one, or when the
    repair changed the page (it may bring some in)."""
    controls = _CONTROL_CHARS.search(text) is not None
    if controls and "\x00" in text:
        text = text.replace("\x00", "")
    repaired = repair_mojibake(text)
    if controls or repaired is not text:
        return _CONTROL_CHARS.sub("", repaired)
    return repaired


def _extract(html: str | bytes, url: str | None) -> Article:
    parsed = _page_tree(html, url)
    if isinstance(parsed, Article):
        return parsed
    text, tree = parsed
    meta: Metadata = extract_metadata(tree, url)
    # Metadata is read first; from here on the tree is edited in place (no copy: speed).
    images = extract_images(tree, meta.canonical_url or url, _og_image(tree))
    _strip_furniture(tree)
    insert_block_boundaries(tree)
    # every element starts with "<": a cheap upper bound spares counting on ordinary pages
    nodes = text.count("<")
    if nodes > MAX_NODES:
        nodes = bound_tree(tree, MAX_NODES)
    result = extract_body(tree, url, meta.jsonld_body, nodes)
    language = detect_language(" ".join(result.paragraphs[:30]) or (meta.title or ""), normalise_hint(meta.lang_hint))
    links = page_links(tree)  # read once: the cleaning rules and the status both look at links
    paragraphs = _clean_body(tree, result.paragraphs, meta, images, language, links)
    words = word_count(paragraphs)
    status, reason = classify(tree, meta, words, paragraphs, links)
    if reason in ("empty", "too_short") and script_shell(text):
        reason = "needs_javascript"  # an application shell: its text comes from scripts
    if reason in _NOT_TEXT:
        # A consent dialog or a list of teasers must not be indexed as article text;
        # a paywall teaser is kept (it is the article's own beginning).
        paragraphs, words = [], 0
    return Article(
        url=url,
        title=fix_mojibake(meta.title) if meta.title else None,
        lead=fix_mojibake(meta.lead) if meta.lead else None,
        body="\n\n".join(paragraphs),
        authors=meta.authors,
        published=meta.published,
        modified=meta.modified,
        section=meta.section,
        tags=meta.tags,
        language=language,
        canonical_url=meta.canonical_url,
        site_name=meta.site_name,
        images=images,
        word_count=words,
        status=status,
        status_reason=reason,
    )


def _clean_body(
    tree: Any,
    paragraphs: list[str],
    meta: Metadata,
    images: list[Image],
    language: str | None,
    page_link_texts: list[tuple[str, bool]],
) -> list[str]:
    """Body paragraphs without the kicker, title, captions, credits, boilerplate and link runs."""
    drop = {meta.title or ""}
    for img in images:
        drop.update(x for x in (img.caption, img.credit) if x)
    paragraphs = clean_paragraphs(_drop_kicker(paragraphs, meta.title), language, drop)
    links = link_texts(tree, page_link_texts)
    paragraphs = drop_trailing_labels(drop_tail_appeals(drop_about_box(trim_link_tail(paragraphs, links))))
    h1 = next(tree.iter("h1"), None)
    paragraphs = drop_headline(paragraphs, text_of(h1) if h1 is not None else None, meta.title)
    return drop_dek(drop_head_datelines(drop_link_runs(paragraphs, links)), meta.lead)


def bound_tree(tree: Any, max_nodes: int) -> int:
    """Cut everything after the ``max_nodes``-th element (document order); return the count kept."""
    count = 0
    last = None
    for last in tree.iter():  # noqa: B007 - the element where counting stops is used below
        count += 1
        if count > max_nodes:
            break
    else:
        return count
    logger.warning("page has more than %d elements; cutting the rest", max_nodes)
    el = last
    node = el
    while node is not None:
        parent = node.getparent()
        if parent is not None:
            for sib in list(node.itersiblings()):
                parent.remove(sib)
        node = parent
    parent = el.getparent()
    if parent is not None:
        parent.remove(el)
    return max_nodes


def _drop_kicker(paragraphs: list[str], title: str | None) -> list[str]:
    """Short lines above the headline (kicker, section label, breadcrumb) are not body text."""
    if not title:
        return paragraphs
    key = " ".join(title.split()).casefold()
    for i, para in enumerate(paragraphs[:4]):
        if " ".join(para.split()).casefold() == key:
            return [p for p in paragraphs[:i] if len(p.split()) > 5] + paragraphs[i:]
    return paragraphs


def _og_image(tree: Any) -> str | None:
    for el in tree.iter("meta"):
        if (el.get("property") or el.get("name") or "").lower() in {"og:image", "twitter:image"}:
            content = (el.get("content") or "").strip()
            if content:
                return content
    return None
