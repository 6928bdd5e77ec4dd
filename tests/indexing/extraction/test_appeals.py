"""The site's appeals to its reader under a German or French article (comment, sign up, click)."""

from __future__ import annotations

import pytest

from indexing.extraction import extract
from indexing.extraction.cleaning import drop_tail_appeals

_BODY = [
    "Der Gemeinderat hat am Dienstag den Haushalt für das kommende Jahr beschlossen.",
    "Die Opposition kritisierte die hohen Ausgaben für den Neubau der Schwimmhalle.",
    "Der Bürgermeister verteidigte die Pläne und verwies auf die Zuschüsse des Landes.",
]


@pytest.mark.parametrize(
    "appeal",
    [
        "Verraten Sie gerne in den Kommentaren: Was halten Sie vom neuen Haushalt?",
        "Das Blatt jetzt auch digital! Einfach hier klicken und für die digitale Ausgabe registrieren!",
        "Sie möchten nichts verpassen? Schauen Sie mal in unseren Wochennewsletter!",
        "Hilf mit und unterstütze unser Magazin mit einem kleinen Beitrag.",
        "Du möchtest mitmachen? Dann hinterlasse einfach einen Kommentar unter diesen Beitrag.",
        "Über 20.000 Jobs warten in unserer Jobbörse. Gleich reinschauen und entdecken!",
        "Et vous, qu'en pensez-vous ? Dites-nous en commentaire ce que vous avez vécu.",
        "Pour ne rien manquer de l'actualité locale, inscrivez-vous à notre newsletter.",
    ],
)
def test_appeal_after_the_article_is_dropped(appeal: str) -> None:
    assert drop_tail_appeals([*_BODY, appeal]) == _BODY


def test_appeal_words_inside_the_article_stay() -> None:
    # higher up than the last few paragraphs, the same words are the article's own
    quoting = "Viele Leser schrieben uns in den Kommentaren, dass sie die Pläne ablehnen."
    body = [quoting, *_BODY, "Die Abstimmung fiel mit 21 zu 14 Stimmen aus."]
    assert drop_tail_appeals(body) == body
    # a reported comment section and a quote to the paper are news, not an appeal
    news = [
        *_BODY,
        "In den Kommentaren wird vermutet, die Partei habe den Antrag absichtlich verzögert.",
        "Das sagte der Kämmerer unserem Magazin am Rande der Sitzung.",
    ]
    assert drop_tail_appeals(news) == news
    # a long closing paragraph is text even if it mentions a newsletter
    long = " ".join(["Der Verein informiert seine Mitglieder seit Jahren über unseren Newsletter."] * 8)
    assert drop_tail_appeals([*_BODY, long]) == [*_BODY, long]
    assert drop_tail_appeals(["Verraten Sie gerne in den Kommentaren, was Sie denken."]) == [
        "Verraten Sie gerne in den Kommentaren, was Sie denken."
    ]


def test_appeal_under_a_page_is_not_in_the_body() -> None:
    paragraphs = "".join(f"<p>{p} {p}</p>" for p in _BODY)
    html = f"""<html lang="de"><head><title>Haushalt beschlossen</title></head><body>
    <nav><a href="/">Startseite</a></nav>
    <article><h1>Haushalt beschlossen</h1>{paragraphs}
    <p>Die nächste Sitzung des Gemeinderats findet im März statt, dann geht es um die Schulen.</p>
    <p>Gefällt Ihnen unser Magazin? Verraten Sie es uns gerne in den Kommentaren oder schauen Sie
    mal in unseren Newsletter!</p></article>
    <footer>Impressum</footer></body></html>"""
    body = extract(html, url="https://zeitung.example/haushalt").body
    assert "Die nächste Sitzung des Gemeinderats findet im März statt" in body
    assert "Der Bürgermeister verteidigte die Pläne" in body
    assert "Newsletter" not in body
