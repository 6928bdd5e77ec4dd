"""End to end on real pages: the bundled demo site's articles (five templates, en/de/fr/ru/uk),
changed as a news site changes under the crawler, extracted by the project's extractor, then
compared. Rotating furniture (view counters, the ticker's rates and temperature, the top line's
clock, image cache-busters, the modified stamp; "updated ... ago" stamps, counters and ad labels
inside the article text) gives no change; a revised
number, a correction notice and a cut paragraph give theirs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from indexing.changes.diff import compare
from indexing.dates import MONTHS
from indexing.extraction.article import extract
from tests.conftest import REPO_ROOT

SITE = REPO_ROOT / "demo" / "site"
PAGES = sorted(p for p in SITE.glob("**/20*/**/index.html") if "private" not in p.parts)
NOTICES = {"en": "Correction: An earlier version of this article misstated a figure.",
           "de": "Korrektur: In einer früheren Version dieses Artikels war eine Zahl falsch.",
           "fr": "Rectificatif : une précédente version de cet article comportait une erreur de chiffre.",
           "ru": "Исправление: в первоначальной версии статьи была неверная цифра.",
           "uk": "Виправлення: у попередній версії статті була неправильна цифра."}
#: Furniture a page may carry inside the article text: a relative "updated" stamp, a view
#: counter, an ad-slot label (values from the visit's seed).
FURNITURE = {"en": ("Updated {n} minutes ago", "{n},214 views", "Advertisement"),
             "de": ("Aktualisiert vor {n} Minuten", "{n}.214 Aufrufe", "Anzeige"),
             "fr": ("Mis à jour il y a {n} minutes", "{n} 214 vues", "Publicité"),
             "ru": ("Обновлено {n} минут назад", "Просмотров: {n} 214", "Реклама"),
             "uk": ("Оновлено {n} хвилин тому", "Переглядів: {n} 214", "Реклама")}
_PARAGRAPH = re.compile(r"<p>(?:(?!</p>).){40,}?</p>", re.S)


def _doc(html: str, path: Path) -> dict[str, Any]:
    url = "http://127.0.0.1:8000/" + str(path.parent.relative_to(SITE)) + "/"
    return extract(html.replace("{{BASE_URL}}", "http://127.0.0.1:8000"), url).to_dict()


def _rotate(html: str, seed: int, language: str = "en") -> str:
    """The furniture a news site changes on every visit (values only; the article untouched),
    and furniture lines inside the article text (after its first paragraph)."""
    stamp, views, ad = FURNITURE.get(language, FURNITURE["en"])
    first = _paragraphs(html)[0]
    lines = [stamp.format(n=seed + 2), views.format(n=seed + 3)] + ([ad] if seed % 2 else [])
    html = html[:first.end()] + "".join(f"\n<p>{line}</p>" for line in lines) + html[first.end():]

    def digits(m: re.Match[str]) -> str:
        return re.sub(r"\d", lambda d: str((int(d.group()) + seed) % 10), m.group())

    for cls in ("views", "rates", "today", "comments-count"):
        html = re.sub(rf'<(span|div) class="{cls}">[^<]*</\1>', digits, html)
    html = re.sub(r'(<img [^>]*src="[^"?]+\.(?:jpg|png|webp))"', rf'\1?v={seed}&w=800"', html)
    html = re.sub(r'(article:modified_time" content=")[^"]+', r"\g<1>2024-12-01T08:00:00+00:00", html)
    return re.sub(r'("dateModified": ")[^"]+', r"\g<1>2024-12-01T08:00:00+00:00", html)


def _paragraphs(html: str) -> list[re.Match[str]]:
    """The article's paragraphs: those whose text the extractor keeps (not the cookie banner)."""
    text = "\n".join(str(v) for v in extract(html.replace("{{BASE_URL}}", "http://127.0.0.1:8000")).to_dict().values())
    return [m for m in _PARAGRAPH.finditer(html) if re.sub(r"<[^>]*>", "", m.group())[3:40] in text]


def _before_month(text: str, end: int) -> bool:
    """A day of a written date ("23 octobre"): a date, not a count."""
    word = re.match(r"\.? ?([^\W\d_]+)", text[end:])
    return bool(word) and word.group(1).lower() in MONTHS  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def pages() -> list[tuple[Path, str, dict[str, Any]]]:
    out = []
    for path in PAGES:
        try:
            html = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:  # the demo's windows-1251 page: the edits here work on text
            continue
        doc = _doc(html, path)
        if doc["status"] == "ok" and len(_paragraphs(html)) >= 4:
            out.append((path, html, doc))
    assert len(out) >= 10 and {d["language"] for _, _, d in out} >= {"en", "de", "fr", "ru", "uk"}
    return out


def test_rotating_furniture_is_no_change(pages: list[tuple[Path, str, dict[str, Any]]]) -> None:
    furniture_in_body = 0
    for path, html, _ in pages:
        language = _doc(html, path)["language"]
        old = _doc(_rotate(html, 0, language), path)
        for seed in (1, 4):
            new = _doc(_rotate(html, seed, language), path)
            assert new != old
            furniture_in_body += new["body"] != old["body"]
            assert compare(old, new) == [], path
    assert furniture_in_body >= 16  # the extractor kept the inserted lines on most pages


def test_a_revised_number_a_correction_and_a_cut_paragraph(pages: list[tuple[Path, str, dict[str, Any]]]) -> None:
    revised = 0
    for path, html, doc in pages:
        paras = _paragraphs(html)
        third = paras[2]
        notice = NOTICES[doc["language"]] if doc["language"] in NOTICES else NOTICES["en"]
        corrected = html[:third.end()] + f"\n<p>{notice}</p>" + html[third.end():]
        rotated = _doc(_rotate(html, 0, doc["language"]), path)
        assert [c.kind for c in compare(rotated, _doc(_rotate(corrected, 3, doc["language"]), path))] == ["correction"], path
        cut = html[:third.start()] + html[third.end():]
        assert [c.kind for c in compare(doc, _doc(cut, path))] == ["text_removed"], path
        number = re.search(r"(?<![\d.,\w])([1-9]\d{1,2})(?![\d.,]\d|\w)", third.group())
        number = number if number is None or not _before_month(third.group(), number.end()) else None
        if number:
            new_value = str(int(number.group(1)) + 3)
            new_para = third.group()[:number.start(1)] + new_value + third.group()[number.end(1):]
            changes = compare(doc, _doc(html.replace(third.group(), new_para), path))
            assert [(c.kind, c.before, c.after) for c in changes] == [("numbers", number.group(1), new_value)], path
            revised += 1
    assert revised >= 3
