"""Change events for watches with ``on: [edited, removed]``: a run's change records whose article
matches the watch, one alert per change event.

The run's records come from ``{prefix}changes`` (``run_id``); their articles are matched with the
very test new articles get (:func:`indexing.alerts.matching.find_matches`: the watch's query and
filters over the current documents, a removed article included: it stays in the index). Each
matching record is claimed in the alert state under ``change:<record id>``, so a rerun never
alerts the same event twice, and goes through the same outbox and channels.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from indexing.alerts.config import Watch
from indexing.alerts.matching import Match, find_matches
from indexing.alerts.state import AlertStore
from indexing.changes.diff import TAKEDOWN_KINDS
from indexing.changes.records import describe
from indexing.changes.store import ChangeQuery, iter_changes
from indexing.engine import Engine

log = logging.getLogger(__name__)

#: change records of one run looked at (a run with more is reported, the rest not alerted)
MAX_RUN_CHANGES = 10_000
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def event_of(record: Mapping[str, Any]) -> str:
    """``removed`` for a takedown record, ``edited`` for an edit."""
    kinds = record.get("kinds") or []
    return "removed" if kinds and kinds[0] in TAKEDOWN_KINDS else "edited"


def run_changes(engine: Engine, index: str, run_id: str, *, limit: int = MAX_RUN_CHANGES) -> list[dict[str, Any]]:
    """The change records a run made (oldest first), at most ``limit``."""
    return list(iter_changes(engine, index, ChangeQuery(run_id=run_id, oldest_first=True), limit=limit))


def change_alert_id(watch_id: str, record_id: str) -> str:
    return hashlib.sha256(f"{watch_id}\x1fchange\x1f{record_id}".encode()).hexdigest()[:20]


def _counted(change: Mapping[str, Any]) -> str:
    """"the number of troops" when a word follows the new number in its sentence, else "a number"."""
    after, context = str(change.get("after") or ""), str(change.get("context") or "")
    at = context.find(after) if after else -1
    word = _WORD.search(context, at + len(after)) if at >= 0 else None
    if word is not None and word.start() - (at + len(after)) <= 2:
        return f"the number of {word.group(0)}"
    return "a number"


def change_message(watch: Watch, record: Mapping[str, Any]) -> str:
    """"An article about <watch> was edited: the number of troops changed 10,000 → 3,000
    (headline changed …)" / "… was removed (404, first seen …)"."""
    about = f"An article about {watch.display_name}"
    if event_of(record) == "removed":
        return f"{about} was {describe(record)}: {record.get('title') or record.get('url')}"
    changes = list(record.get("changes") or [])
    numbers = [c for c in changes if c.get("kind") == "numbers"]
    rest = {**record, "changes": [c for c in changes if c.get("kind") != "numbers"]}
    if numbers:
        first = numbers[0]
        text = f"{about} was edited: {_counted(first)} changed {first.get('before')} → {first.get('after')}"
        if len(numbers) > 1:
            text += f" (and {len(numbers) - 1} more numbers)"
        if rest["changes"]:
            text += f" ({describe(rest)})"
    else:
        text = f"{about} was edited: {describe(rest)}"
    return f"{text}: {record.get('title') or record.get('url')}"


def _payload(watch: Watch, record: Mapping[str, Any], match: Match, run_id: str, aid: str) -> dict[str, Any]:
    url = record.get("url") or record.get("canonical_url") or ""
    return {
        "alert_id": aid,
        "event": event_of(record),
        "watch": {"id": watch.id, "name": watch.display_name, "query": watch.query},
        "story_id": match.story_key,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "text": f"warwatch · {watch.display_name}: {change_message(watch, record)} <{url}>",
        "change": dict(record),
        "articles": [match.article],
    }


def claim_change_events(state: AlertStore, engine: Engine, index: str, watch: Watch,
                        records: Sequence[Mapping[str, Any]], run_id: str, *, timeout: str) -> int:
    """Queue one alert per record of ``records`` (events the watch asks for) whose article
    matches the watch (``timeout``: ``search.timeout``). Returns how many were new. Raises :class:`EngineError` on a failed search."""
    wanted = [r for r in records if event_of(r) in watch.on and r.get("doc_id")]
    if not wanted:
        return 0
    found = find_matches(engine, index, watch, list(dict.fromkeys(str(r["doc_id"]) for r in wanted)),
                         timeout=timeout)
    matches = {m.id: m for m in found.matches}
    new = 0
    for record in wanted:
        match = matches.get(str(record["doc_id"]))
        if match is None:
            continue
        aid = change_alert_id(watch.id, str(record["id"]))
        if state.claim(watch.id, f"change:{record['id']}", [], aid, run_id, watch.channels.names(),
                       _payload(watch, record, match, run_id, aid)):
            new += 1
    return new
