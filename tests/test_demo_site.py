"""The bundled demo site and its server: every page served over real HTTP on 127.0.0.1, feeds and
sitemaps valid and complete, pages well-formed enough for extraction, HTTP caching semantics."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from demo import build_site
from demo.server import SITE_ROOT, DemoServer, render_sources, serve

ARTICLES: list[dict] = json.loads((SITE_ROOT / "articles.json").read_text(encoding="utf-8"))["articles"]
SEED_FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "seed-article" / "page.html"
NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
    "atom": "http://www.w3.org/2005/Atom",
}


@pytest.fixture(scope="module")
def site() -> Iterator[DemoServer]:
    with serve(SITE_ROOT) as server:
        yield server


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


class _PageParser(HTMLParser):
    """Collects what the tests check and the tag balance of the main structural elements."""

    VOID = {"meta", "link", "img", "br", "hr", "input", "source", "area", "base", "col", "embed", "wbr"}
    TRACKED = {"html", "head", "body", "article", "main", "header", "footer", "nav", "figure",
               "figcaption", "p", "ul", "li", "div", "aside", "section", "script", "h1", "h2"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.canonical: str | None = None
        self.lang: str | None = None
        self.og: dict[str, str] = {}
        self.json_ld: list[str] = []
        self.h1: list[str] = []
        self.figcaptions = 0
        self._in_ld = False
        self._in_h1 = False
        self._ld_buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a.get("href")
        if tag == "meta" and a.get("property", "").startswith("og:"):
            self.og[a["property"]] = a.get("content", "")
        if tag == "script" and a.get("type") == "application/ld+json":
            self._in_ld, self._ld_buf = True, []
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        if tag == "figcaption":
            self.figcaptions += 1
        if tag in self.TRACKED and tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_ld:
            self._in_ld = False
            self.json_ld.append("".join(self._ld_buf))
        if tag == "h1":
            self._in_h1 = False
        if tag not in self.TRACKED:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self._ld_buf.append(data)
        if self._in_h1:
            self.h1[-1] += data


def _parse(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def _charset(content_type: str) -> str:
    m = re.search(r"charset=([\w-]+)", content_type)
    assert m, f"no charset in {content_type!r}"
    return m.group(1)


# --- the articles facts file -------------------------------------------------------------------
def test_articles_json_covers_the_brief() -> None:
    langs = Counter(a["language"] for a in ARTICLES)
    assert len(ARTICLES) >= 11
    for lang in ("de", "en", "fr", "uk", "ru"):
        assert langs[lang] >= 2, f"fewer than two {lang} articles"
    same_story = {a["language"] for a in ARTICLES if a["story"] == "north-korean-troops-in-russia"}
    assert {"de", "en", "fr", "uk", "ru"} <= same_story
    assert sum(a["is_lookalike"] for a in ARTICLES) >= 1
    copies = [a for a in ARTICLES if a["syndicated_copy_of"]]
    assert copies
    paths = {a["path"]: a for a in ARTICLES}
    for c in copies:
        original = paths[c["syndicated_copy_of"]]
        assert original["language"] == c["language"] and original["path"] != c["path"]
    assert len(paths) == len(ARTICLES)
    assert len({a["template"] for a in ARTICLES}) >= 3
    assert any(a["encoding"] == "windows-1251" and a["language"] == "ru" for a in ARTICLES)
    seed = [a for a in ARTICLES if a.get("is_seed")]
    assert [a["path"] for a in seed] == [build_site.SEED_PATH]


def test_generated_site_is_up_to_date() -> None:
    """demo/site is the output of demo/build_site.py; edits must go to demo/content."""
    files: dict[str, bytes] = {}
    build_site.build(files)
    stale = sorted(rel for rel, data in files.items() if (SITE_ROOT / rel).read_bytes() != data)
    assert not stale, f"run `python -m demo.build_site`; stale: {stale}"


def test_written_articles_have_realistic_length() -> None:
    for a in ARTICLES:
        if not a.get("is_seed"):
            assert 300 <= a["body_words"] <= 700, (a["path"], a["body_words"])


def test_seed_page_is_the_fixture_verbatim() -> None:
    served = (SITE_ROOT / build_site.SEED_PATH.strip("/") / "index.html").read_bytes()
    assert f'<link rel="canonical" href="{build_site.SEED_URL}">'.encode() in served
    if SEED_FIXTURE.is_file():  # ../shared exists on the workstations, not in every clone
        assert served == SEED_FIXTURE.read_bytes()


# --- pages over HTTP -------------------------------------------------------------------------
@pytest.mark.parametrize("article", ARTICLES, ids=[a["id"] for a in ARTICLES])
def test_every_article_is_served_and_well_formed(site: DemoServer, article: dict) -> None:
    status, headers, body = fetch(site.url(article["path"]))
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    charset = _charset(headers["content-type"])
    assert charset == article["encoding"]
    html = body.decode(charset)
    assert "{{BASE_URL}}" not in html
    page = _parse(html)
    assert not page.errors, page.errors[:5]
    assert page.stack == [], f"unclosed elements: {page.stack}"
    assert page.lang == article["language"]
    assert page.h1 and page.h1[0].strip() == article["title"]
    assert page.figcaptions >= 1
    assert page.canonical == article["canonical_url"].replace("{{BASE_URL}}", site.base_url)
    assert page.og.get("og:title") == article["title"]
    docs = [json.loads(block) for block in page.json_ld]
    items = [d for doc in docs for d in doc.get("@graph", [doc])]
    news = [d for d in items if d.get("@type") == "NewsArticle"]
    assert len(news) == 1
    ld = news[0]
    assert ld["headline"] == article["title"]
    for key in ("datePublished", "dateModified", "author", "articleSection"):
        assert ld.get(key), f"JSON-LD lacks {key}"
    if not article.get("is_seed"):
        assert ld.get("keywords") and ld.get("inLanguage") == article["language"]


def test_windows_1251_page_declares_its_charset(site: DemoServer) -> None:
    article = next(a for a in ARTICLES if a["encoding"] == "windows-1251")
    status, headers, body = fetch(site.url(article["path"]))
    assert status == 200 and "charset=windows-1251" in headers["content-type"]
    assert b'charset=windows-1251' in body[:1024]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert article["title"] in body.decode("windows-1251")


def test_syndicated_copy_is_near_duplicate_of_its_original() -> None:
    def shingles(path: str, encoding: str) -> set[tuple[str, ...]]:
        html = (SITE_ROOT / path.strip("/") / "index.html").read_bytes().decode(encoding)
        body = " ".join(re.findall(r"<p>(.*?)</p>", html, re.S))
        words = re.findall(r"\w+", body.lower())
        return {tuple(words[i:i + 5]) for i in range(len(words) - 4)}

    by_path = {a["path"]: a for a in ARTICLES}
    for copy in (a for a in ARTICLES if a["syndicated_copy_of"]):
        original = by_path[copy["syndicated_copy_of"]]
        a, b = shingles(copy["path"], copy["encoding"]), shingles(original["path"], original["encoding"])
        jaccard = len(a & b) / len(a | b)
        assert 0.7 <= jaccard < 1.0, jaccard  # a light rewrite: near, not identical
        assert copy["title"] != original["title"]


def test_listing_home_and_missing_pages(site: DemoServer) -> None:
    status, _, body = fetch(site.url("/krieg/"))
    assert status == 200
    html = body.decode("utf-8")
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    linked = {urlsplit(h).path for h in hrefs}
    assert {a["path"] for a in ARTICLES} <= linked
    assert f"{site.base_url}/" in html  # the placeholder was substituted
    assert "/private/entwurf-sperrfrist/" in linked
    assert fetch(site.url("/"))[0] == 200
    assert fetch(site.url("/no/such/page/"))[0] == 404
    assert fetch(site.url("/../../etc/passwd"))[0] == 404


def test_directory_without_slash_redirects(site: DemoServer) -> None:
    req = urllib.request.Request(site.url("/krieg"), method="HEAD")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(req, timeout=10)
    assert err.value.code == 301 and err.value.headers["Location"] == "/krieg/"


# --- feeds, robots, sitemaps -------------------------------------------------------------------
def test_rss_feed_lists_every_article_with_absolute_urls(site: DemoServer) -> None:
    status, headers, body = fetch(site.url("/feed.xml"))
    assert status == 200 and headers["content-type"].startswith("application/rss+xml")
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    links = [item.findtext("link") or "" for item in root.iter("item")]
    assert len(links) == len(ARTICLES)
    paths = set()
    with_utm = 0
    for link in links:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == site.base_url
        paths.add(parts.path)
        qs = parse_qs(parts.query)
        with_utm += any(k.startswith("utm_") for k in qs)
    assert paths == {a["path"] for a in ARTICLES}
    assert 0 < with_utm < len(links)
    for item in root.iter("item"):
        assert item.findtext("pubDate") and item.findtext("title") and item.findtext("guid")


def test_atom_feed_lists_every_article(site: DemoServer) -> None:
    status, headers, body = fetch(site.url("/atom.xml"))
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(body)
    hrefs = [e.find("atom:link", NS).get("href") for e in root.findall("atom:entry", NS)]  # type: ignore[union-attr]
    assert {urlsplit(h).path for h in hrefs} == {a["path"] for a in ARTICLES}
    assert all(h.startswith(site.base_url + "/") for h in hrefs)


def test_robots_disallows_private_and_names_the_sitemap(site: DemoServer) -> None:
    status, headers, body = fetch(site.url("/robots.txt"))
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert "Disallow: /private/" in text
    assert f"Sitemap: {site.base_url}/sitemap.xml" in text
    from urllib.robotparser import RobotFileParser

    rp = RobotFileParser()
    rp.parse(text.splitlines())
    assert not rp.can_fetch("warwatch", site.url("/private/entwurf-sperrfrist/"))
    assert rp.can_fetch("warwatch", site.url(ARTICLES[0]["path"]))


def test_sitemaps_cover_every_article(site: DemoServer) -> None:
    status, _, body = fetch(site.url("/sitemap.xml"))
    assert status == 200
    index = ET.fromstring(body)
    assert index.tag == f"{{{NS['sm']}}}sitemapindex"
    children = [loc.text or "" for loc in index.iter(f"{{{NS['sm']}}}loc")]
    assert any(c.endswith(".gz") for c in children)
    found: set[str] = set()
    news_dates = 0
    for child in children:
        status, headers, data = fetch(child)
        assert status == 200
        if child.endswith(".gz"):
            assert headers["content-type"] in {"application/gzip", "application/x-gzip"}
            assert "content-encoding" not in headers
            data = gzip.decompress(data)
        root = ET.fromstring(data)
        for url in root.findall("sm:url", NS):
            found.add(urlsplit(url.findtext("sm:loc", namespaces=NS) or "").path)
            if url.find("news:news/news:publication_date", NS) is not None:
                news_dates += 1
    assert {a["path"] for a in ARTICLES} <= found
    assert news_dates >= 10


# --- HTTP caching and the request log -----------------------------------------------------------
def test_conditional_get_gives_304(site: DemoServer) -> None:
    status, headers, body = fetch(site.url("/feed.xml"))
    assert status == 200 and body
    etag, last_modified = headers["etag"], headers["last-modified"]
    assert fetch(site.url("/feed.xml"), {"If-None-Match": etag})[0] == 304
    assert fetch(site.url("/feed.xml"), {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(site.url("/feed.xml"), {"If-None-Match": '"something-else"'})[0] == 200
    assert fetch(site.url("/feed.xml"), {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200


def test_request_log_records_paths_in_order() -> None:
    with serve(SITE_ROOT) as server:
        fetch(server.url("/robots.txt"))
        fetch(server.url("/feed.xml?utm_source=x"))
        fetch(server.url("/missing"))
        assert server.requests == ["/robots.txt", "/feed.xml?utm_source=x", "/missing"]
        assert [r.status for r in server.records] == [200, 200, 404]
        assert server.records[1].bare_path == "/feed.xml"
        server.clear_requests()
        assert server.requests == []
        base = server.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/", timeout=2)  # noqa: S310 - stopped server refuses


def test_servers_run_side_by_side_on_free_ports(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<html><a href="{{BASE_URL}}/x">x</a></html>', encoding="utf-8")
    with serve(tmp_path) as a, serve(tmp_path) as b:
        assert a.port != b.port
        _, headers, body = fetch(a.url("/"))
        assert body.decode() == f'<html><a href="{a.base_url}/x">x</a></html>'
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert b.requests == []


def test_render_sources_writes_a_valid_sources_file(tmp_path: Path) -> None:
    dest = render_sources("http://127.0.0.1:9999", tmp_path / "sub" / "sources.yaml")
    text = dest.read_text(encoding="utf-8")
    assert "{{BASE_URL}}" not in text
    doc = yaml.safe_load(text)
    (src,) = doc["sources"]
    assert src["url"] == "http://127.0.0.1:9999/"
    assert src["feeds"] == ["http://127.0.0.1:9999/feed.xml"]
    assert src["allow_private_network"] is True
    allow = re.compile(src["allow"][0])
    for a in ARTICLES:
        assert allow.match("http://127.0.0.1:9999" + a["path"]), a["path"]
        assert allow.match("http://127.0.0.1:9999" + a["path"] + "?utm_source=rss"), a["path"]
    assert not allow.match("http://127.0.0.1:9999/krieg/")
    from indexing.sources import load_sources

    (loaded,) = load_sources(dest)
    assert loaded.id == "weltnachrichten-heute"
