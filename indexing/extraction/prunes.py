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

import re
from collections.abc import Callable, Sequence
from typing import Any

_SCROLL = "mvp-post-add-(?:box|wrap)|infinite-?scroll"
_POST_ADD = "mvp-post-add-(?:box|wrap)"
_SHARE = "elementor-share-buttons"
_COMMENT_ID = "^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)"
_LIST_ID = "^(?:[Cc]omment(?!ary)|comol)"
_COMMENT_CLASS = "^[Cc]omment(?!ary)|(?:article|post)-comments"

Selector = Callable[[Any], list[Any]]
_SCROLL_RE, _POST_ADD_RE = re.compile(_SCROLL), re.compile(_POST_ADD)
_COMMENT_ID_RE, _LIST_ID_RE, _COMMENT_CLASS_RE = re.compile(_COMMENT_ID), re.compile(_LIST_ID), re.compile(_COMMENT_CLASS)


def _attrs(el: Any) -> tuple[str, str]:
    return el.get("id") or "", el.get("class") or ""


def _infinite_scroll(tree: Any) -> list[Any]:
    out = []
    for el in tree.iterdescendants("div", "section", "aside"):
        ident, cls = _attrs(el)
        if not (_SCROLL_RE.search(ident) or _SCROLL_RE.search(cls)):
            continue
        if next(el.iterdescendants("h1"), None) is None or _POST_ADD_RE.search(ident) or _POST_ADD_RE.search(cls):
            out.append(el)
    return out


def _share_buttons(tree: Any) -> list[Any]:
    return [el for el in tree.iterdescendants("div", "section", "aside") if _SHARE in (el.get("class") or "")]


def _comments(tree: Any, *, lists: bool = False) -> list[Any]:
    tags = ("div", "list", "section", "details", "ol", "ul") if lists else ("div", "list", "section", "details")
    out = []
    for el in tree.iterdescendants(*tags):
        ident, cls = _attrs(el)
        if not (_COMMENT_ID_RE.search(ident) or _COMMENT_CLASS_RE.search(cls)):
            continue
        if el.tag in {"ol", "ul"} and not (_LIST_ID_RE.search(ident) or _COMMENT_CLASS_RE.search(cls)):
            continue
        out.append(el)
    return out


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
