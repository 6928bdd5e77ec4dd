"""Pages whose text only scripts put there: an application shell (``<div id="app"></div>`` and a
bundle), where the HTML as served holds next to nothing to read.

:func:`script_shell` is what the crawler asks before it renders a page in a browser
(``render: auto``, crawlers/render.py) and what extraction asks to say *why* a page had no
article (``needs_javascript`` instead of ``empty``/``too_short``). The rule is general: little
visible text in the body, at least one script that runs, and no article text the page carries
for machines (a JSON-LD ``articleBody``, which extraction reads without a browser).
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

#: visible body text under this many words: nothing to read without the scripts
SHELL_MAX_WORDS = 60
#: bytes of a page looked at (a shell is small; a big page is not one)
MAX_BYTES = 2 * 1024 * 1024
#: script types that do not run (data islands); an absent type runs
_DATA_TYPES = re.compile(r"json|template|text/(?!javascript)|x-tmpl", re.I)
_ARTICLE_BODY = re.compile(rb'"articleBody"\s*:\s*"[^"]{200}', re.I)
#: this many ``<p>`` elements in the markup: not a shell (a cheap test before any parse)
PARAGRAPHS_SEEN = 10
_PARAGRAPH = re.compile(rb"<p[\s>]", re.I)
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "head")
#: what a shell renders on the server around the empty article: menus, header, footer, links, forms
_FRAME = ("a", "nav", "footer", "aside", "button", "select")


def script_shell(html: bytes | str) -> bool:
    """Whether the page is a script-rendered shell: fewer than :data:`SHELL_MAX_WORDS` words of
    visible body text, a script that runs (``src``, or inline code of an executable type), and
    no JSON-LD ``articleBody`` of substance. Never raises: unparseable input is not a shell."""
    data = html.encode("utf-8", "replace") if isinstance(html, str) else html
    if not data or len(data) > MAX_BYTES or b"<script" not in data.lower() or _ARTICLE_BODY.search(data):
        return False
    if len(_PARAGRAPH.findall(data, 0, MAX_BYTES)) >= PARAGRAPHS_SEEN:
        return False  # paragraphs in the markup: the page carries its text (no parse needed)
    try:
        tree = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError, TypeError):
        return False
    return _runs_scripts(tree) and _visible_words(tree) < SHELL_MAX_WORDS


def _runs_scripts(tree: Any) -> bool:
    for el in tree.iter("script"):
        kind = el.get("type") or ""
        if _DATA_TYPES.search(kind):
            continue
        if el.get("src") or (el.text or "").strip():
            return True
    return False


def _visible_words(tree: Any) -> int:
    """Words of the body's text outside scripts, styles, noscript, templates and SVG, and outside
    the page's frame (links, menus, footer, buttons), counted up to the bar."""
    body = tree.find(".//body")
    if body is None:
        return 0
    words = 0
    stack = [body]
    while stack and words < SHELL_MAX_WORDS:
        el = stack.pop()
        if isinstance(el.tag, str) and el.tag.lower() not in _INVISIBLE and el.tag.lower() not in _FRAME:
            words += len((el.text or "").split())
            stack.extend(reversed(el))
        if el is not body:
            words += len((el.tail or "").split())
    return words
