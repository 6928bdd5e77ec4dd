"""trafilatura's content extraction with its section prunes as element walks (content.py): the
walks select what trafilatura's XPath selects, and the rebound extract_content gives what
trafilatura's own gives, on saved real pages and on pages built to hit each rule's edge cases.
trafilatura itself is left as it was."""

from __future__ import annotations

import copy
from typing import Any

import lxml.html
import pytest
import trafilatura.main_extractor as main_extractor
from lxml import etree
from trafilatura import xpaths
from trafilatura.htmlprocessing import convert_tags, tree_cleaning

from indexing.extraction import content
from indexing.extraction.passes import options_for
from tests.indexing.extraction.test_passes import PAGES, QUALITY, _article_page, _tree

SECTION_PRUNES = (
    xpaths.OVERALL_DISCARD_XPATH + xpaths.TEASER_DISCARD_XPATH + xpaths.PRECISION_DISCARD_XPATH + xpaths.DISCARD_IMAGE_ELEMENTS
)
# the expressions with a walk (the rest, `.//header`, is plain XPath without callbacks)
MIRRORED = 5


def _probe() -> str:
    """What each section prune selects, and near misses of each: attribute order for
    ``@id|@class`` and ``@id|@style``, absent and empty attributes, case, token boundaries."""
    return """<html><body><article><h1>Title</h1>
      <div class="cookie-box" id="main">first attribute class: cookie tested</div>
      <div id="main" class="cookie-box">near: id first</div>
      <div class="cookie-box">only class</div><p id="cookies">only id</p>
      <div role="Navigation">n</div><div role="main">near</div><span data-lp-replacement-content="">e</span>
      <section data-component="x MostPopularStories y">p</section><div data-component="popular">near</div>
      <div id="share-bar">s</div><div id="x-shar">near: ^shar</div><div class="shariff">sh</div>
      <div class="has-ad-slot"> ad </div><p class="a ad b">ad</p><p class="ad-slot x">ad</p><p class="bad-ad">near</p>
      <div class="Byline">b</div><p id="^ad-">near</p><div id="ad-top">a</div>
      <p class="comments-title">c</p><p class="comments-title x">c</p><span id="reply-1">r</span>
      <span class="reply-x" id="r">class first</span><span id="r" class="reply-x">near: id first</span>
      <i id="hidden-x" style="color:red">id first</i><i style="visibility:hidden" id="v">style first</i>
      <i id="v" style="visibility:hidden">near: id first</i>
      <b style="display: none">d</b><b style="display:none">d</b><b style="display : none">near</b>
      <em class="x hidden">h</em><em class="xhidden">near</em><em aria-hidden="true">a</em><em aria-hidden="True">near</em>
      <div class="Teaser">t</div><span id="teaserBox">t</span><div class="TEASER">near: capitals</div>
      <div class="page-bottom">b</div><div class="bottom-bar">b</div><div class="Padding-bottom-lg">near: inside a token</div>
      <div id="x" class="link">near: id first</div><div class="link">l</div>
      <div class="permalink">near</div><div class="a link b">l</div><p style="border:1px">b</p>
      <div class="wp-caption">c</div><p id="img-caption">c</p><p class="Caption">near</p>
      <header>h</header><list class="sidebar"><item class="menu-item">i</item></list>
    </article></body></html>"""


def _trees() -> list[Any]:
    probe = lxml.html.document_fromstring(_probe())
    trees = [probe, *(_tree(html, url) for _, url, html in PAGES)]
    options = options_for(None, fast=True, precision=True)
    # the subtrees trafilatura prunes have been cleaned and converted (div -> list, item, ...)
    return trees + [convert_tags(tree_cleaning(copy.copy(tree), options), options) for tree in trees[:10]]


def test_section_walks_select_what_trafilaturas_expressions_select() -> None:
    from indexing.extraction.prunes import walks

    selectors = walks(SECTION_PRUNES)
    walked = [walk for walk, xp in zip(selectors, SECTION_PRUNES, strict=True) if walk is not xp]
    assert len(walked) == MIRRORED, "an expression changed: its walk no longer mirrors it"
    found = 0
    for tree in _trees():
        for walk, xp in zip(selectors, SECTION_PRUNES, strict=True):
            assert walk(tree) == xp(tree), getattr(xp, "path", xp)
            found += len(walk(tree))
    probe = lxml.html.document_fromstring(_probe())
    selected = [walk(probe) for walk in selectors]
    assert [len(x) for x in selected] == [16, 10, 2, 1, 5, 2]
    assert not [el.text for x in selected for el in x if (el.text or "").startswith("near")]
    assert found > 500


def test_extract_content_runs_on_the_walks_and_leaves_trafilatura_alone() -> None:
    assert content.WALKED
    ours = content.extract_content.__globals__
    assert ours is not vars(main_extractor)
    for name in ("OVERALL_DISCARD_XPATH", "TEASER_DISCARD_XPATH", "DISCARD_IMAGE_ELEMENTS"):
        assert not any(isinstance(x, etree.XPath) for x in ours[name]), name
        assert all(isinstance(x, etree.XPath) for x in getattr(main_extractor, name)), name
    assert main_extractor.OVERALL_DISCARD_XPATH is xpaths.OVERALL_DISCARD_XPATH
    for name in ("prune_unwanted_sections", "recover_wild_text", "_extract"):
        assert ours[name] is not getattr(main_extractor, name)
        assert ours[name].__code__ is getattr(main_extractor, name).__code__
        assert ours[name].__globals__ is ours
    # the full precision pass's comparison prunes the raw page with the first list: walks too
    from trafilatura import external

    compared = content.compare_extraction
    assert compared.__code__ is external.compare_extraction.__code__ and compared is not external.compare_extraction
    assert not any(isinstance(x, etree.XPath) for x in compared.__globals__["OVERALL_DISCARD_XPATH"])
    assert all(isinstance(x, etree.XPath) for x in external.OVERALL_DISCARD_XPATH)


def _extra_pages() -> list[tuple[str, None, str]]:
    pages = sorted((QUALITY.parent / "pages").glob("*.html"))
    return [(p.stem, None, p.read_text(encoding="utf-8", errors="replace")) for p in pages]


def _guarded() -> str:
    """An article wrapped whole in a discarded container (prune_unwanted_sections' guard keeps
    it: pruning would remove nearly all its text), with a teaser and a caption inside."""
    para = "<p>" + "The council met on Tuesday and voted on the budget for next year. " * 4 + "</p>"
    return f"""<html><body><article><div class="widget-area">{para * 3}
      <div class="teaser">Read also: something else entirely</div>{para}
      <div class="caption">A caption under a photo</div>{para * 2}</div></article></body></html>"""


MODES = [
    {"fast": True, "precision": True},
    {"fast": False, "precision": True},
    {"fast": True},
    {"fast": True, "recall": True},
]


@pytest.mark.parametrize("mode", MODES, ids=["fast-precision", "precision", "fast-balanced", "fast-recall"])
def test_extract_content_is_trafilaturas_own(mode: dict[str, bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """Same body element and text as trafilatura's extract_content on the cleaned and converted
    fixture pages, built pages among them; its wild-text recovery runs on some."""
    recovered = [0]
    recover = content.extract_content.__globals__["recover_wild_text"]

    def counted(*args: Any, **kwargs: Any) -> Any:
        recovered[0] += 1
        return recover(*args, **kwargs)

    monkeypatch.setitem(content.extract_content.__globals__, "recover_wild_text", counted)
    pages = [*PAGES, *_extra_pages(), ("probe", None, _probe()), ("guarded", None, _guarded())]
    for page_id, url, html in pages:
        options = options_for(url, **mode)
        cleaned = convert_tags(tree_cleaning(copy.copy(_tree(html, url)), options), options, url)
        body, text = main_extractor.extract_content(copy.copy(cleaned), copy.copy(options))
        our_body, our_text = content.extract_content(copy.copy(cleaned), copy.copy(options))
        assert our_text == text, page_id
        assert etree.tostring(our_body) == etree.tostring(body), page_id
    assert recovered[0] >= 1


def test_guarded_article_is_kept() -> None:
    """Not two empty results agreeing: the guard of the discard prune keeps the article."""
    options = options_for(None, fast=True, precision=True)
    cleaned = convert_tags(tree_cleaning(_tree(_guarded(), None), options), options)
    _, text = content.extract_content(cleaned, options)
    assert text.count("The council met on Tuesday") >= 20
    assert "Read also" not in text and "A caption" not in text


def test_remembered_search_is_re_search() -> None:
    """The walks' pattern tests remember short values' verdicts: the same verdict as
    ``re.search`` for short and long values, repeated or not, and a bounded memory."""
    import re

    from indexing.extraction import prunes

    pattern = prunes._DISCARD_CLASS
    found = prunes._searcher(pattern)
    values = ["", "x", "post-footer", "a ad b", "ad-slot", "bad-ad", "entry-content", "Navbar", "nav"]
    values += ["x" * 300 + " ad ", "y" * 300, "meta" + "z" * 250]
    for value in values * 2:
        assert found(value) == (re.search(pattern, value) is not None), value
    assert any(found(v) for v in values) and not all(found(v) for v in values)
    assert prunes._MEMO_CHARS < 300 and prunes._MEMO_SIZE <= 10_000


def _old_cleaning(text: str) -> str:
    """The page's control-character and mojibake step before it scanned the page once."""
    from indexing.extraction.article import _CONTROL_CHARS
    from indexing.extraction.decoding import repair_mojibake

    if "\x00" in text:
        text = text.replace("\x00", "")
    return _CONTROL_CHARS.sub("", repair_mojibake(text))


def test_one_scan_for_control_characters_cleans_as_before() -> None:
    from indexing.extraction.article import _without_controls

    mojibake = "<p>" + "GrÃ¶ÃŸe und Ã„rger, â€žZitatâ€œ. " * 30 + "</p>"
    texts = [html for _, _, html in PAGES[:6]]
    texts += [
        "<p>plain</p>",
        "<p>a\x00b\x01c\x7f d\ufffe</p>",
        "<p>nul\x00 only</p>",
        mojibake,
        mojibake + "\x00\x02",
        "\x00" + mojibake,
        "<p>Київ, Straße, café</p>\x0b",
    ]
    changed = 0
    for text in texts:
        assert _without_controls(text) == _old_cleaning(text), text[:60]
        changed += _without_controls(text) != text
    assert changed >= 5
    assert _without_controls(mojibake).startswith("<p>Größe und Ärger, „Zitat“.")  # the repair ran


def test_long_article_words_are_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """extract_body counts the words of the precision pass's text once (a findall over the whole
    text), not again for each test that reads the count."""
    from indexing.extraction import body

    counted: list[int] = []

    def counting(paragraphs: list[str]) -> int:
        counted.append(len(paragraphs))
        return sum(len(p.split()) for p in paragraphs)

    monkeypatch.setattr(body, "word_count", counting)
    page_id, url, html = _article_page()
    result = body.extract_body(_tree(html, url), url, None, 1000)
    assert result.method.startswith("trafilatura-precision"), (page_id, result.method)
    assert sum(len(p.split()) for p in result.paragraphs) >= 120
    assert len(counted) == 1, counted


def test_raw_prunes_in_one_walk_delete_what_trafilaturas_expressions_delete() -> None:
    """trafilatura's raw-page prunes and its comment-and-list prune, run one after the other as
    XPath, leave the page that the one combined walk leaves: on fixture pages and on a page where
    the selections nest in each other (a share box in a scroll container, comments in both)."""
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

    from indexing.extraction.prunes import raw_and_comments
    from tests.indexing.extraction.test_passes import _prune_probe

    combined = raw_and_comments(RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH)
    assert len(combined) == 1, "an expression changed: the walks no longer mirror it"
    nested = """<html><body><article><h1>T</h1><p>before</p>
      <div class="infinite-scroll">x<div class="elementor-share-buttons">s<div id="comments">c</div>t1</div>t2
      <ul class="comment-list"><li>c</li></ul>t3</div>tail of scroll
      <div class="elementor-share-buttons">s<ol id="comol"><li>c</li></ol>t4</div>tail of share
      <section class="post-comments">c<aside class="mvp-post-add-wrap"><h1>n</h1></aside>t5</section>tail
      <p>after</p></article></body></html>"""
    pages = [_prune_probe(), nested, *(html for _, _, html in PAGES)]
    changed = 0
    for html in pages:
        tree = lxml.html.document_fromstring(html)
        before = etree.tostring(tree)
        ours = prune_unwanted_nodes(copy.copy(tree), combined)
        theirs = prune_unwanted_nodes(copy.copy(tree), [*RAW_TREE_PRUNE_XPATH, *REMOVE_COMMENTS_AND_LISTS_XPATH])
        assert etree.tostring(ours) == etree.tostring(theirs)
        changed += etree.tostring(ours) != before
    assert changed >= 3


def test_raw_prunes_not_all_mirrored_run_one_after_the_other() -> None:
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

    from indexing.extraction.prunes import raw_and_comments, walks

    other = etree.XPath(".//*[self::div][contains(@class, 'elementor-share-buttons-2')]")
    selectors = raw_and_comments([RAW_TREE_PRUNE_XPATH[0], other], REMOVE_COMMENTS_AND_LISTS_XPATH)
    assert selectors == [*walks(RAW_TREE_PRUNE_XPATH[:1]), other, *walks(REMOVE_COMMENTS_AND_LISTS_XPATH)]
