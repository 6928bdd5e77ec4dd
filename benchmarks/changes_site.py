"""A news site that changes under the crawler (issue #19's acceptance check, made locally).

One small site per language, each on its own port of 127.0.0.1 (its home page, three sections,
an RSS feed of the newest articles and a sitemap). Articles are written from
``tests/fixtures/changes-site/languages.yaml`` (or, for the benchmark, from real article texts
handed in as ``bodies``) with a figure in the language's own number format, a quote, and a
sentence an editor may reword.

Every page carries furniture that rotates on EVERY request and must never count as a change: a
most-read box (other items, other order), "updated N minutes ago", view and share counters, an
``article:modified_time`` of now, ad slots with rotating text (one inside the article text),
cache-busting ``?v=<random>`` on image, script and stylesheet URLs, related links in a new order,
and a CSRF token in the newsletter form.

:meth:`ChangingSite.mutate` switches to generation 1, where a planned subset changes: each edit
kind of ``EDIT_KINDS`` (numbers in every format the language writes: "40" -> "14",
"10 000" -> "3 000", "1,5 млн" -> "2 млн"), each way of taking an article down
(``TAKEDOWN_MODES``: 404, 410, a redirect to the home page or to a section, a soft 404, a paywall,
a consent wall, a stub), and one flaky article that answers 404 once and is back afterwards (no
change at all). Taken-down articles leave the feed, the sitemap and the sections. The plan is the
ground truth (:class:`Truth`); :mod:`benchmarks.changes_score` scores what warwatch reported
against it.
"""

from __future__ import annotations

import html
import random
import threading
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "changes-site" / "languages.yaml"

EDIT_KINDS = ("numbers", "text_removed", "text_added", "reworded", "headline", "quote", "byline", "date",
              "correction")
#: how an article is taken down -> the takedown kind warwatch must report
TAKEDOWN_MODES = {"http_404": "removed", "http_410": "removed", "redirect_home": "redirected",
                  "redirect_section": "redirected", "soft_404": "soft_404", "paywall": "walled",
                  "consent": "walled", "stub": "walled"}
FLAKY = "flaky"
#: a few articles get two edits at once (both kinds must be found)
COMBOS = (("headline", "numbers"), ("text_removed", "correction"))
SECTIONS = ("world", "politics", "economy")
FEED_ITEMS = 40
#: a watch on every change event of the articles placed in Zaporizhzhia (places[1] of each
#: language, in its own spelling)
WATCH = """watches:
  - id: zaporizhzhia-changes
    name: Zaporizhzhia
    query: Zaporizhzhia
    on: [new, edited, removed]
    channels:
      file: true
"""

# figures by kind: (before, after) values; the language writes them (see :func:`write_number`)
_SMALL: list[tuple[float, float]] = [(40, 14), (23, 32), (7, 17), (61, 16), (12, 21), (85, 58)]
_THOUSANDS: list[tuple[float, float]] = [(10_000, 3_000), (25_000, 52_000), (4_500, 5_400), (80_000, 18_000), (12_000, 21_000)]
_MILLIONS: list[tuple[float, float]] = [(1.5, 2.0), (2.5, 4.0), (3.0, 1.5), (4.5, 6.0), (7.0, 9.5)]
_MILLION_WORD = {"en": ("million", "million"), "de": ("Millionen", "Millionen"), "ru": ("млн", "млн"),
                 "uk": ("млн", "млн"), "pl": ("mln", "mln"), "fr": ("million", "millions")}
_THOUSANDS_SEP = {"en": ",", "de": ".", "ru": "\u00a0", "uk": " ", "pl": " ", "fr": "\u202f"}


def load_languages(path: Path = FIXTURE) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_number(value: float, kind: str, lang: str) -> str:
    """``value`` as the language's press writes it: "10,000" / "10.000" / "10 000"; "1.5 million"
    / "1,5 Millionen" / "1,5 млн"."""
    if kind == "millions":
        whole = value == int(value)
        digits = str(int(value)) if whole else str(value).replace(".", "." if lang == "en" else ",")
        one, many = _MILLION_WORD.get(lang, ("million", "million"))
        return f"{digits} {one if value < 2 else many}"
    n = int(value)
    if n < 1000:
        return str(n)
    return f"{n:,}".replace(",", _THOUSANDS_SEP.get(lang, ","))


@dataclass
class Article:
    lang: str
    slug: str
    section: str
    title: str
    author: str
    published: datetime
    paragraphs: list[str]
    caption: str
    fact: tuple[str, str, float, float]  # (kind, template with {n}, value, revised value)
    quote: tuple[str, str, str]  # (template with {q}, words, new words)
    reworded: tuple[str, str]
    place: str
    mode: str | None = None  # a takedown mode (TAKEDOWN_MODES), FLAKY, or None
    edits: tuple[str, ...] = ()
    flaky_done: bool = False

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.published:%Y/%m/%d}/{self.slug}.html"


@dataclass(frozen=True)
class Truth:
    """What changed in one article: the edit kinds and figures, or how it was taken down."""

    lang: str
    path: str
    kinds: tuple[str, ...]  # expected kinds (EDIT_KINDS or takedown kinds); () = unchanged
    mode: str | None = None
    numbers: tuple[tuple[str, str, float, float], ...] = ()  # (before, after, before_value, after_value)


@dataclass
class World:
    langs: dict[str, dict[str, Any]]
    articles: list[Article]
    generation: int = 0
    plan: dict[int, tuple[str, ...] | str] = field(default_factory=dict)


def build_world(n: int, languages: Sequence[str], seed: int = 19,
                bodies: Mapping[str, Sequence[Sequence[str]]] | None = None,
                now: datetime | None = None) -> World:
    """``n`` articles spread over ``languages`` (round robin), published over the ten days before
    ``now``. ``bodies``: real article texts per language (lists of paragraphs) used, while they
    last, in place of paragraphs written from the fixture's sentences."""
    langs = load_languages()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    used = {lang: 0 for lang in languages}
    articles = []
    for i in range(n):
        lang = languages[i % len(languages)]
        j = i // len(languages)
        real = list((bodies or {}).get(lang, ()))
        body = real[used[lang]] if used[lang] < len(real) else None
        used[lang] += 1
        articles.append(_article(langs[lang], lang, i, j, random.Random(seed * 100_003 + i), now, body))
    return World(langs, articles)


def _article(spec: dict[str, Any], lang: str, i: int, j: int, rng: random.Random, now: datetime,
             body: Sequence[str] | None) -> Article:
    places, titles = spec["places"], spec["titles"]
    place = places[(j // len(titles) + j) % len(places)]
    title = titles[j % len(titles)].format(place=place)
    if j >= len(titles) * len(places):
        title = f"{title} ({j // (len(titles) * len(places)) + 1})"
    fkind = ("small", "thousands", "millions")[rng.randrange(3)]
    figures: dict[str, list[tuple[float, float]]] = {"small": _SMALL, "thousands": _THOUSANDS, "millions": _MILLIONS}
    before, after = rng.choice(figures[fkind])
    fact = spec["facts"][fkind].replace("{place}", place)
    q = rng.choice(spec["quotes"])
    reworded = rng.choice(spec["reworded"])
    pool = [s.replace("{place}", place) for s in spec["sentences"]]
    rng.shuffle(pool)
    if body:
        filler = [p for p in body if p.strip()][:6]
    else:
        filler = [" ".join(pool[k:k + 2]) for k in range(1, 11, 2)]
    published = now - timedelta(days=2, hours=rng.randrange(8 * 24), minutes=rng.randrange(60))
    return Article(
        lang=lang, slug=f"{_slug(title)}-{i:05d}", section=SECTIONS[i % len(SECTIONS)], title=title,
        author=rng.choice(spec["authors"]), published=published, paragraphs=filler, caption=pool[0],
        fact=(fkind, fact, before, after), quote=(q["text"], q["q"], q["q2"]), reworded=(reworded[0], reworded[1]),
        place=place)


def _slug(title: str) -> str:
    """ASCII words of the title (accents folded; a Cyrillic title gives "news")."""
    folded = unicodedata.normalize("NFKD", title.lower()).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return "-".join(words[:8]) if len(words) >= 3 else "news"


def plan_changes(world: World, rng: random.Random, rounds: int = 1) -> list[Truth]:
    """Choose which articles change (``rounds`` times every edit kind, every takedown mode and
    the two combos, plus one flaky article per round), spread over the languages; the rest stay
    unchanged. Returns the ground truth of every article."""
    kinds: list[tuple[str, ...] | str] = []
    for _ in range(rounds):
        kinds += [(k,) for k in EDIT_KINDS] + list(COMBOS) + list(TAKEDOWN_MODES) + [FLAKY]
    by_lang: dict[str, list[int]] = {}
    for idx, a in enumerate(world.articles):
        by_lang.setdefault(a.lang, []).append(idx)
    for ids in by_lang.values():
        rng.shuffle(ids)
    order = [lang for lang in by_lang]
    for k, plan in enumerate(kinds):
        ids = by_lang[order[k % len(order)]]
        if not ids:
            raise ValueError("too few articles for the planned changes")
        world.plan[ids.pop()] = plan
    return [truth(a, world.plan.get(i)) for i, a in enumerate(world.articles)]


def truth(a: Article, plan: tuple[str, ...] | str | None) -> Truth:
    if plan is None or plan == FLAKY:
        return Truth(a.lang, a.path, (), mode=plan if plan else None)
    if isinstance(plan, str):
        return Truth(a.lang, a.path, (TAKEDOWN_MODES[plan],), mode=plan)
    numbers: tuple[tuple[str, str, float, float], ...] = ()
    if "numbers" in plan:
        fkind, _, before, after = a.fact
        scale = 1e6 if fkind == "millions" else 1.0  # "1,5 млн" is worth 1,500,000
        numbers = ((write_number(before, fkind, a.lang), write_number(after, fkind, a.lang), before * scale,
                    after * scale),)
    return Truth(a.lang, a.path, tuple(plan), numbers=numbers)


def mutate(world: World) -> None:
    """Generation 1: apply the plan (edits to the article content; takedown modes and the flaky
    answer are served by :class:`ChangingSite`)."""
    for idx, plan in world.plan.items():
        a = world.articles[idx]
        if isinstance(plan, str):
            a.mode = plan
        else:
            a.edits = plan
    world.generation = 1


# --------------------------------------------------------------------------- rendering
def article_text(a: Article, spec: Mapping[str, Any]) -> tuple[str, str, str, datetime, list[str]]:
    """(title, author, lead, published, paragraphs) of ``a`` as generation applies its edits."""
    edits = set(a.edits)
    fkind, template, before, after = a.fact
    number = write_number(after if "numbers" in edits else before, fkind, a.lang)
    fact = template.replace("{n}", number)
    qt, q1, q2 = a.quote
    quote = qt.replace("{q}", q2 if "quote" in edits else q1)
    reworded = a.reworded[1] if "reworded" in edits else a.reworded[0]
    paras = list(a.paragraphs)
    lead = f"{fact} {paras[0]}"
    body = [lead, paras[1], quote, *paras[2:], reworded]
    if "text_removed" in edits:
        del body[3]  # a paragraph of the article's own text (neither the figure nor the quote)
    if "text_added" in edits:
        body.insert(2, spec["added"][len(a.slug) % len(spec["added"])])
    if "correction" in edits:
        body.append(spec["correction"])
    title = spec["headlines_changed"][len(a.slug) % 2].format(place=a.place) if "headline" in edits else a.title
    author = a.author
    if "byline" in edits:
        others = [x for x in spec["authors"] if x != a.author]
        author = others[len(a.slug) % len(others)]
    published = a.published - timedelta(days=1, hours=5) if "date" in edits else a.published
    return title, author, lead, published, body


def _furniture(spec: Mapping[str, Any], world: World, lang: str, rng: random.Random,
               this: Article | None = None) -> dict[str, str]:
    ui = spec["ui"]
    others = [a for a in world.articles if a.lang == lang and a.mode is None and a is not this]
    picks = rng.sample(others, min(5, len(others)))
    most_read = "".join(f'<li><a href="{x.path}?ref=mostread&amp;pos={k}">{html.escape(x.title)}</a></li>'
                        for k, x in enumerate(picks))
    related = rng.sample(others, min(4, len(others)))
    rel = "".join(f'<li><a href="{x.path}">{html.escape(x.title)}</a></li>' for x in related)
    token = uuid.UUID(int=rng.getrandbits(128)).hex
    v = rng.getrandbits(40)
    return {
        "head": (f'<link rel="stylesheet" href="/static/site.css?v={v:x}">'
                 f'<script src="/static/app.js?v={v:x}" async></script>'),
        "updated": html.escape(ui["updated"].format(minutes=rng.randrange(2, 59))),
        "counters": html.escape(f'{ui["views"].format(count=f"{rng.randrange(1000, 99999):,}")} · '
                                f'{ui["shares"].format(count=rng.randrange(5, 900))}'),
        "ad": html.escape(rng.choice(ui["ads"])),
        "ad2": html.escape(rng.choice(ui["ads"])),
        "most_read": f'<aside class="most-read"><h3>{html.escape(ui["most_read"])}</h3><ol>{most_read}</ol></aside>',
        "related": f'<section class="related"><h3>{html.escape(ui["related"])}</h3><ul>{rel}</ul></section>',
        "read_also": (f'<p class="read-also"><strong>{html.escape(ui["related"])}:</strong> <a href="{related[0].path}">'
                      f'{html.escape(related[0].title)}</a></p>\n' if related else ""),
        "form": (f'<form class="newsletter" method="post" action="/newsletter"><label>{html.escape(ui["newsletter"])}'
                 f'</label><input type="hidden" name="csrf_token" value="{token}"><input type="email" name="email">'
                 f'<button type="submit">OK</button></form>'),
        "v": f"{v:x}",
    }


def _page(spec: Mapping[str, Any], lang: str, title: str, main: str, f: Mapping[str, str], meta: str = "") -> bytes:
    nav = "".join(f'<li><a href="/{s}/">{html.escape(spec["sections"][s])}</a></li>' for s in SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)} | '
            f'{html.escape(spec["name"])}</title>{meta}{f["head"]}</head>\n<body><header><a href="/">'
            f'{html.escape(spec["name"])}</a><nav><ul>{nav}</ul></nav><div class="ad-slot">{f["ad"]}</div>'
            f'</header>\n<main>{main}</main>\n{f["most_read"]}\n<footer>{f["form"]}<p>© {html.escape(spec["name"])}'
            f'</p></footer></body></html>\n').encode()


def render_article(world: World, a: Article, base: str, rng: random.Random, stub: bool = False) -> bytes:
    spec = world.langs[a.lang]
    f = _furniture(spec, world, a.lang, rng, a)
    title, author, lead, published, body = article_text(a, spec)
    now = datetime.now(UTC).replace(microsecond=0)
    meta = (f'<link rel="canonical" href="{base}{a.path}">'
            f'<meta property="og:title" content="{html.escape(title)}">'
            f'<meta name="author" content="{html.escape(author)}">'
            f'<meta property="article:published_time" content="{published.isoformat()}">'
            f'<meta property="article:modified_time" content="{now.isoformat()}">')
    paras = body[:1] if stub else body
    inline = {1: f'<div class="ad-inline">{f["ad2"]}</div>\n', 3: f["read_also"]}
    ps = f'<p class="meta">{f["updated"]} · {f["counters"]}</p>\n' + "".join(
        f"<p>{html.escape(p)}</p>\n" + inline.get(k, "") for k, p in enumerate(paras))
    figure = "" if stub else (f'<figure><img src="/img/{a.slug}.jpg?v={f["v"]}" alt="">'
                              f'<figcaption>{html.escape(a.caption)}</figcaption></figure>\n')
    main = (f'<article><header><h1>{html.escape(title)}</h1><p class="byline">{html.escape(spec["ui"]["by"])} '
            f'<span class="author">{html.escape(author)}</span></p><time datetime="{published.isoformat()}">'
            f'{published:%d.%m.%Y %H:%M}</time> <span class="updated">{f["updated"]}</span>'
            f' <span class="counters">{f["counters"]}</span></header>\n{figure}<div class="article-body">\n{ps}'
            f'</div>{f["related"]}</article>')
    return _page(spec, a.lang, title, main, f, meta)


def render_wall(world: World, a: Article, kind: str, rng: random.Random) -> bytes:
    """The article's URL answered by a paywall (headline, a teaser, the wall) or a consent wall
    (nothing of the article)."""
    spec = world.langs[a.lang]
    f = _furniture(spec, world, a.lang, rng)
    wall = spec[kind]
    box = (f'<div class="{kind}"><h2>{html.escape(wall["title"])}</h2><p>{html.escape(wall["text"])}</p>'
           f'<a class="button" href="/subscribe">OK</a></div>')
    if kind == "consent":
        return _page(spec, a.lang, wall["title"], box, f)
    title, _, lead, _, _ = article_text(a, spec)
    teaser = lead.split(". ")[0] + "."
    main = f"<article><h1>{html.escape(title)}</h1><p>{html.escape(teaser)}</p>{box}</article>"
    return _page(spec, a.lang, title, main, f)


def render_not_found(world: World, lang: str, rng: random.Random) -> bytes:
    spec = world.langs[lang]
    nf = spec["not_found"]
    main = f'<div class="error-page"><h1>{html.escape(nf["title"])}</h1><p>{html.escape(nf["text"])}</p></div>'
    return _page(spec, lang, nf["title"], main, _furniture(spec, world, lang, rng))


def listed(world: World, lang: str) -> list[Article]:
    """The language's articles still listed (taken-down ones leave the listings), newest first."""
    live = [a for a in world.articles if a.lang == lang and (a.mode is None or a.mode == FLAKY)]
    return sorted(live, key=lambda a: a.published, reverse=True)


def render_listing(world: World, lang: str, section: str | None, rng: random.Random) -> bytes:
    spec = world.langs[lang]
    items = [a for a in listed(world, lang) if section is None or a.section == section][:60]
    lis = "".join(f'<li><a href="{a.path}">{html.escape(article_text(a, spec)[0])}</a></li>' for a in items)
    name = spec["sections"][section] if section else spec["name"]
    return _page(spec, lang, name, f'<h1>{html.escape(name)}</h1><ul class="teasers">{lis}</ul>',
                 _furniture(spec, world, lang, rng))


def render_feed(world: World, lang: str, base: str) -> bytes:
    spec = world.langs[lang]
    items = "".join(
        f"<item><title>{html.escape(article_text(a, spec)[0])}</title><link>{base}{a.path}</link>"
        f"<guid>{base}{a.path}</guid><pubDate>{format_datetime(a.published)}</pubDate></item>"
        for a in listed(world, lang)[:FEED_ITEMS])
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{html.escape(spec["name"])}'
            f"</title><link>{base}/</link>{items}</channel></rss>").encode()


def render_sitemap(world: World, lang: str, base: str) -> bytes:
    urls = "".join(f"<url><loc>{base}{a.path}</loc><lastmod>{a.published.isoformat()}</lastmod></url>"
                   for a in listed(world, lang))
    return (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>").encode()


# --------------------------------------------------------------------------- serving
class ChangingSite:
    """Serves ``world``, one port per language, on 127.0.0.1. Counts every request
    (``requests[lang]``: (path, status)) for the cost figures."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.requests: list[tuple[str, str, int, int]] = []  # (lang, path, status, bytes)
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._by_path = {(a.lang, a.path): a for a in world.articles}
        for lang in dict.fromkeys(a.lang for a in world.articles):
            self._servers[lang] = self._server(lang)
        self.base = {lang: f"http://127.0.0.1:{s.server_address[1]}" for lang, s in self._servers.items()}

    def _server(self, lang: str) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                site._answer(self, lang)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    def __enter__(self) -> ChangingSite:
        for server in self._servers.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def url(self, a: Article) -> str:
        return self.base[a.lang] + a.path

    def sources_yaml(self) -> str:
        lines = ["sources:"]
        for lang, base in self.base.items():
            lines += [f"  - id: changes-{lang}", f"    name: {self.world.langs[lang]['name']}", f"    url: {base}/",
                      f"    language: {lang}", f"    feeds: [{base}/feed.xml]", f"    sitemaps: [{base}/sitemap.xml]",
                      f"    sections: [{', '.join(f'{base}/{s}/' for s in SECTIONS)}]",
                      "    allow_private_network: true"]
        return "\n".join(lines) + "\n"

    def _answer(self, req: BaseHTTPRequestHandler, lang: str) -> None:
        status, headers, body = self.respond(lang, unquote(urlsplit(req.path).path))
        with self._lock:
            self.requests.append((lang, req.path, status, len(body)))
        try:
            req.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def respond(self, lang: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a GET of ``path`` on the ``lang`` site, now."""
        world, base, rng = self.world, self.base[lang], random.Random()
        html_type = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode()
        if path == "/feed.xml":
            return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, render_feed(world, lang, base)
        if path == "/sitemap.xml":
            return 200, {"Content-Type": "application/xml; charset=utf-8"}, render_sitemap(world, lang, base)
        if path == "/":
            return 200, html_type, render_listing(world, lang, None, rng)
        if path.strip("/") in SECTIONS:
            return 200, html_type, render_listing(world, lang, path.strip("/"), rng)
        a = self._by_path.get((lang, path))
        if a is None:
            return 404, html_type, render_not_found(world, lang, rng)
        return self._article(a, base, rng, html_type)

    def _article(self, a: Article, base: str, rng: random.Random,
                 html_type: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        mode, world = a.mode, self.world
        if mode == FLAKY:
            with self._lock:
                first, a.flaky_done = not a.flaky_done, True
            if first:
                return 404, html_type, render_not_found(world, a.lang, rng)
        if mode in ("http_404", "http_410"):
            return (404 if mode == "http_404" else 410), html_type, render_not_found(world, a.lang, rng)
        if mode == "redirect_home":
            return 301, {"Location": f"{base}/", "Content-Type": "text/html"}, b""
        if mode == "redirect_section":
            return 301, {"Location": f"{base}/{a.section}/", "Content-Type": "text/html"}, b""
        if mode == "soft_404":
            return 200, html_type, render_not_found(world, a.lang, rng)
        if mode in ("paywall", "consent"):
            return 200, html_type, render_wall(world, a, mode, rng)
        return 200, html_type, render_article(world, a, base, rng, stub=mode == "stub")
