"""Scores what warwatch reported (``warwatch changes --json`` records, the alert lines) against
the ground truth of the changing site (:mod:`benchmarks.changes_site`). Pure functions.

* recall: each (article, planted kind) found in a record of that article, overall, per kind and
  per language (the issue asks >= 0.95);
* false changes: an edit record on an article that did not change; false takedowns: a takedown
  record on an article that was not taken down (the flaky one included); both must be 0;
* wrong kinds: kinds reported on a changed article beyond those planted (shown, not a failure:
  a correction notice is added text too);
* numbers: each revised figure reported with both values (parsed values equal; the written forms
  shown as the site wrote them);
* duplicates: more than one record of the same kind for one article (one event recorded twice);
* alerts: alert lines per change record id (must be at most one; every alerted id is a record).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from benchmarks.changes_site import TAKEDOWN_MODES, Truth

TAKEDOWN_KINDS = frozenset(TAKEDOWN_MODES.values())


def _space(text: object) -> str:
    return " ".join(str(text or "").replace("\u00a0", " ").replace("\u202f", " ").split())


def records_by_url(records: Iterable[Mapping[str, Any]], urls: Mapping[str, int]) -> tuple[
        dict[int, list[Mapping[str, Any]]], list[Mapping[str, Any]]]:
    """The records of each article (by index into the truth list), and those naming no article
    of the site."""
    out: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    stray = []
    for r in records:
        idx = next((urls[str(u)] for u in (r.get("canonical_url"), r.get("url")) if u in urls), None)
        if idx is None:
            stray.append(r)
        else:
            out[idx].append(r)
    return out, stray


def _numbers(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    found = []
    for r in records:
        found += list(r.get("numbers") or [])
        found += [c for c in r.get("changes") or [] if c.get("kind") == "numbers"]
    return found


def _ratio(found: int, total: int) -> float | None:
    return round(found / total, 4) if total else None


def score(truths: Sequence[Truth], urls: Sequence[str], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``urls[i]`` is the URL of ``truths[i]``'s article."""
    per_article, stray = records_by_url(records, {u: i for i, u in enumerate(urls)})
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    missed: list[dict[str, Any]] = []
    false_changes: list[dict[str, Any]] = []
    false_takedowns: list[dict[str, Any]] = []
    extra: Counter[str] = Counter()
    duplicates: list[dict[str, Any]] = []
    numbers_ok = numbers_total = 0
    numbers_wrong: list[dict[str, Any]] = []
    for i, t in enumerate(truths):
        recs = per_article.get(i, [])
        seen = Counter(k for r in recs for k in r.get("kinds") or [])
        duplicates += [{"url": urls[i], "kind": k, "records": n} for k, n in seen.items() if n > 1]
        planted = set(t.kinds)
        for k in t.kinds:
            for key in ("all", f"kind:{k}", f"lang:{t.lang}"):
                totals[key] += 1
                hits[key] += k in seen
            if k not in seen:
                missed.append({"url": urls[i], "kind": k, "mode": t.mode, "reported": sorted(seen)})
        wrong = {k for k in seen if k not in planted}
        for k in wrong:
            extra[k] += 1
        row = {"url": urls[i], "lang": t.lang, "planted": list(t.kinds), "mode": t.mode, "reported": sorted(seen)}
        if wrong & TAKEDOWN_KINDS and not planted & TAKEDOWN_KINDS:
            false_takedowns.append(row)
        if not planted and wrong - TAKEDOWN_KINDS:
            false_changes.append(row)
        for before, after, bv, av in t.numbers:
            numbers_total += 1
            reported = _numbers(recs)
            if any(n.get("before_value") == bv and n.get("after_value") == av for n in reported):
                numbers_ok += 1
            else:
                numbers_wrong.append({"url": urls[i], "planted": [before, after, bv, av],
                                      "reported": [[n.get("before"), n.get("after"), n.get("before_value"),
                                                    n.get("after_value")] for n in reported]})
    unchanged = [t for t in truths if not t.kinds]
    return {
        "articles": len(truths), "changed": len(truths) - len(unchanged), "unchanged": len(unchanged),
        "records": len(records), "stray_records": len(stray),
        "recall": _ratio(hits["all"], totals["all"]), "planted": totals["all"], "found": hits["all"],
        "recall_per_kind": {k.split(":", 1)[1]: _ratio(hits[k], totals[k]) for k in sorted(totals) if k.startswith("kind:")},
        "recall_per_language": {k.split(":", 1)[1]: _ratio(hits[k], totals[k]) for k in sorted(totals)
                                if k.startswith("lang:")},
        "false_changes": len(false_changes), "false_takedowns": len(false_takedowns),
        "extra_kinds": dict(extra), "duplicate_records": len(duplicates),
        "numbers_both_values": numbers_ok, "numbers_planted": numbers_total,
        "missed": missed, "false_change_list": false_changes, "false_takedown_list": false_takedowns,
        "numbers_wrong": numbers_wrong, "duplicates": duplicates,
    }


def score_alerts(lines: Iterable[Mapping[str, Any]], record_ids: Iterable[str]) -> dict[str, Any]:
    """Alert lines of change events (``event`` edited/removed) per change record id."""
    per_id: Counter[str] = Counter()
    for line in lines:
        if line.get("event") in ("edited", "removed"):
            per_id[str((line.get("change") or {}).get("id"))] += 1
    ids = set(record_ids)
    return {"change_alerts": sum(per_id.values()), "records_alerted": len(per_id),
            "alerted_more_than_once": sorted(i for i, n in per_id.items() if n > 1),
            "alerts_without_record": sorted(i for i in per_id if i not in ids)}
