"""Figures out of the body and into `images`: source, caption and photo credit kept apart."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from indexing.urls import absolute_url

from .cleaning import normalise_whitespace

logger = logging.getLogger(__name__)

_MAX_IMAGES = 30
_CREDIT_CLASS = re.compile(r"credit|copyright|source|photographer|author|byline|urheber|quelle|licen", re.I)
_CAPTION_CLASS = re.compile(r"caption|legend|legende|bildunterschrift|description", re.I)
# "Foto: X", "Photo : X", "© X", "Фото: X", "Crédit photo : X", "Bild: X", "(Image: X)"
# Whitespace runs are possessive ("\s*+"): as "\s*[(\[]?\s*", two runs that could split the same
# spaces backtracked quadratically on a long run of them.
_CREDIT_PREFIX = re.compile(
    r"^\s*+(?:[(\[]\s*+)?(?:(?:photo|foto|фото|bild|image|picture|crédits?(?:\s++photo)?|credits?|"
    r"quelle|source|джерело|источник|ілюстрація|иллюстрация)\s*+:\s*+|©\s*+|\(c\)\s*+)",
    re.I,
)
# The credit at the end of a caption. The separators before it ("[\s(\[|/–—-]*") are skipped by
# hand (_credit_start): as the pattern's first element, that repeated class made a search
# backtrack quadratically on a long run of separators with no credit after it (16 KB: 11 s).
# Its whitespace runs are bounded ({0,8}): unbounded, they overlap the credit text and each
# other, and a long run of spaces after "Photo :" backtracked cubically.
_TRAILING_CREDIT = re.compile(
    r"((?:photo|foto|фото|bild|image|picture|crédits?(?:\s+photo)?|credits?)\s{0,8}:\s{0,8}[^()\[\]]{2,120}"
    r"|©\s{0,8}[^()\[\]]{2,120})[)\]]?\s{0,8}$",
    re.I,
)
#: a trailing credit is at most ~140 characters ("Crédits photo : " and 120): only a caption's
#: last ones are searched (its whitespace runs are bounded by nothing else)
_CREDIT_TAIL = 200
_CREDIT_SEPARATORS = frozenset("([|/–—-")
_SKIP_ANCESTORS = {"header", "footer", "nav", "aside"}


@dataclass
class Image:
    src: str
    caption: str | None = None
    credit: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"src": self.src, "caption": self.caption, "credit": self.credit}


def _img_src(img: Any, base: str | None) -> str | None:
    for attr in ("src", "data-src", "data-lazy-src", "data-original", "data-srcset", "srcset"):
        value = (img.get(attr) or "").strip()
        if not value or value.startswith("data:"):
            continue
        if "srcset" in attr:
            value = value.split(",")[0].strip().split(" ")[0]
        src = absolute_url(value, base)
        if src:
            return src
    return None


def _strip_credit_prefix(text: str) -> str:
    return _CREDIT_PREFIX.sub("", text).strip(" )]\n")


def split_caption(text: str) -> tuple[str | None, str | None]:
    """'Caption. Foto: Agency / Name' -> ('Caption.', 'Agency / Name')."""
    text = normalise_whitespace(text).replace("\n", " ").strip()
    if not text:
        return None, None
    if _CREDIT_PREFIX.match(text):
        return None, _strip_credit_prefix(text) or None
    match = _TRAILING_CREDIT.search(text, max(0, len(text) - _CREDIT_TAIL))
    start = _credit_start(text, match.start()) if match else 0
    if match and start > 0:
        return text[:start].strip() or None, _strip_credit_prefix(match.group(1)) or None
    return text, None


def _credit_start(text: str, end: int) -> int:
    """Where the run of separators (whitespace, ``( [ | / – — -``) that ends at ``end`` begins."""
    i = end
    while i > 0 and (text[i - 1].isspace() or text[i - 1] in _CREDIT_SEPARATORS):
        i -= 1
    return i


def _in_chrome(el: Any) -> bool:
    for anc in el.iterancestors():
        if anc.tag in _SKIP_ANCESTORS:
            return True
    return False


def _caption_parts(container: Any) -> tuple[str | None, str | None]:
    credit_texts = []
    for el in list(container.iter()):
        if el is container or not isinstance(el.tag, str):
            continue
        if el.getparent() is None:
            continue
        if _CREDIT_CLASS.search(el.get("class") or "") or el.tag in {"small", "cite"}:
            text = normalise_whitespace(el.text_content()).replace("\n", " ").strip()
            if text:
                credit_texts.append(_strip_credit_prefix(text))
            _remove(el)  # keeps its tail text
    caption, inline_credit = split_caption(container.text_content())
    credit = " / ".join(c for c in credit_texts if c) or inline_credit
    return caption, credit


def extract_images(tree: Any, base_url: str | None, og_image: str | None = None) -> list[Image]:
    """Collect figures with their captions and credits, and remove them (and their captions)
    from ``tree`` so neither reaches the body text."""
    images: list[Image] = []
    seen: set[str] = set()
    for figure in list(tree.iter("figure")):
        if figure.getparent() is None:
            continue
        in_chrome = _in_chrome(figure)
        img = next(figure.iter("img"), None)
        src = _img_src(img, base_url) if img is not None else None
        captions = [el for el in figure.iter() if el.tag == "figcaption"]
        if not captions:
            captions = [
                el
                for el in figure.iter()
                if el is not figure
                and isinstance(el.tag, str)
                and _CAPTION_CLASS.search(el.get("class") or "")
            ][:1]
        caption = credit = None
        if captions:
            caption, credit = _caption_parts(captions[0])
        elif img is not None:
            caption = (img.get("alt") or "").strip() or None
        if src and not in_chrome and src not in seen and len(images) < _MAX_IMAGES:
            seen.add(src)
            images.append(Image(src=src, caption=caption, credit=credit))
        _remove(figure)
    # Captions outside <figure> (div.caption next to an img) are dropped from the text too.
    for el in list(tree.iter("figcaption")):
        _remove(el)
    if not images and og_image:
        src = absolute_url(og_image, base_url)
        if src:
            images.append(Image(src=src))
    return images


def _remove(el: Any) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    parent.remove(el)
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
