"""One evaluation: match a run's documents against every watch, alert once per story, deliver.

Two phases, so that nothing is lost between them: deciding (search, then one SQLite transaction
per new story that records it and queues its deliveries) and delivering (every queued delivery,
this run's and earlier failed ones). Delivery failures are counted and reported, never raised.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing.alerts.channels import DeliveryError, alerts_dir, deliver, delivery_lease_seconds
from indexing.alerts.config import DeliverySettings, Watch, configured_watches
from indexing.alerts.matching import Match, count_present, find_matches, run_doc_ids
from indexing.alerts.pgstate import open_alert_state
from indexing.alerts.state import STATE_FILE, AlertStore
from indexing.engine import Engine, EngineError
from indexing.fileio import atomic_write_json
from indexing.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class WatchCounts:
    #: documents of the run the watch's search found (before the "about the query" test)
    found: int = 0
    #: documents of the run that match the watch
    matched: int = 0
    #: stories alerted for the first time (queued for delivery)
    new_stories: int = 0
    #: change events (edits, takedowns: ``on: [edited, removed]``) alerted for the first time
    change_events: int = 0
    #: alerts delivered to all their channels during this evaluation (earlier queued ones too)
    alerted: int = 0
    #: channel deliveries that failed (the alert stays queued for the next evaluation)
    delivery_failed: int = 0
    #: alerts still waiting for a channel after this evaluation
    queued: int = 0
    #: why the watch could not be searched, if it could not
    error: str | None = None


@dataclass
class AlertReport:
    run_id: str | None
    #: the run's document ids (None: the run has no ids file and no cleaned.jsonl)
    documents: int | None = None
    #: how many of them the index holds (None: not checked)
    documents_in_index: int | None = None
    watches: dict[str, WatchCounts] = field(default_factory=dict)
    #: {"watch", "alert_id", "channel", "attempts", "error"} per failed delivery
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: queued deliveries dropped because their watch or channel is no longer configured
    cancelled: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: every watch was evaluated against every document of the run: nothing is left to alert on
    #: later (False: an engine outage, a failed or timed-out search, documents not in the index)
    complete: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures

    def totals(self) -> dict[str, int]:
        keys = ("matched", "new_stories", "change_events", "alerted", "delivery_failed", "queued")
        return {k: sum(getattr(c, k) for c in self.watches.values()) for k in keys}

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "documents": self.documents, "documents_in_index": self.documents_in_index,
            "watches": {wid: asdict(c) for wid, c in self.watches.items()}, "totals": self.totals(),
            "failures": self.failures, "cancelled": self.cancelled, "problems": self.problems,
            "seconds": round(self.seconds, 3), "complete": self.complete,
        }


def alert_id(watch_id: str, story_key: str) -> str:
    """Stable: the same story of the same watch is the same alert wherever it is computed."""
    return hashlib.sha256(f"{watch_id}\x1f{story_key}".encode()).hexdigest()[:20]


def _payload(watch: Watch, story_key: str, group: Sequence[Match], run_id: str | None, aid: str) -> dict[str, Any]:
    # The original first (duplicate_of empty), then the best scored copies.
    ordered = sorted(group, key=lambda m: (m.duplicate_of is not None, -m.score))
    return {
        "alert_id": aid,
        "watch": {"id": watch.id, "name": watch.display_name, "query": watch.query},
        "story_id": story_key,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "articles": [m.article for m in ordered],
    }


def _decide(report: AlertReport, state: AlertStore, watches: Sequence[Watch], run_id: str,
            engine: Engine | None, settings: Settings) -> None:
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        report.problems.append(f"bad run id {run_id!r}")
        return
    ids = run_doc_ids(run_id, settings.data_dir)
    if ids is None:
        report.problems.append(f"run {run_id}: neither indexed-ids.txt nor cleaned.jsonl found")
        return
    report.documents = len(ids)
    new_watches = [w for w in watches if "new" in w.on]
    change_watches = [w for w in watches if set(w.on) - {"new"}]
    if not change_watches and (not ids or not new_watches):
        report.complete = True
        return
    from indexing.engine import connect

    own = engine is None
    try:
        engine = engine or connect(settings)
    except EngineError as exc:
        report.problems.append(f"search engine unavailable: {exc}")
        for w in watches:
            report.watches[w.id].error = str(exc)
        return
    try:
        if ids and new_watches:
            _search_watches(report, state, new_watches, run_id, ids, engine, settings)
        else:
            report.complete = True
        if change_watches:
            _change_events(report, state, change_watches, run_id, engine, settings)
    finally:
        if own:
            engine.close()


def _change_events(report: AlertReport, state: AlertStore, watches: Sequence[Watch], run_id: str,
                   engine: Engine, settings: Settings) -> None:
    """The run's change records against the watches that ask for edits or takedowns."""
    from indexing.alerts.events import MAX_RUN_CHANGES, claim_change_events, run_changes
    from indexing.index.setup import articles_alias, changes_index

    try:
        records = run_changes(engine, changes_index(settings.index_prefix), run_id)
    except EngineError as exc:
        report.problems.append(f"run {run_id}: cannot read its change records: {exc}")
        report.complete = False
        return
    if len(records) >= MAX_RUN_CHANGES:
        report.problems.append(f"run {run_id}: more than {MAX_RUN_CHANGES} change records; only the first alerted")
    for watch in watches:
        try:
            report.watches[watch.id].change_events += claim_change_events(
                state, engine, articles_alias(settings.index_prefix), watch, records, run_id,
                timeout=settings.search.timeout)
        except EngineError as exc:
            report.watches[watch.id].error = str(exc)
            report.problems.append(f"watch {watch.id}: change events: search failed: {exc}")
            report.complete = False


def _search_watches(report: AlertReport, state: AlertStore, watches: Sequence[Watch], run_id: str,
                    ids: list[str], engine: Engine, settings: Settings) -> None:
    """Every watch against the run's documents; ``report.complete`` only when nothing was missed."""
    from indexing.index.setup import articles_alias

    index = articles_alias(settings.index_prefix)
    try:
        report.documents_in_index = count_present(engine, index, ids)
    except EngineError as exc:
        log.warning("cannot count the run's documents: %s", exc)
        report.problems.append(f"run {run_id}: cannot tell whether its documents are in the index ({exc})")
    missing = len(ids) - (report.documents_in_index if report.documents_in_index is not None else len(ids))
    if missing > 0:
        # Pending (the engine was away) or rejected: not alerted on until they are in.
        report.problems.append(f"run {run_id}: {missing} of its {len(ids)} documents are not in the index; "
                               "evaluate the run again once they are")
    for watch in watches:
        counts = report.watches[watch.id]
        try:
            found = find_matches(engine, index, watch, ids, timeout=settings.search.timeout)
        except EngineError as exc:
            counts.error = str(exc)
            report.problems.append(f"watch {watch.id}: search failed: {exc}")
            continue
        counts.found, counts.matched = found.hits, len(found.matches)
        for story_key, group in found.by_story().items():
            aid = alert_id(watch.id, story_key)
            if state.claim(watch.id, story_key, [m.id for m in group], aid, run_id,
                           watch.channels.names(), _payload(watch, story_key, group, run_id, aid)):
                counts.new_stories += 1
    report.complete = report.documents_in_index == len(ids) and not any(
        report.watches[w.id].error for w in watches)


def _deliver_all(report: AlertReport, state: AlertStore, watches: Sequence[Watch], delivery: DeliverySettings,
                 *, every_watch: bool, data_dir: Path, sleep: Callable[[float], None]) -> None:
    by_id = {w.id: w for w in watches}
    broken: dict[tuple[str, str], str] = {}  # (watch, channel) that failed all retries this time
    touched: dict[str, str] = {}  # alert id -> watch id, for alerts delivered somewhere now
    for item in state.take_pending(None if every_watch else by_id):
        watch = by_id.get(item.watch_id)
        if watch is None or item.channel not in watch.channels.names():
            what = "watch" if watch is None else f"{item.channel} channel of watch"
            state.cancel(item.alert_id, item.channel, f"{what} {item.watch_id} no longer configured")
            report.cancelled += 1
            continue
        counts = report.watches[watch.id]
        key = (watch.id, item.channel)
        if key in broken:
            # One dead receiver must not cost retries x backoff for every queued alert.
            state.release(item.alert_id, item.channel)
            counts.delivery_failed += 1
            report.failures.append({"watch": watch.id, "alert_id": item.alert_id, "channel": item.channel,
                                    "attempts": 0, "error": f"not tried: {broken[key]}"})
            continue
        if not state.renew(item, delivery_lease_seconds(delivery)):
            log.info("alert %s to %s: taken by another evaluation meanwhile", item.alert_id, item.channel)
            continue
        try:
            attempts = deliver(item.channel, item.payload, watch, delivery, alerts_dir=alerts_dir(data_dir),
                               sleep=sleep)
        except DeliveryError as exc:
            state.failed(item.alert_id, item.channel, exc.attempts, str(exc))
            broken[key] = str(exc)
            counts.delivery_failed += 1
            report.failures.append({"watch": watch.id, "alert_id": item.alert_id, "channel": item.channel,
                                    "attempts": exc.attempts, "error": str(exc)})
            log.warning("alert %s of watch %s not delivered to %s after %d attempts: %s (kept queued)",
                        item.alert_id, watch.id, item.channel, exc.attempts, exc)
            continue
        state.delivered(item.alert_id, item.channel, attempts)
        touched[item.alert_id] = watch.id
    for aid, wid in touched.items():
        if state.fully_delivered(aid):
            report.watches[wid].alerted += 1


def evaluate(
    run_id: str | None,
    *,
    settings: Settings,
    engine: Engine | None = None,
    watches: Sequence[Watch] | None = None,
    delivery: DeliverySettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertReport:
    """Alert on the documents of ``run_id`` (None: only deliver what is queued), then deliver every
    queued alert of these watches. ``settings``: where the run, the outbox and the file channel
    live, the engine and index, the search timeout. ``watches`` default to the configured watches
    file, ``delivery`` to its ``delivery`` section and the environment. Returns the report (also written to
    ``runs/<run_id>/alerts-report.json``). Raises :class:`~indexing.errors.ConfigError` for a
    broken watches file; never for search or delivery failures (they are in the report)."""
    started = time.monotonic()
    every_watch = watches is None
    if watches is None or delivery is None:
        config = configured_watches(settings)
        watches = config.watches if watches is None else list(watches)
        delivery = delivery or config.delivery
    report = AlertReport(run_id, watches={w.id: WatchCounts() for w in watches})
    with open_alert_state(settings.state_dir / STATE_FILE, settings.state.postgres_dsn,
                          connect_timeout=settings.state.connect_timeout) as state:
        if run_id is not None:
            _decide(report, state, watches, run_id, engine, settings)
        _deliver_all(report, state, watches, delivery, every_watch=every_watch, data_dir=settings.data_dir,
                     sleep=sleep)
        for w in watches:
            report.watches[w.id].queued = state.queued_count(w.id)
    report.seconds = time.monotonic() - started
    _write_report(report, settings.runs_dir)
    t = report.totals()
    log.info("alerts for run %s: %d matches, %d new stories, %d alerts delivered, %d deliveries failed",
             run_id, t["matched"], t["new_stories"], t["alerted"], t["delivery_failed"])
    return report


def _write_report(report: AlertReport, runs_dir: Path) -> None:
    if report.run_id is None:
        return
    rdir = runs_dir / report.run_id
    if not rdir.is_dir():
        return
    path = rdir / "alerts-report.json"
    try:
        atomic_write_json(path, report.as_dict())
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
