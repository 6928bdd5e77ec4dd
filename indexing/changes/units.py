"""An article version as the units compared: sentences of the lead and body, image captions,
images without one; each with the key it is matched on.

A unit's key is its folded words, with numbers as their values (``10,000``, ``10 000`` and
``10.000`` in German are one token), dates as the day they name (``5 March 2024``,
``March 5, 2024``, ``05.03.2024`` are one token), clock times and relative times as placeholders;
audience counters and temperatures as placeholders; punctuation and quotation-mark styles are not
part of it. Furniture units
(:func:`indexing.changes.normalize.is_furniture`) are left out.

Bounds: each text field is read up to :data:`MAX_FIELD_CHARS`, a side has at most
:data:`MAX_UNITS` units, a unit at most :data:`MAX_UNIT_CHARS` characters (longer ones are cut),
at most :data:`MAX_IMAGES` images are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from indexing.changes.normalize import (
    CLOCK,
    REL_TIME,
    TEMPERATURE,
    clean_text,
    counters,
    image_key,
    is_furniture,
    link_list_lines,
    words,
)
from indexing.changes.numbers import Number, canonical, find_numbers
from indexing.changes.quotes import find_quotes
from indexing.changes.sentences import split_sentences
from indexing.dates import MONTHS

MAX_FIELD_CHARS = 300_000
MAX_UNITS = 3_000
MAX_UNIT_CHARS = 1_000
MAX_IMAGES = 200

# the month names of indexing.dates (en, de, fr, uk, ru, es, pl, it, pt)
_M = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
#: "2024 года", "2024 р.", "2024 r.", "2024 г.": the word for "year" after a date belongs to it
_YEAR_WORD = r"(?: (?:года|году|г\.|року|р\.|roku|r\.))?"
DATE_DMY = re.compile(rf"(?<![\w.])(?P<d>\d{{1,2}})\.? (?:de )?(?P<m>{_M})\.?(?:,? (?:de )?(?P<y>\d{{4}}){_YEAR_WORD})?(?![^\W_])", re.I)
# A word then a day: the word is checked against the month names in Python (a long alternation
# tried at every word start is slow on long text).
DATE_MDY = re.compile(r"(?<![^\W_])(?P<m>[^\W\d_]{3,12})\.? (?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,? (?P<y>\d{4}))?(?!\d)")
DATE_NUMERIC = re.compile(r"(?<![\d.,/-])(?:(?P<iso>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
                          r"|(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2}))" + _YEAR_WORD + r"(?![\d.,/-]\d)")
_CLOCK_DIGITS = re.compile(r"\d{1,2}")
_PLACEHOLDER = re.compile(r"\u27e8n:[^\u27e9]{1,60}\u27e9")

Span = tuple[int, int, str]


@dataclass(frozen=True)
class Unit:
    """One compared unit: ``text`` as reported, ``tokens`` as matched, its ``numbers``, the
    paragraph it is in (``para``), whether it opens it (``first``) and what it is (``kind``:
    text, caption, image)."""

    text: str
    tokens: tuple[str, ...]
    numbers: tuple[Number, ...] = ()
    para: int = 0
    first: bool = True
    kind: str = "text"
    language: str = ""
    pos: int = 0
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", " ".join(self.tokens))

    @property
    def skeleton(self) -> str:
        """The key with every number as ``⟨n⟩``: equal when only numbers differ."""
        return _PLACEHOLDER.sub("\u27e8n\u27e9", self.key)


def _day(match: re.Match[str], language: str) -> str:
    g = match.groupdict()
    if g.get("iso"):
        y, m, d = g["iso"], g["im"], g["id"]
    elif g.get("a"):
        a, b, y = g["a"], g["b"], g["y"]
        m, d = (a, b) if g["sep"] == "/" and language == "en" else (b, a)
        y = "20" + y if len(y) == 2 else y
    else:
        y, m, d = g.get("y") or "?", str(MONTHS.get(g["m"].lower(), 0)), g["d"]
    return f"\u27e8d:{y}-{int(m)}-{int(d)}\u27e9"


def _clock(written: str) -> str:
    """A clock time as a token: ``14:30``, ``2:30 pm`` and ``14h30`` are one."""
    digits = [int(d) for d in _CLOCK_DIGITS.findall(written)]
    hour, minute = digits[0], digits[1]
    if "p" in written.lower() and hour < 12:
        hour += 12
    elif "a" in written.lower() and hour == 12:
        hour = 0
    return f"\u27e8t:{hour}:{minute:02d}\u27e9"


def _spans(text: str, language: str, quotes: bool = False, found: list[Number] | None = None) -> list[Span]:
    """Non-overlapping spans of ``text`` that become one token each (quotations, relative times,
    clock times, dates, numbers: the first of overlapping ones wins); the numbers are appended to
    ``found``."""
    spans: list[Span] = []

    def add(start: int, end: int, token: str) -> None:
        if not any(s < end and start < e for s, e, _ in spans):
            spans.append((start, end, token))

    if quotes:
        for q in find_quotes(text):
            add(q.start, q.end, "\u27e8q\u27e9")
    for m in REL_TIME.finditer(text):
        add(m.start(), m.end(), "\u27e8r\u27e9")
    for start, end in counters(text):
        add(start, end, "\u27e8c\u27e9")
    for m in TEMPERATURE.finditer(text):  # the value kept: a temperature in a sentence may be news
        add(m.start(), m.end(), "\u27e8w:" + m.group().replace(" ", "").upper() + "\u27e9")
    for m in CLOCK.finditer(text):
        add(m.start(), m.end(), _clock(m.group()))
    for rx in (DATE_NUMERIC, DATE_DMY, DATE_MDY):
        for m in rx.finditer(text):
            if rx is not DATE_MDY or m.group("m").lower() in MONTHS:
                add(m.start(), m.end(), _day(m, language))
    for n in find_numbers(text, language, [(s, e) for s, e, _ in spans]):
        add(n.start, n.end, f"\u27e8n:{canonical(n)}\u27e9")
        if found is not None:
            found.append(n)
    return sorted(spans)


def _tokens(text: str, spans: list[Span]) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    for start, end, token in spans:
        out += words(text[pos:start])
        out.append(token)
        pos = end
    out += words(text[pos:])
    return tuple(out)


def analyse(text: str, language: str = "", **where: Any) -> Unit | None:
    """``text`` (one sentence, caption or title) as a unit; None for furniture or no words."""
    text = clean_text(text[:MAX_UNIT_CHARS])
    numbers: list[Number] = []
    spans = _spans(text, language, found=numbers)
    tokens = _tokens(text, spans)
    if is_furniture(tokens, text):
        return None
    return Unit(text, tokens, tuple(numbers), language=language, **where)


def quote_skeleton(unit: Unit) -> str:
    """The unit's key with each quotation as ``⟨q⟩``: equal when only quoted words differ."""
    return " ".join(_tokens(unit.text, _spans(unit.text, unit.language, quotes=True)))


def _paragraphs(value: Any) -> Iterator[str]:
    """The lines of a text field that are not blank nor part of a list of links."""
    if isinstance(value, str):
        lines = [line for line in value[:MAX_FIELD_CHARS].split("\n") if line.strip()]
        links = link_list_lines(lines)
        yield from (line for i, line in enumerate(lines) if i not in links)


def _text_units(doc: Mapping[str, Any], language: str) -> Iterator[Unit]:
    para = 0
    for name in ("lead", "body"):
        for line in _paragraphs(doc.get(name)):
            para += 1
            first = True
            for sentence in split_sentences(clean_text(line), language, limit=MAX_UNITS):
                unit = analyse(sentence, language, para=para, first=first)
                first = False
                if unit is not None:
                    yield unit


def _image_units(doc: Mapping[str, Any], language: str) -> Iterator[Unit]:
    images = doc.get("images")
    for i, img in enumerate(list(images or [])[:MAX_IMAGES]):
        if not isinstance(img, Mapping):
            continue
        caption = img.get("caption")
        unit = analyse(caption, language, para=-1 - i, kind="caption") if isinstance(caption, str) else None
        url = img.get("url") or img.get("src")
        if unit is None and isinstance(url, str) and url.strip():
            unit = Unit(clean_text(url[:MAX_UNIT_CHARS]), (f"\u27e8img:{image_key(url)}\u27e9",),
                        para=-1 - i, kind="image", language=language)
        if unit is not None:
            yield unit


def document_units(doc: Mapping[str, Any], language: str) -> tuple[list[Unit], bool]:
    """The units of one version (text, then images), numbered by position, and whether a bound
    (:data:`MAX_UNITS`, :data:`MAX_FIELD_CHARS`) cut them."""
    out: list[Unit] = []
    long_field = any(isinstance(doc.get(name), str) and len(doc[name]) > MAX_FIELD_CHARS for name in ("lead", "body"))
    for source in (_text_units(doc, language), _image_units(doc, language)):
        for unit in source:
            if len(out) >= MAX_UNITS:
                return out, True
            out.append(Unit(unit.text, unit.tokens, unit.numbers, unit.para, unit.first, unit.kind,
                            language, pos=len(out)))
    return out, long_field
