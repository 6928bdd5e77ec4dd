"""The standfirst above the body, the dek and teaser excerpts that are not one, short prose posts."""

from __future__ import annotations

from indexing.extraction import extract

URL = "https://news.example/story"

BODY = [
    "Die Stadtwerke haben am Montag mit dem Umbau des alten Wasserwerks am Nordufer begonnen, "
    "nachdem der Stadtrat die Mittel im Herbst nach langer Debatte freigegeben hatte.",
    "Nach Angaben der Bauleitung sollen zunächst die Leitungen aus den sechziger Jahren ersetzt werden, "
    "bevor im Frühjahr die neuen Filteranlagen in der großen Halle montiert werden können.",
    "Anwohner hatten sich vor allem über den Lärm der Lastwagen beschwert, die seit Wochen über die "
    "schmale Uferstraße fahren und dort den Verkehr am Morgen regelmäßig zum Erliegen bringen.",
    "Die Stadt verspricht, die Arbeiten an Wochenenden ruhen zu lassen und die Zufahrt über das "
    "Gewerbegebiet zu legen, sobald die provisorische Brücke über den Kanal fertig ist.",
    "Insgesamt rechnet die Verwaltung mit Kosten von gut zwölf Millionen Euro, von denen das Land "
    "etwa die Hälfte aus seinem Programm für die kommunale Wasserversorgung übernimmt.",
]
INTRO = (
    "Nach Jahren des Stillstands beginnt der Umbau des Wasserwerks am Nordufer. "
    "Die Anwohner erwarten zwei Jahre Baulärm, die Stadt verspricht sauberes Wasser für alle Viertel."
)


def _page(before_body: str, header_extra: str = "") -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in BODY)
    return f"""<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">
<title>Umbau des Wasserwerks beginnt | Uferbote</title></head><body>
<nav><a href="/">Start</a> <a href="/lokales">Lokales</a></nav>
<main><article>
<header><h1>Umbau des Wasserwerks beginnt</h1>{header_extra}</header>
{before_body}
<div class="article__body">{paragraphs}</div>
</article></main><footer>Impressum</footer></body></html>"""


def test_intro_block_before_the_body_is_kept_first() -> None:
    art = extract(_page(f'<div class="article__intro"><p>{INTRO}</p></div>'), url=URL)
    paragraphs = art.body.split("\n\n")
    assert paragraphs[0] == INTRO
    assert paragraphs[1] == BODY[0]


def test_one_sentence_dek_in_the_headline_block_is_not_body() -> None:
    dek = "Die Stadtwerke beginnen nach langer Debatte im Stadtrat mit dem Umbau des alten Wasserwerks am Nordufer."
    art = extract(_page("", header_extra=f'<p class="article__dek">{dek}</p>'), url=URL)
    assert dek not in art.body
    assert art.body.split("\n\n")[0] == BODY[0]


def test_excerpt_in_a_related_box_and_truncated_teaser_are_not_intros() -> None:
    related = (
        '<aside class="related-articles"><div class="teaser"><p class="excerpt">Im Nachbarort wird seit '
        "Monaten über ein neues Hallenbad gestritten, das nun doch gebaut werden soll, sagt der Bürgermeister "
        "nach der Sitzung.</p></div></aside>"
    )
    truncated = (
        '<div class="teaser-text"><p>Nach Jahren des Stillstands beginnt der Umbau des Wasserwerks, '
        "und die Anwohner am Nordufer stellen sich auf zwei Jahre Baulärm ein, denn ...</p></div>"
    )
    art = extract(_page(related + truncated), url=URL)
    assert "Hallenbad" not in art.body
    assert "denn ..." not in art.body
    assert art.body.split("\n\n")[0] == BODY[0]


def test_short_prose_post_on_a_page_full_of_links_is_not_a_listing() -> None:
    links = "".join(f'<li><a href="/p/{i}">Weitere Meldung aus dem Ort Nummer {i} lesen</a></li>' for i in range(20))
    post = (
        "Seit Anfang des Jahres stehen wir mit vier großzügig angelegten Waschstraßen direkt an der "
        "Autobahn für Sie bereit. Für Spezialfahrzeuge steht sogar rund um die Uhr eine Waschstraße zur Verfügung."
    )
    html = f"""<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Waschpark</title></head>
<body><nav><ul>{links}</ul></nav><main><article><h1>Waschpark</h1><p>{post}</p></article></main></body></html>"""
    art = extract(html, url=URL)
    assert art.status == "ok", art.status_reason
    assert post in art.body


def test_intro_paragraph_of_the_article_header_named_by_typography_only() -> None:
    # the template styles the standfirst (``text-xl``) but names it nowhere
    art = extract(_page("", header_extra=f'<p class="text-xl leading-snug">{INTRO}</p>'), url=URL)
    paragraphs = art.body.split("\n\n")
    assert paragraphs[0] == INTRO
    assert paragraphs[1] == BODY[0]
    # one sentence there is still the dek, and a byline line is no intro
    dek = "Die Stadtwerke beginnen nach langer Debatte im Stadtrat mit dem Umbau des alten Wasserwerks am Nordufer."
    art = extract(_page("", header_extra=f"<p>{dek}</p><p>Von Anna Beispiel</p>"), url=URL)
    assert art.body.split("\n\n")[0] == BODY[0]
    assert dek not in art.body
