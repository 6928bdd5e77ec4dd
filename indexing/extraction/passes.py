"""trafilatura's passes over one parsed page: its public ``extract`` on our lxml tree, and a
leaner route for the precision pass that every page takes.

``trafilatura.extract(tree)`` copies the tree it is given, then copies it twice more inside (a
cleaning copy and a backup for its readability/jusText comparison). In the fast precision pass
neither later copy is ever read: the raw tree is needed again only by the comparison (not run in
fast mode), the baseline rescue and the recall escalation (neither runs in precision mode). That
pass is run here as trafilatura's own steps on one copy, with the same options (and the
<head>, scripts and styles its cleaning deletes anyway taken out before its XPath prunes, which
then test fewer elements), and gives the same text (``tests/indexing/extraction/test_passes.py`` holds it to ``trafilatura.extract`` on
real pages). The steps are trafilatura 2.3's (pinned below 2.4 in pyproject.toml); if its
internals move, the public call is used.

The gap-filling pass over the article region (fast, balanced, on a tree built for it) is run as
trafilatura's steps too, without the backup copy only its comparison (not run when fast) reads.
Both prune the raw page with the element walks of prunes.py instead of trafilatura's XPath.

On a thin page the full precision pass follows: trafilatura's extraction compared with
readability's and jusText's. Its extraction is the fast pass's over again (same steps, same
options but ``fast``, which only its wild-text recovery reads), so ``compared_pass`` hands the
fast pass's result to the comparison, with the raw and the cleaned page the comparison gets in
trafilatura_sequence, unless that recovery ran (then the full pass runs as it is).
"""

from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass
from typing import Any

import trafilatura
from trafilatura.settings import Extractor

logger = logging.getLogger(__name__)

try:  # trafilatura 2.3's steps of trafilatura_sequence (see the module docstring)
    from trafilatura.baseline import baseline, html2txt
    from trafilatura.core import (
        ESCALATION_ACCEPT_RATIO,
        ESCALATION_MAX_LENGTH,
        ESCALATION_PAGE_SHARE,
        _forum_thread_page,
        _recall_retry,
        trafilatura_sequence,
    )
    from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
    from trafilatura.settings import MANUALLY_CLEANED
    from trafilatura.utils import normalize_unicode
    from trafilatura.xml import delete_element, xmltotxt
    from trafilatura.xpaths import (
        RAW_TREE_PRUNE_XPATH,
        REMOVE_COMMENTS_AND_LISTS_XPATH,
        REMOVE_COMMENTS_XPATH,
    )

    from .content import compare_extraction, extract_content
    from .prunes import raw_and_comments, walks

    # the same prunes as element walks where they mirror trafilatura's expressions (prunes.py)
    _RAW_PRUNES = walks(RAW_TREE_PRUNE_XPATH)
    _COMMENTS = walks(REMOVE_COMMENTS_XPATH)
    # both raw-page prune lists in one walk of the page (the same deletions, prunes.py)
    _RAW_AND_COMMENTS = raw_and_comments(RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH)
    _STEPS = True
except ImportError:  # pragma: no cover - a trafilatura whose internals moved
    _STEPS = False

# the options' own ``fast`` (a slot), which _NotedOptions reads and writes through
_FAST_SLOT: Any = Extractor.__dict__.get("fast")
if not hasattr(_FAST_SLOT, "__set__"):  # pragma: no cover - trafilatura's options changed shape
    _STEPS = False


class _NotedOptions(Extractor):
    """trafilatura's options, noting whether ``fast`` was read (``fast_read``): within
    extract_content only its wild-text recovery reads it (teaser blocks kept in fast mode),
    the one step where a fast and a full precision pass extract differently."""

    __slots__ = ("fast_read",)

    @property  # type: ignore[override]
    def fast(self) -> bool:
        self.fast_read = True
        return bool(_FAST_SLOT.__get__(self))

    @fast.setter
    def fast(self, value: bool) -> None:
        _FAST_SLOT.__set__(self, value)


@dataclass
class FastPrecision:
    """The fast precision pass's text lines, and its extraction (trafilatura's body element
    and text, before the size check and the txt output) when a full pass would have extracted
    the same: what ``compared_pass`` compares."""

    lines: list[str]
    found: tuple[Any, str] | None = None


# tags of trafilatura's MANUALLY_CLEANED (public: a user may take one out, then it stays) that
# hold no container its prunes could select; the forum test (JSON-LD scripts) reads them before
_DELETED_FIRST = ("head", "script", "style")
# What a failing trafilatura pass raises (bad markup deep in its rules): the pass finds nothing.
_PASS_ERRORS = (ValueError, TypeError, AttributeError, RecursionError, IndexError, KeyError)


@functools.lru_cache(maxsize=8)
def _base_options(fast: bool, precision: bool, recall: bool) -> Extractor:
    # building an Extractor reads trafilatura's config file values: once per mode, not per call
    return (_NotedOptions if _STEPS else Extractor)(
        output_format="txt",
        fast=fast,
        precision=precision,
        recall=recall,
        comments=False,
        tables=True,
        images=False,
        links=False,
        dedup=False,
    )


def options_for(url: str | None, *, fast: bool = False, precision: bool = False, recall: bool = False) -> Extractor:
    """The options ``trafilatura.extract(url=url, include_comments=False, include_tables=True,
    include_images=False, include_links=False, deduplicate=False, ...)`` builds, without
    re-reading its config: a copy per call (trafilatura may be run from several threads)."""
    options = copy.copy(_base_options(fast, precision, recall))
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


def lines(text: str | None) -> list[str]:
    if not text:
        return []
    return [line.strip() for line in text.split("\n") if line.strip()]


def run_pass(
    tree: Any,
    url: str | None,
    *,
    fast: bool = False,
    precision: bool = False,
    recall: bool = False,
    owned: bool = False,
) -> list[str]:
    """The text lines trafilatura extracts from ``tree`` in the given mode; [] when it finds
    nothing or fails on the page. ``tree`` is left unchanged unless ``owned``: a tree the caller
    built for this pass alone, which trafilatura may then edit instead of copying it first."""
    options = options_for(url, fast=fast, precision=precision, recall=recall)
    try:
        if not _STEPS or options.max_tree_size:
            return lines(trafilatura.extract(tree, options=options))
        if fast and options.focus == "precision":
            return fast_precision(tree, url, owned=owned).lines
        if owned and fast and options.focus == "balanced":
            return lines(_fast_balanced(tree, options))
        if owned:
            return lines(_sequence(tree, options))
        return lines(trafilatura.extract(tree, options=options))
    except _PASS_ERRORS as exc:
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return []


def _text(postbody: Any, text: str, comments: str, options: Extractor) -> str | None:
    """bare_extraction's size check and extract()'s txt output (comments are not extracted:
    their body is empty)."""
    if len(text) < options.min_output_size and len(comments) < options.min_output_comm_size:
        return None
    return normalize_unicode(xmltotxt(postbody, options.formatting).strip())


def _sequence(work: Any, options: Extractor) -> str | None:
    """bare_extraction without its first copy: ``work`` is the caller's to give away."""
    postbody, text, _, comments = trafilatura_sequence(work, options, options.url)
    return _text(postbody, text, comments, options)


def fast_precision(tree: Any, url: str | None, *, owned: bool = False) -> FastPrecision:
    """``run_pass(tree, url, precision=True, fast=True)``, with its extraction kept for
    ``compared_pass``."""
    options = options_for(url, fast=True, precision=True)
    try:
        if not _STEPS or options.max_tree_size or not isinstance(options, _NotedOptions):
            return FastPrecision(lines(trafilatura.extract(tree, options=options)))
        postbody, text, recovered = _fast_precision(tree if owned else copy.copy(tree), options)
        found = None if recovered else (postbody, text)
        return FastPrecision(lines(_text(postbody, text, "", options)), found)
    except _PASS_ERRORS as exc:
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return FastPrecision([])


def compared_pass(tree: Any, url: str | None, fast: FastPrecision) -> list[str]:
    """``run_pass(tree, url, precision=True)`` on the page ``fast`` came from, its extraction
    taken from ``fast`` (when there): trafilatura_sequence's comparison (precision, no comments)
    gets the raw page as pruned there and the cleaned page before conversion. ``tree`` is left
    unchanged."""
    options = options_for(url, precision=True)
    if fast.found is None or options.max_tree_size:
        return run_pass(tree, url, precision=True)
    try:
        work = prune_unwanted_nodes(copy.copy(tree), _RAW_AND_COMMENTS)
        cleaned = tree_cleaning(copy.copy(work), options)
        # ``work`` stands for trafilatura's copy of the raw page: not read again here
        postbody, text = compare_extraction(cleaned, work, *fast.found, options)
        return lines(_text(postbody, text, "", options))
    except _PASS_ERRORS as exc:
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return []


def _fast_balanced(work: Any, options: Extractor) -> str | None:
    """trafilatura_sequence + bare_extraction + the txt output of trafilatura 2.3 for a fast
    balanced pass without comments, on ``work`` (the caller's to give away): its steps with the
    prunes as walks, without the backup copy only its comparison (not run when fast) reads."""
    is_forum = _forum_thread_page(work)
    work = prune_unwanted_nodes(work, _RAW_PRUNES if is_forum else _RAW_AND_COMMENTS)
    cleaned = convert_tags(tree_cleaning(copy.copy(work), options), options, options.url)
    postbody, text = extract_content(cleaned, options)
    # its rescue: the baseline on the raw tree, taken when it adds text
    if len(text) < options.min_extracted_size:
        b_body, b_text, b_len = baseline(work)
        if b_len > len(text):
            postbody, text = b_body, b_text
    # its recall escalation: a short extraction covering little of the page
    if 0 < len(text) < ESCALATION_MAX_LENGTH and len(text) < ESCALATION_PAGE_SHARE * len(html2txt(work)):
        r_options = copy.copy(options)
        r_options.focus = "recall"
        r_text = ""
        try:
            r_body, r_text = _recall_retry(work, r_options, options.url)
        except Exception as exc:  # as in trafilatura_sequence: the retry is optional, whatever fails
            logger.debug("recall retry failed on %s: %s", options.url, exc)
        if len(r_text) >= options.min_extracted_size and len(r_text) > ESCALATION_ACCEPT_RATIO * len(text):
            postbody, text = r_body, r_text
    return _text(postbody, text, "", options)


def _fast_precision(work: Any, options: _NotedOptions) -> tuple[Any, str, bool]:
    """trafilatura_sequence of trafilatura 2.3 for a fast precision pass without comments, on
    ``work`` (a copy of the page: edited here): its body element and text, and whether its
    wild-text recovery ran."""
    is_forum = _forum_thread_page(work)
    # Elements its cleaning deletes whatever they hold, deleted before its XPath prunes instead
    # of after (a tenth of a page's elements, each tested by every prune): the prunes select
    # containers by tag, id, class and a descendant <h1>, none of which these hold, and
    # deletions keeping the tail text give the same tree in either order.
    tags = [tag for tag in _DELETED_FIRST if tag in MANUALLY_CLEANED]
    for el in list(work.iter(*tags)) if tags else []:
        delete_element(el)
    work = prune_unwanted_nodes(work, _RAW_AND_COMMENTS)
    # the raw tree is not read again in this mode: cleaned in place, no backup
    cleaned = convert_tags(tree_cleaning(work, options), options, options.url)
    if not is_forum:
        cleaned = prune_unwanted_nodes(cleaned, _COMMENTS)
    options.fast_read = False
    postbody, text = extract_content(cleaned, options)
    return postbody, text, options.fast_read
