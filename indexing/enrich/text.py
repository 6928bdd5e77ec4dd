"""Normalisation and tokenising shared by topics, entities, query expansion and dedup.

One rule for text and for configured patterns alike, so both sides meet in the middle:
NFC, apostrophe variants unified, casefold, ``ё`` -> ``е``, and accents folded by
:func:`indexing.textfold.strip_marks` (``Corée`` -> ``coree``, ``Südkorea`` -> ``sudkorea``,
``Łukaszenka`` -> ``lukaszenka``). Cyrillic letters keep theirs: ``й``/``ї`` are letters of
their own, not accented ``и``/``і``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

from indexing.textfold import has_other_apostrophes, strip_marks, unify_apostrophes

# A word: letters (any script) and digits, optionally joined by apostrophes.
_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")


class Token(NamedTuple):
    """One word of a text: ``norm`` for matching, ``orig`` as written (for case-sensitive
    acronyms), ``start``/``end`` character offsets into the text given to :func:`tokenize`."""

    norm: str
    orig: str
    start: int
    end: int


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC_RE.search(word))


@functools.lru_cache(maxsize=200_000)
def normalize_word(word: str) -> str:
    """The matching form of one word."""
    return strip_marks(word.casefold().replace("ё", "е"))


def normalize_text(text: str) -> str:
    """Whole-text normalisation (NFC + apostrophes); offsets may shift, use for hashing only."""
    return unify_apostrophes(unicodedata.normalize("NFC", text))


def _prepared(text: str) -> str:
    """``nfc(text)`` with every apostrophe as ``'`` (same offsets: one code point for one)."""
    prepared = nfc(text)
    return unify_apostrophes(prepared) if has_other_apostrophes(prepared) else prepared


def nfc(text: str) -> str:
    """NFC form of ``text``: token offsets refer to this string."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` with offsets into ``nfc(text)``. Apostrophes stay inside Cyrillic words
    (``м'ясо``) and split Latin ones (``l'OTAN`` -> ``l``, ``otan``; ``Putin's`` -> ``putin``, ``s``)."""
    prepared = _prepared(text)
    make = Token._make  # tuple.__new__: much cheaper than the NamedTuple constructor
    out: list[Token] = []
    for m in _WORD_RE.finditer(prepared):
        word = m.group()
        if "'" in word and not is_cyrillic(word):
            pos = m.start()
            for part in word.split("'"):
                out.append(make((normalize_word(part), part, pos, pos + len(part))))
                pos += len(part) + 1
        else:
            out.append(make((normalize_word(word), word, m.start(), m.end())))
    return out


def words(text: str) -> list[str]:
    """Normalised words only (no offsets: cheaper than :func:`tokenize`)."""
    prepared = _prepared(text)
    out: list[str] = []
    for word in _WORD_RE.findall(prepared):
        if "'" in word and not is_cyrillic(word):
            out.extend(normalize_word(part) for part in word.split("'"))
        else:
            out.append(normalize_word(word))
    return out
