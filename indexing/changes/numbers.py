"""Numbers as news text writes them, in many languages, with the values they stand for.

:func:`find_numbers` finds digits ("40", "10,000", "10.000", "10 000" with any space, "10'000",
"1,5", "1.5"), a multiplier or percent after them ("1.5 million", "1,5 Mio.", "1,5 млн",
"3 тыс.", "2 тисячі", "5 tys.", "12%"), ranges ("10-12") and small numbers written as words
(1-20, the tens, hundred in en, de, fr, es, it, ru, uk, pl: "five", "fünf", "пять", "п'ять",
"pięć"). Dates are not numbers here: callers mask them first (:mod:`indexing.changes.units`).

Separators follow the language: in English "1,500" is 1500 and "1.5" one and a half; in the
languages that write decimal commas (de, fr, es, it, pl, ru, uk, ...) "1.500" is 1500 and "1,5"
one and a half. A single separator followed by exactly three digits could be read either way: the
other reading is kept as :attr:`Number.alt`, and :func:`same` accepts it, so a site switching from
"10,000" to "10.000" is not a change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Languages whose decimal separator is the point (the rest write a decimal comma).
DECIMAL_POINT_LANGUAGES = frozenset({"en", "zh", "ja", "ko", "he", "th", "hi", "ms", ""})

_MULTIPLIERS: tuple[tuple[str, float], ...] = (
    (r"%|percent|per cent|prozent|процент(?:а|ов)?|відсот(?:ок|ки|ків)|procent(?:y|ów)?|proc\.?|pour ?cent"
     r"|por ?ciento|per ?cento", 1.0),
    (r"million(?:s|en)?|millions|mio\.?|mill\.?|mln\.?|млн\.?|миллион(?:а|ов)?|мільйон(?:а|ів)?"
     r"|milion(?:y|ów)?|millones|milioni|milione", 1e6),
    (r"billion(?:s)?|bn|mrd\.?|milliarden?|млрд\.?|миллиард(?:а|ов)?|мільярд(?:а|ів)?|mld\.?"
     r"|miliard(?:y|ów)?|milliards?|mil millones|miliardi", 1e9),
    (r"thousand|tausend|tsd\.?|тыс\.?|тысяч[аи]?|тис\.?|тисяч[аі]?|tys\.?|tysi[aą]c(?:e|y)?|mille|mil", 1e3),
)
_MULT_ALT = "|".join(f"(?P<m{i}>{alt})" for i, (alt, _) in enumerate(_MULTIPLIERS))
#: Digits: a space-grouped number (bounded: up to 10^15), else digits with point/comma groups;
#: then a multiplier or percent. The look-behind keeps a search from restarting inside a number.
NUMBER = re.compile(
    r"(?<![\w.,])(?P<digits>\d{1,3}(?:[ '](?:\d{3})){1,4}(?:[.,]\d{1,6})?(?![\d.,]\d)|\d++(?:[.,]\d++)*+)"
    rf"(?:\s?(?:{_MULT_ALT})(?![^\W\d_]))?", re.I)
_RANGE_GAP = re.compile(r" ?- ?")

_WORDS: dict[str, str] = {
    "en": "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen twenty|30 thirty|40 forty|50 fifty|60 sixty|70 seventy|"
          "80 eighty|90 ninety|100 hundred",
    "de": "eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn "
          "sechzehn siebzehn achtzehn neunzehn zwanzig|30 dreißig|40 vierzig|50 fünfzig|60 sechzig|"
          "70 siebzig|80 achtzig|90 neunzig|100 hundert",
    "fr": "_ deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
          "dix-sept dix-huit dix-neuf vingt|30 trente|40 quarante|50 cinquante|60 soixante|100 cent",
    "es": "_ dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis "
          "diecisiete dieciocho diecinueve veinte|30 treinta|40 cuarenta|50 cincuenta|60 sesenta|"
          "70 setenta|80 ochenta|90 noventa|100 cien",
    "it": "_ due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici quindici "
          "sedici diciassette diciotto diciannove venti|30 trenta|40 quaranta|50 cinquanta|100 cento",
    "ru": "один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
          "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать двадцать|"
          "30 тридцать|40 сорок|50 пятьдесят|60 шестьдесят|70 семьдесят|80 восемьдесят|90 девяносто|"
          "100 сто|2 две двух|3 трех трёх|4 четырех четырёх|5 пяти|6 шести|7 семи|8 восьми|9 девяти|"
          "10 десяти|1 одного одной",
    "uk": "один два три чотири п'ять шість сім вісім дев'ять десять одинадцять дванадцять тринадцять "
          "чотирнадцять п'ятнадцять шістнадцять сімнадцять вісімнадцять дев'ятнадцять двадцять|"
          "30 тридцять|40 сорок|50 п'ятдесят|60 шістдесят|70 сімдесят|80 вісімдесят|90 дев'яносто|"
          "100 сто|2 дві двох|3 трьох|4 чотирьох|5 п'яти|6 шести|7 семи|8 восьми|9 дев'яти|10 десяти|"
          "1 одного одна однієї",
    "pl": "jeden dwa trzy cztery pięć sześć siedem osiem dziewięć dziesięć jedenaście dwanaście trzynaście "
          "czternaście piętnaście szesnaście siedemnaście osiemnaście dziewiętnaście dwadzieścia|"
          "30 trzydzieści|40 czterdzieści|50 pięćdziesiąt|60 sześćdziesiąt|70 siedemdziesiąt|"
          "80 osiemdziesiąt|90 dziewięćdziesiąt|100 sto|2 dwie dwóch|3 trzech|4 czterech|5 pięciu|"
          "6 sześciu|7 siedmiu|8 ośmiu|9 dziewięciu|10 dziesięciu|1 jedna jedno",
}


def _word_table(spec: str) -> dict[str, int]:
    """``"one two ...|30 thirty|2 two-other-form"``: the first group counts from 1 ("_" skips a
    number written with an article's word), the others start with their value."""
    out: dict[str, int] = {}
    for i, group in enumerate(spec.split("|")):
        items = group.split()
        if i == 0:
            out.update({w: n for n, w in enumerate(items, 1) if w != "_"})
        else:
            out.update(dict.fromkeys(items[1:], int(items[0])))
    return out


#: Number words per language: word -> value.
NUMBER_WORDS: dict[str, dict[str, int]] = {lang: _word_table(spec) for lang, spec in _WORDS.items()}
_WORD_RES: dict[str, re.Pattern[str]] = {
    lang: re.compile(r"(?<![^\W_'])(?:" + "|".join(sorted(map(re.escape, table), key=len, reverse=True))
                     + r")(?![^\W_'])", re.I)
    for lang, table in NUMBER_WORDS.items()
}


@dataclass(frozen=True)
class Number:
    """One number in a text: as written, its value (and the other reading of an ambiguous
    separator), where it stands. A range holds its two ends in ``values``."""

    written: str
    values: tuple[float, ...]
    start: int
    end: int
    alt: tuple[float, ...] | None = None

    @property
    def value(self) -> float:
        return self.values[0]


def _parse_digits(digits: str, language: str) -> tuple[float, float | None]:
    """``(value, other reading or None)`` of a digit string with its separators."""
    plain = digits.replace(" ", "").replace("'", "")
    dec_sep = "." if language in DECIMAL_POINT_LANGUAGES else ","
    if "." in plain and "," in plain:
        last = max(plain.rfind("."), plain.rfind(","))
        whole, frac = plain[:last], plain[last + 1:]
        return float(whole.replace(".", "").replace(",", "") + "." + frac), None
    sep = "." if "." in plain else "," if "," in plain else ""
    if not sep:
        return float(plain), None
    groups = plain.split(sep)
    if len(groups) > 2:  # 1.000.000: only thousands separators repeat
        return float("".join(groups)), None
    whole, frac = groups
    as_decimal = float(whole + "." + frac)
    if len(frac) != 3 or whole == "0":
        return as_decimal, None
    as_thousands = float(whole + frac)
    return (as_decimal, as_thousands) if sep == dec_sep else (as_thousands, as_decimal)


def _multiplier(match: re.Match[str]) -> float:
    for i, (_, factor) in enumerate(_MULTIPLIERS):
        if match.group(f"m{i}"):
            return factor
    return 1.0


def _digit_numbers(text: str, language: str, masked: list[tuple[int, int]]) -> list[Number]:
    out: list[Number] = []
    for m in NUMBER.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in masked):
            continue
        value, alt = _parse_digits(m.group("digits"), language)
        factor = _multiplier(m)
        alt_values = None if alt is None else (alt * factor,)
        out.append(Number(m.group().strip(), (value * factor,), m.start(), m.end(), alt_values))
    return out


def _word_numbers(text: str, language: str, masked: list[tuple[int, int]]) -> list[Number]:
    pattern = _WORD_RES.get(language)
    if pattern is None:
        return []
    table = NUMBER_WORDS[language]
    out = []
    for m in pattern.finditer(text):
        if not any(s < m.end() and m.start() < e for s, e in masked):
            out.append(Number(m.group(), (float(table[m.group().lower()]),), m.start(), m.end()))
    return out


def _ranges(numbers: list[Number], text: str) -> list[Number]:
    """Adjacent numbers joined by a dash ("10-12", "10 - 12") as one range."""
    out: list[Number] = []
    for n in numbers:
        prev = out[-1] if out else None
        if (prev is not None and len(prev.values) == 1 and prev.alt is None and n.alt is None
                and _RANGE_GAP.fullmatch(text[prev.end:n.start])):
            out[-1] = Number(text[prev.start:n.end], (prev.value, n.value), prev.start, n.end)
        else:
            out.append(n)
    return out


def find_numbers(text: str, language: str = "", masked: list[tuple[int, int]] | None = None) -> list[Number]:
    """Every number of ``text`` (digits and number words of ``language``), in order; spans in
    ``masked`` (dates, times) are left out."""
    spans = masked or []
    found = _digit_numbers(text, language, spans) + _word_numbers(text, language, spans)
    found.sort(key=lambda n: n.start)
    return _ranges(found, text)


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=False))


def same(a: Number, b: Number) -> bool:
    """True when ``a`` and ``b`` can stand for the same value (either reading of an ambiguous
    separator)."""
    return any(_close(x, y) for x in (a.values, a.alt) if x for y in (b.values, b.alt) if y)


def canonical(n: Number) -> str:
    """The value as a key token: equal for every unambiguous writing of the same value."""
    return "-".join(format(v, ".12g") for v in n.values)


def changed_value(a: Number, b: Number) -> tuple[float, float]:
    """The ``(before, after)`` values reported for a changed number: the first end of a range
    that differs, else the values."""
    for x, y in zip(a.values, b.values, strict=False):
        if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
            return x, y
    return a.values[-1], b.values[-1]
