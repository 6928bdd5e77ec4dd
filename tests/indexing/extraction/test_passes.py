"""Speed without a change of output: the trafilatura passes run on one parse of the page and
with fewer copies of it, the mojibake test searched where it can match — each held to the slow
original it replaces, on saved real pages (tests/fixtures/quality)."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import trafilatura
from ftfy.badness import is_bad
from lxml import etree

from indexing.extraction import article, extract
from indexing.extraction.chunks import TextIndex, article_region
from indexing.extraction.cleaning import insert_block_boundaries
from indexing.extraction.decoding import looks_bad
from indexing.extraction.passes import (
    FastPrecision,
    compared_pass,
    fast_precision,
    lines,
    options_for,
    run_pass,
)

QUALITY = Path(__file__).resolve().parents[2] / "fixtures" / "quality"


def _pages(limit: int) -> list[tuple[str, str | None, str]]:
    """(id, url, html) of the first ``limit`` article pages and as many snippet pages."""
    truth = json.loads((QUALITY / "articles" / "ground-truth.json").read_text(encoding="utf-8"))
    snippets = json.loads((QUALITY / "snippets" / "snippets.json").read_text(encoding="utf-8"))
    out = []
    for kind, items, url_key in (("articles", truth, "url"), ("snippets", snippets, "url")):
        for key in sorted(items)[:limit]:
            raw = gzip.decompress((QUALITY / kind / "html" / f"{key}.html.gz").read_bytes())
            out.append((key, items[key].get(url_key) or None, raw.decode("utf-8", errors="replace")))
    return out


PAGES = _pages(12)


def _tree(html: str, url: str | None) -> Any:
    """The page as extract() hands it to trafilatura: parsed once, block boundaries marked."""
    parsed = article._page_tree(html, url)
    assert not isinstance(parsed, article.Article)
    tree = parsed[1]
    insert_block_boundaries(tree)
    return tree


# what extract() asks of trafilatura (body.py before the lean passes)
PUBLIC_OPTIONS = {"include_comments": False, "include_tables": True, "include_images": False}


def _public(tree: Any, url: str | None, **kwargs: Any) -> list[str]:
    options = {**PUBLIC_OPTIONS, "include_links": False, "deduplicate": False, **kwargs}
    return lines(trafilatura.extract(copy.copy(tree), url=url, **options))


@pytest.mark.parametrize(("page_id", "url", "html"), PAGES, ids=[p[0][:16] for p in PAGES])
def test_fast_precision_pass_is_trafilaturas_own(page_id: str, url: str | None, html: str) -> None:
    """The lean precision pass (trafilatura's steps on one copy) reads what trafilatura.extract
    reads, and leaves the page's tree as it was."""
    tree = _tree(html, url)
    before = etree.tostring(tree)
    ours = run_pass(tree, url, precision=True, fast=True)
    assert etree.tostring(tree) == before
    assert ours == _public(tree, url, favor_precision=True, fast=True)


def test_compared_pass_is_trafilaturas_full_precision_pass() -> None:
    """The full precision pass on the fast pass's extraction reads what trafilatura.extract in
    precision mode (its own extraction, then the comparison with readability and jusText)
    reads, on every fixture page, and leaves the page's tree as it was: pages where the fast
    pass's extraction is reused (thin ones among them) and pages where its wild-text recovery
    ran, which a full pass runs differently (then the full pass runs as it is)."""
    reused = recovered = thin = 0
    for page_id, url, html in PAGES:
        tree = _tree(html, url)
        first = fast_precision(tree, url)
        assert first.lines == run_pass(tree, url, precision=True, fast=True), page_id
        before = etree.tostring(tree)
        ours = compared_pass(tree, url, first)
        assert etree.tostring(tree) == before, page_id
        assert ours == _public(tree, url, favor_precision=True), page_id
        reused += first.found is not None
        recovered += first.found is None
        thin += first.found is not None and sum(len(x.split()) for x in first.lines) < 120
    assert reused >= 10 and recovered >= 1 and thin >= 1, (reused, recovered, thin)


def test_compared_pass_without_the_fast_pass_s_extraction_is_the_public_call() -> None:
    _, url, html = PAGES[0]
    tree = _tree(html, url)
    assert compared_pass(tree, url, FastPrecision([])) == _public(tree, url, favor_precision=True)


def test_noted_options_are_trafilaturas() -> None:
    """The options that note a read of ``fast`` copy and compare like trafilatura's own."""
    options = options_for("https://example.org/a", fast=True, precision=True)
    copied = copy.copy(options)
    assert copied.fast is True and copied.focus == "precision" and copied.url == "https://example.org/a"
    copied.fast_read = False
    copied.fast = False
    assert copied.fast is False and copied.fast_read is True and options.fast is True


def test_precision_pass_follows_trafilaturas_cleaning_list() -> None:
    """A user who takes tags out of trafilatura's MANUALLY_CLEANED (public) gets them kept by
    the lean pass too, as by trafilatura.extract."""
    from trafilatura.settings import MANUALLY_CLEANED

    saved = list(MANUALLY_CLEANED)
    try:
        for tag in ("head", "script", "style"):
            MANUALLY_CLEANED.remove(tag)
        for page_id, url, html in PAGES[:4]:
            tree = _tree(html, url)
            assert run_pass(tree, url, precision=True, fast=True) == _public(tree, url, favor_precision=True, fast=True), page_id
    finally:
        MANUALLY_CLEANED[:] = saved


def test_precision_pass_finds_text() -> None:
    """Not two empty results agreeing: the pass reads an article on nearly every fixture page
    (a few, such as a slideshow, leave it to the fallback pass)."""
    found = [bool(run_pass(_tree(html, url), url, precision=True, fast=True)) for _, url, html in PAGES]
    assert sum(found) >= 0.8 * len(found), found


def test_owned_region_pass_is_trafilaturas_own() -> None:
    """The gap-filling pass over the article region, handed over without a copy, reads what
    trafilatura.extract reads on a copy of the same region page (on the first six fixture pages
    that have a region: a page whose first and last paragraph are not both found has none)."""
    checked = 0
    for page_id, url, html in PAGES:
        tree = _tree(html, url)
        base = run_pass(tree, url, precision=True, fast=True)
        region = article_region(TextIndex(tree), base)
        if region is None:
            continue
        expected = _public(region, url, fast=True)
        assert expected, page_id
        assert run_pass(region, url, fast=True, owned=True) == expected, page_id
        checked += 1
        if checked == 6:
            break
    assert checked == 6, f"only {checked} fixture pages have an article region"


def _parse_counter(monkeypatch: pytest.MonkeyPatch, page: str) -> list[int]:
    """Every parse of markup at least half the page's size (the page itself, not a JSON-LD
    fragment), whichever lxml or trafilatura entry point does it (an entry point calling
    another counts once)."""
    sizes: list[int] = []
    depth = [0]

    def counting(fn: Any) -> Any:
        def wrapper(text: Any, *args: Any, **kwargs: Any) -> Any:
            if not depth[0] and isinstance(text, str | bytes) and len(text) >= len(page) // 2:
                sizes.append(len(text))
            depth[0] += 1
            try:
                return fn(text, *args, **kwargs)
            finally:
                depth[0] -= 1

        return wrapper

    for module, name in (
        (lxml.html, "document_fromstring"),
        (lxml.html, "fromstring"),
        (lxml.html, "fragment_fromstring"),
        (etree, "fromstring"),
        (etree, "HTML"),
    ):
        monkeypatch.setattr(module, name, counting(getattr(module, name)))
    import trafilatura.core
    import trafilatura.utils

    monkeypatch.setattr(trafilatura.utils, "fromstring", counting(trafilatura.utils.fromstring))
    monkeypatch.setattr(trafilatura.utils, "fromstring_bytes", counting(trafilatura.utils.fromstring_bytes))
    monkeypatch.setattr(trafilatura.core, "load_html", counting(trafilatura.core.load_html))
    return sizes


def _page_copies(monkeypatch: pytest.MonkeyPatch, elements: int) -> list[int]:
    """Every copy of the whole page: a tree of 80% of its elements or more (a copy of a pruned
    or cleaned tree, or of a region, is smaller). lxml's deep copy goes through ``__copy__``."""
    sizes: list[int] = []
    cls = lxml.html.HtmlElement
    original = cls.__copy__

    def counting(self: Any) -> Any:
        size = sum(1 for _ in self.iter())
        if size >= 0.8 * elements:
            sizes.append(size)
        return original(self)

    monkeypatch.setattr(cls, "__copy__", counting, raising=False)
    return sizes


def _article_page() -> tuple[str, str | None, str]:
    """A fixture page whose precision pass finds a long article (no fallback pass runs)."""
    for page in PAGES:
        tree = _tree(page[2], page[1])
        if sum(len(x.split()) for x in run_pass(tree, page[1], precision=True, fast=True)) > 400:
            return page
    raise AssertionError("no long article among the fixture pages")


def test_page_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    page_id, url, html = _article_page()
    sizes = _parse_counter(monkeypatch, html)
    result = extract(html, url=url)
    assert result.status == "ok" and result.word_count > 400, page_id
    assert len(sizes) == 1, sizes


def test_parse_counter_sees_a_second_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter above is not blind: the page handed to trafilatura as markup is counted."""
    _, url, html = _article_page()
    sizes = _parse_counter(monkeypatch, html)
    trafilatura.extract(html, url=url)
    assert len(sizes) >= 1


def test_whole_page_is_copied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura's extract() copies the page it is given and copies that copy again before
    cleaning it; the precision pass runs its steps on a single copy."""
    page_id, url, html = _article_page()
    elements = sum(1 for _ in _tree(html, url).iter())
    sizes = _page_copies(monkeypatch, elements)
    result = extract(html, url=url)
    assert result.status == "ok", page_id
    assert len(sizes) == 1, sizes


def _texts() -> Iterator[str]:
    for _, _, html in PAGES:
        text = lxml.html.document_fromstring(html.encode("utf-8")).text_content()
        yield text
        yield from (text[i : i + 97] for i in range(0, min(len(text), 20_000), 89))


MOJIBAKE = [
    "GrÃ¶ÃŸe und Ã„rger",  # German UTF-8 read as cp1252
    "Ã  la carte",  # at the very start: ftfy's "^[ÃÂ][ ]" alternative
    "1Ã  la carte",
    "â€œquotedâ€\x9d text",
    "Ð\x9fÑ\x80Ð¸Ð²ÐµÑ\x82",  # Cyrillic read as latin-1 (C1 controls)
    "вЂ\x9cпример",  # Windows-1251 mojibake of a quotation mark
    "ГўВЂВ™s",  # the longest pattern (7 characters)
    "Ø³Ù„Ø§Ù…",  # Arabic read as cp1252
    "x" * 5000 + " ГўВЂВ™s " + "y" * 5000,
    "plain ASCII only",
    "Straße, Ärger, Öl, naïve, café — “quotes” and ‘single’ «guillemets»",
    "Київ, Харків, Одеса: ціни на житло зросли на 5%",
    "prix: 5 € — 3 £ ± 2 ° 30 ²",
    "Ã" + "a" * 30 + "©",
]


def test_looks_bad_is_ftfys_is_bad() -> None:
    texts = [*MOJIBAKE, *_texts()]
    assert any(is_bad(t) for t in texts) and not all(is_bad(t) for t in texts)
    mismatches = [t[:80] for t in texts if looks_bad(t) != is_bad(t)]
    assert not mismatches


def _prune_probe() -> str:
    """A page holding what each mirrored prune selects, and near misses of each."""
    return """<html><body><article><h1>Title</h1>
      <div id="infinite-scroll-1"><p>appended article</p></div>
      <section class="infinite_scroll"><h1>keeps its h1</h1></section>
      <aside class="mvp-post-add-box"><h1>next article</h1></aside>
      <div class="x elementor-share-buttons y">share</div><span class="elementor-share-buttons">s</span>
      <div id="comments"><ol class="commentlist"><li>c</li></ol></div><div id="commentary">text</div>
      <section class="Comment-section">c</section><details class="post-comments">c</details>
      <ul id="comol-list"><li>c</li></ul><ul id="disqus_thread"><li>not a list id</li></ul>
      <ol class="comment-list"><li>c</li></ol><div class="article-comments-wrapper">c</div>
      <div id="respond" class="nocomment">near miss</div><p class="comments">a paragraph</p>
    </article></body></html>"""


def test_prune_walks_select_what_trafilaturas_expressions_select() -> None:
    """Each walk gives the elements its XPath gives, in the same order, on the fixture pages
    (raw, and cleaned and converted as the pass prunes them) and on a page of near misses."""
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning
    from trafilatura.xpaths import (
        RAW_TREE_PRUNE_XPATH,
        REMOVE_COMMENTS_AND_LISTS_XPATH,
        REMOVE_COMMENTS_XPATH,
    )

    from indexing.extraction.prunes import walks

    expressions = [*RAW_TREE_PRUNE_XPATH, *REMOVE_COMMENTS_AND_LISTS_XPATH, *REMOVE_COMMENTS_XPATH]
    selectors = walks(expressions)
    assert all(walk is not xp for walk, xp in zip(selectors, expressions, strict=True)), "an expression changed"
    probe = lxml.html.document_fromstring(_prune_probe())
    pages = [probe] + [_tree(html, url) for _, url, html in PAGES]
    options = options_for(None, fast=True, precision=True)
    pages += [convert_tags(tree_cleaning(copy.copy(tree), options), options) for tree in pages[:8]]
    found = 0
    for tree in pages:
        for walk, xp in zip(selectors, expressions, strict=True):
            assert walk(tree) == xp(tree)
            found += len(walk(tree))
    assert [len(walk(probe)) for walk in selectors] == [2, 1, 7, 4]
    assert found > 50


def test_an_expression_the_walks_do_not_mirror_runs_as_xpath() -> None:
    from lxml import etree as _etree

    from indexing.extraction.prunes import walks

    other = _etree.XPath(".//*[self::div][contains(@class, 'elementor-share-buttons-2')]")
    assert walks([other]) == [other]


def test_owned_balanced_pass_is_trafilaturas_own_with_its_rescue_and_escalation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast balanced pass on a tree handed over (trafilatura's steps, prunes as walks, no
    backup copy) reads what trafilatura.extract reads, on whole fixture pages and their article
    regions, thin and listing pages among them: its baseline rescue and its recall escalation
    both run on some."""
    from indexing.extraction import passes

    calls = {"baseline": 0, "recall": 0}

    def counted(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(passes, "baseline", counted("baseline", passes.baseline))
    monkeypatch.setattr(passes, "_recall_retry", counted("recall", passes._recall_retry))
    extra = [(p.stem, None, p.read_text(encoding="utf-8", errors="replace")) for p in sorted((QUALITY.parent / "pages").glob("*.html"))]
    for page_id, url, html in PAGES + extra:
        tree = _tree(html, url)
        trees = [tree]
        region = article_region(TextIndex(tree), run_pass(tree, url, precision=True, fast=True))
        if region is not None:
            trees.append(region)
        for owned in trees:
            expected = _public(owned, url, fast=True)
            assert run_pass(copy.copy(owned), url, fast=True, owned=True) == expected, page_id
    assert calls["baseline"] >= 1 and calls["recall"] >= 1, calls
