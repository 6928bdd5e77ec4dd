"""trafilatura's raw-page prunes (infinite-scroll containers, share buttons, comment sections and
comment lists) as walks over the elements they can select, for the passes run in passes.py.

Each of these XPath expressions tests one or two attributes of every ``div``/``section``/...
with EXSLT ``re:test``, which lxml runs as a Python callback per test (with a node-set built
over every element of the page first): about 2 ms per page for the three run on the raw page
and the one run after the tag conversion. The walks below select the same elements in the same
(document) order with the same regular expressions, 5x faster (``re:test(@a, p)`` is
``re.search(p, value of @a or "")``, ``contains(@a, s)`` is ``s in (value of @a or "")``).
Each walk stands for the one expression of trafilatura it mirrors and is used only while
trafilatura's expression reads exactly as mirrored here; any other text of it (another
trafilatura version) is run as trafilatura's XPath (``tests/indexing/extraction/test_passes.py``
holds the walks to the expressions on real pages).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from lxml import etree

_SCROLL = "mvp-post-add-(?:box|wrap)|infinite-?scroll"
_POST_ADD = "mvp-post-add-(?:box|wrap)"
_SHARE = "elementor-share-buttons"
_COMMENT_ID = "^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)"
_LIST_ID = "^(?:[Cc]omment(?!ary)|comol)"
_COMMENT_CLASS = "^[Cc]omment(?!ary)|(?:article|post)-comments"

Selector = Callable[[Any], list[Any]]
# Attribute values repeat within a page (fifty paragraphs of one class) and across the passes
# over it, and a test of one against a long alternation costs microseconds: each pattern's
# verdicts on values up to this long are kept (a bounded cache per pattern; a pure function).
_MEMO_CHARS = 200
_MEMO_SIZE = 4096


def _searcher(pattern: str) -> Callable[[str], bool]:
    """``re.search(pattern, value) is not None``, remembered for short values."""
    regex = re.compile(pattern)

    @functools.lru_cache(maxsize=_MEMO_SIZE)
    def remembered(value: str) -> bool:
        return regex.search(value) is not None

    def found(value: str) -> bool:
        return remembered(value) if len(value) <= _MEMO_CHARS else regex.search(value) is not None

    return found


_SCROLL_RE, _POST_ADD_RE = _searcher(_SCROLL), _searcher(_POST_ADD)
_COMMENT_ID_RE, _LIST_ID_RE, _COMMENT_CLASS_RE = _searcher(_COMMENT_ID), _searcher(_LIST_ID), _searcher(_COMMENT_CLASS)


def _attrs(el: Any) -> tuple[str, str]:
    return el.get("id") or "", el.get("class") or ""


_SCROLL_TAGS = ("div", "section", "aside")
_COMMENT_TAGS = ("div", "list", "section", "details")


def _scrolled(el: Any, ident: str, cls: str) -> bool:
    if not (_SCROLL_RE(ident) or _SCROLL_RE(cls)):
        return False
    return next(el.iterdescendants("h1"), None) is None or _POST_ADD_RE(ident) or _POST_ADD_RE(cls)


def _commented(tag: str, ident: str, cls: str) -> bool:
    if not (_COMMENT_ID_RE(ident) or _COMMENT_CLASS_RE(cls)):
        return False
    return tag not in {"ol", "ul"} or _LIST_ID_RE(ident) or _COMMENT_CLASS_RE(cls)


def _infinite_scroll(tree: Any) -> list[Any]:
    return [el for el in tree.iterdescendants(*_SCROLL_TAGS) if _scrolled(el, *_attrs(el))]


def _share_buttons(tree: Any) -> list[Any]:
    return [el for el in tree.iterdescendants(*_SCROLL_TAGS) if _SHARE in (el.get("class") or "")]


def _comments(tree: Any, *, lists: bool = False) -> list[Any]:
    tags = (*_COMMENT_TAGS, "ol", "ul") if lists else _COMMENT_TAGS
    return [el for el in tree.iterdescendants(*tags) if _commented(el.tag, *_attrs(el))]


def _raw_and_comments(tree: Any) -> list[Any]:
    """_infinite_scroll, _share_buttons and _comments_and_lists in one walk: what each selects, one
    list after the other. Deleting them in that order gives the page that deleting each one's
    selection, selected after the previous deletions, gives: each selects by the element's own
    attributes (and the first by its descendants, before any deletion), and an element found here
    inside a subtree already deleted is deleted from that detached subtree, which the page no
    longer holds."""
    scrolled, shared, commented = [], [], []
    for el in tree.iterdescendants(*_SCROLL_TAGS, "list", "details", "ol", "ul"):
        tag, (ident, cls) = el.tag, _attrs(el)
        if tag in _SCROLL_TAGS:
            if _scrolled(el, ident, cls):
                scrolled.append(el)
            if _SHARE in cls:
                shared.append(el)
        if tag != "aside" and _commented(tag, ident, cls):
            commented.append(el)
    return scrolled + shared + commented


def _comments_and_lists(tree: Any) -> list[Any]:
    return _comments(tree, lists=True)


_TESTED = f"re:test(@id, '{_COMMENT_ID}') or re:test(@class, '{_COMMENT_CLASS}')]"
# trafilatura's expressions as its xpaths module writes them (whitespace aside), each with its walk
_MIRRORED: dict[str, Selector] = {
    ".//*[self::div or self::section or self::aside][ "
    f"re:test(@id, '{_SCROLL}') or re:test(@class, '{_SCROLL}')][ "
    f"not(.//h1) or re:test(@id, '{_POST_ADD}') or re:test(@class, '{_POST_ADD}')]": _infinite_scroll,
    f".//*[self::div or self::section or self::aside][contains(@class, '{_SHARE}')]": _share_buttons,
    ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
    f"{_TESTED}[ not(self::ol or self::ul) or re:test(@id, '{_LIST_ID}') or "
    f"re:test(@class, '{_COMMENT_CLASS}')]": _comments_and_lists,
    f".//*[self::div or self::list or self::section or self::details][ {_TESTED}": _comments,
}


def walks(expressions: Sequence[Any]) -> list[Selector]:
    """The walk for each of trafilatura's ``expressions`` that it mirrors, the expression itself
    for any other (both are called with the tree and give the elements to delete, in order)."""
    return [_MIRRORED.get(" ".join(str(getattr(xp, "path", "")).split()), xp) for xp in expressions]


def raw_and_comments(raw: Sequence[Any], comments: Sequence[Any]) -> list[Selector]:
    """trafilatura's raw-page prunes followed by its comment-and-list prune (``raw`` and
    ``comments``, run one after the other by ``prune_unwanted_nodes``) as one walk when the walks
    mirror all three expressions, else as their walks and expressions one after the other."""
    selectors = walks(raw) + walks(comments)
    if selectors == [_infinite_scroll, _share_buttons, _comments_and_lists]:
        return [_raw_and_comments]
    return selectors


# --- the section prunes of trafilatura's content extraction (prune_unwanted_sections), run on
# every candidate subtree the extraction tries; content.py hands these to trafilatura's own code.
# ``re:test(@id|@class, p)`` tests the value of whichever of the two attributes comes first in
# the element's source (an XPath node-set's string value is its first node's, in document
# order; attributes in source order): ``_first`` below.
_SECTION_TAGS = ("div", "item", "list", "p", "section", "span")
_COOKIE = "cookie"
_BOTH = "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author"
_DISCARD_ID = f"{_BOTH}|^(?:jp-|dpsp-content)|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-"
_DISCARD_CLASS = (
    f"{_BOTH}|^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|"
    "dfp[Aa]d|outbrain|taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|"
    "embedded|embed|tag-list|consent|modal-content|permission|elated|next-|-stories|most-popular|more-on|"
    "meta|rating|attachment|timestamp|user-info|user-profile|-icon|article-infos|message-container|slide|"
    "viewport|overlay|options|expand|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline"
)
_HIDDEN_ID = "reader-comments|akismet"
_HIDDEN_CLASS = (
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|"
    "noprint|notloaded"
)
_BOTTOM = r"(^|\s)bottom|bottom(\s|$)"
_LINK = r"(^|\s)link(\s|$)"
_COOKIE_RE, _HIDDEN_RE = _searcher(_COOKIE), _searcher("hidden")
_DISCARD_ID_RE, _DISCARD_CLASS_RE = _searcher(_DISCARD_ID), _searcher(_DISCARD_CLASS)
_HIDDEN_ID_RE, _HIDDEN_CLASS_RE = _searcher(_HIDDEN_ID), _searcher(_HIDDEN_CLASS)
_BOTTOM_RE, _LINK_RE = _searcher(_BOTTOM), _searcher(_LINK)


def _first(el: Any, keys: list[str], one: str, other: str) -> str:
    """The value of ``@one|@other`` as XPath reads it: the attribute of the two written first."""
    if one in keys and (other not in keys or keys.index(one) < keys.index(other)):
        return el.get(one) or ""
    return el.get(other) or ""


def _discarded(tree: Any) -> list[Any]:
    out = []
    for el in tree.iterdescendants(*_SECTION_TAGS):
        keys = el.keys()
        if not keys:  # every test reads an attribute: most paragraphs and spans have none
            continue
        if (
            "data-lp-replacement-content" in keys
            or "nav" in (el.get("role") or "").replace("N", "n")
            or "MostPopularStories" in (el.get("data-component") or "")
            or _COOKIE_RE(_first(el, keys, "id", "class"))
            or _DISCARD_ID_RE(el.get("id") or "")
            or _DISCARD_CLASS_RE(el.get("class") or "")
        ):
            out.append(el)
    return out


def _hidden(tree: Any) -> list[Any]:
    out = []
    for el in tree.iterdescendants(etree.Element):
        keys = el.keys()
        if not keys:
            continue
        ident, cls, style = el.get("id") or "", el.get("class") or "", el.get("style") or ""
        if (
            cls == "comments-title"
            or _first(el, keys, "id", "class").startswith("reply-")
            or _HIDDEN_RE(_first(el, keys, "id", "style"))
            or "display:none" in style
            or "display: none" in style
            or _HIDDEN_ID_RE(ident)
            or _HIDDEN_CLASS_RE(cls)
            or el.get("aria-hidden") == "true"
        ):
            out.append(el)
    return out


def _teasers(tree: Any) -> list[Any]:
    return [
        el
        for el in tree.iterdescendants(*_SECTION_TAGS)
        if "teaser" in (el.get("id") or "").replace("T", "t") or "teaser" in (el.get("class") or "").replace("T", "t")
    ]


def _bottom_and_links(tree: Any) -> list[Any]:
    out = []
    for el in tree.iterdescendants(*_SECTION_TAGS):
        keys = el.keys()
        if not keys:
            continue
        first = _first(el, keys, "id", "class")
        if _BOTTOM_RE(first) or _LINK_RE(first) or "border" in (el.get("style") or ""):
            out.append(el)
    return out


def _captions(tree: Any) -> list[Any]:
    return [
        el
        for el in tree.iterdescendants(*_SECTION_TAGS)
        if "caption" in (el.get("id") or "") or "caption" in (el.get("class") or "")
    ]


_SECTION = "*[self::div or self::item or self::list or self::p or self::section or self::span]"
_MIRRORED.update(
    {
        f".//{_SECTION}[ @data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or "
        f"contains(@data-component, 'MostPopularStories') or re:test(@id|@class, '{_COOKIE}') or "
        f"re:test(@id, '{_DISCARD_ID}') or re:test(@class, '{_DISCARD_CLASS}')]": _discarded,
        ".//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or re:test(@id|@style, 'hidden') or "
        "contains(@style, 'display:none') or contains(@style, 'display: none') or "
        f"re:test(@id, '{_HIDDEN_ID}') or re:test(@class, '{_HIDDEN_CLASS}') or @aria-hidden='true']": _hidden,
        f".//{_SECTION}[ contains(translate(@id, 'T', 't'), 'teaser') or "
        "contains(translate(@class, 'T', 't'), 'teaser')]": _teasers,
        f".//{_SECTION}[ re:test(@id|@class, '{_BOTTOM}') or re:test(@id|@class, '{_LINK}') or "
        "contains(@style, 'border')]": _bottom_and_links,
        f".//{_SECTION}[ contains(@id, 'caption') or contains(@class, 'caption')]": _captions,
    }
)
