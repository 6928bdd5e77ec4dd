"""Sentences of a text in any language, for aligning two versions of an article.

A sentence ends at ``. ! ? …`` (with closing quotes or brackets after them) followed by a space
and a capital letter, digit, opening quote or a letter of a script without case; CJK full stops
(``。！？``) end one without a space. Not an end: a known abbreviation ("Dr.", "z. B.", "Nr. 5",
"ул.", "tys.", "Mio."), an initial ("J. Smith"), a German/Polish/Russian ordinal or date
("am 5. März": one or two digits and a point, except in English), a point inside a number
("1.5"), and a stop inside an open quotation (up to :data:`MAX_QUOTED` characters; double marks of any
style counted alike, so that a page switching quotation styles splits the same).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexing.changes.normalize import fold

#: A quotation longer than this does not keep a sentence from ending (unbalanced marks).
MAX_QUOTED = 400
_STOP = re.compile(r"(?<![.!?…。！？])[.!?…。！？]++[\"'“”«»„「」『』’)\]]*+(?P<space>\s*+)")
#: Abbreviations a point does not end a sentence after (folded, without the point).
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof st sr jr gen col lt sgt capt cpt rev gov sen rep no nr vs etc approx ca incl
jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
z b d h u a bzw vgl usw ggf evtl inkl hr fr abs art str bd mio mrd tsd dt
т е д др пр г гг ул им тыс млн млрд руб грн р ст вул м ім ін див напр проф акад обл рис
np tzw ok ul al wg dz godz mln tys mld zl nt prof pl tj
mme mlle mm cf env av bd vol
sra srta dña ej pág
""".split())
_DOUBLE_MARKS = "\"“”«»„「」『』"
_SCRIPT_WITHOUT_CASE = re.compile(r"[\u0590-\u08ff\u0e00-\u0eff\u3040-\u9fff\uac00-\ud7af]")


def _quote_open(text: str) -> bool:
    """Whether a quotation is open at the end of ``text``: an odd count of double quotation
    marks of any style (the count does not depend on the style, so neither does the split)."""
    return sum(text.count(c) for c in _DOUBLE_MARKS) % 2 == 1


def _ends_here(text: str, stop: re.Match[str], language: str) -> bool:
    """Whether the stop ``stop`` ends a sentence."""
    marks = stop.group().rstrip()
    if any(c in "。！？" for c in marks):
        return True
    nxt = text[stop.end():stop.end() + 1]
    if not stop.group("space") or not nxt:
        return not nxt
    if not (nxt.isupper() or nxt.isdigit() or nxt in _DOUBLE_MARKS or nxt in "'‚([-" or _SCRIPT_WITHOUT_CASE.match(nxt)):
        return False
    if marks.startswith(".") and len(marks) == 1:
        window = text[max(0, stop.start() - 24):stop.start()]
        word = window.split()[-1].lstrip("([\"'«„“") if window.strip() and not window[-1].isspace() else ""
        if fold(word).split(".")[-1] in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
        if word.isdigit() and len(word) <= 2 and language != "en":
            return False
    return True


def split_sentences(text: str, language: str = "", limit: int = 10_000) -> Iterator[str]:
    """The sentences of one paragraph (no newlines expected), stripped, at most ``limit``."""
    start = 0
    count = 0
    for stop in _STOP.finditer(text):
        if count >= limit:
            return
        if not _ends_here(text, stop, language):
            continue
        piece = text[start:stop.end()]
        if len(piece) < MAX_QUOTED and _quote_open(piece):
            continue
        if piece.strip():
            count += 1
            yield piece.strip()
        start = stop.end()
    if start < len(text) and text[start:].strip() and count < limit:
        yield text[start:].strip()
