"""The article body: candidate extractions and a chooser driven by measurable signals.

Candidates:
- trafilatura tuned for precision (with its own readability/jusText fallback): the base;
- trafilatura with its balanced defaults: its paragraphs that sit between two paragraphs of the
  base fill the gaps precision mode leaves inside an article (list items, subheadings, short
  lines, quotes, paragraphs with inline links);
- trafilatura tuned for recall, run only when the base looks thin;
- sibling chunks: CMSs split long articles into repeated blocks with ads between them
  (``<div class="body-chunk">`` x N); trafilatura keeps the first one. Paragraphs from
  siblings that share the tag and class of the base's container are added;
- JSON-LD ``articleBody`` when it is long and the others are short.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree

from .chunks import TextIndex, article_region, expand_with_siblings
from .cleaning import insert_block_boundaries, normalise_whitespace
from .passes import compared_pass, fast_precision, run_pass
from .standfirst import find_standfirst

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
# Below this many words the fast pass probably missed the article.
_THIN_WORDS = 120
# Real article pages have a few thousand elements; jusText's neighbour search is quadratic.
_FALLBACK_MAX_NODES = 15_000
# A paragraph above the first kept one is taken back when it is prose of this many words or more.
_LEAD_WORDS = 20
_SENTENCE_END = re.compile(r"[.!?…\"'”“»)]\s*$")


@dataclass
class BodyResult:
    paragraphs: list[str]
    method: str


def word_count(paragraphs: list[str]) -> int:
    return sum(len(_WORD.findall(p)) for p in paragraphs)


def extract_body(tree: Any, url: str | None, jsonld_body: str | None = None, nodes: int = 0) -> BodyResult:
    """``nodes``: element count of the tree; above _FALLBACK_MAX_NODES the quadratic jusText
    fallback is skipped so time stays bounded on pathological pages."""
    # trafilatura's own fallback (readability + jusText) doubles its cost and only matters when
    # the fast pass finds little: run it only then.
    first = fast_precision(tree, url)
    base = first.lines
    method = "trafilatura-precision"
    words = word_count(base)  # counted once per candidate: a findall over the whole text
    if words < _THIN_WORDS and nodes <= _FALLBACK_MAX_NODES:
        full = compared_pass(tree, url, first)
        if (full_words := word_count(full)) > words:
            base, words, method = full, full_words, "trafilatura-precision-fallback"
    if words < _THIN_WORDS // 2:
        recall = run_pass(tree, url, recall=True, fast=True)
        if (recall_words := word_count(recall)) > words:
            base, words, method = recall, recall_words, "trafilatura-recall"
    index = TextIndex(tree)
    if method == "trafilatura-precision":
        # A second, balanced pass fills what precision mode dropped inside the article.
        # Run on the article's own region only: a fraction of the page, a fraction of the cost.
        region = article_region(index, base)
        filled = fill_gaps(base, run_pass(region, url, fast=True, owned=True)) if region is not None else base
        if filled != base:
            base, method = filled, method + "+gaps"
    expanded = expand_with_siblings(index, base)
    if len(expanded) > len(base):
        base, method = expanded, method + "+siblings"
    intro = find_standfirst(index, base)
    if intro:
        base, method = intro + base, method + "+standfirst"
    if jsonld_body:
        paragraphs = jsonld_paragraphs(jsonld_body)
        # The page's own structured copy of the text, used when the visible extraction is
        # clearly missing most of it (script-rendered bodies, unusual markup).
        if word_count(base) < 0.5 * word_count(paragraphs):
            return BodyResult(paragraphs, "jsonld")
    return BodyResult(base, method)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def fill_gaps(precise: list[str], balanced: list[str]) -> list[str]:
    """``precise`` plus the paragraphs of a less strict pass that sit *between* two paragraphs
    the precise pass kept: precision mode drops short lines, list items, subheadings and quotes
    inside the article; furniture mostly sits before its first or after its last paragraph.
    Inside, a gap line shouted in capitals (teaser links) or already part of a kept paragraph
    is left out."""
    anchors = {_key(p): i for i, p in enumerate(precise)}
    found = [j for j, p in enumerate(balanced) if _key(p) in anchors]
    if len(found) < 2:
        return precise
    kept_text = "\n".join(anchors)
    # before the first kept paragraph, inside the article's region: an intro written as prose
    lead = [p for p in balanced[: found[0]] if _lead_prose(p) and _key(p) not in kept_text]
    candidates: list[tuple[int, str]] = []
    anchor = -1
    for para in balanced[found[0] : found[-1] + 1]:
        key = _key(para)
        if key in anchors:
            anchor = anchors[key]
        elif anchor >= 0:
            candidates.append((anchor, para))
    if not candidates:
        return lead + precise
    result = list(precise)
    inserts: dict[int, list[str]] = {}
    for anchor, para in candidates:
        key = _key(para)
        if key in kept_text or _shouted(para):
            continue
        twin = next((i for i in (anchor, anchor + 1) if i < len(result) and _variant_of(para, result[i])), None)
        if twin is not None:
            # the same paragraph with its inline link texts, which the precise pass lost
            result[twin] = para
            continue
        inserts.setdefault(anchor, []).append(para)
    out: list[str] = list(lead)
    for i, para in enumerate(result):
        out.append(para)
        out.extend(inserts.get(i, []))
    return out


def _lead_prose(text: str) -> bool:
    return len(_WORD.findall(text)) >= _LEAD_WORDS and bool(_SENTENCE_END.search(text)) and not _shouted(text)


def _variant_of(longer: str, shorter: str) -> bool:
    """``longer`` holds nearly every word of ``shorter`` and more: one paragraph, two renderings."""
    words = _WORD.findall(shorter.casefold())
    if len(words) < 8 or len(longer) <= len(shorter):
        return False
    have = set(_WORD.findall(longer.casefold()))
    return sum(w in have for w in words) >= 0.9 * len(words)


def _shouted(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(text.split()) >= 3 and len(letters) >= 10 and all(c.isupper() for c in letters)


_ENTITY = re.compile(r"&(?:#[0-9]{2,6}|#x[0-9a-f]{2,5}|[a-z]{2,8});", re.I)


def jsonld_paragraphs(body: str) -> list[str]:
    """JSON-LD articleBody as paragraphs; some CMSs put HTML in it, some HTML with its markup
    escaped once more (``&lt;p&gt;``), some entities (``&amp;``, ``&#8217;``) in plain text."""
    if "&" in body and _ENTITY.search(body):
        body = html.unescape(body)
    if "<" in body and re.search(r"<(p|br|div|h[1-6])\b", body, re.I):
        try:
            fragment = lxml.html.fragment_fromstring(body, create_parent="div")
        except (etree.ParserError, ValueError):
            fragment = None
        if fragment is not None:
            for el in list(fragment.iter("script", "style", "figure")):
                el.drop_tree()
            insert_block_boundaries(fragment)
            body = fragment.text_content()
    return [normalise_whitespace(p).strip() for p in body.split("\n") if p.strip()]
