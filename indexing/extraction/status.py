"""Why a page has no article: paywall teaser, consent wall, listing page, empty."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from .metadata import Metadata

# Article text below this many words is a teaser at best.
MIN_ARTICLE_WORDS = 60
# A paywall or consent wall shows a lead and a paragraph or two at most.
TEASER_WORDS = 150
# A listing page's teasers rarely add up to more than this.
_LISTING_MAX_WORDS = 600

_CONSENT = re.compile(
    r"cookie|consent|datenschutz|zustimm|einwillig|akzeptier|privacy|gdpr|rgpd|consentement|"
    r"accepter|j'accepte|tout accepter|acceptez|згод|файли cookie|согла|файлы cookie|принять",
    re.I,
)
_CONSENT_MARKUP = re.compile(
    r"consent|cookie|gdpr|cmp|didomi|onetrust|quantcast|sourcepoint|usercentrics", re.I
)
_PAYWALL = re.compile(
    r"subscribe to (continue|read)|subscribers only|for subscribers|already a subscriber|to continue reading|"
    r"sign in to (continue|read)|this (article|content) is (for|reserved)|premium (article|content)|"
    r"abonnieren sie|nur für abonnenten|jetzt abonnieren|weiterlesen mit|zugang zu allen|plus-artikel|"
    r"réservé aux abonnés|abonnez-vous|déjà abonné|pour lire la suite|la suite est réservée|"
    r"лише для передплатників|оформіть передплату|передплат|только для подписчиков|оформите подписку|подписк",
    re.I,
)
_PAYWALL_MARKUP = re.compile(r"paywall|premium|subscriber|abo-|plus-|piano|regwall|metered|locked", re.I)


def _markup_hits(tree: Any, pattern: re.Pattern[str]) -> int:
    hits = 0
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        attrs = f"{el.get('id') or ''} {el.get('class') or ''}"
        if attrs.strip() and pattern.search(attrs):
            hits += 1
    return hits


def _link_texts(tree: Any, links: list[tuple[str, bool]] | None = None) -> tuple[set[str], int]:
    """Texts of headline-like links (>= 4 words) and the number of headings that are links.
    ``links``: the page's (text, has href) pairs when already read (cleaning.page_links)."""
    if links is None:
        links = [(" ".join((a.text_content() or "").split()).casefold(), bool(a.get("href"))) for a in tree.iter("a")]
    texts = {text for text, href in links if href and len(text.split()) >= 4}
    linked_headings = 0
    for tag in ("h2", "h3", "h4"):
        for h in tree.iter(tag):
            if h.find(".//a") is not None or h.getparent() is not None and h.getparent().tag == "a":
                linked_headings += 1
    return texts, linked_headings


def _page_text(tree: Any) -> str:
    body = tree.find(".//body")
    node = body if body is not None else tree
    try:
        return " ".join(etree.tostring(node, method="text", encoding="unicode").split())[:30000]
    except (ValueError, TypeError):
        return ""


_SENTENCE = re.compile(r"\w[.!?…][\"'”“»)]?(\s|$)")


def _is_prose_paragraph(paragraph: str) -> bool:
    """Two sentences or more and 25 words or more: text written to be read, not a teaser line."""
    return len(paragraph.split()) >= 25 and len(_SENTENCE.findall(paragraph)) >= 2


def classify(
    raw_tree: Any,
    meta: Metadata,
    body_words: int,
    paragraphs: list[str],
    links: list[tuple[str, bool]] | None = None,
) -> tuple[str, str | None]:
    """('ok', None) or ('no_article', reason). ``links``: the page's links as
    cleaning.page_links read them (read here when not given)."""
    body_text = " ".join(paragraphs)
    if meta.accessible_for_free is False and body_words < 300:
        return "no_article", "paywall"
    if body_words < TEASER_WORDS:
        sample = _page_text(raw_tree)
        if _PAYWALL.search(body_text) or (
            _PAYWALL.search(sample) and _markup_hits(raw_tree, _PAYWALL_MARKUP)
        ):
            return "no_article", "paywall"
        if _CONSENT.search(body_text) or (
            _CONSENT.search(sample) and _markup_hits(raw_tree, _CONSENT_MARKUP)
        ):
            # A short post on a page with a cookie banner is still a post: the wall is when the
            # text itself asks for consent, or when next to nothing is left besides the banner.
            if body_words < MIN_ARTICLE_WORDS // 3 or _CONSENT.search(body_text):
                return "no_article", "consent_wall"
    if body_words >= _LISTING_MAX_WORDS:
        return "ok", None
    link_texts, linked_headings = _link_texts(raw_tree, links)
    linked_paras = sum(1 for p in paragraphs if " ".join(p.split()).casefold() in link_texts)
    if linked_paras >= 4 and linked_paras >= 0.35 * len(paragraphs):
        return "no_article", "listing_page"
    if body_words < MIN_ARTICLE_WORDS and (linked_headings >= 5 or len(link_texts) >= 15):
        # a short post on a page full of links is still a post when it is written prose
        if linked_paras or not any(_is_prose_paragraph(p) for p in paragraphs):
            return "no_article", "listing_page"
    if body_words == 0:
        return "no_article", "empty"
    if body_words < MIN_ARTICLE_WORDS // 3:
        return "no_article", "too_short"
    return "ok", None
