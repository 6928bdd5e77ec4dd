"""The patterns rewritten to run in linear time (reliability round 3, tests/test_regex_bounds.py) match
exactly what they matched before, on real text: every line, title, attribute and JSON-LD value of
the fixture pages (tests/fixtures, the demo site), every string of the extraction tests, the
quality corpus's expected texts and the topic terms of config/topics.yaml, plus a seeded sample of
token strings built from what the patterns look for (separators, dates, keywords, whitespace runs).

Old and new agree on the whole result, not only on "matched": the span and every group (match,
fullmatch, search), the list of matches (finditer) or the pieces (split, sub), as the callers use
them. The old patterns are kept here, verbatim, as the reference.
"""

from __future__ import annotations

import ast
import functools
import gzip
import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lxml import html as lxml_html

from indexing.dates import _ISO
from indexing.enrich.topics import _NEAR_RE
from indexing.extraction.cleaning import load_boilerplate
from indexing.extraction.decoding import _META_CHARSET
from indexing.extraction.images import _CREDIT_PREFIX
from indexing.extraction.metadata import _DOMAIN_PART, _TITLE_SEPARATORS
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
#: longest string compared (real lines are far shorter; the old patterns are quadratic on long ones)
MAX_CHARS = 2_000

# --- the reference: the patterns as they were -------------------------------------------------

OLD_BOILERPLATE = {
    "date line": r"^(\d{1,2}[./]\s?\d{1,2}[./]\s?\d{2,4}|\d{4}-\d{2}-\d{2})(\s*[,|–-]?\s*\d{1,2}[:.]\d{2}(\s*(uhr|h))?)?$",
    "image credit": r"^(image|photo|foto|фото|photograph)\s*(credit)?\s*[:©].{0,80}$",
    "byline": r"^(by|par|von|від|от|автор:?)\s+(?-i:[A-ZÀ-ÞА-ЯІЇЄҐ])[\w.'’-]*(\s+(and|und|et|і|и|&|,)?\s*"
    r"(?-i:[A-ZÀ-ÞА-ЯІЇЄҐ])[\w.'’-]*){0,4}$",
    "stand": r"^(stand|aktualisiert|veröffentlicht|zuletzt aktualisiert|letzte änderung)\s*:?\s*(am\s+)?"
    r"(\d|[a-zä]{2,10}\.?,?\s+\d).{0,50}$",
    "lesezeit": r"^(lesezeit|lesedauer)\s*:?\s*(ca\.\s*)?\d+\s*(min|minuten)\.?$",
    "published": r"^(published|updated|last updated)\s*:?\s*(on\s+)?(\d|[a-z]{2,9}\.?,?\s+\d).{0,50}$",
    "publié": r"^(publié|mis à jour|modifié)( le)?\s*:?\s*(\d|[a-zé]{2,9}\.?,?\s+\d).{0,50}$",
    "lecture": r"^(temps de )?lecture\s*:?\s*\d+\s*min(utes?)?\.?$",
}
#: how each new boilerplate pattern starts (it is looked up in the loaded rules by this)
NEW_BOILERPLATE_PREFIX = {
    "date line": r"^(\d{1,2}[./]",
    "image credit": r"^(image|photo|foto",
    "byline": r"^(by|par|von",
    "stand": r"^(stand|aktualisiert",
    "lesezeit": r"^(lesezeit|lesedauer)\s",
    "published": r"^(published|updated",
    "publié": r"^(publié|mis à jour",
    "lecture": r"^(temps de )?lecture",
}
OLD_ISO = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T\s_](\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
OLD_NEAR = re.compile(r"\s+NEAR/(\d+)\s+")
OLD_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
OLD_CREDIT_PREFIX = re.compile(
    r"^\s*[(\[]?\s*(?:(?:photo|foto|фото|bild|image|picture|crédits?(?:\s+photo)?|credits?|"
    r"quelle|source|джерело|источник|ілюстрація|иллюстрация)\s*:\s*|©\s*|\(c\)\s*)",
    re.I,
)
OLD_TITLE_SEPARATORS = re.compile(r"\s+(?:\||–|—|-|::|·|•|»|/)\s+")
OLD_DOMAIN = r"(www\.)?[\w-]+\.(com|org|net|de|fr|ua|ru|co\.uk|info|news|at|ch|be|eu)"

# Furniture lines as sites print them (each pattern's reason to exist), and near misses.
EXAMPLES = [
    "12.03.2024", "12.03.2024, 14:35 Uhr", "12. 03. 2024 | 14:35", "2024-03-12 – 9.05h", "1/2/24 10:00",
    "2024-03-12 14:35", "12.03.2024 14:35 Uhr und mehr", "Photo credit: Reuters", "Foto: dpa/Max Muster",
    "Image © AFP", "Photograph: Jane Roe/The Guardian", "фото: Укрінформ", "Photo credit Reuters",
    "By Jane Roe", "By Jane Roe and John Doe", "By JANE ROE, John Doe", "Par Marie Exemple et Jean Dupont",
    "Von Anna Beispiel und Max Muster", "від Олена Петренко", "Автор: Иван Петров и Олег Сидоров",
    "by the way, this is a sentence", "Von A B C D E F G", "Stand: 14.03.2024, 08:15 Uhr",
    "Stand: 14. März 2024, 08:15 Uhr", "Aktualisiert am 3. Mai 2024", "Zuletzt aktualisiert: Mo., 4 Uhr",
    "Veröffentlicht am Dienstag, 12. März 2024", "Stand der Dinge ist unklar", "Lesezeit: 3 Min.",
    "Lesedauer: ca. 4 Minuten", "Lesezeit 12 min", "Published: March 3, 2024", "Updated on 12 March 2024",
    "Last updated 3 hours ago", "Updated: Mar. 3, 2024 14:00 GMT", "Publié le 31 mai 2024 à 18h05",
    "Mis à jour le 12 mars 2024", "Modifié : 3 avril", "Publié le lundi 3 juin", "Temps de lecture : 3 min",
    "Lecture : 5 minutes", "lecture 2 minute", "2024-03-12T14:35:00+01:00", "2024-03-12T14:35:00.123Z",
    " 20240312 143500 UTC ", "2024-03-12 14:35 GMT\n", "2024-03-12_14:35+0100", "Foto: (c) dpa",
    "(Photo: Reuters)", "[Foto: dpa]", "© AFP", "(c) Getty Images", "Crédits photo : AFP", "Crédit : X",
    "Quelle: Wikipedia", "Джерело: Укрінформ", "Krieg in der Ukraine | tagesschau.de", "A – B — C / D",
    "Title :: Site", "Title · Section • Site » More", "www.example.com", "example.co.uk", "Kyiv-Post.news",
    "kharkiv NEAR/5 shelling", "a  NEAR/3\tb", "x NEAR/12 y NEAR/4 z", "NEAR/3 alone",
]
TOKENS = [
    " ", "  ", "\t", "\n", " \u00a0", ":", " : ", ",", ".", "-", "–", "—", "|", "/", "·", "•", "»", "::", "(", ")",
    "[", "]", "©", "(c)", "'", "’", "&", "1", "12", "2024", "03", "14:35", "T", "Z", "+01:00", "-0530", "UTC",
    "GMT", "uhr", "Uhr", "h", "am", "on", "le", " le", "ca.", "min", "Min", "minuten", "minutes", "stand",
    "Stand", "aktualisiert", "zuletzt aktualisiert", "published", "Updated", "last updated", "publié",
    "Mis à jour", "modifié", "lesezeit", "Lesedauer", "lecture", "temps de ", "image", "Photo", "foto",
    "фото", "photograph", "credit", "Crédits", "crédit photo", "quelle", "джерело", "by", "By", "Par",
    "von", "від", "автор:", "and", "und", "et", "і", "и", "Jane", "ROE", "Иван", "Élise", "März", "mars",
    "www.", "example", ".com", ".co.uk", ".news", "NEAR/3", "NEAR/", "x", "<meta ", "charset", "=", '"',
    "utf-8", ">",
]


# --- the corpus --------------------------------------------------------------------------------


def _html_files() -> Iterator[bytes]:
    for path in sorted(FIXTURES.rglob("*.html")) + sorted((REPO_ROOT / "demo").rglob("*.html")):
        yield path.read_bytes()
    for path in sorted(FIXTURES.rglob("*.html.gz")):
        yield gzip.decompress(path.read_bytes())


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def _page_strings(data: bytes) -> Iterator[str]:
    tree = lxml_html.fromstring(data)
    for el in tree.iter():
        for text in (el.text, el.tail):
            if text:
                yield from text.splitlines()
                yield " ".join(text.split())
        for attr in ("content", "datetime", "title", "alt"):
            if el.get(attr):
                yield el.get(attr)
    for script in tree.iter("script"):
        try:
            yield from _json_strings(json.loads(script.text or ""))
        except ValueError:
            pass


def _test_strings() -> Iterator[str]:
    for path in sorted((REPO_ROOT / "tests" / "indexing").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield from (node.value, *node.value.splitlines())
    for path in sorted(FIXTURES.rglob("*.json")):
        for text in _json_strings(json.loads(path.read_text(encoding="utf-8"))):
            yield from text.splitlines()
    yield from (REPO_ROOT / "config" / "topics.yaml").read_text(encoding="utf-8").splitlines()


def _generated(n: int = 4_000) -> Iterator[str]:
    rng = random.Random(16)
    for _ in range(n):
        yield "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 9)))


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    texts: set[str] = set(EXAMPLES) | set(_generated()) | set(_test_strings())
    heads: set[bytes] = set()
    for data in _html_files():
        texts.update(_page_strings(data))
        heads.add(data[:4096])
        heads.update(m.group(0) for m in re.finditer(rb"<meta[^>]{0,500}>", data[:65536], re.I))
    heads.update(s.encode("utf-8") for s in _generated() if "meta" in s)
    texts = {t for t in texts if t and len(t) <= MAX_CHARS}
    texts |= {t.strip() for t in texts}  # as the callers see them: stripped, whitespace kept
    return tuple(sorted(texts)), tuple(sorted(heads))


# --- old and new agree ----------------------------------------------------------------------------


def _result(m: re.Match[Any] | None) -> Any:
    return None if m is None else (m.span(), m.groups())


def _agree(old: Callable[[Any], Any], new: Callable[[Any], Any], inputs: tuple[Any, ...]) -> tuple[int, int]:
    """Asserts old(s) == new(s) for every input; returns (inputs with a match, inputs without)."""
    hits = misses = 0
    for s in inputs:
        before, after = old(s), new(s)
        assert before == after, f"{s!r}: {before!r} became {after!r}"
        if before in (None, [], [s]):
            misses += 1
        else:
            hits += 1
    return hits, misses


def _new_boilerplate(name: str) -> re.Pattern[str]:
    rules = load_boilerplate(str(REPO_ROOT / "config" / "boilerplate.yaml"))
    found = [rx for r in rules.values() for rx in r.patterns if rx.pattern.startswith(NEW_BOILERPLATE_PREFIX[name])]
    assert len(found) == 1, (name, [rx.pattern for rx in found])
    return found[0]


@pytest.mark.parametrize("name", sorted(OLD_BOILERPLATE))
def test_boilerplate_patterns_match_what_they_matched(name: str) -> None:
    old, new = re.compile(OLD_BOILERPLATE[name], re.I), _new_boilerplate(name)
    assert new.pattern != old.pattern and new.flags == old.flags
    texts, _ = corpus()
    hits, misses = _agree(lambda s: _result(old.match(s)), lambda s: _result(new.match(s)), texts)
    assert hits >= 2 and misses >= 1000


def test_iso_dates_parse_as_before() -> None:
    texts, _ = corpus()
    hits, misses = _agree(lambda s: _result(OLD_ISO.match(s)), lambda s: _result(_ISO.match(s)), texts)
    assert hits >= 20 and misses >= 1000


def test_caption_credit_prefix_matches_and_strips_as_before() -> None:
    texts, _ = corpus()
    old, new = OLD_CREDIT_PREFIX, _CREDIT_PREFIX
    hits, misses = _agree(lambda s: _result(old.match(s)), lambda s: _result(new.match(s)), texts)
    assert hits >= 20 and misses >= 1000
    hits, _ = _agree(lambda s: old.sub("", s), lambda s: new.sub("", s), texts)
    assert hits >= 20


def test_title_separators_find_the_same_separators() -> None:
    texts, _ = corpus()
    old, new = OLD_TITLE_SEPARATORS, _TITLE_SEPARATORS

    def spans(rx: re.Pattern[str]) -> Callable[[str], list[Any]]:
        return lambda s: [_result(m) for m in rx.finditer(s)]

    hits, misses = _agree(spans(old), spans(new), texts)
    assert hits >= 100 and misses >= 1000
    hits, _ = _agree(lambda s: _result(old.match(s)), lambda s: _result(new.match(s)), texts)
    assert hits >= 20


def test_domain_title_parts_as_before() -> None:
    texts, _ = corpus()
    parts = tuple({p.strip().casefold() for t in texts for p in OLD_TITLE_SEPARATORS.split(t)} | set(texts))
    hits, misses = _agree(
        lambda s: _result(re.fullmatch(OLD_DOMAIN, s)), lambda s: _result(_DOMAIN_PART.fullmatch(s)), parts
    )
    assert hits >= 10 and misses >= 1000


def test_near_splits_topic_terms_as_before() -> None:
    texts, _ = corpus()
    hits, misses = _agree(OLD_NEAR.split, _NEAR_RE.split, texts)
    assert hits >= 50 and misses >= 1000


def test_meta_charset_found_as_before() -> None:
    _, heads = corpus()
    hits, misses = _agree(
        lambda s: _result(OLD_META_CHARSET.search(s)), lambda s: _result(_META_CHARSET.search(s)), heads
    )
    assert hits >= 10 and misses >= 10


def test_the_corpus_holds_real_pages() -> None:
    """Lines of the fixture pages are in it (not only the generated sample)."""
    texts, heads = corpus()
    page = (FIXTURES / "pages" / "de-zeitung.html").read_text(encoding="utf-8")
    assert "Stand: 14. März 2024, 08:15 Uhr" in page and "Stand: 14. März 2024, 08:15 Uhr" in texts
    assert len(texts) >= 10_000 and len(heads) >= 30
