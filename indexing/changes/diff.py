"""PLACEHOLDER for engineer A's ``indexing/changes/diff.py`` (issue #19, branch ``changes-diff``).

Replaced by A's module at merge. It honours the agreed API (:data:`EDIT_KINDS`,
:data:`TAKEDOWN_KINDS`, :class:`Change`, :func:`compare`) with the simplest rules, so that the
records, the store and the pipeline can be built and tested against it: headline, byline and
publication date changes, sentences added or removed, and a sentence whose only difference is its
digit-only numbers as a ``numbers`` change. Nothing else (furniture, reworded, quotes,
corrections, number formats) is handled here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

EDIT_KINDS = ("headline", "text_added", "text_removed", "reworded", "numbers", "quote", "byline", "date",
              "correction")
TAKEDOWN_KINDS = ("removed", "redirected", "soft_404", "walled")

_NUMBER = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Change:
    kind: str
    before: str | None = None
    after: str | None = None
    before_value: float | None = None
    after_value: float | None = None
    context: str | None = None
    sentences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sentences"] = list(self.sentences)
        return {k: v for k, v in out.items() if v not in (None, [], ())}


def _sentences(doc: Mapping[str, Any]) -> list[str]:
    text = "\n\n".join(str(doc.get(f) or "") for f in ("lead", "body"))
    return [s.strip() for part in text.split("\n") for s in _SENTENCE_END.split(part) if s.strip()]


def _number_changes(old: str, new: str) -> list[Change]:
    if _NUMBER.sub("#", old) != _NUMBER.sub("#", new):
        return []
    return [Change("numbers", a, b, float(a), float(b), context=new)
            for a, b in zip(_NUMBER.findall(old), _NUMBER.findall(new), strict=True) if a != b]


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    out: list[Change] = []
    if (old.get("title") or "") != (new.get("title") or ""):
        out.append(Change("headline", old.get("title"), new.get("title")))
    before, after = _sentences(old), _sentences(new)
    gone = [s for s in before if s not in after]
    added = [s for s in after if s not in before]
    numbers: list[Change] = []
    for s in list(gone):
        for t in added:
            found = _number_changes(s, t)
            if found:
                numbers.extend(found)
                gone.remove(s)
                added.remove(t)
                break
    if added:
        out.append(Change("text_added", sentences=tuple(added)))
    if gone:
        out.append(Change("text_removed", sentences=tuple(gone)))
    out.extend(numbers)
    if list(old.get("authors") or []) != list(new.get("authors") or []):
        out.append(Change("byline", ", ".join(old.get("authors") or []), ", ".join(new.get("authors") or [])))
    if (old.get("published") or None) != (new.get("published") or None):
        out.append(Change("date", old.get("published"), new.get("published")))
    return out
