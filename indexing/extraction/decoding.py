"""Bytes to text: BOM, declared charset, UTF-8 validity and a statistical guess, in that order;
mojibake in the text (repaired over the page before parsing, detected and fixed in extracted text).

Pages on the web declare the wrong charset often enough (a Russian page served as latin-1, a
UTF-8 page with a stale ``<meta charset=iso-8859-1>``) that a declaration is trusted only when
the bytes agree with it.
"""

from __future__ import annotations

import codecs
import logging
import re

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# "\s*+": possessive, or the runs around the optional quote split long whitespace quadratically
# (declared_encoding also reads only the first 4 KB).
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*+(?:["']\s*+)?([a-zA-Z0-9_:.\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""", re.I)
# Single-byte Western codecs: a mislabelled Cyrillic or Greek page decodes "fine" with them,
# so their output is checked for letter soup before it is believed.
_WESTERN = {"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii"}


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def declared_encoding(data: bytes) -> str | None:
    head = data[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    return _codec(match.group(1).decode("ascii", "ignore"))


def _accented_share(text: str) -> float:
    """Share of letters in U+00C0..U+00FF: ~2% in German or French, ~100% in mis-decoded Cyrillic."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if "\u00c0" <= c <= "\u00ff") / len(letters)


def _guess(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a dependency of requests/trafilatura
        return None
    best = from_bytes(data[:200_000]).best()
    return _codec(best.encoding) if best is not None else None


def decode_html(data: bytes | str) -> str:
    """Decode page bytes to text; never raises."""
    if isinstance(data, str):
        return data
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace")
    declared = declared_encoding(data)
    # Valid UTF-8 with non-ASCII bytes is almost never an accident: prefer it over a declaration.
    try:
        text = data.decode("utf-8")
        return text
    except UnicodeDecodeError:
        pass
    if declared and declared not in {"utf-8", "utf-16-le", "utf-16-be", "utf-16"}:
        try:
            text = data.decode(declared)
        except UnicodeDecodeError:
            text = ""
        if text and not (declared in _WESTERN and _accented_share(text) > 0.3):
            return text
    guessed = _guess(data)
    if guessed:
        try:
            return data.decode(guessed)
        except (UnicodeDecodeError, LookupError):
            logger.debug("guessed encoding %s failed", guessed)
    return data.decode("cp1252", errors="replace")


# UTF-8 read as latin-1/cp1252: "GrÃ¶ÃŸe", "â€ž", "Ð\x9fÑ\x80" (Cyrillic). Cheap to look for.
_MOJIBAKE = re.compile(
    "[ÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|â€|[ÐÑ][\u0080-\u00bf\u2018-\u203a]"
)
_MOJIBAKE_MIN_HITS = 3
_MOJIBAKE_LEADS = ("Ã", "Â", "â€", "Ð", "Ñ")


def repair_mojibake(text: str) -> str:
    """Undo double encoding over the whole page before parsing, only when it is visible:
    once parsed, C1 control characters of latin-1 mojibake are gone and ftfy can't undo it."""
    head = text[:200_000]
    if not any(marker in head for marker in _MOJIBAKE_LEADS):
        return text
    if len(_MOJIBAKE.findall(head)) < _MOJIBAKE_MIN_HITS:
        return text
    try:
        import ftfy

        return ftfy.fix_text(
            text,
            unescape_html=False,
            normalization=None,
            uncurl_quotes=False,
            fix_latin_ligatures=False,
            fix_character_width=False,
        )
    except (ImportError, ValueError, TypeError, UnicodeError):
        logger.debug("mojibake repair failed", exc_info=True)
        return text


def fix_mojibake(text: str) -> str:
    try:
        import ftfy
    except ImportError:  # pragma: no cover - declared dependency
        return text
    # ftfy is thorough but slow; its own badness test is one regex and clean text is the norm.
    if not looks_bad(text):
        return text
    try:
        return ftfy.fix_text(text, normalization="NFC", uncurl_quotes=False, fix_latin_ligatures=False)
    except (ValueError, TypeError, UnicodeError):
        logger.debug("ftfy failed", exc_info=True)
        return text


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# Every pattern of ftfy's badness regex holds a non-ASCII character and spans at most 7
# characters: a match lies within 7 characters of a non-ASCII one.
_BADNESS_REACH = 7


def looks_bad(text: str) -> bool:
    """ftfy's ``is_bad(text)`` (mojibake in sight), with its regex searched only where it can
    match: around the non-ASCII characters, not along all of an article's plain text (its ~35
    alternatives are tried at every position searched)."""
    from ftfy.badness import BADNESS_RE

    if text.isascii():
        return False
    start = end = -1
    for run in _NON_ASCII.finditer(text):
        if start >= 0 and run.start() - end > 2 * _BADNESS_REACH:
            if BADNESS_RE.search(text, max(0, start - _BADNESS_REACH), end + _BADNESS_REACH):
                return True
            start = -1
        if start < 0:
            start = run.start()
        end = run.end()
    return start >= 0 and bool(BADNESS_RE.search(text, max(0, start - _BADNESS_REACH), end + _BADNESS_REACH))
