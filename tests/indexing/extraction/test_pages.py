"""Hand-written pages in de/en/fr/uk/ru, odd encodings, consent wall, paywall teaser, listing page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing.extraction import Article, extract

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "pages"
URL = "https://news.example/story"  # no date in the path: dates must come from the page


def load(name: str, url: str = URL) -> Article:
    return extract((PAGES / name).read_bytes(), url=url)


def test_german_page() -> None:
    art = load("de-zeitung.html")
    assert art.status == "ok"
    assert art.language == "de"
    assert art.title == "Stromausfall in Charkiw nach Angriff auf Umspannwerk"
    assert art.site_name == "Rheinischer Kurier"
    assert art.authors == ["Anna Beispiel"]
    assert art.canonical_url == "https://news.example/politik/ausland/stromausfall-charkiw-100.html"
    assert art.published == datetime(2024, 3, 14, 8, 15, tzinfo=UTC)  # from the text next to the headline
    assert "Versorgung über Notstromaggregate" in art.body.split("\n\n")
    assert "Experten rechnen damit" in art.body
    for junk in (
        "Im Vollbildmodus öffnen",
        "Lesen Sie auch",
        "Anzeige",
        "Teilen:",
        "Impressum",
        "Cookies",
        "Foto: dpa",
        "Mehr zum Thema",
        "Startseite",
    ):
        assert junk not in art.body, junk
    assert art.images[0].credit == "dpa / Max Muster"
    assert art.images[0].caption == "Ein beschädigtes Umspannwerk am Stadtrand von Charkiw."


def test_english_page_chunks_and_jsonld() -> None:
    art = load("en-wire.html")
    assert art.title == "Drone strike hits grain terminal in Odesa port"
    assert art.authors == ["Jane Roe", "John Doe"]
    assert art.published == datetime(2024, 3, 2, 6, 30, tzinfo=UTC)
    assert art.modified == datetime(2024, 3, 2, 8, 10, tzinfo=UTC)
    assert art.section == "World"
    assert art.tags == ["Ukraine", "Odesa", "grain"]
    assert art.canonical_url == "https://dispatch.example/world/odesa-grain-terminal"
    # all three body chunks, in order, without the furniture between them
    first = art.body.index("A Russian drone strike")
    second = art.body.index("Ukraine's navy said")
    third = art.body.index("Grain exports are one")
    assert first < second < third
    for junk in ("Read more", "Advertisement", "Sign up", "Share", "Tweet", "Copyright"):
        assert junk not in art.body, junk


def test_french_page() -> None:
    art = load("fr-journal.html")
    assert art.language == "fr"
    assert art.title == "Guerre en Ukraine : Kiev annonce un nouvel échange de prisonniers"
    assert art.section == "International"
    assert art.published == datetime(2024, 5, 31, 16, 5, tzinfo=UTC)
    assert art.authors == ["Marie Exemple"]
    for junk in ("Lire aussi", "Publicité", "Partager", "Photo : AFP", "Par Marie Exemple", "cookies"):
        assert junk not in art.body, junk
    assert art.images[0].credit == "AFP"
    assert art.images[0].src == "https://news.example/images/echange-prisonniers.jpg"


def test_ukrainian_page() -> None:
    art = load("uk-novyny.html")
    assert art.language == "uk"
    assert art.title == "Сили ППО збили 20 дронів над Київщиною"
    assert art.published == datetime(2024, 6, 12, 4, 40, tzinfo=UTC)
    for junk in ("Читайте також", "Поділитися", "Фото:", "Генштаб"):
        assert junk not in art.body, junk
    assert art.images[0].credit == "Генштаб ЗСУ"


def test_russian_cp1251_declared() -> None:
    art = load("ru-cp1251.html")
    assert art.language == "ru"
    assert art.title == "Беженцы из Харьковской области прибывают в Полтаву"
    assert "пункты временного размещения" in art.body
    assert "Читайте также" not in art.body and "Реклама" not in art.body
    assert art.published == datetime(2024, 5, 15, 10, 20, tzinfo=UTC)


def test_russian_cp1251_mislabelled_as_latin1() -> None:
    raw = (PAGES / "ru-cp1251.html").read_bytes().replace(b"windows-1251", b"iso-8859-1")
    art = extract(raw, url=URL)
    assert art.language == "ru"
    assert "пункты временного размещения" in art.body


def test_russian_cp1251_undeclared() -> None:
    raw = (PAGES / "ru-cp1251.html").read_bytes().replace(b"; charset=windows-1251", b"")
    art = extract(raw, url=URL)
    assert "пункты временного размещения" in art.body


def test_latin1_german() -> None:
    art = load("de-latin1.html")
    assert art.language == "de"
    assert "Größere Lieferungen" in art.body and "äußerten" in art.body


def test_utf8_with_stale_latin1_declaration() -> None:
    html = (
        (PAGES / "de-zeitung.html")
        .read_text(encoding="utf-8")
        .replace('charset="utf-8"', 'charset="iso-8859-1"')
    )
    art = extract(html.encode("utf-8"), url=URL)
    assert "Bürgermeister" in art.body


def test_bom_utf16() -> None:
    html = (PAGES / "uk-novyny.html").read_text(encoding="utf-8")
    art = extract(html.encode("utf-16"), url=URL)
    assert "Київщину" in art.body


@pytest.mark.parametrize("wrong_codec", ["cp1252", "latin-1"])
def test_mojibake_repaired(wrong_codec: str) -> None:
    html = (PAGES / "de-latin1.html").read_bytes().decode("latin-1")
    broken = html.encode("utf-8").decode(wrong_codec)  # the classic double encoding: "GrÃ¶ÃŸere"
    art = extract(broken, url=URL)
    assert "Größere Lieferungen" in art.body
    assert "sehr groß sei" in art.body


def test_consent_wall() -> None:
    art = load("consent-wall.html")
    assert art.status == "no_article"
    assert art.status_reason == "consent_wall"
    assert art.body == ""


def test_paywall_teaser() -> None:
    art = load("paywall-teaser.html")
    assert art.status == "no_article"
    assert art.status_reason == "paywall"
    assert "Subscribe" not in art.body


def test_listing_page() -> None:
    art = load("listing.html")
    assert art.status == "no_article"
    assert art.status_reason == "listing_page"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        ("   \n ", "empty"),
        ("just some plain text, no markup at all", "not_html"),
        (None, "not_html"),
    ],
)
def test_not_an_article(payload: object, reason: str) -> None:
    art = extract(payload, url=URL)  # type: ignore[arg-type]
    assert art.status == "no_article"
    assert art.status_reason == reason
    assert art.body == ""


def test_jsonld_article_body_rescues_script_rendered_page() -> None:
    sentences = " ".join(
        f"Satz Nummer {i} über die Lage an der Front im Osten des Landes." for i in range(40)
    )
    html = (
        '<html lang="de"><head><title>Lage im Osten</title><script type="application/ld+json">'
        + json.dumps(
            {"@type": "NewsArticle", "headline": "Lage im Osten", "articleBody": f"<p>{sentences}</p>"}
        )
        + '</script></head><body><div id="app">Bitte aktivieren Sie JavaScript.</div></body></html>'
    )
    art = extract(html, url=URL)
    assert art.status == "ok"
    assert "Satz Nummer 39 über die Lage" in art.body
    assert "<p>" not in art.body
    assert art.language == "de"


def test_lead_from_description_or_page() -> None:
    assert load("de-zeitung.html").lead == (
        "Nach einem nächtlichen Angriff ist in weiten Teilen von Charkiw der Strom ausgefallen."
    )
    assert load("paywall-teaser.html").lead == (
        "Engineers work through the night to keep the lights on as attacks continue."
    )


@pytest.mark.parametrize(
    "article_body",
    [
        # markup escaped once more by the CMS: the tags must not end up as text
        "&lt;p&gt;{0}&lt;/p&gt;&lt;p&gt;Zweiter Absatz&amp;nbsp;mit Zitat.&lt;/p&gt;",
        # plain text with entities
        "{0}\nZweiter Absatz&#160;mit Zitat.",
    ],
)
def test_jsonld_article_body_with_escaped_markup_or_entities(article_body: str) -> None:
    sentences = " ".join(f"Satz Nummer {i} über die Lage an der Front im Osten." for i in range(60))
    body = article_body.format(sentences)
    html = (
        '<html lang="de"><head><title>Lage im Osten</title><script type="application/ld+json">'
        + json.dumps({"@type": "NewsArticle", "headline": "Lage im Osten", "articleBody": body})
        + "</script></head><body><article><h1>Lage im Osten</h1>"
        # a teaser of ~150 words: enough to be the page's text, not half of the structured copy
        + "".join(
            f"<p>Sichtbarer Absatz {i} des Anrisses über die Front, den Winter und die Versorgung der Städte "
            "im Osten, der Rest steht nur für Abonnenten bereit, so die Redaktion.</p>"
            for i in range(6)
        )
        + "</article></body></html>"
    )
    art = extract(html, url=URL)
    assert art.status == "ok"
    assert art.body.startswith("Satz Nummer 0 über die Lage")
    assert "Zweiter Absatz mit Zitat." in art.body
    assert "&lt;" not in art.body and "<p>" not in art.body and "&" not in art.body
