"""What has been alerted, and what is still to deliver: one SQLite file in the state directory.

- ``stories``: (watch, story) pairs already alerted: a later copy or update of the story does
  not alert again, and re-evaluating a run finds nothing new;
- ``docs``: (watch, document) pairs seen in an alert: an updated article whose story id changed
  (its text moved it to another story) still does not alert twice;
- ``outbox``: one row per alert and channel until it is delivered. A failed delivery stays here
  and is retried by the next evaluation; an alert is never lost between the decision and the
  delivery (both sides of that line are in this file, written in one transaction).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

STATE_FILE = "alerts.sqlite"
#: how long an evaluation holds the deliveries it took (a killed one releases them after this)
LEASE_SECONDS = 600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    watch_id TEXT NOT NULL, story_key TEXT NOT NULL, alert_id TEXT NOT NULL,
    run_id TEXT, created_at TEXT NOT NULL,
    PRIMARY KEY (watch_id, story_key));
CREATE TABLE IF NOT EXISTS docs (
    watch_id TEXT NOT NULL, doc_id TEXT NOT NULL, alert_id TEXT NOT NULL,
    PRIMARY KEY (watch_id, doc_id));
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL, channel TEXT NOT NULL, watch_id TEXT NOT NULL, payload TEXT NOT NULL,
    created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    delivered_at TEXT, cancelled_at TEXT, leased_until TEXT, lease_owner TEXT,
    PRIMARY KEY (alert_id, channel));
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, cancelled_at);
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Pending:
    alert_id: str
    channel: str
    watch_id: str
    payload: dict[str, Any]
    attempts: int
    #: who holds the lease (one token per :meth:`AlertState.take_pending`): :meth:`AlertState.renew`
    #: extends it only while nobody else has taken the delivery since
    lease: str = ""


class AlertStore(Protocol):
    """What deciding and delivering need of the alert state: :class:`AlertState` (SQLite, one
    machine) or :class:`indexing.alerts.pgstate.PgAlertState` (Postgres, several hosts)."""

    def claim(self, watch_id: str, story_key: str, doc_ids: Sequence[str], alert_id: str, run_id: str | None,
              channels: Iterable[str], payload: dict[str, Any]) -> bool: ...

    def take_pending(self, watch_ids: Iterable[str] | None = None,
                     lease_seconds: float = LEASE_SECONDS) -> list[Pending]: ...

    def renew(self, item: Pending, lease_seconds: float) -> bool: ...

    def delivered(self, alert_id: str, channel: str, attempts: int) -> None: ...

    def failed(self, alert_id: str, channel: str, attempts: int, error: str) -> None: ...

    def release(self, alert_id: str, channel: str) -> None: ...

    def cancel(self, alert_id: str, channel: str, reason: str) -> None: ...

    def queued_count(self, watch_id: str) -> int: ...

    def fully_delivered(self, alert_id: str) -> bool: ...

    def close(self) -> None: ...


class AlertState:
    """The alert state file; use as a context manager (closes the connection)."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = Path(path)
        self._clock = clock  # leases and timestamps (tests move it instead of waiting)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so two
        # evaluations at once cannot both claim the same story.
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._add_lease_owner()

    def _add_lease_owner(self) -> None:
        """State files written before lease owners existed get the column."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "lease_owner" in columns:
            return
        try:
            self._db.execute("ALTER TABLE outbox ADD COLUMN lease_owner TEXT")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc).lower():
                raise

    def __enter__(self) -> AlertState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _now(self) -> str:
        return self._clock().isoformat()

    # ------------------------------------------------------------------ deciding
    def claim(self, watch_id: str, story_key: str, doc_ids: Sequence[str], alert_id: str, run_id: str | None,
              channels: Iterable[str], payload: dict[str, Any]) -> bool:
        """Record a story as alerted for a watch and queue its deliveries, unless the story (or
        one of its documents) was alerted before. True when this call created the alert."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            known = db.execute("SELECT alert_id FROM stories WHERE watch_id=? AND story_key=?",
                               (watch_id, story_key)).fetchone()
            if known is None and doc_ids:
                marks = ",".join("?" * len(doc_ids))
                known = db.execute(f"SELECT alert_id FROM docs WHERE watch_id=? AND doc_id IN ({marks})",  # noqa: S608
                                   (watch_id, *doc_ids)).fetchone()
                if known is not None:  # the story id of an alerted article changed: same story to us
                    db.execute("INSERT OR IGNORE INTO stories VALUES (?,?,?,?,?)",
                               (watch_id, story_key, known[0], run_id, self._now()))
            new = known is None
            owner = alert_id if new else known[0]
            if new:
                now = self._now()
                db.execute("INSERT INTO stories VALUES (?,?,?,?,?)", (watch_id, story_key, alert_id, run_id, now))
                text = json.dumps(payload, ensure_ascii=False)
                db.executemany("INSERT OR IGNORE INTO outbox (alert_id, channel, watch_id, payload, created_at) "
                               "VALUES (?,?,?,?,?)", [(alert_id, ch, watch_id, text, now) for ch in channels])
            db.executemany("INSERT OR IGNORE INTO docs VALUES (?,?,?)", [(watch_id, d, owner) for d in doc_ids])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    # ------------------------------------------------------------------ delivering
    def take_pending(self, watch_ids: Iterable[str] | None = None,
                     lease_seconds: float = LEASE_SECONDS) -> list[Pending]:
        """Undelivered, uncancelled deliveries, oldest first (of the given watches, or all), leased
        to the caller: an evaluation running at the same time (the DAG and the CLI) skips them."""
        now = self._clock()
        until = (now + timedelta(seconds=lease_seconds)).isoformat()
        owner = uuid.uuid4().hex
        wanted = set(watch_ids) if watch_ids is not None else None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(
                "SELECT alert_id, channel, watch_id, payload, attempts FROM outbox "
                "WHERE delivered_at IS NULL AND cancelled_at IS NULL AND (leased_until IS NULL OR leased_until < ?) "
                "ORDER BY created_at, alert_id, channel", (now.isoformat(),)).fetchall()
            taken = [Pending(a, c, w, json.loads(p), n, owner) for a, c, w, p, n in rows
                     if wanted is None or w in wanted]
            db.executemany("UPDATE outbox SET leased_until=?, lease_owner=? WHERE alert_id=? AND channel=?",
                           [(until, owner, t.alert_id, t.channel) for t in taken])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return taken

    def renew(self, item: Pending, lease_seconds: float) -> bool:
        """Extend the lease of a taken delivery to ``lease_seconds`` from now, just before it is
        tried (deliveries taken together are tried one after another: the last ones' leases may
        have run out meanwhile). False when another evaluation has taken it since, or it is
        delivered or cancelled: the caller must not try it."""
        until = (self._clock() + timedelta(seconds=lease_seconds)).isoformat()
        cur = self._db.execute("UPDATE outbox SET leased_until=? WHERE alert_id=? AND channel=? AND lease_owner=? "
                               "AND delivered_at IS NULL AND cancelled_at IS NULL",
                               (until, item.alert_id, item.channel, item.lease))
        return cur.rowcount == 1

    def delivered(self, alert_id: str, channel: str, attempts: int) -> None:
        self._db.execute("UPDATE outbox SET delivered_at=?, attempts=attempts+?, last_error=NULL, leased_until=NULL "
                         "WHERE alert_id=? AND channel=?", (self._now(), attempts, alert_id, channel))

    def failed(self, alert_id: str, channel: str, attempts: int, error: str) -> None:
        self._db.execute("UPDATE outbox SET attempts=attempts+?, last_error=?, leased_until=NULL "
                         "WHERE alert_id=? AND channel=?", (attempts, error[:2000], alert_id, channel))

    def release(self, alert_id: str, channel: str) -> None:
        """Give a taken delivery back untried."""
        self._db.execute("UPDATE outbox SET leased_until=NULL WHERE alert_id=? AND channel=?", (alert_id, channel))

    def cancel(self, alert_id: str, channel: str, reason: str) -> None:
        """A delivery whose watch or channel is no longer configured: kept, but not retried."""
        self._db.execute("UPDATE outbox SET cancelled_at=?, last_error=?, leased_until=NULL "
                         "WHERE alert_id=? AND channel=?",
                         (self._now(), reason, alert_id, channel))

    def queued_count(self, watch_id: str) -> int:
        row = self._db.execute("SELECT COUNT(DISTINCT alert_id) FROM outbox WHERE watch_id=? "
                               "AND delivered_at IS NULL AND cancelled_at IS NULL", (watch_id,)).fetchone()
        return int(row[0])

    def fully_delivered(self, alert_id: str) -> bool:
        row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE alert_id=? AND delivered_at IS NULL "
                               "AND cancelled_at IS NULL", (alert_id,)).fetchone()
        return int(row[0]) == 0
