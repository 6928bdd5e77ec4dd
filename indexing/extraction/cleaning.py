"""Text hygiene: block boundaries that never glue words, boilerplate lines, mojibake, whitespace."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

logger = logging.getLogger(__name__)

BOILERPLATE_FILE = Path(__file__).resolve().parents[2] / "config" / "boilerplate.yaml"

# Elements a browser renders as their own block (or line): text on either side of them never
# belongs to the same word.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body center dd details dialog dir div dl dt fieldset figcaption
    figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p pre section summary table
    tbody td tfoot th thead tr ul caption option legend""".split()
)
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_WORDS = re.compile(r"\w+")
_SHORT_WORDS = 12


def insert_block_boundaries(tree: Any) -> None:
    """Put a newline after every block element and ``<br>`` so serialised text never glues words.

    ``<blockquote>...dar</blockquote><p>sagte`` must read "dar sagte", not "darsagte".
    """
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "br" or tag in BLOCK_TAGS:
            el.tail = "\n" + el.tail if el.tail else "\n"
            if tag in BLOCK_TAGS and el.text is None and len(el):
                el.text = "\n"


def normalise_whitespace(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACE.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def fix_mojibake(text: str) -> str:
    try:
        import ftfy
    except ImportError:  # pragma: no cover - declared dependency
        return text
    try:
        return ftfy.fix_text(text, normalization="NFC", uncurl_quotes=False, fix_latin_ligatures=False)
    except (ValueError, TypeError, UnicodeError):
        logger.debug("ftfy failed", exc_info=True)
        return text


@dataclass
class BoilerplateRules:
    lines: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = ()
    patterns: list[re.Pattern[str]] = field(default_factory=list)

    def is_boilerplate(self, paragraph: str) -> bool:
        key = _line_key(paragraph)
        if not key:
            return True
        if key in self.lines:
            return True
        if len(_WORDS.findall(paragraph)) <= _SHORT_WORDS:
            low = paragraph.casefold()
            if low.startswith(self.prefixes):
                return True
            if any(p.match(paragraph) for p in self.patterns):
                return True
        return False


def _line_key(text: str) -> str:
    return text.strip().strip(":…»«›>|•·-–— ").strip().casefold()


@functools.lru_cache(maxsize=4)
def load_boilerplate(path: str | None = None) -> dict[str, BoilerplateRules]:
    """Rules per language code ("any" applies to every page)."""
    source = Path(path) if path else BOILERPLATE_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        logger.warning("boilerplate rules unreadable (%s): %s", source, exc)
        return {}
    rules: dict[str, BoilerplateRules] = {}
    for lang, spec in raw.items():
        spec = spec or {}
        patterns = []
        for pattern in spec.get("patterns") or []:
            try:
                patterns.append(re.compile(pattern, re.I))
            except re.error as exc:
                logger.warning("bad boilerplate pattern %r in %s: %s", pattern, source, exc)
        rules[str(lang)] = BoilerplateRules(
            lines={_line_key(x) for x in spec.get("lines") or [] if _line_key(str(x))},
            prefixes=tuple(str(x).casefold() for x in spec.get("prefixes") or []),
            patterns=patterns,
        )
    return rules


@functools.lru_cache(maxsize=4)
def merged_rules(path: str | None = None) -> BoilerplateRules:
    """Every language's rules in one set: a German page quoting a French teaser is still
    furniture, and one lookup per paragraph keeps cleaning cheap."""
    merged = BoilerplateRules()
    prefixes: list[str] = []
    for rules in load_boilerplate(path).values():
        merged.lines |= rules.lines
        prefixes.extend(rules.prefixes)
        merged.patterns.extend(rules.patterns)
    merged.prefixes = tuple(dict.fromkeys(prefixes))
    return merged


def is_boilerplate(paragraph: str, language: str | None = None) -> bool:
    return merged_rules().is_boilerplate(paragraph)


def clean_paragraphs(
    paragraphs: list[str], language: str | None = None, drop: set[str] | None = None
) -> list[str]:
    """Repair, normalise, drop boilerplate, empty lines and immediate duplicates.

    ``drop`` holds texts known to be elsewhere (title, image captions and credits).
    """
    drop_keys = {_line_key(d) for d in drop or set() if d}
    rules = merged_rules()
    # ftfy once over the whole text: per-paragraph calls cost ten times more
    fixed = fix_mojibake("\n".join(p.replace("\n", " ") for p in paragraphs)).split("\n")
    out: list[str] = []
    for para in fixed:
        para = normalise_whitespace(para).strip()
        if not para or not _WORDS.search(para):
            continue
        if _line_key(para) in drop_keys:
            continue
        if rules.is_boilerplate(para):
            continue
        if out and out[-1] == para:
            continue
        out.append(para)
    return out


def text_of(el: Any) -> str:
    """Text of an element with block boundaries honoured (call after insert_block_boundaries)."""
    try:
        return normalise_whitespace(etree.tostring(el, method="text", encoding="unicode", with_tail=False))
    except (ValueError, TypeError):
        return ""
