"""Quotations in news text: what is said inside “ ” „ “ « » ‘ ’ ‚ ‘ " 「」 『』.

:func:`find_quotes` gives the quoted text and the span of it (inside the marks), at most
:data:`MAX_QUOTE` characters each and :data:`MAX_QUOTES` per text. Apostrophes inside words
("don't", "п'ять") are not quotation marks: a single-mark quotation must open before a word and
close after one (``‘ ’`` arrive here as ``'``: :func:`indexing.changes.normalize.clean_text`
unifies apostrophes).
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_QUOTE = 600
MAX_QUOTES = 50
_Q = MAX_QUOTE
QUOTE = re.compile(
    rf"“(?P<a>[^“”\n]{{1,{_Q}}})”"
    rf"|„(?P<b>[^„“”\"\n]{{1,{_Q}}})[“”\"]"
    rf"|«(?P<c>[^«»\n]{{1,{_Q}}})»"
    rf"|»(?P<d>[^«»\n]{{1,{_Q}}})«"
    rf"|(?<![^\W_])\"(?P<e>[^\"\n]{{1,{_Q}}})\"(?![^\W_])"
    rf"|「(?P<f>[^「」\n]{{1,{_Q}}})」"
    rf"|『(?P<g>[^『』\n]{{1,{_Q}}})』"
    rf"|(?<![^\W_])[‚'](?P<h>[^'‚\n]{{1,{_Q}}})'(?![^\W_])"
)


class Quote(NamedTuple):
    text: str
    start: int
    end: int


def find_quotes(text: str) -> list[Quote]:
    """The quotations of ``text`` in order (the words inside the marks and their span)."""
    out: list[Quote] = []
    for m in QUOTE.finditer(text):
        name = m.lastgroup
        if name is None:
            continue
        inner = m.group(name).strip().rstrip(",;: ").strip()
        if inner:
            out.append(Quote(inner, m.start(name), m.end(name)))
        if len(out) >= MAX_QUOTES:
            break
    return out
