"""Text folding: the one set of rules for apostrophes and accents, shared by enrichment
(topics, entities, query expansion, dedup: :mod:`indexing.enrich.text`) and the name skeletons
(:mod:`indexing.translit`).

- **Apostrophes**: every apostrophe-like character found in news text (Ukrainian writes ``ʼ`` and
  ``’`` inside words, keyboards give ``'``, ``´``, `````, typographers ``‘`` ``′``) is one
  apostrophe: :data:`APOSTROPHES`, :func:`unify_apostrophes` (one code point for one: offsets
  keep), :func:`drop_apostrophes`, and :data:`APOSTROPHE_CLASS` for regular expressions.
- **Accents**: :func:`strip_marks` drops the combining marks of every letter except Cyrillic
  ones (``Corée`` -> ``Coree``, ``Choïgou`` -> ``Choigou``; but ``й``, ``ї``, ``ё`` are letters of
  their own, not accented ``и``, ``і``, ``е``) and spells out the Latin letters Unicode does not
  decompose (``ß`` -> ``ss``, ``ł`` -> ``l``, ``ø`` -> ``o``, ``æ`` -> ``ae``, ...).

The search engine's analyzers (indexing/index/templates.py) fold on their side with the engine's
own filters; these rules are for what Python matches, hashes and tokenises.
"""

from __future__ import annotations

import re
import unicodedata

#: Every apostrophe variant, the ASCII one first.
APOSTROPHES = "'’ʼ‘`´ʹ′＇"
#: A regex character class matching any apostrophe variant.
APOSTROPHE_CLASS = "[" + re.escape(APOSTROPHES) + "]"

_TO_ASCII_APOSTROPHE = str.maketrans({c: "'" for c in APOSTROPHES})
_NO_APOSTROPHE = str.maketrans("", "", APOSTROPHES)
_OTHER_APOSTROPHE_RE = re.compile("[" + re.escape(APOSTROPHES[1:]) + "]")

# Latin letters that Unicode does not decompose into a base letter and a mark.
_SPELLED_OUT = str.maketrans({
    "ß": "ss", "ẞ": "SS", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i",
})


def has_other_apostrophes(text: str) -> bool:
    """True when ``text`` holds an apostrophe other than the ASCII one."""
    return _OTHER_APOSTROPHE_RE.search(text) is not None


def unify_apostrophes(text: str) -> str:
    """Every apostrophe variant as ``'`` (one code point for one: offsets into ``text`` hold)."""
    return text.translate(_TO_ASCII_APOSTROPHE)


def drop_apostrophes(text: str) -> str:
    """``text`` without any apostrophe variant."""
    return text.translate(_NO_APOSTROPHE)


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def strip_marks(text: str) -> str:
    """``text`` (NFC) without accents: combining marks dropped except on Cyrillic letters, and
    the undecomposable Latin letters spelled out. Case is kept."""
    if text.isascii():
        return text
    out: list[str] = []
    keep = False  # the marks of the letter before: kept on Cyrillic letters only
    for ch in unicodedata.normalize("NFD", text.translate(_SPELLED_OUT)):
        if unicodedata.category(ch) == "Mn":
            if keep:
                out.append(ch)
            continue
        keep = _is_cyrillic(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))
