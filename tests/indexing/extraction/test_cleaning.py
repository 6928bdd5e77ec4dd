from __future__ import annotations

import gzip
import re

import lxml.html
import pytest

from indexing.extraction import extract
from indexing.extraction.cleaning import (
    clean_paragraphs,
    drop_about_box,
    drop_dek,
    drop_head_datelines,
    drop_link_runs,
    insert_block_boundaries,
    is_boilerplate,
    is_disclosure,
    is_shortcode,
    load_boilerplate,
    trim_link_tail,
)
from indexing.extraction.decoding import decode_html
from indexing.extraction.images import split_caption
from indexing.extraction.metadata import strip_title


def test_boilerplate_config_has_languages() -> None:
    rules = load_boilerplate()
    assert {"de", "en", "fr", "uk", "ru"} <= set(rules)


@pytest.mark.parametrize(
    "line",
    [
        "Im Vollbildmodus öffnen",
        "Lire aussi : La guerre vue de Kharkiv",
        "Читайте також: Новини фронту",
        "Читайте также",
        "Teilen:",
        "Share this article",
        "Foto: Getty Images / AFP",
        ">>>>",
        "PREV",
        "Advertisement",
        "Publicité",
        "Реклама",
        "© 2024 Weltnachrichten Heute",
        "Das könnte Sie auch interessieren",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "NATO-Generalsekretär Mark Rutte bestätigte am Montag, dass Truppen geschickt worden seien.",
        "Lire aussi les réactions des dirigeants européens, qui ont longuement débattu de la question des sanctions "
        "contre la Russie lors du sommet de Bruxelles la semaine dernière.",
        "Share prices fell by 3% on Monday.",
        "Die Forderung der Ukraine nach mehr Waffen",
    ],
)
def test_article_lines_are_kept(line: str) -> None:
    assert not is_boilerplate(line)


def test_clean_paragraphs_drops_known_and_duplicates() -> None:
    paras = [
        "Title",
        "A first real paragraph.",
        "A first real paragraph.",
        "Caption text",
        "  ",
        "Im Vollbildmodus öffnen",
    ]
    assert clean_paragraphs(paras, "de", drop={"Title", "Caption text"}) == ["A first real paragraph."]


def test_whitespace_normalised() -> None:
    assert clean_paragraphs(["a\u00a0 b\u200b c\t d"]) == ["a b c d"]


@pytest.mark.parametrize(
    "html",
    [
        "<blockquote>Sicherheit dar</blockquote><p>sagte er</p>",
        "<div>Sicherheit dar</div><div>sagte er</div>",
        "<p>Sicherheit dar<br>sagte er</p>",
        "<li>Sicherheit dar</li><li>sagte er</li>",
        "<td>Sicherheit dar</td><td>sagte er</td>",
        "<h2>Sicherheit dar</h2><p>sagte er</p>",
        "<a>Sicherheit dar</a><div><span>sagte er</span></div>",
        "Sicherheit dar<div><span>sagte er</span></div>",
    ],
)
def test_block_boundaries_never_glue(html: str) -> None:
    tree = lxml.html.fromstring(f"<div>{html}</div>")
    insert_block_boundaries(tree)
    tokens = re.findall(r"\w+", tree.text_content())
    assert "darsagte" not in tokens
    assert ["dar", "sagte"] == tokens[1:3]


def test_glue_free_through_extract() -> None:
    body = "".join(
        f"<blockquote>Zitat Nummer {i} endet hier mit dar</blockquote><p>sagte der Sprecher am Montag in Kiew "
        f"und fügte weitere Einzelheiten zur Lage an der Front hinzu, die wir hier wiedergeben.</p>"
        for i in range(6)
    )
    art = extract(f"<html><body><article><h1>Ein Titel</h1>{body}</article></body></html>")
    tokens = re.findall(r"\w+", art.body)
    assert "darsagte" not in tokens
    assert art.body.count("sagte der Sprecher") == 6


@pytest.mark.parametrize(
    ("text", "caption", "credit"),
    [
        ("Ein Umspannwerk. Foto: dpa / Max Muster", "Ein Umspannwerk.", "dpa / Max Muster"),
        ("Soldats libérés (Photo : AFP)", "Soldats libérés", "AFP"),
        ("Фото: Генштаб ЗСУ", None, "Генштаб ЗСУ"),
        ("A damaged building in Kharkiv. © Reuters", "A damaged building in Kharkiv.", "Reuters"),
        ("Just a caption", "Just a caption", None),
    ],
)
def test_split_caption(text: str, caption: str | None, credit: str | None) -> None:
    assert split_caption(text) == (caption, credit)


@pytest.mark.parametrize(
    ("title", "site", "section", "expected"),
    [
        (
            "NATO bestätigt X | Krieg in der Ukraine",
            "Weltnachrichten Heute",
            "Krieg in der Ukraine",
            "NATO bestätigt X",
        ),
        ("Biden - Putin talks - BBC News", "BBC News", None, "Biden - Putin talks"),
        ("Le Monde - Guerre en Ukraine : les faits", "Le Monde", None, "Guerre en Ukraine : les faits"),
        ("Kyiv under attack | example.com", None, None, "Kyiv under attack"),
        ("No separator here", "Site", None, "No separator here"),
    ],
)
def test_strip_title(title: str, site: str | None, section: str | None, expected: str) -> None:
    assert strip_title(title, site, section) == expected


def test_decode_prefers_valid_utf8_and_bom() -> None:
    text = "<html><head><meta charset='iso-8859-1'></head><body>Grüße</body></html>"
    assert "Grüße" in decode_html(text.encode("utf-8"))
    assert "Grüße" in decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert "Grüße" in decode_html(text.encode("latin-1"))


def test_related_links_trimmed_from_tail_and_middle() -> None:
    links = {"ukraine bittet um weitere luftabwehrsysteme", "angriffe auf energieinfrastruktur nehmen zu"}
    paras = [
        "Erster Absatz mit Inhalt.",
        "Mehr zum Thema",
        "Angriffe auf Energieinfrastruktur nehmen zu",
        "Ukraine bittet um weitere Luftabwehrsysteme",
        "Zweiter Absatz mit Inhalt.",
        "Ukraine bittet um weitere Luftabwehrsysteme",
    ]
    assert drop_link_runs(trim_link_tail(paras, links), links) == [
        "Erster Absatz mit Inhalt.",
        "Zweiter Absatz mit Inhalt.",
    ]


def test_short_closing_line_without_links_stays() -> None:
    paras = ["Ein Absatz.", "Ende"]
    assert trim_link_tail(paras, {"something else entirely"}) == paras


def test_dek_and_shortcodes() -> None:
    assert drop_dek(["A subtitle without a full stop", "Body."], "A subtitle without a full stop") == [
        "Body."
    ]
    assert drop_dek(["A lead sentence.", "Body."], "A lead sentence.") == ["A lead sentence.", "Body."]
    assert is_shortcode('[button link="/x" type="big"] Send us YOUR review[/button]')
    assert not is_shortcode("[1] A footnote that is part of the text.")


@pytest.mark.parametrize(
    "line",
    [
        "Stand: 14.03.2024, 08:15 Uhr",
        "Lesezeit: 3 Min.",
        "Publié le 31 mai 2024 à 18h05",
        "Le Monde avec AFP",
        "Il vous reste 67 % de cet article à lire.",
        "Jane Roe contributed to this report.",
        "Mit Material von dpa",
    ],
)
def test_dateline_and_credit_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", ["Stand der Dinge ist klar.", "Published reports say 5 died."])
def test_sentences_starting_like_datelines_stay(line: str) -> None:
    assert not is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Weitere Tourentipps in Schweden",
        "Weitere aktuelle Themen aus der Arbeitswelt",
        "Top-Themen bei FIT FOR FUN",
        "Mehr zum Thema auf UEPO.de",
        "Beiträge aus dem Forum",
        "Zum Weiterlesen:",
        "Unterstütze RosaMag bereits mit 2,50!",
        "Gefällt Ihnen dieser Artikel?",
        "Der Artikel gefällt dir?",
        "Sie lesen gern Achgut.com?",
        "Eileen Gu, Freestylerin. © AFP / MADDIE MEYER",
        "(Alle Angaben ohne Gewähr)",
        "Sie sind aktuell nicht eingeloggt.",
        "Sieh dir diesen Beitrag auf Instagram an",
        "Pressesprecher*in Markus Ulrich",
        "Ansprechpartnerin zum Thema:",
        "Inhaltsverzeichnis",
        "Sommaire",
    ],
)
def test_box_headings_appeals_and_credits(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Weitere US-Zellprojekte im Aufbau",
        "Weitere Informationen rund um das Thema",
        "Wie gefallen Euch die neuen Modelle?",
        "Die Marke © 2019 gehört seitdem der Firma Beispiel.",
        "Unter den Unterstützern sind viele Vereine.",
        "Der Pressesprecher der Polizei bestätigte den Einsatz.",
    ],
)
def test_article_lines_like_box_headings_stay(line: str) -> None:
    assert not is_boilerplate(line)


def test_about_the_author_box_cut_at_the_tail_only() -> None:
    body = ["Erster Absatz.", "Zweiter Absatz.", "Dritter Absatz.", "Vierter Absatz."]
    bio = ["Über die Autorin:", "Erika Muster ist Coach und Gründerin."]
    assert drop_about_box(body + bio) == body
    inside = ["Erster Absatz.", "Zur Person", "Autor", "Erika Muster ist Coach.", *body]
    assert drop_about_box(inside) == inside


def test_datelines_dropped_at_the_head_only() -> None:
    body = ["Der erste Absatz des Artikels.", "Der zweite Absatz."]
    head = ["24. April 2020 | Pressemitteilungen", "11.12.2019 - Amelie Loevenich"]
    assert drop_head_datelines(head + body) == body
    assert drop_head_datelines(["mercredi 11 septembre 2019", *body]) == body
    kept = ["Die wichtigsten Ticketpreise ab 01.01.2024", "Am 5. März 2021 starb er.", *body]
    assert drop_head_datelines(kept) == kept
    later = [*body, "Eine Zeile.", "19. November 2021"]
    assert drop_head_datelines(later) == later


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("Letzte Aktualisierung am 2.02.2022 / Bei den Verlinkungen handelt es sich um Affiliate Links", True),
        ("Dieser Artikel kann Links zu Anbietern enthalten, von denen das Magazin eine Provision erhält.", True),
        ("Advertising disclosure: We may receive compensation for some of the links in our stories.", True),
        ("Cet article contient des liens affiliés.", True),
        ("Affiliate-Marketing wächst: Händler zahlen Bloggern immer mehr für ihre Empfehlungen.", False),
        ("The commission may receive new powers, the minister said.", False),
    ],
)
def test_affiliate_disclosures(paragraph: str, expected: bool) -> None:
    assert is_disclosure(paragraph) is expected


def test_empty_blocks_get_no_text_of_their_own() -> None:
    """A container without text of its own stays so: extractors read a block that has text as a
    paragraph, and a live ticker's entries (divs of divs) were lost when it got a newline."""
    tree = lxml.html.fromstring("<div><div><span>Eins</span></div><div><p>Zwei</p></div></div>")
    insert_block_boundaries(tree)
    assert all(el.text is None for el in tree.iter("div"))


def test_table_rows_of_furniture_cells_dropped() -> None:
    rows = ["| Weitere Artikel zum Thema | |", "| Quelle: Wikipedia |", "| Zinssatz | 3,5 % |"]
    assert clean_paragraphs(rows) == ["| Zinssatz | 3,5 % |"]


def _short_lines() -> list[str]:
    """Short lines of the fixture pages' text (what the patterns are tried on) and furniture
    lines written for the patterns of several languages."""
    from pathlib import Path

    pages = Path(__file__).resolve().parents[2] / "fixtures" / "pages"
    found = [
        "12.03.2024 14:30 Uhr",
        "3 comments",
        "Foto: dpa/Max Muster",
        "(dpa)",
        "keine Kommentare",
        "— — —",
        "Reporting by Jane Doe; editing by John Roe",
        "Bild: Reuters",
        "",
    ]
    quality = sorted((pages.parent / "quality").glob("*/html/*.html.gz"))[:60]
    for raw in [path.read_bytes() for path in sorted(pages.glob("*.html"))] + [
        gzip.decompress(path.read_bytes()) for path in quality
    ]:
        text = lxml.html.document_fromstring(raw).text_content()
        found += [line.strip() for line in text.split("\n") if 0 < len(line.split()) <= 12]
    return found


def test_joined_patterns_give_each_pattern_s_verdict() -> None:
    """The boilerplate patterns tried as one alternation match exactly the lines one of them
    matches, in every language's rules and the merged ones."""
    from indexing.extraction.cleaning import merged_rules

    lines = _short_lines()
    assert len(lines) > 200
    for rules in [merged_rules(), *load_boilerplate().values()]:
        if not rules.patterns:
            continue
        assert rules.matcher is not None
        verdicts = [rules._matches_pattern(line) for line in lines]
        assert verdicts == [any(p.match(line) for p in rules.patterns) for line in lines]
    assert sum(merged_rules()._matches_pattern(line) for line in lines) >= 5


def test_patterns_with_a_backreference_are_tried_one_by_one() -> None:
    from indexing.extraction.cleaning import BoilerplateRules

    rules = BoilerplateRules(patterns=[re.compile(r"^(\w+) \1$", re.I), re.compile(r"^x+$", re.I)]).compile()
    assert rules.matcher is None
    assert (
        rules._matches_pattern("ab ab")
        and rules._matches_pattern("xxx")
        and not rules._matches_pattern("ab cd")
    )
