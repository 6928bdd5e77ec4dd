"""Sibling chunks: the rest of an article that a CMS split into repeated blocks.

Long articles are often served as ``<div class="body-chunk">`` x N with ads, newsletter boxes
or embeds between them. Content extractors tend to keep the densest block and lose the rest.
Measurable rule used here: find the element holding most of the base extraction's paragraphs,
then, up to a few levels up, siblings with the *same tag and class* that contain prose
(long, punctuated paragraphs with few links). Their paragraphs are added in document order.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections import Counter
from typing import Any

import lxml.html

logger = logging.getLogger(__name__)

_PARA_TAGS = ("p", "h2", "h3", "h4", "h5", "blockquote", "li", "pre")
_WORD = re.compile(r"\w+")
_PROSE_END = re.compile(r"[.!?…:;\"'”»)\]]\s*$")
_MAX_LEVELS = 3
_MAX_LINK_DENSITY = 0.3
_MIN_PROSE_WORDS = 50
_FURNITURE = re.compile(
    r"author|bio\b|byline|related|recommend|comment|share|social|newsletter|promo|sponsor|advert|"
    r"teaser|sidebar|footer|widget|subscribe|signup|most-?(read|popular)",
    re.I,
)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _text(el: Any) -> str:
    try:
        return " ".join(el.text_content().split())
    except ValueError:
        return ""


def _link_density(el: Any, text_len: int) -> float:
    if not text_len:
        return 1.0
    linked = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
    return linked / text_len


def _is_prose(text: str) -> bool:
    return len(_WORD.findall(text)) >= 12 and bool(_PROSE_END.search(text))


def _signature(el: Any) -> tuple[str, str] | None:
    cls = " ".join((el.get("class") or "").split())
    if not cls:
        return None
    return el.tag, cls


def _blocks(container: Any) -> list[Any]:
    """Paragraph-level elements of a container, outermost only (no <p> inside a <li> twice)."""
    out = []
    for el in container.iter(*_PARA_TAGS):
        if any(anc in out for anc in el.iterancestors(*_PARA_TAGS)):
            continue
        out.append(el)
    return out


class TextIndex:
    """The page's paragraph-level elements with their normalised texts, in document order:
    computed once per page and shared by every rule that looks paragraphs up in the page."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree

    @functools.cached_property
    def blocks(self) -> list[tuple[Any, str]]:
        # _text() leaves single spaces only: casefolding it is _norm() of it
        return [(el, _text(el).casefold()) for el in self.tree.iter(*_PARA_TAGS)]

    def find(self, paragraph: str) -> Any | None:
        """The first element whose whole text is ``paragraph``: a paragraph-level element, the
        first ``<p>`` that starts with it (a paragraph split at ``<br>`` comes out as several
        lines), or a ``<div>`` holding the text itself (articles written in divs, no <p>)."""
        key = _norm(paragraph)
        hit = next((el for el, text in self.blocks if text == key), None)
        if hit is None:
            hit = next((el for el, text in self.blocks if el.tag == "p" and text.startswith(key)), None)
        if hit is None:
            head = key[:20]
            for el in self.tree.iter("div"):
                # cheap test first: a div holding the text itself starts with it
                if _norm(el.text or "")[:20] == head and _norm(_text(el)) == key:
                    return el
        return hit


def article_region(index: TextIndex, paragraphs: list[str]) -> Any | None:
    """A standalone copy of the smallest element holding the first and the last of
    ``paragraphs`` (as found in the page), or None when they cannot both be found."""
    if len(paragraphs) < 2:
        return None
    first, last = _norm(paragraphs[0]), _norm(paragraphs[-1])
    start = end = None
    for el, key in index.blocks:
        if start is None and key == first:
            start = el
        if key == last:
            end = el
    if start is None or end is None:
        return None
    ancestors = set(start.iterancestors())
    region = next((a for a in end.iterancestors() if a in ancestors), None)
    if region is None or region.tag in {"html", "body"}:
        return None
    # inside an <article>, where extractors look for the main text first: a region that is an
    # odd element (a <span>, a <td>) is otherwise read by their last-resort pass, paragraphs only
    page = lxml.html.Element("html")
    body = lxml.html.Element("body")
    article = lxml.html.Element("article")
    page.append(body)
    body.append(article)
    article.append(copy.deepcopy(region))
    return page


def expand_with_siblings(index: TextIndex, paragraphs: list[str]) -> list[str]:
    """``paragraphs`` plus prose from same-signature sibling blocks, in document order."""
    if len(paragraphs) < 2:
        return paragraphs
    wanted = {_norm(p): i for i, p in enumerate(paragraphs)}
    matched = [(wanted[key], el) for el, key in index.blocks if key in wanted]
    if len(matched) < 2:
        return paragraphs
    parents = Counter(el.getparent() for _, el in matched if el.getparent() is not None)
    if not parents:
        return paragraphs
    additions = _sibling_additions(parents.most_common(1)[0][0], set(wanted))
    if not additions:
        return paragraphs
    logger.debug("sibling chunks added %d paragraphs", sum(len(t) for _, t in additions))
    return _merge_in_order(index.tree, paragraphs, matched, additions)


def _sibling_additions(container: Any, known: set[str]) -> list[tuple[Any, list[str]]]:
    """New prose of same-tag-and-class siblings of ``container`` or of one of its near ancestors."""
    additions: list[tuple[Any, list[str]]] = []
    node = container
    for _ in range(_MAX_LEVELS):
        parent = node.getparent()
        if parent is None:
            break
        sig = _signature(node)
        if sig is not None:
            for sib in parent:
                if sib is node or not isinstance(sib.tag, str) or _signature(sib) != sig:
                    continue
                new = _new_prose(sib, known)
                if new:
                    additions.append((sib, new))
        if additions:
            break
        node = parent
    return additions


def _merge_in_order(
    tree: Any, paragraphs: list[str], matched: list[tuple[int, Any]], additions: list[tuple[Any, list[str]]]
) -> list[str]:
    """Each addition after the last base paragraph that precedes it in the page."""
    order = {el: pos for pos, el in enumerate(tree.iter())}
    anchors = sorted((order.get(el, 0), idx) for idx, el in matched)
    inserts: dict[int, list[str]] = {}
    for pos, texts in sorted(((order.get(sib, 0), new) for sib, new in additions), key=lambda a: a[0]):
        before = [idx for p, idx in anchors if p < pos]
        inserts.setdefault(max(before) if before else -1, []).extend(texts)
    out: list[str] = list(inserts.get(-1, []))
    for i, para in enumerate(paragraphs):
        out.append(para)
        out.extend(inserts.get(i, []))
    return out


def _new_prose(block: Any, known: set[str]) -> list[str]:
    total = _text(block)
    if not total or _link_density(block, len(total)) > _MAX_LINK_DENSITY:
        return []
    if _FURNITURE.search(f"{block.get('class') or ''} {block.get('id') or ''}"):
        return []
    texts = []
    prose = 0
    for el in _blocks(block):
        text = _text(el)
        if not text or _norm(text) in known:
            continue
        if _link_density(el, len(text)) > _MAX_LINK_DENSITY:
            continue
        texts.append(text)
        if _is_prose(text):
            prose += len(_WORD.findall(text))
    # a lone bio or teaser line is not an article chunk
    return texts if prose >= _MIN_PROSE_WORDS else []
