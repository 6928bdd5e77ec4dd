"""Furniture classes seen on many English news sites: the visible headline repeated as the first
paragraph, the site's appeals to its reader, teaser links inside the text."""

from __future__ import annotations

import pytest

from indexing.extraction import extract
from indexing.extraction.cleaning import drop_headline, is_boilerplate, is_reader_appeal

_PARAGRAPHS = [
    "The harbour board voted on Tuesday to close the old ferry terminal after forty years of service, "
    "citing the cost of repairs to the pier and falling passenger numbers.",
    "Board chair Maria Lopez said the decision had not been easy. She said the terminal had served the "
    "island well, but that the money would now go to the new bridge across the channel.",
    "Residents who rely on the ferry said they were worried about the months before the bridge opens. "
    "A petition against the closure has gathered more than two thousand signatures.",
    "The last ferry will leave the terminal on the final Sunday of March, the board said in a statement "
    "published after the meeting, and a shuttle bus will run until the bridge is finished.",
]


@pytest.mark.parametrize(
    "paragraph",
    [
        "Get the latest updates right in your inbox. Subscribe to the Gazette's newsletters.",
        "Have a tip? Jane Roe may be reached at jroe@example.com. Follow her on Twitter @janeroe.",
        "Reach the reporters on Twitter at http://twitter.com/example.",
        "Sign up for our daily newsletter and never miss a story.",
        "Tell us what YOU think...",
        "We want to hear what you think about this article.",
        "For the latest stories download the Island News app for iOS and Android.",
        "Get Cycling Weekly delivered through your letterbox every month. 12 issues for £11.99.",
        "To view the full story, please subscribe to The Island Times.",
        "Follow The Gazette on Twitter and Instagram.",
        "Get The Gazette's Daily Edition by email and never miss our top stories",
        "Do you want to hear about our campaigns? Sign up here",
        "Sign up to get the best stories of the week, as picked by the editors.",
        "Submit your letter to the editor via this form.",
    ],
)
def test_reader_appeals(paragraph: str) -> None:
    assert is_reader_appeal(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "You can also subscribe to this newsletter here, just tick the box for the morning edition.",
        "The agency said it had reached an agreement with the reporters' union on Monday.",
        "Customers who signed up for the service were charged twice, the company said.",
        "Residents can follow the progress of the works on the council's website.",
        "He said he would never miss the old ferry.",
        "In a letter to the editor, the mayor defended the plan.",
        # long prose that mentions a newsletter is the story's own text
        "The company, which began as an email newsletter for investors in 2015, said it would ask its "
        "readers to sign up for a paid tier with more updates, a move that analysts said was overdue "
        "after two years of losses and a failed attempt to sell the business to a larger publisher "
        "in the spring of last year.",
    ],
)
def test_article_sentences_are_not_appeals(paragraph: str) -> None:
    assert not is_reader_appeal(paragraph)


@pytest.mark.parametrize(
    "line",
    [
        "[Related: Ten things we learned at the keynote]",
        "Related post: Pickled sprouts recipe",
        "Also:",
        "More:",
        "(Credit: Jane Roe / The Gazette)",
        "(Foto: Erika Muster)",
    ],
)
def test_teaser_links_are_furniture(line: str) -> None:
    assert is_boilerplate(line)


def test_headline_dropped_at_the_head_only() -> None:
    headline = "Harbour board votes to close the old ferry terminal"
    title = "Ferry terminal to close after 40 years"
    assert drop_headline([headline, *_PARAGRAPHS], headline, title) == _PARAGRAPHS
    later = [*_PARAGRAPHS, headline]
    assert drop_headline(later, headline, title) == later
    assert drop_headline(_PARAGRAPHS, None, title) == _PARAGRAPHS
    # above a page that is little more than its heading, the heading stays
    short = [headline, "Watch the video of the vote."]
    assert drop_headline(short, headline, title) == short
    # an <h1> that is not a wording of the title is another heading
    other = ["Island news in brief", *_PARAGRAPHS]
    assert drop_headline(other, "Island news in brief", title) == other


def test_english_furniture_dropped_through_extract() -> None:
    paras = "".join(f"<p>{p}</p>" for p in _PARAGRAPHS[:2])
    paras += "<p>[Related: Bridge costs rise again]</p>"
    paras += "".join(f"<p>{p}</p>" for p in _PARAGRAPHS[2:])
    paras += "<p>Have a tip? Jane Roe may be reached at jroe@example.com.</p>"
    html = (
        "<html><head><title>Ferry terminal to close | The Gazette</title>"
        '<meta property="og:title" content="Ferry terminal to close after 40 years"></head><body>'
        "<nav><a href='/'>Home</a></nav><article><h1>Harbour board votes to close the old ferry terminal</h1>"
        f"<div class='story'>{paras}</div></article></body></html>"
    )
    body = extract(html, url="https://gazette.example/news/ferry").body
    for para in _PARAGRAPHS:
        assert para in body
    assert "Harbour board votes" not in body
    assert "Related:" not in body
    assert "may be reached at" not in body
