"""The takedown classifier (pure): status codes, redirects to home/section vs a moved article,
not-found and wall pages in several languages, stubs; 5xx and 429 never a takedown, and an
unchanged article (furniture rotating, a cookie banner on both captures) never one either."""

from __future__ import annotations

import pytest

from indexing.changes.takedown import (
    Page,
    classify,
    classify_page,
    classify_redirect,
    is_listing_url,
    looks_like_article_url,
    page_of,
)

HOME = "https://news.example.com/"
SECTIONS = ["https://news.example.com/world/", "https://news.example.com/politik/"]
ARTICLE = "https://news.example.com/world/2024/05/troops-cross-the-border-at-dawn.html"
PROSE = (
    "The regional administration said on Tuesday that the shelling had damaged three schools and a "
    "hospital in the eastern district. Officials added that repair crews would begin work as soon as "
    "the security situation allowed it, and that residents should follow the air-raid alerts. "
)


def _html(title: str, body: str, extra: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world/'>World</a></nav>{extra}"
        f"<article><h1>{title}</h1>{body}</article><footer>© Example</footer></body></html>"
    ).encode()


_OPENINGS = ("In Kharkiv,", "Later that day,", "According to the mayor,", "By the evening,")
BODY = "".join(f"<p>{o} {PROSE}</p>" for o in _OPENINGS)
STORED = _html("Shelling damages schools", BODY)


def test_status_codes() -> None:
    assert classify(404, ARTICLE, ARTICLE, HOME).kind == "removed"  # type: ignore[union-attr]
    assert classify(410, ARTICLE, ARTICLE, HOME).kind == "removed"  # type: ignore[union-attr]
    for status in (500, 502, 503, 504, 429, 408, 304):
        assert classify(status, ARTICLE, ARTICLE, HOME) is None, status


def test_redirects_to_home_and_sections_but_not_to_a_moved_article() -> None:
    assert classify_redirect(ARTICLE, HOME, HOME).kind == "redirected"  # type: ignore[union-attr]
    assert classify_redirect(ARTICLE, "https://news.example.com/politik", HOME, SECTIONS).reason == (  # type: ignore[union-attr]
        "redirect_to_section"
    )
    # a section by its shape: short path, nothing article-like; a date archive too
    assert classify_redirect(ARTICLE, "https://news.example.com/uk/news/", HOME) is not None
    assert classify_redirect(ARTICLE, "https://news.example.com/world/2024/05/", HOME) is not None
    # the article moved (slug or id): not a takedown
    moved = "https://news.example.com/europe/2024/05/troops-cross-the-border-at-dawn-updated.html"
    assert classify_redirect(ARTICLE, moved, HOME) is None
    assert classify_redirect(ARTICLE, "https://news.example.com/a/1234567", HOME) is None
    # same page (trailing slash), another site: not ours to call a takedown
    assert classify_redirect(ARTICLE, ARTICLE + "/", HOME) is None
    assert classify_redirect(ARTICLE, "https://other.example.org/", HOME) is None
    # a sign-in or consent page: walled
    assert classify_redirect(ARTICLE, "https://news.example.com/login?next=/x", HOME).kind == "walled"  # type: ignore[union-attr]


def test_url_shapes() -> None:
    assert looks_like_article_url(ARTICLE)
    assert looks_like_article_url("https://x.com/news/987654")
    assert looks_like_article_url("https://x.com/read?id=4455667")
    assert not looks_like_article_url("https://x.com/world/")
    assert is_listing_url("https://news.example.com/", HOME)
    assert not is_listing_url(ARTICLE, HOME)


@pytest.mark.parametrize(
    "title",
    [
        "Page not found",
        "404 - Seite nicht gefunden",
        "Сторінку не знайдено",
        "Страница не найдена",
        "Page introuvable",
        "Página no encontrada",
        "Nie znaleziono strony – strona nie istnieje",
        "Sorry, this article is no longer available",
    ],
)
def test_soft_404_pages_in_many_languages(title: str) -> None:
    page = page_of(_html(title, "<p>Try the search or go back to the home page.</p>"), ARTICLE)
    assert page.not_found, title
    verdict = classify(200, ARTICLE, ARTICLE, HOME, new=lambda: page, stored=lambda: page_of(STORED, ARTICLE))
    assert verdict is not None and verdict.kind == "soft_404", title


@pytest.mark.parametrize(
    "wall",
    [
        "<p>Subscribe to continue reading. Already a subscriber? Sign in.</p>",
        "<p>Dieser Artikel ist nur für Abonnenten. Jetzt abonnieren.</p>",
        "<p>Цей матеріал лише для передплатників. Оформіть передплату.</p>",
        "<p>La suite est réservée aux abonnés. Abonnez-vous.</p>",
    ],
)
def test_walls_that_were_not_there_before(wall: str) -> None:
    new = page_of(_html("Shelling damages schools", f"<p>The regional administration said.</p>{wall}",
                        "<div class='paywall'>premium</div>"), ARTICLE)
    verdict = classify_page(new, page_of(STORED, ARTICLE))
    assert verdict is not None and verdict.kind == "walled", (wall, new)


def test_stub_far_shorter_than_the_stored_article_is_walled() -> None:
    stored = Page("ok", None, 400, False)
    assert classify_page(Page("ok", None, 40, False), stored).reason == "stub"  # type: ignore[union-attr]
    # a paragraph cut is an edit, not a takedown
    assert classify_page(Page("ok", None, 300, False), stored) is None
    assert classify_page(Page("ok", None, 170, False), stored) is None


def test_unchanged_article_with_rotating_furniture_is_never_a_takedown() -> None:
    stored = page_of(STORED, ARTICLE)
    assert stored.status == "ok" and stored.words > 100
    for i in range(5):
        furniture = f"<aside class='most-read cookie-consent'>Most read #{i}: 404 reasons. Accept cookies</aside>"
        new = _html("Shelling damages schools", BODY, furniture)
        assert classify(200, ARTICLE, ARTICLE, HOME, new=lambda b=new: page_of(b, ARTICLE), stored=lambda: stored) is None
    # an article that mentions "not found" in its text is still an article
    mention = _html("Bodies not found, says the ministry", BODY)
    assert classify_page(page_of(mention, ARTICLE), stored) is None


def test_no_verdict_without_a_readable_stored_capture() -> None:
    notfound = page_of(_html("Page not found", "<p>Nothing here.</p>"), ARTICLE)
    assert classify_page(notfound, None) is None
    assert classify_page(notfound, Page("no_article", "paywall", 40, False)) is None  # was walled already


def test_a_long_readable_page_needs_no_stored_capture() -> None:
    def unread() -> Page | None:
        raise AssertionError("the stored capture was read")

    page = page_of(STORED, ARTICLE)
    assert page.words >= 150
    assert classify(200, ARTICLE, ARTICLE, HOME, new=lambda: page, stored=unread) is None
