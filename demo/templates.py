"""Page templates of the demo site: four deliberately different "site designs".

A  "Weltnachrichten Heute": a WordPress theme (entry-title, entry-content, wp-block-image),
   the same outlet as the seed page.
B  "The Frontline Dispatch" / "Le Dispatch": a React-style international news site
   (data-component blocks, standfirst, inline promos and a newsletter box inside the body,
   credits in their own span, JSON-LD as an @graph).
C  an Eastern-European news portal ("Новини Фронту" / "Вечерние Новости"): an older layout with a
   currency ticker, `div.news-text`, a `figcaption.photo-sign` with the credit in <em>, and "read also" blocks.
D  a news agency wire page: sparse markup, a dateline, a "syndicated" notice.

Every design has site chrome a careless scraper would pick up (cookie banner, menus, share
buttons, related links, footer), a figure with caption and photo credit, OpenGraph metadata,
a canonical link and a JSON-LD NewsArticle, so extraction is never tuned to one template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

BASE = "{{BASE_URL}}"


@dataclass
class Figure:
    src: str
    alt: str
    caption: str
    credit: str


@dataclass
class Page:
    """One article as the templates need it (parsed from a demo/content/*.txt file)."""

    id: str
    path: str
    language: str
    story: str
    title: str
    description: str
    section: str
    published: datetime
    modified: datetime
    authors: list[str]
    keywords: list[str]
    design: str
    figure: Figure
    blocks: list[tuple[str, str]]  # ("p" | "h2" | "quote", text)
    related: list[tuple[str, str]] = field(default_factory=list)  # (path, title)
    is_lookalike: bool = False
    syndicated_copy_of: str | None = None
    encoding: str = "utf-8"
    site_name: str = ""

    @property
    def url(self) -> str:
        return BASE + self.path


# Words of site chrome per language.
CHROME: dict[str, dict[str, str]] = {
    "de": {"cookies": "Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten.",
           "accept": "Alle akzeptieren", "settings": "Einstellungen", "share": "Teilen:",
           "related": "Das könnte Sie auch interessieren", "home": "Startseite", "photo": "Foto",
           "by": "Von", "rights": "Alle Rechte vorbehalten.", "read_more": "Lesen Sie auch",
           "newsletter": "Der Morgen-Newsletter: jeden Tag um 6 Uhr in Ihrem Postfach.",
           "subscribe": "Jetzt abonnieren", "imprint": "Impressum", "privacy": "Datenschutz"},
    "en": {"cookies": "We use cookies to personalise content and ads and to analyse our traffic.",
           "accept": "Accept all", "settings": "Manage preferences", "share": "Share this article",
           "related": "More on this story", "home": "Home", "photo": "Photo", "by": "By",
           "rights": "All rights reserved.", "read_more": "Read more",
           "newsletter": "Get the Morning Briefing: the day's most important stories, every weekday.",
           "subscribe": "Sign up", "imprint": "About us", "privacy": "Privacy policy"},
    "fr": {"cookies": "Nous utilisons des cookies pour améliorer votre expérience et mesurer l'audience.",
           "accept": "Tout accepter", "settings": "Paramétrer", "share": "Partager l'article",
           "related": "Sur le même sujet", "home": "Accueil", "photo": "Photo", "by": "Par",
           "rights": "Tous droits réservés.", "read_more": "Lire aussi",
           "newsletter": "La lettre du matin : l'essentiel de l'actualité internationale.",
           "subscribe": "S'inscrire", "imprint": "Mentions légales", "privacy": "Confidentialité"},
    "uk": {"cookies": "Ми використовуємо файли cookie, щоб покращити роботу сайту.",
           "accept": "Погоджуюсь", "settings": "Налаштування", "share": "Поділитися:",
           "related": "Читайте також", "home": "Головна", "photo": "Фото", "by": "Автор:",
           "rights": "Усі права захищені.", "read_more": "Читайте також",
           "newsletter": "Підпишіться на наш Telegram-канал, щоб першими дізнаватися новини.",
           "subscribe": "Підписатися", "imprint": "Про нас", "privacy": "Політика конфіденційності"},
    "ru": {"cookies": "Мы используем файлы cookie. Продолжая пользоваться сайтом, вы соглашаетесь с этим.",
           "accept": "Принять", "settings": "Настройки", "share": "Поделиться:",
           "related": "Читайте также", "home": "Главная", "photo": "Фото", "by": "Автор:",
           "rights": "Все права защищены.", "read_more": "Читайте также",
           "newsletter": "Подписывайтесь на нашу рассылку: главное за день в одном письме.",
           "subscribe": "Подписаться", "imprint": "Редакция", "privacy": "Конфиденциальность"},
}

OG_LOCALE = {"de": "de_DE", "en": "en_GB", "fr": "fr_FR", "uk": "uk_UA", "ru": "ru_RU"}

SITE_NAMES: dict[str, str | dict[str, str]] = {
    "A": "Weltnachrichten Heute",
    "B": {"en": "The Frontline Dispatch", "fr": "Le Dispatch"},
    "C": {"uk": "Новини Фронту", "ru": "Вечерние Новости"},
    "D": "Continental Newswire",
}


def site_name(design: str, language: str) -> str:
    name = SITE_NAMES[design]
    return name if isinstance(name, str) else name[language]


def e(text: str) -> str:
    return escape(text, quote=True)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def json_ld(page: Page, style: str) -> str:
    authors: object = [{"@type": "Person", "name": a} for a in page.authors]
    if len(page.authors) == 1:
        authors = authors[0]  # type: ignore[index]
    article = {
        "@type": "NewsArticle",
        "headline": page.title,
        "description": page.description,
        "datePublished": _iso(page.published),
        "dateModified": _iso(page.modified),
        "author": authors,
        "articleSection": page.section,
        "keywords": page.keywords if style != "C" else ", ".join(page.keywords),
        "inLanguage": page.language,
        "image": [BASE + page.figure.src],
        "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
        "publisher": {"@type": "Organization", "name": page.site_name,
                      "logo": {"@type": "ImageObject", "url": BASE + "/static/logo.png"}},
    }
    if page.syndicated_copy_of:
        article["isBasedOn"] = BASE + page.syndicated_copy_of
    if style == "B":
        doc: dict[str, object] = {"@context": "https://schema.org", "@graph": [
            {"@type": "WebSite", "name": page.site_name, "url": BASE + "/"},
            article,
            {"@type": "BreadcrumbList", "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": CHROME[page.language]["home"], "item": BASE + "/"},
                {"@type": "ListItem", "position": 2, "name": page.section},
            ]},
        ]}
    else:
        doc = {"@context": "https://schema.org", **article}
    # ensure_ascii keeps windows-1251 pages encodable whatever the text holds
    text = json.dumps(doc, ensure_ascii=(page.encoding != "utf-8"), indent=None if style == "A" else 1)
    return text.replace("</", "<\\/")


def head(page: Page, style: str, css: str) -> str:
    if page.encoding == "utf-8":
        charset = '<meta charset="utf-8">'
    else:
        charset = f'<meta http-equiv="Content-Type" content="text/html; charset={page.encoding}">'
    tags = "\n".join(f'<meta property="article:tag" content="{e(k)}">' for k in page.keywords)
    return f"""<head>
{charset}
<title>{e(page.title)} | {e(page.site_name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(page.description)}">
<meta name="keywords" content="{e(', '.join(page.keywords))}">
<meta name="author" content="{e(', '.join(page.authors))}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{e(page.site_name)}">
<meta property="og:title" content="{e(page.title)}">
<meta property="og:description" content="{e(page.description)}">
<meta property="og:url" content="{page.url}">
<meta property="og:image" content="{BASE}{e(page.figure.src)}">
<meta property="og:locale" content="{OG_LOCALE[page.language]}">
<meta property="article:published_time" content="{_iso(page.published)}">
<meta property="article:modified_time" content="{_iso(page.modified)}">
<meta property="article:section" content="{e(page.section)}">
{tags}
<meta name="twitter:card" content="summary_large_image">
<link rel="canonical" href="{page.url}">
<link rel="alternate" type="application/rss+xml" title="{e(page.site_name)}" href="{BASE}/feed.xml">
<script type="application/ld+json">{json_ld(page, style)}</script>
<script>window.dataLayer=window.dataLayer||[];window.dataLayer.push({{"pageType":"article","section":{json.dumps(page.section, ensure_ascii=True)}}});</script>
<style>{css}</style>
</head>"""


def _fmt_date(dt: datetime, lang: str) -> str:
    months = {
        "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
               "Oktober", "November", "Dezember"],
        "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
               "octobre", "novembre", "décembre"],
        "uk": ["січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня",
               "вересня", "жовтня", "листопада", "грудня"],
        "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
               "сентября", "октября", "ноября", "декабря"],
    }
    if lang == "en":
        return dt.strftime("%-d %B %Y, %H:%M")
    return f"{dt.day}. {months[lang][dt.month - 1]} {dt.year}, {dt:%H:%M}" if lang == "de" else \
        f"{dt.day} {months[lang][dt.month - 1]} {dt.year}, {dt:%H:%M}"


def _blocks(page: Page, quote_tag: str = "blockquote", promo_after: int | None = None,
            promo: str = "") -> str:
    out: list[str] = []
    for i, (kind, text) in enumerate(page.blocks):
        if kind == "h2":
            out.append(f"<h2>{e(text)}</h2>")
        elif kind == "quote":
            out.append(f"<{quote_tag}>{e(text)}</{quote_tag}>" if quote_tag != "blockquote"
                       else f"<blockquote><p>{e(text)}</p></blockquote>")
        else:
            out.append(f"<p>{e(text)}</p>")
        if promo_after is not None and i == promo_after and promo:
            out.append(promo)
    return "\n".join(out)


def _related_list(page: Page) -> str:
    return "".join(f'<li><a href="{e(p)}">{e(t)}</a></li>' for p, t in page.related)


# --- design A: Weltnachrichten Heute (WordPress) ----------------------------------------------
CSS_A = ".sep{text-align:center}.credit{font-size:80%}.entry-meta{color:#666}"


def render_a(page: Page) -> str:
    c = CHROME[page.language]
    fig = page.figure
    half = max(1, len(page.blocks) // 2)
    first = Page(**{**page.__dict__, "blocks": page.blocks[:half]})
    second = Page(**{**page.__dict__, "blocks": page.blocks[half:]})
    tags = "".join(f'<a rel="tag" href="/tag/{e(k.lower().replace(" ", "-"))}/">{e(k)}</a> ' for k in page.keywords[:3])
    return f"""<!DOCTYPE html>
<html lang="{page.language}">
{head(page, "A", CSS_A)}
<body class="single-post">
<div id="cookie-banner"><p>{c['cookies']}</p><button>{c['accept']}</button><button>{c['settings']}</button></div>
<header class="site-header"><a class="logo" href="/">Weltnachrichten Heute</a>
<nav class="main-nav"><ul><li><a href="/category/welt/">Welt</a></li><li><a href="/krieg/">Krieg in der Ukraine</a></li><li><a href="/category/wirtschaft/">Wirtschaft</a></li><li><a href="/category/sport/">Sport</a></li></ul></nav>
<form class="search" action="/"><input name="s" placeholder="Suchen …"></form></header>
<main>
<article class="post">
<div class="breadcrumb"><a href="/">{c['home']}</a> » <a href="/krieg/">{e(page.section)}</a></div>
<h1 class="entry-title">{e(page.title)}</h1>
<div class="entry-meta">{c['by']} <span class="author">{e(', '.join(page.authors))}</span> · <time class="entry-date" datetime="{_iso(page.published)}">{_fmt_date(page.published, page.language)}</time></div>
<div class="entry-content">
{_blocks(first)}
<div class="sep">&gt;&gt;&gt;&gt;</div>
<figure class="wp-block-image"><button class="fullscreen" aria-label="Im Vollbildmodus öffnen">Im Vollbildmodus öffnen</button><img src="{e(fig.src)}" alt="{e(fig.alt)}" width="1200" height="800"><figcaption>{e(fig.caption)} <span class="credit">{c['photo']}: {e(fig.credit)}</span></figcaption></figure>
{_blocks(second)}
</div>
<div class="entry-tags">{tags}</div>
<div class="share"><span>{c['share']}</span><a href="#">Facebook</a><a href="#">X</a><a href="#">WhatsApp</a><a href="#">E-Mail</a></div>
</article>
<aside class="related"><h3>{c['related']}</h3><ul>{_related_list(page)}</ul></aside>
</main>
<footer class="site-footer"><p>© 2024 Weltnachrichten Heute. {c['rights']}</p><a href="/impressum/">{c['imprint']}</a> <a href="/datenschutz/">{c['privacy']}</a></footer>
</body>
</html>
"""


# --- design B: The Frontline Dispatch (React-style) --------------------------------------------
CSS_B = ("body{font-family:Georgia,serif}.standfirst{font-size:1.2em}.caption-credit{color:#888}"
         ".inline-promo,.newsletter-box{border:1px solid #ddd;padding:8px}")


def render_b(page: Page) -> str:
    c = CHROME[page.language]
    fig = page.figure
    promo_link = page.related[0] if page.related else ("/", page.site_name)
    promo = (f'<aside class="inline-promo" data-component="related-inline"><strong>{c["read_more"]}:</strong> '
             f'<a href="{e(promo_link[0])}">{e(promo_link[1])}</a></aside>')
    newsletter = (f'<div class="newsletter-box" data-component="newsletter"><p>{c["newsletter"]}</p>'
                  f'<form><input type="email" placeholder="you@example.org"><button>{c["subscribe"]}</button></form></div>')
    body_blocks = _blocks(page, promo_after=1, promo=promo)
    byline = ", ".join(f'<a rel="author" href="/authors/{e(a.lower().replace(" ", "-"))}/">{e(a)}</a>'
                       for a in page.authors)
    edition = "/fr/" if page.language == "fr" else "/"
    return f"""<!DOCTYPE html>
<html lang="{page.language}" dir="ltr">
{head(page, "B", CSS_B)}
<body>
<div id="__next">
<div class="consent-overlay" role="dialog" aria-label="cookies"><p>{c['cookies']}</p><button data-action="accept">{c['accept']}</button> <button data-action="manage">{c['settings']}</button></div>
<header data-component="masthead"><a href="{edition}" class="brand">{e(page.site_name)}</a>
<nav aria-label="sections"><a href="{edition}world/">World</a> <a href="{edition}ukraine/">Ukraine</a> <a href="{edition}europe/">Europe</a> <a href="{edition}analysis/">Analysis</a> <a href="{edition}live/">Live</a></nav>
<a class="subscribe-cta" href="/subscribe/">{c['subscribe']}</a></header>
<main id="main-content">
<article data-component="article">
<header data-component="article-header">
<a class="kicker" href="{edition}ukraine/">{e(page.section)}</a>
<h1 data-testid="headline">{e(page.title)}</h1>
<p class="standfirst">{e(page.description)}</p>
<div class="byline"><address>{c['by']} {byline}</address> <time datetime="{_iso(page.published)}">{_fmt_date(page.published, page.language)}</time></div>
</header>
<figure data-component="lead-image"><picture><source srcset="{e(fig.src)}?w=1600 1600w" type="image/jpeg"><img src="{e(fig.src)}" alt="{e(fig.alt)}" loading="eager"></picture>
<figcaption><span class="caption-text">{e(fig.caption)}</span> <span class="caption-credit">{c['photo']}: {e(fig.credit)}</span></figcaption></figure>
<div class="share-tools" data-component="share"><span>{c['share']}</span><button>Facebook</button><button>X</button><button>LinkedIn</button><button>Copy link</button></div>
<div class="article-body" itemprop="articleBody">
{body_blocks}
{newsletter}
</div>
<ul class="topic-tags">{''.join(f'<li><a href="/topics/{e(k.lower().replace(" ", "-"))}/">{e(k)}</a></li>' for k in page.keywords)}</ul>
</article>
<section data-component="related"><h2>{c['related']}</h2><ul>{_related_list(page)}</ul></section>
</main>
<footer data-component="footer"><nav><a href="/about/">{c['imprint']}</a> · <a href="/privacy/">{c['privacy']}</a> · <a href="/contact/">Contact</a></nav><p>© 2024 {e(page.site_name)}. {c['rights']}</p></footer>
</div>
</body>
</html>
"""


# --- design C: Eastern-European portal ---------------------------------------------------------
CSS_C = "#topline{background:#222;color:#eee}.photo-sign{font-style:italic}.read-also{background:#f3f3f3}"


def render_c(page: Page) -> str:
    c = CHROME[page.language]
    fig = page.figure
    if page.language == "uk":
        menu = ["Війна", "Політика", "Економіка", "Світ", "Суспільство"]
        ticker = "USD 41,25 · EUR 44,80 · Київ +4°C"
    else:
        menu = ["Война", "Политика", "Экономика", "В мире", "Общество"]
        ticker = "USD 98,40 · EUR 106,10 · Москва +2°C"
    menu_html = "".join(f'<li><a href="/news/{i}/">{e(m)}</a></li>' for i, m in enumerate(menu, 1))
    also = page.related[0] if page.related else None
    also_html = (f'<div class="read-also"><b>{c["read_more"]}:</b> <a href="{e(also[0])}">{e(also[1])}</a></div>'
                 if also else "")
    third = max(1, len(page.blocks) // 3)
    first = Page(**{**page.__dict__, "blocks": page.blocks[:third]})
    rest = Page(**{**page.__dict__, "blocks": page.blocks[third:]})
    return f"""<!DOCTYPE html>
<html lang="{page.language}">
{head(page, "C", CSS_C)}
<body>
<div id="topline"><span class="today">{_fmt_date(page.published, page.language)}</span> <span class="rates">{ticker}</span></div>
<div class="cookie-note" id="cookie-note">{c['cookies']} <a href="#" class="btn-ok">{c['accept']}</a></div>
<div class="layout">
<div class="logo"><a href="/"><img src="/static/logo.png" alt="{e(page.site_name)}">{e(page.site_name)}</a></div>
<ul class="menu">{menu_html}</ul>
<div class="content-col">
<div class="path"><a href="/">{c['home']}</a> / <span>{e(page.section)}</span></div>
<h1 class="news-title">{e(page.title)}</h1>
<div class="news-date">{_fmt_date(page.published, page.language)} | {c['by']} {e(', '.join(page.authors))} | <span class="views">{"Переглядів" if page.language == "uk" else "Просмотров"}: 12 408</span></div>
<figure class="photo"><img src="{e(fig.src)}" alt="{e(fig.alt)}" width="800"><figcaption class="photo-sign">{e(fig.caption)} <em>{c['photo']}: {e(fig.credit)}</em></figcaption></figure>
<div class="news-text">
{_blocks(first)}
{also_html}
{_blocks(rest)}
</div>
<div class="news-tags">{' '.join(f'<a href="/tags/{i}/">#{e(k)}</a>' for i, k in enumerate(page.keywords, 1))}</div>
<div class="social"><span>{c['share']}</span> <a href="#">Telegram</a> <a href="#">Facebook</a> <a href="#">Viber</a></div>
<div class="comments-count">Коментарі (0)</div>
<div class="related-news"><div class="block-title">{c['related']}</div><ul>{_related_list(page)}</ul></div>
</div>
<div class="sidebar"><div class="block-title">{'Головне' if page.language == 'uk' else 'Главное'}</div><ul>{_related_list(page)}</ul><div class="banner">Реклама</div></div>
</div>
<div class="footer">© 2024 {e(page.site_name)}. {c['rights']} <a href="/about/">{c['imprint']}</a> <a href="/privacy/">{c['privacy']}</a> <span class="counter">18+</span></div>
</body>
</html>
""".replace("Коментарі (0)", "Коментарі (0)" if page.language == "uk" else "Комментарии (0)")


# --- design D: news agency wire --------------------------------------------------------------
CSS_D = "body{font-family:Arial,sans-serif;max-width:760px}.dateline{font-weight:bold}"


def render_d(page: Page) -> str:
    c = CHROME[page.language]
    fig = page.figure
    return f"""<!DOCTYPE html>
<html lang="{page.language}">
{head(page, "D", CSS_D)}
<body>
<div id="gdpr">{c['cookies']} <button>OK</button></div>
<div class="wire-header"><a href="/wire/">Continental Newswire</a> | <a href="/wire/europe/">Europe</a> | <a href="/wire/world/">World</a> | <a href="/wire/markets/">Markets</a></div>
<div class="wire-story">
<h1>{e(page.title)}</h1>
<p class="wire-meta">{e(page.section)} · {_fmt_date(page.published, page.language)} GMT · {c['by']} {e(', '.join(page.authors))}</p>
<div class="wire-image"><img src="{e(fig.src)}" alt="{e(fig.alt)}"><figure><figcaption>{e(fig.caption)} ({c['photo']}: {e(fig.credit)})</figcaption></figure></div>
<div class="story-body">
{_blocks(page)}
</div>
<p class="wire-notice">Syndicated content. Distributed by Continental Newswire to subscribing outlets.</p>
<div class="wire-share">{c['share']}: <a href="#">X</a> <a href="#">LinkedIn</a> <a href="#">Email</a></div>
<div class="wire-related"><b>{c['related']}</b><ul>{_related_list(page)}</ul></div>
</div>
<div class="wire-footer">© 2024 Continental Newswire. {c['rights']} <a href="/wire/terms/">Terms</a></div>
</body>
</html>
"""


RENDERERS = {"A": render_a, "B": render_b, "C": render_c, "D": render_d}
