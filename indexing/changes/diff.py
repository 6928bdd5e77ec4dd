"""Two versions of one article -> the named changes between them (:func:`compare`).

- ``headline``: the title changed (its key: words, number values, dates; not case, punctuation,
  quotation-mark style or spacing);
- ``text_added`` / ``text_removed``: sentences of the lead and body (and image captions, images)
  only one version has; a sentence that only moved is not a change (units are matched as sets);
- ``reworded``: a removed and an added sentence that are alike (token Jaccard or difflib ratio
  at least :data:`REWORDED_AT`), paired best first, near ones first;
- ``numbers``: one per number that changed, with both values as written and parsed; a sentence
  whose only difference is numbers gives these, not ``reworded``;
- ``quote``: a sentence whose only difference is inside quotation marks, one per quotation;
- ``byline``: the set of author names changed; ``date``: ``published`` moved by more than
  :data:`DATE_TOLERANCE` (``modified`` alone is no change);
- ``correction``: an added correction/update notice (:mod:`indexing.changes.notices`) with the
  rest of its paragraph.

Pure: no engine, no I/O, no settings. Bounded: see :mod:`indexing.changes.units` for the text
bounds; at most :data:`MAX_PAIRING` removed and added units each are tried as pairs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from indexing.changes.normalize import author_keys, clean_text
from indexing.changes.notices import is_notice
from indexing.changes.numbers import Number, changed_value, same
from indexing.changes.quotes import find_quotes
from indexing.changes.units import MAX_IMAGES, Unit, analyse, document_units, quote_skeleton
from indexing.dates import parse_date

EDIT_KINDS = ("headline", "text_added", "text_removed", "reworded", "numbers", "quote", "byline", "date", "correction")
TAKEDOWN_KINDS = ("removed", "redirected", "soft_404", "walled")

#: a removed and an added sentence at least this alike are one reworded sentence
REWORDED_AT = 0.5
#: removed/added units tried as pairs (beyond: reported as removed/added)
MAX_PAIRING = 100
#: ``published`` moving by less than this is the same date
DATE_TOLERANCE = timedelta(minutes=1)
#: a cut side: unmatched units this close to the cut are not reported (they may sit past it on the other)
CUT_MARGIN = 50


class ChangeInputError(ValueError):
    """A version given to :func:`compare` whose fields have the wrong type (a missing or None
    field is fine: it is empty)."""


_TEXT_FIELDS = ("title", "lead", "body", "language")


def _check(doc: Mapping[str, Any], which: str) -> None:
    if not isinstance(doc, Mapping):
        raise ChangeInputError(f"{which} version: a mapping expected, got {type(doc).__name__}")
    for name in _TEXT_FIELDS:
        if doc.get(name) is not None and not isinstance(doc.get(name), str):
            raise ChangeInputError(f"{which} version: {name} must be a string, got {type(doc.get(name)).__name__}")
    authors = doc.get("authors")
    if authors is not None and not isinstance(authors, str | list | tuple):
        raise ChangeInputError(f"{which} version: authors must be a list of names, got {type(authors).__name__}")
    images = doc.get("images")
    if images is not None and not (isinstance(images, list | tuple) and all(isinstance(i, Mapping) for i in images[:MAX_IMAGES])):
        raise ChangeInputError(f"{which} version: images must be a list of mappings")


@dataclass(frozen=True)
class Change:
    """One named change between two versions (see the module docstring for each kind)."""

    kind: str
    before: str | None = None
    after: str | None = None
    before_value: float | None = None
    after_value: float | None = None
    context: str | None = None
    sentences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``kind`` and the fields that are set."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("before", "after", "before_value", "after_value", "context"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.sentences:
            out["sentences"] = list(self.sentences)
        return out


def _language(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    for doc in (new, old):
        lang = doc.get("language")
        if isinstance(lang, str) and lang.strip():
            return lang.strip().lower()[:2]
    return ""


def _number_changes(a: list[Number], b: list[Number], context: str) -> list[Change]:
    """One change per position where ``a`` and ``b`` (aligned) differ."""
    out = []
    for x, y in zip(a, b, strict=False):
        if not same(x, y):
            bv, av = changed_value(x, y)
            out.append(Change("numbers", x.written, y.written, bv, av, context))
    return out


def _moved_numbers(a: Unit, b: Unit) -> list[Change]:
    """Numbers of a reworded pair: those only one side has, paired in order when as many
    changed on both sides (numbers that merely moved are not a change)."""
    gone = [x for x in a.numbers if not any(same(x, y) for y in b.numbers)]
    came = [y for y in b.numbers if not any(same(x, y) for x in a.numbers)]
    return _number_changes(gone, came, b.text) if gone and len(gone) == len(came) else []


def _quote_changes(a: Unit, b: Unit) -> list[Change]:
    out = []
    for x, y in zip(find_quotes(a.text), find_quotes(b.text), strict=False):
        if x.text != y.text:
            out.append(Change("quote", x.text, y.text, context=b.text))
    return out


class _Side:
    """What pairing asks of a unit, computed once: skeleton tokens, their set, the quote skeleton."""

    __slots__ = ("quoted", "set", "tokens", "unit")

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.tokens = unit.skeleton.split()
        self.set = frozenset(self.tokens)
        self.quoted: str | None = None

    def quote_skeleton(self) -> str:
        if self.quoted is None:
            self.quoted = quote_skeleton(self.unit)
        return self.quoted


def _similarity(a: _Side, b: _Side) -> float:
    jaccard = len(a.set & b.set) / max(1, len(a.set | b.set))
    if jaccard >= REWORDED_AT or jaccard < 0.2:
        return jaccard
    return max(jaccard, difflib.SequenceMatcher(None, a.tokens, b.tokens, autojunk=False).ratio())


def _pair_score(a: _Side, b: _Side) -> tuple[int, float] | None:
    """How ``a`` (removed) and ``b`` (added) pair: (3, _) numbers only, (2, _) quotes only,
    (1, similarity) reworded; None when they are not one sentence."""
    if a.unit.kind != b.unit.kind or a.unit.kind == "image":
        return None
    if a.unit.skeleton == b.unit.skeleton and len(a.unit.numbers) == len(b.unit.numbers):
        return 3, 1.0
    sim = _similarity(a, b)
    if sim >= 0.3 and a.quote_skeleton() == b.quote_skeleton():
        return 2, sim
    return (1, sim) if sim >= REWORDED_AT else None


def _pairs(removed: list[Unit], added: list[Unit]) -> list[tuple[int, Unit, Unit]]:
    """Disjoint (kind of pair, removed, added), best first: a greedy matching by score and then
    by nearness (relative position in the article). At most :data:`MAX_PAIRING` on each side."""
    olds, news = [_Side(u) for u in removed[:MAX_PAIRING]], [_Side(u) for u in added[:MAX_PAIRING]]
    scored = []
    for i, a in enumerate(olds):
        for j, b in enumerate(news):
            score = _pair_score(a, b)
            if score is not None:
                scored.append((score, -abs(i - j), i, j))
    scored.sort(reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for (level, _), _, i, j in scored:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((level, removed[i], added[j]))
    return out


def _pair_changes(level: int, a: Unit, b: Unit) -> list[Change]:
    if level == 3:
        return _number_changes(list(a.numbers), list(b.numbers), b.text)
    if level == 2:
        return _quote_changes(a, b) or [Change("reworded", a.text, b.text, sentences=(b.text,))]
    return [Change("reworded", a.text, b.text, sentences=(b.text,)), *_moved_numbers(a, b)]


def _unmatched(units: list[Unit], other: set[str], limit: int) -> list[Unit]:
    """Units whose key the other version lacks (each key once), before position ``limit``."""
    seen: set[str] = set()
    out = []
    for u in units:
        if u.key not in other and u.key not in seen and u.pos < limit:
            seen.add(u.key)
            out.append(u)
    return out


def _text_changes(old: tuple[list[Unit], bool], new: tuple[list[Unit], bool]) -> list[Change]:
    (old_units, old_cut), (new_units, new_cut) = old, new
    limit = min(len(old_units), len(new_units)) - CUT_MARGIN if old_cut or new_cut else len(old_units) + len(new_units)
    removed = _unmatched(old_units, {u.key for u in new_units}, limit)
    added = _unmatched(new_units, {u.key for u in old_units}, limit)
    notice_paras = {u.para for u in new_units if u.first and u.kind == "text" and is_notice(u.text)}
    notices = [u for u in added if u.kind == "text" and (u.para in notice_paras or is_notice(u.text))]
    added = [u for u in added if u not in notices]
    changes: list[Change] = []
    paired: set[int] = set()
    for level, a, b in sorted(_pairs(removed, added), key=lambda p: p[2].pos):
        paired.update((id(a), id(b)))
        changes += _pair_changes(level, a, b)
    rest_added = tuple(u.text for u in added if id(u) not in paired)
    rest_removed = tuple(u.text for u in removed if id(u) not in paired)
    if rest_added:
        changes.append(Change("text_added", sentences=rest_added))
    if rest_removed:
        changes.append(Change("text_removed", sentences=rest_removed))
    if notices:
        texts = tuple(u.text for u in notices)
        changes.append(Change("correction", after=" ".join(texts), sentences=texts))
    return changes


def _headline(old: Mapping[str, Any], new: Mapping[str, Any], language: str) -> list[Change]:
    a_title, b_title = old.get("title"), new.get("title")
    if not (isinstance(a_title, str) and isinstance(b_title, str) and a_title.strip() and b_title.strip()):
        return []
    a, b = analyse(a_title, language), analyse(b_title, language)
    if a is None or b is None or a.key == b.key:
        return []
    out = [Change("headline", a.text, b.text)]
    if a.skeleton == b.skeleton and len(a.numbers) == len(b.numbers):
        return out + _number_changes(list(a.numbers), list(b.numbers), b.text)
    return out + _moved_numbers(a, b)


def _names(value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else list(value or [])[:50]
    return [clean_text(v) for v in names if isinstance(v, str) and v.strip()]


def _byline(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    a, b = _names(old.get("authors")), _names(new.get("authors"))
    if author_keys(a) == author_keys(b):
        return []
    return [Change("byline", ", ".join(a) or None, ", ".join(b) or None)]


def _day_only(value: Any) -> bool:
    """A date without a time of day ("2024-03-05"): only its day can be compared."""
    return isinstance(value, str) and ":" not in value


def _date(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """``published`` moved by more than :data:`DATE_TOLERANCE` (by a day when either side has no
    time of day); unreadable or missing dates are not compared."""
    a, b = old.get("published"), new.get("published")
    da, db = parse_date(a), parse_date(b)
    if da is None or db is None:
        return []
    if _day_only(a) or _day_only(b):
        if abs(da - db) < timedelta(days=1):  # the day as written vs a time that day in some zone
            return []
    elif abs(da - db) <= DATE_TOLERANCE:
        return []
    return [Change("date", str(a), str(b))]


def _deduplicated(changes: list[Change]) -> list[Change]:
    """Changes in :data:`EDIT_KINDS` order (stable); a number change once per (before, after)."""
    seen: set[tuple[str | None, str | None]] = set()
    out = []
    for c in sorted(changes, key=lambda c: EDIT_KINDS.index(c.kind)):
        if c.kind == "numbers":
            if (c.before, c.after) in seen:
                continue
            seen.add((c.before, c.after))
        out.append(c)
    return out


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """old/new: two versions of one article as stored documents (keys: title, lead, body, authors
    (list[str]), published, modified (ISO strings), images (list of {"url"/"src", "caption", ...}),
    language). [] when nothing but furniture or normalisation differs. Deterministic order (by
    kind order of :data:`EDIT_KINDS`, then position in the new version).

    Raises :class:`ChangeInputError` when a field has the wrong type (missing or None fields are
    empty; authors that are not strings and unreadable dates are left out of the comparison)."""
    _check(old, "old")
    _check(new, "new")
    language = _language(old, new)
    changes = _headline(old, new, language)
    changes += _text_changes(document_units(old, language), document_units(new, language))
    changes += _byline(old, new) + _date(old, new)
    return _deduplicated(changes)
