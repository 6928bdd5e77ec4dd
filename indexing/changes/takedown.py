"""Is a revisit's answer a takedown of the stored article? (pure: no I/O, no clock)

The kinds (``TAKEDOWN_KINDS``, the same names as ``indexing.changes.diff``'s):

* ``removed``: 404 or 410;
* ``redirected``: a redirect to the source's home, one of its sections or a listing-shaped URL
  (not to another article URL, which is a move, not a takedown);
* ``soft_404``: a 200 whose page is no article any more - a not-found page ("Page not found",
  "Seite nicht gefunden", "Сторінку не знайдено", ...), a listing or an empty page - where the
  stored capture was an article;
* ``walled``: a 200 that is now a paywall, consent or login wall, or a stub far shorter than
  the stored article, while the stored capture was a readable article.

A 5xx, 408 or 429 (or a timeout, which never reaches here) is never a takedown: try later.
The crawler (``crawlers/revisits.py``) reports a takedown only when a second check agrees.
A page verdict compares the new capture with the stored one, so furniture that rotates or a
cookie banner present in both never makes an article "gone": the text must have shrunk too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from indexing.extraction import extract
from indexing.extraction.status import MIN_ARTICLE_WORDS, TEASER_WORDS

TAKEDOWN_KINDS = ("removed", "redirected", "soft_404", "walled")

#: answers that say "not now", never "gone"
RETRY_STATUSES = frozenset({408, 425, 429})
GONE_STATUSES = frozenset({404, 410})
#: a page verdict needs the text to have shrunk below this share of the stored article's
SHRUNK = 0.5
#: a stub: below this share of the stored article's words (and a teaser's length at most)
STUB = 0.3
#: how much of a page the not-found markers are looked for in (title, h1, first text)
_HEAD_BYTES = 200_000

_NOT_FOUND = re.compile(
    r"\b404\b|not\s+found|page\s+(?:does\s+not|doesn.t)\s+exist|no\s+longer\s+(?:available|exists)|"
    r"(?:has|have)\s+been\s+(?:removed|deleted)|can(?:no|')t\s+(?:be\s+)?f(?:ou|i)nd|"
    r"nicht\s+gefunden|existiert\s+nicht|nicht\s+mehr\s+verf[üu]gbar|"
    r"introuvable|n.existe\s+(?:pas|plus)|"
    r"no\s+encontrad[ao]|no\s+existe|non\s+trovat[ao]|n[ãa]o\s+encontrad[ao]|"
    r"nie\s+(?:zosta[łl]a\s+)?znalezion[ao]|nie\s+istnieje|"
    r"niet\s+gevonden|bulunamad[ıi]|nenalezen[ao]|hittades\s+inte|"
    r"не\s+знайден|не\s+знайшли|не\s+існує|видален[оа]|"
    r"не\s+найден|не\s+существует|удален[оа]|"
    r"ページが見つかりません|页面不存在|找不到",
    re.IGNORECASE,
)
_TITLE = re.compile(rb"<title[^>]*>(.{0,500}?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(rb"<h1[^>]*>(.{0,2000}?)</h1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]{0,1000}>")
#: path segments of sign-in, subscription and consent pages
_WALL_PATH = re.compile(
    r"^(?:login|log-in|signin|sign-in|sso|auth|account|subscribe|subscription|abo|abonnement|"
    r"paywall|consent|cookies?|gdpr|premium|register|anmelden|connexion|vhid|vkhid|passport)$",
    re.IGNORECASE,
)
_ID = re.compile(r"\d{5,}")
_DATE_ONLY = re.compile(r"^\d{1,4}$")
_WORD_SPLIT = re.compile(r"[-_.+]")


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of TAKEDOWN_KINDS
    reason: str  # what gave it away: http_404, redirect_to_home, not_found_page, paywall, stub, ...


@dataclass(frozen=True)
class Page:
    """What the classifier needs of one capture (see :func:`page_of`)."""

    status: str  # the extraction status: "ok" or "no_article"
    reason: str | None  # the extraction's status_reason (paywall, consent_wall, listing_page, ...)
    words: int
    not_found: bool  # a not-found message in the title or the main heading


def page_of(body: bytes, url: str | None = None) -> Page:
    """Extract ``body`` (``indexing.extraction.extract``: never raises) and look for a
    not-found message in its ``<title>``/``<h1>``."""
    article = extract(body, url)
    head = body[:_HEAD_BYTES]
    texts = [m.group(1) for m in (_TITLE.search(head), _H1.search(head)) if m is not None]
    marked = any(_NOT_FOUND.search(_TAGS.sub(" ", t.decode("utf-8", "replace"))) for t in texts)
    if not marked and article.word_count < MIN_ARTICLE_WORDS:
        marked = bool(_NOT_FOUND.search(f"{article.title or ''} {article.body[:2000]}"))
    return Page(article.status, article.status_reason, article.word_count, marked)


def _segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.split("/") if s]


def _bare(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc.lower().removeprefix("www."), parts.path.rstrip("/") or "/"


def _same_site(url: str, home: str) -> bool:
    host, own = _bare(url)[0], _bare(home)[0]
    return host == own or host.endswith("." + own)


def looks_like_article_url(url: str) -> bool:
    """An article-shaped URL: a slug of three words or more, or a numeric id (5+ digits), in
    its path (or an id in its query)."""
    for seg in _segments(url):
        stem = seg.rsplit(".", 1)[0] if "." in seg else seg
        if len([w for w in _WORD_SPLIT.split(stem) if w]) >= 3 or _ID.search(stem):
            return True
    return bool(_ID.search(urlsplit(url).query))


def is_listing_url(url: str, home: str, sections: Iterable[str] = ()) -> bool:
    """The source's home or a section: a configured one, or shaped like one (at most two short
    path segments, or a date archive, and nothing article-like)."""
    target = _bare(url)
    if target in {_bare(u) for u in (home, *sections)}:
        return True
    if not _same_site(url, home):
        return False
    if looks_like_article_url(url):
        return False
    segs = _segments(url)
    return len(segs) <= 2 or all(_DATE_ONLY.match(s) for s in segs[1:])


def classify_redirect(requested: str, final: str, home: str, sections: Iterable[str] = ()) -> Verdict | None:
    """A revisit of ``requested`` that ended (after redirects) at ``final``."""
    if _bare(final) == _bare(requested) or not _same_site(final, home):
        return None
    if any(_WALL_PATH.match(s) for s in _segments(final)):
        return Verdict("walled", "redirect_to_wall")
    if urlsplit(final).path.strip("/") == "" and urlsplit(final).query == "":
        return Verdict("redirected", "redirect_to_home")
    if is_listing_url(final, home, sections):
        return Verdict("redirected", "redirect_to_section")
    return None  # another article URL: the article moved (or a different one is served)


def classify_page(new: Page, stored: Page | None) -> Verdict | None:
    """A 200 whose body differs from the stored capture's. ``stored`` None: nothing to compare
    with, so nothing is reported (a page verdict must never rest on one capture alone)."""
    if stored is None or stored.status != "ok" or stored.words < MIN_ARTICLE_WORDS // 3:
        return None
    if new.words >= SHRUNK * stored.words:
        return None  # the text is still there: whatever else changed, the article is not gone
    if new.not_found and new.words < MIN_ARTICLE_WORDS:
        return Verdict("soft_404", "not_found_page")
    if new.status != "ok" and new.reason in ("paywall", "consent_wall"):
        return Verdict("walled", str(new.reason))
    if new.status != "ok" and new.reason in ("listing_page", "empty", "too_short"):
        return Verdict("soft_404", str(new.reason))
    if new.words < STUB * stored.words and new.words < TEASER_WORDS:
        return Verdict("walled", "stub")
    return None


def classify(
    status: int,
    requested: str,
    final: str,
    home: str,
    sections: Iterable[str] = (),
    new: Callable[[], Page] | None = None,
    stored: Callable[[], Page | None] | None = None,
) -> Verdict | None:
    """The takedown a revisit answer shows, or None. ``new``/``stored`` give the two captures'
    pages (called only for a 200 that needs them: extraction is the costly part)."""
    if status in GONE_STATUSES:
        return Verdict("removed", f"http_{status}")
    if status >= 500 or status in RETRY_STATUSES or status == 304:
        return None
    redirect = classify_redirect(requested, final, home, sections)
    if redirect is not None:
        return redirect
    if not 200 <= status < 300 or new is None or stored is None:
        return None
    page = new()
    if page.status == "ok" and page.words >= TEASER_WORDS:
        return None  # a readable article of some length: no page verdict can follow (no WARC read)
    return classify_page(page, stored())
