"""The standfirst: an article's intro paragraph in its own container just above the body.

News and magazine templates put the intro (standfirst, chapô, Vorspann, teaser text) in a block
of its own (``<div class="article__intro">``, ``<p class="lead">``, ``field-abstract``) next to
the body container; content extractors score the two containers apart and keep only the body.
Measurable rule: from the element holding the first body paragraph, walk up a few levels; among
the element siblings just before each ancestor, the nearest block whose class or id names an
intro and whose text is short prose (a sentence or a few, few links) is put back above the body.
A paragraph of the article's own ``<header>`` counts as naming one: templates that style the
standfirst by typography only (``<p class="text-xl">`` under the headline) put it there.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from lxml import etree

from .chunks import TextIndex
from .cleaning import text_of

_INTRO = re.compile(
    r"(?<![a-z])(intro\w*|lead|leadtext|lede|teaser|teaser-?text|standfirst|chapo|chapeau|abstract|summary|excerpt|"
    r"dek|deck|description|subtitle|sub-?headline|short-?info|einleitung|vorspann|anriss|kurztext)(?![a-z])",
    re.I,
)
# boxes of other articles: their excerpts read like an intro but belong to another page
_ELSEWHERE = re.compile(r"related|see-?also|more-?on|recommend|promo|sponsor|advert|newsletter|comment", re.I)
# a picture's description is not the article's
_PICTURE = {"figure", "figcaption", "picture"}
_PICTURE_NAME = re.compile(r"img|image|photo|gallery", re.I)
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?\"'”“»)]\s*$")
_SENTENCE = re.compile(r"\w[.!?…][\"'”“»)]?(\s|$)")
_TRUNCATED = re.compile(r"(\.\.\.|…)\W*$")
_MAX_LEVELS = 8
_NEAR_SIBLINGS = 5
# a one-line subtitle (dek) is the article's lead, not body text (see cleaning.drop_dek)
_MIN_WORDS = 15
_MAX_WORDS = 160
_LABEL_WORDS = 4
_MAX_LINK_SHARE = 0.25


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _anchors(paragraphs: list[str]) -> list[str]:
    """Body paragraphs to start the walk from: the first few that read as prose (a headline
    above the body can repeat in a breadcrumb, a boxed link open the body), then the very first."""
    prose = [p for p in paragraphs[:6] if len(_WORD.findall(p)) >= _MIN_WORDS][:3]
    return list(dict.fromkeys([*prose, paragraphs[0]]))


def _names(el: Any, pattern: re.Pattern[str]) -> bool:
    cls, ident = el.get("class"), el.get("id")
    if not cls and not ident:
        return False
    return bool(pattern.search(f"{cls or ''} {ident or ''}"))


# What can name an intro, in document order: elements with a class or an id, and the
# paragraphs of a <header> (_header_prose); selected in C, the rest of the subtree never
# reaches Python.
_NAMING = etree.XPath("descendant-or-self::*[@class or @id or (self::p and parent::header)]")


def _intro_text(el: Any, by_headline: bool) -> list[str] | None:
    """The block's lines when it reads as a standfirst: short prose, few links. Short lines that
    are not sentences (a date, a byline next to the intro) are left out. One sentence in the
    headline's own block is the subtitle (dek): the article's lead, not its body."""
    lines = [
        line
        for line in (x.strip() for x in text_of(el).split("\n"))
        if len(line.split()) > _LABEL_WORDS or (line and _SENTENCE_END.search(line))
    ]
    text = " ".join(lines)
    words = len(_WORD.findall(text))
    if not _MIN_WORDS <= words <= _MAX_WORDS or not _SENTENCE_END.search(text) or _TRUNCATED.search(text):
        return None
    if by_headline and len(_SENTENCE.findall(text)) < 2:
        return None
    linked = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
    if linked > _MAX_LINK_SHARE * len(text):
        return None
    return lines


def _candidates(sibling: Any) -> list[Any]:
    """Blocks of ``sibling`` (itself included) that name an intro, innermost-last first, leaving
    out those in a box of other articles or about a picture, and those holding a block already
    listed (a header around the headline, the byline and a one-line dek is not a standfirst)."""
    if _set_in_bold(sibling):
        return [sibling]
    named = [el for el in _NAMING(sibling) if _names(el, _INTRO) or _header_prose(el)]
    out: list[Any] = []
    for el in reversed(named):
        chain = [el, *el.iterancestors()]
        chain = chain[: chain.index(sibling) + 1]
        if _names(el, _PICTURE_NAME) or any(_names(a, _ELSEWHERE) or a.tag in _PICTURE for a in chain):
            continue
        if not any(el in inner.iterancestors() for inner in out):
            out.append(el)
    return out


def _header_prose(el: Any) -> bool:
    """A paragraph of the article's own ``<header>`` (next to its headline): the standfirst of
    templates that name it by typography only (``<p class="text-xl">``)."""
    parent = el.getparent()
    return el.tag == "p" and parent is not None and parent.tag == "header"


def _set_in_bold(el: Any) -> bool:
    """A paragraph set wholly in bold (alone in its wrappers): the typographic standfirst of
    templates without classes."""
    while el.tag not in {"p", "strong", "b"} and len(el) == 1 and isinstance(el[0].tag, str):
        el = el[0]
    if el.tag not in {"p", "strong", "b"}:
        return False
    bold = el if el.tag != "p" else next((c for c in el if c.tag in {"strong", "b"}), None)
    return bold is not None and _key(bold.text_content()) == _key(el.text_content())


def find_standfirst(index: TextIndex, paragraphs: list[str]) -> list[str]:
    """The intro lines above the body that ``paragraphs`` do not hold yet ([] when none)."""
    if not paragraphs:
        return []
    body_text = _key(" ".join(paragraphs))
    seen: set[Any] = set()
    for anchor in _anchors(paragraphs):
        lines = _nearest_intro(index.find(anchor), seen)
        if lines:
            return [] if _key(" ".join(lines)) in body_text else lines
    return []


def _nearest_intro(node: Any | None, seen: set[Any]) -> list[str] | None:
    """The intro lines of the nearest intro block before ``node`` or one of its ancestors
    (``seen``: siblings another walk already looked at, in vain)."""
    for _ in range(_MAX_LEVELS):
        if node is None or node.tag in {"body", "html"}:
            return None
        for sibling in itertools.islice(node.itersiblings(preceding=True), _NEAR_SIBLINGS):
            if sibling in seen:
                continue
            seen.add(sibling)
            blocks = _candidates(sibling) if isinstance(sibling.tag, str) else []
            by_headline = bool(blocks) and next(sibling.iter("h1"), None) is not None
            for block in blocks:
                lines = _intro_text(block, by_headline)
                if lines:
                    return lines
        node = node.getparent()
    return None
