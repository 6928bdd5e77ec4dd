"""Regenerate the static demo site under demo/site/ from demo/content/*.txt.

    python -m demo.build_site          # rewrite demo/site (the output is committed)
    python -m demo.build_site --check  # exit 1 if demo/site differs from what would be written

Each content file is YAML front matter between `---` lines, then the body: paragraphs separated
by blank lines, `## ` for a subheading, `> ` for a quotation. The seed article is copied verbatim
from ../shared/fixtures/seed-article (or the committed copy when that is not present).

Written: one index.html per article (design A-D, see demo/templates.py), feed.xml (RSS 2.0,
utm_* parameters on some links), atom.xml, robots.txt, sitemap.xml (a sitemap index) with
news-sitemap.xml (Google News) and sitemap-archive.xml.gz, the home page, the section page
/krieg/, a robots-disallowed /private/ page, and articles.json (the facts tests rely on).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import re
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import yaml

from demo.templates import BASE, RENDERERS, Figure, Page, site_name

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent
CONTENT_DIR = DEMO_DIR / "content"
SITE_DIR = DEMO_DIR / "site"
SEED_FIXTURE = DEMO_DIR.parent.parent / "shared" / "fixtures" / "seed-article"
SEED_PATH = "/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
SEED_URL = "https://weltnachrichten-heute.example" + SEED_PATH
UTM = "utm_source=rss&utm_medium=feed&utm_campaign=ukraine-war"
PRIVATE_PATH = "/private/entwurf-sperrfrist/"
WORDS = re.compile(r"\w+")


class ContentError(ValueError):
    """A content file is malformed (the message names the file)."""


def parse_content(path: Path) -> tuple[Page, dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not m:
        raise ContentError(f"{path}: no front matter")
    meta: dict[str, Any] = yaml.safe_load(m.group(1))
    blocks: list[tuple[str, str]] = []
    for raw in re.split(r"\n\s*\n", m.group(2).strip()):
        chunk = " ".join(line.strip() for line in raw.strip().splitlines())
        if chunk.startswith("## "):
            blocks.append(("h2", chunk[3:].strip()))
        elif chunk.startswith("> "):
            blocks.append(("quote", chunk[2:].strip()))
        elif chunk:
            blocks.append(("p", chunk))
    try:
        fig = meta["figure"]
        page = Page(
            id=meta["id"], path=meta["path"], language=meta["language"], story=meta["story"],
            title=meta["title"], description=meta["description"], section=meta["section"],
            published=_dt(meta["published"]), modified=_dt(meta.get("modified", meta["published"])),
            authors=list(meta["authors"]), keywords=list(meta["keywords"]), design=meta["design"],
            figure=Figure(src=fig["src"], alt=fig["alt"], caption=fig["caption"], credit=fig["credit"]),
            blocks=blocks, is_lookalike=bool(meta.get("lookalike", False)),
            syndicated_copy_of=meta.get("syndicated_copy_of"), encoding=meta.get("encoding", "utf-8"),
        )
    except KeyError as exc:
        raise ContentError(f"{path}: missing key {exc}") from exc
    page.site_name = site_name(page.design, page.language)
    return page, meta


def _dt(value: Any) -> datetime:
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        raise ContentError(f"timestamp without timezone: {value}")
    return dt


def body_words(page: Page) -> int:
    return sum(len(WORDS.findall(text)) for _, text in page.blocks)


def _seed_html() -> bytes:
    src = SEED_FIXTURE / "page.html"
    if src.is_file():
        return src.read_bytes()
    return (SITE_DIR / SEED_PATH.strip("/") / "index.html").read_bytes()


def _seed_entry() -> dict[str, Any]:
    meta_file = SEED_FIXTURE / "expected.json"
    if meta_file.is_file():
        exp = json.loads(meta_file.read_text(encoding="utf-8"))
    else:  # a checkout without ../shared: take the facts from the committed articles.json
        entries = json.loads((SITE_DIR / "articles.json").read_text(encoding="utf-8"))["articles"]
        exp = next(a for a in entries if a["path"] == SEED_PATH)
        exp = {"title": exp["title"], "published": exp["published"], "section": exp["section"],
               "url": exp["canonical_url"], "language": "de"}
    return {
        "id": "de-seed-nato-nordkorea", "path": SEED_PATH, "language": exp.get("language", "de"),
        "story": "north-korean-troops-in-russia", "title": exp["title"],
        "published": datetime.fromisoformat(exp["published"]).astimezone(UTC).isoformat(),
        "section": exp["section"], "canonical_url": exp["url"], "site_name": "Weltnachrichten Heute",
        "template": "seed", "encoding": "utf-8", "is_lookalike": False, "syndicated_copy_of": None,
        "description": "NATO-Generalsekretär Mark Rutte bestätigt die Entsendung nordkoreanischer Einheiten in die Region Kursk.",
        "keywords": ["Nordkorea", "NATO", "Russland", "Kursk"], "feed_utm": True, "is_seed": True,
        "authors": ["Redaktion"],
    }


def build(out: dict[str, bytes]) -> list[dict[str, Any]]:
    """Render every file of the site into `out` (relative path -> bytes); returns articles.json entries."""
    pages: list[tuple[Page, dict[str, Any]]] = [parse_content(p) for p in sorted(CONTENT_DIR.glob("*.txt"))]
    titles = {p.path: p.title for p, _ in pages}
    titles[SEED_PATH] = _seed_entry()["title"]
    ids = [p.id for p, _ in pages]
    if len(set(ids)) != len(ids):
        raise ContentError("duplicate article ids")

    entries: list[dict[str, Any]] = [_seed_entry()]
    out[SEED_PATH.strip("/") + "/index.html"] = _seed_html()
    for page, meta in pages:
        page.related = [(p, titles[p]) for p in meta.get("related", []) if p in titles]
        missing = [p for p in meta.get("related", []) if p not in titles]
        if missing:
            raise ContentError(f"{page.id}: related paths not in the site: {missing}")
        html = RENDERERS[page.design](page)
        out[page.path.strip("/") + "/index.html"] = html.encode(page.encoding)
        entries.append({
            "id": page.id, "path": page.path, "language": page.language, "story": page.story,
            "title": page.title, "published": page.published.astimezone(UTC).isoformat(),
            "section": page.section, "canonical_url": page.url, "site_name": page.site_name,
            "template": page.design, "encoding": page.encoding, "is_lookalike": page.is_lookalike,
            "syndicated_copy_of": page.syndicated_copy_of, "description": page.description,
            "keywords": page.keywords, "feed_utm": bool(meta.get("utm", False)), "is_seed": False,
            "authors": page.authors, "body_words": body_words(page),
        })
    entries.sort(key=lambda a: a["published"], reverse=True)

    out["feed.xml"] = rss(entries).encode("utf-8")
    out["atom.xml"] = atom(entries).encode("utf-8")
    out["robots.txt"] = robots().encode("ascii")
    out["sitemap.xml"] = sitemap_index().encode("utf-8")
    recent = [a for a in entries if a["published"] >= "2024-10-01"]
    older = [a for a in entries if a["published"] < "2024-10-01"]
    out["news-sitemap.xml"] = news_sitemap(recent).encode("utf-8")
    out["sitemap-archive.xml.gz"] = _gzip(urlset(older + [{"path": "/krieg/", "published": None}]))
    out["index.html"] = home(entries).encode("utf-8")
    out["krieg/index.html"] = section_page(entries).encode("utf-8")
    out[PRIVATE_PATH.strip("/") + "/index.html"] = private_page().encode("utf-8")
    public = [{k: v for k, v in a.items() if k != "description"} for a in entries]
    out["articles.json"] = (json.dumps({
        "note": "Facts about the demo site's articles; generated by demo/build_site.py.",
        "feed": "/feed.xml", "atom": "/atom.xml", "sitemap": "/sitemap.xml", "section": "/krieg/",
        "disallowed": [PRIVATE_PATH], "seed_path": SEED_PATH, "articles": public,
    }, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return entries


def _gzip(text: str) -> bytes:
    buf = io.BytesIO()
    # mtime=0 keeps the file byte-identical across rebuilds
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def _link(a: dict[str, Any], utm: bool) -> str:
    return BASE + a["path"] + ("?" + UTM if utm and a["feed_utm"] else "")


def rss(entries: list[dict[str, Any]]) -> str:
    items = []
    for a in entries:
        pub = datetime.fromisoformat(a["published"])
        cats = "".join(f"<category>{escape(k)}</category>" for k in a["keywords"][:3])
        items.append(f"""  <item>
   <title>{escape(a['title'])}</title>
   <link>{escape(_link(a, True))}</link>
   <guid isPermaLink="false">demo-{a['id']}</guid>
   <pubDate>{format_datetime(pub)}</pubDate>
   <dc:creator>{escape(', '.join(a['authors']))}</dc:creator>
   <dc:language>{a['language']}</dc:language>
   {cats}
   <description>{escape(a['description'])}</description>
  </item>""")
    last = format_datetime(datetime.fromisoformat(entries[0]["published"]))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel>
  <title>Weltnachrichten Heute – Krieg in der Ukraine</title>
  <link>{BASE}/krieg/</link>
  <atom:link href="{BASE}/feed.xml" rel="self" type="application/rss+xml"/>
  <description>Berichte, Agenturmeldungen und internationale Presseschau zum Krieg in der Ukraine</description>
  <language>de</language>
  <lastBuildDate>{last}</lastBuildDate>
  <ttl>15</ttl>
{chr(10).join(items)}
 </channel>
</rss>
"""


def atom(entries: list[dict[str, Any]]) -> str:
    items = []
    for a in entries:
        items.append(f"""  <entry>
   <title>{escape(a['title'])}</title>
   <link rel="alternate" type="text/html" hreflang="{a['language']}" href="{escape(_link(a, False))}"/>
   <id>tag:demo.warwatch,2024:{a['id']}</id>
   <published>{a['published']}</published>
   <updated>{a['published']}</updated>
   <author><name>{escape(', '.join(a['authors']))}</name></author>
   <summary>{escape(a['description'])}</summary>
  </entry>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
 <title>Weltnachrichten Heute – Krieg in der Ukraine</title>
 <link rel="self" href="{BASE}/atom.xml"/>
 <link rel="alternate" type="text/html" href="{BASE}/krieg/"/>
 <id>tag:demo.warwatch,2024:feed</id>
 <updated>{entries[0]['published']}</updated>
{chr(10).join(items)}
</feed>
"""


def robots() -> str:
    return f"""# robots.txt for the warwatch demo site
User-agent: *
Disallow: /private/
Disallow: /*?s=
Allow: /

User-agent: BadBot
Disallow: /

Sitemap: {BASE}/sitemap.xml
"""


def sitemap_index() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
 <sitemap><loc>{BASE}/news-sitemap.xml</loc><lastmod>2024-11-28T12:00:00+00:00</lastmod></sitemap>
 <sitemap><loc>{BASE}/sitemap-archive.xml.gz</loc><lastmod>2024-09-01T00:00:00+00:00</lastmod></sitemap>
</sitemapindex>
"""


def news_sitemap(entries: list[dict[str, Any]]) -> str:
    urls = []
    for a in entries:
        urls.append(f""" <url>
  <loc>{BASE}{a['path']}</loc>
  <news:news>
   <news:publication><news:name>{escape(a['site_name'])}</news:name><news:language>{a['language']}</news:language></news:publication>
   <news:publication_date>{a['published']}</news:publication_date>
   <news:title>{escape(a['title'])}</news:title>
  </news:news>
 </url>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{chr(10).join(urls)}
</urlset>
"""


def urlset(entries: list[dict[str, Any]]) -> str:
    urls = []
    for a in entries:
        lastmod = f"<lastmod>{a['published']}</lastmod>" if a.get("published") else ""
        urls.append(f" <url><loc>{BASE}{a['path']}</loc>{lastmod}</url>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{chr(10).join(urls)}
</urlset>
"""


def _page_shell(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="alternate" type="application/rss+xml" title="RSS" href="{BASE}/feed.xml">
<link rel="alternate" type="application/atom+xml" title="Atom" href="{BASE}/atom.xml">
</head>
<body>
<div id="cookie-banner"><p>Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten.</p><button>Alle akzeptieren</button></div>
<header class="site-header"><a class="logo" href="/">Weltnachrichten Heute</a>
<nav class="main-nav"><ul><li><a href="/category/welt/">Welt</a></li><li><a href="/krieg/">Krieg in der Ukraine</a></li><li><a href="/wire/">Agenturen</a></li></ul></nav></header>
{body}
<footer class="site-footer"><p>© 2024 Weltnachrichten Heute.</p><a href="/impressum/">Impressum</a></footer>
</body>
</html>
"""


def _teaser(a: dict[str, Any], absolute: bool) -> str:
    href = (BASE + a["path"]) if absolute else a["path"]
    return (f'<li class="teaser" lang="{a["language"]}"><a href="{href}">{escape(a["title"])}</a> '
            f'<time datetime="{a["published"]}">{a["published"][:10]}</time>'
            f'<p>{escape(a["description"])}</p></li>')


def home(entries: list[dict[str, Any]]) -> str:
    body = ('<main><h1>Weltnachrichten Heute</h1><section><h2><a href="/krieg/">Krieg in der Ukraine</a></h2><ul>'
            + "".join(_teaser(a, False) for a in entries[:5]) + "</ul></section></main>")
    return _page_shell("Weltnachrichten Heute – Nachrichten aus aller Welt", body)


def section_page(entries: list[dict[str, Any]]) -> str:
    # Half the links absolute (with the placeholder), half relative: both occur on real listings.
    teasers = "".join(_teaser(a, i % 2 == 0) for i, a in enumerate(entries))
    body = (f'<main class="archive"><h1>Krieg in der Ukraine</h1>'
            f'<p class="intro">Alle Berichte und internationale Presseschau.</p><ul class="teasers">{teasers}</ul>'
            f'<p class="embargo"><a href="{PRIVATE_PATH}">Entwurf (Sperrfrist, intern)</a></p>'
            f'<nav class="pagination"><a href="/krieg/?page=2" rel="next">Ältere Beiträge</a></nav></main>')
    return _page_shell("Krieg in der Ukraine – Weltnachrichten Heute", body)


def private_page() -> str:
    body = ('<main><h1>INTERN: Entwurf unter Sperrfrist</h1><p>Dieser Entwurf ist nicht zur Veröffentlichung '
            'bestimmt. Crawler, die robots.txt beachten, rufen diese Seite nie ab.</p></main>')
    return _page_shell("Entwurf – nicht veröffentlichen", body).replace(
        "<head>", '<head>\n<meta name="robots" content="noindex, nofollow">', 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.build_site")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when demo/site is stale")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files: dict[str, bytes] = {}
    entries = build(files)
    stale = [rel for rel, data in files.items()
             if not (SITE_DIR / rel).is_file() or (SITE_DIR / rel).read_bytes() != data]
    if args.check:
        for rel in stale:
            print(f"stale: demo/site/{rel}")
        return 1 if stale else 0
    for rel in stale:
        target = SITE_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])
    short = [a for a in entries if not a["is_seed"] and not 300 <= a["body_words"] <= 700]
    for a in short:
        print(f"warning: {a['path']} has {a['body_words']} body words (want 300-700)", file=sys.stderr)
    print(f"{len(entries)} articles, {len(files)} files, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
