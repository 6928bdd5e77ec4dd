"""The alert state in Postgres (``state.backend: postgres``): the same contract as
:class:`indexing.alerts.state.AlertState` -- a story alerted once per watch, a delivery never lost
between the decision and the outbox -- for evaluations running on several hosts at once.

- :meth:`PgAlertState.claim` runs in one transaction under a transaction advisory lock per watch
  (two hosts deciding about the same story, or two stories sharing a document, take turns);
  every insert is ``ON CONFLICT DO NOTHING``: a rerun decides nothing new;
- :meth:`PgAlertState.take_pending` leases deliveries with ``FOR UPDATE SKIP LOCKED``: two hosts
  delivering at once never take the same one; a lease that runs out (its host died) is taken again.

The DSN is handed in (the caller reads ``state.dsn``); :func:`open_alert_state` picks the backend.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from indexing import pgconn
from indexing.alerts.state import LEASE_SECONDS, AlertState, Pending, utc_now

NS_ALERT_WATCH = 0x57570010
#: upper bound on deliveries one evaluation takes at once (the rest wait for the next one)
MAX_TAKE = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS {stories} (
    watch_id TEXT NOT NULL, story_key TEXT NOT NULL, alert_id TEXT NOT NULL, run_id TEXT,
    created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (watch_id, story_key));
CREATE TABLE IF NOT EXISTS {docs} (
    watch_id TEXT NOT NULL, doc_id TEXT NOT NULL, alert_id TEXT NOT NULL, PRIMARY KEY (watch_id, doc_id));
CREATE TABLE IF NOT EXISTS {outbox} (
    alert_id TEXT NOT NULL, channel TEXT NOT NULL, watch_id TEXT NOT NULL, payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    delivered_at TIMESTAMPTZ, cancelled_at TIMESTAMPTZ, leased_until TIMESTAMPTZ, lease_owner TEXT,
    PRIMARY KEY (alert_id, channel));
CREATE INDEX IF NOT EXISTS {outbox}_pending ON {outbox} (created_at)
    WHERE delivered_at IS NULL AND cancelled_at IS NULL;
"""
_OPEN = "delivered_at IS NULL AND cancelled_at IS NULL"


_STORE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def open_alert_state(path: Path, dsn: str | None, *, clock: Callable[[], datetime] = utc_now,
                     connect_timeout: int = 10) -> AlertState | PgAlertState:
    """The alert state: the SQLite file ``path`` (``dsn`` None: the file backend) or Postgres, in
    tables named after the file (``alerts.sqlite`` -> ``warwatch_alerts_*``, ``health.sqlite`` ->
    ``warwatch_health_*``: each outbox only ever sees its own watches, as with two files)."""
    if dsn is None:
        return AlertState(path, clock=clock)
    return PgAlertState(dsn, store=path.stem, clock=clock, connect_timeout=connect_timeout)


class _Named:
    """A cursor whose statements get the store's table names."""

    def __init__(self, cur: Any, names: Callable[[str], str]) -> None:
        self._cur = cur
        self._names = names

    def execute(self, sql: str, args: Any = None) -> None:
        self._cur.execute(self._names(sql), args)

    def fetchone(self) -> Any:
        return self._cur.fetchone()


class PgAlertState:
    """The alert state in a Postgres database; use as a context manager (closes the connection)."""

    def __init__(self, dsn: str, *, store: str = "alerts", clock: Callable[[], datetime] = utc_now,
                 connect_timeout: int = 10) -> None:
        if not _STORE_NAME.match(store):
            raise ValueError(f"alert store name {store!r}: lowercase letters, digits and _ only")
        self._names = {t: f"warwatch_{store}_{t}" for t in ("stories", "docs", "outbox")}
        self._clock = clock
        self._db = pgconn.connect(dsn, connect_timeout=connect_timeout, name="warwatch-alerts")
        pgconn.ensure_schema(self._db, self._q(SCHEMA))

    def _q(self, sql: str) -> str:
        """``sql`` with this store's table names."""
        return sql.format(**self._names)

    def __enter__(self) -> PgAlertState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _tx(self, work: Callable[[Any], Any]) -> Any:
        """``work(cursor)`` in one transaction."""
        try:
            with self._db.cursor() as cur:
                out = work(cur)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        return out

    def _one(self, sql: str, args: Any) -> Any:
        def run(cur: Any) -> Any:
            cur.execute(self._q(sql), args)
            return cur.fetchone() if cur.description else cur.rowcount
        return self._tx(run)

    # ------------------------------------------------------------------ deciding
    def claim(self, watch_id: str, story_key: str, doc_ids: Sequence[str], alert_id: str, run_id: str | None,
              channels: Iterable[str], payload: dict[str, Any]) -> bool:
        """As :meth:`AlertState.claim`: True when this call created the alert."""
        now = self._clock()
        docs = list(doc_ids)

        def run(plain: Any) -> bool:
            cur = _Named(plain, self._q)
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (NS_ALERT_WATCH, watch_id))
            cur.execute("SELECT alert_id FROM {stories} WHERE watch_id=%s AND story_key=%s",
                        (watch_id, story_key))
            known = cur.fetchone()
            if known is None and docs:
                cur.execute("SELECT alert_id FROM {docs} WHERE watch_id=%s AND doc_id = ANY(%s) "
                            "LIMIT 1", (watch_id, docs))
                known = cur.fetchone()
            new = known is None
            owner = alert_id if new else known[0]
            # a known document under a new story key: the same story to us (the key is recorded)
            cur.execute("INSERT INTO {stories} VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                        (watch_id, story_key, owner, run_id, now))
            if new:
                text = json.dumps(payload, ensure_ascii=False)
                for ch in channels:
                    cur.execute("INSERT INTO {outbox} (alert_id, channel, watch_id, payload, created_at) "
                                "VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING", (alert_id, ch, watch_id, text, now))
            for d in docs:
                cur.execute("INSERT INTO {docs} VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
                            (watch_id, d, owner))
            return new

        return bool(self._tx(run))

    # ------------------------------------------------------------------ delivering
    def take_pending(self, watch_ids: Iterable[str] | None = None,
                     lease_seconds: float = LEASE_SECONDS) -> list[Pending]:
        """As :meth:`AlertState.take_pending`; rows another host is taking are skipped."""
        now = self._clock()
        owner = uuid.uuid4().hex
        wanted = None if watch_ids is None else list(watch_ids)
        where = f"{_OPEN} AND (leased_until IS NULL OR leased_until < %(now)s)"
        if wanted is not None:
            where += " AND watch_id = ANY(%(watches)s)"

        def run(cur: Any) -> list[tuple[Any, ...]]:
            cur.execute(self._q(
                "UPDATE {outbox} o SET leased_until=%(until)s, lease_owner=%(owner)s FROM ("
                f"SELECT alert_id, channel FROM {{outbox}} WHERE {where} "  # noqa: S608
                "ORDER BY created_at, alert_id, channel LIMIT %(limit)s FOR UPDATE SKIP LOCKED) t "
                "WHERE o.alert_id=t.alert_id AND o.channel=t.channel "
                "RETURNING o.alert_id, o.channel, o.watch_id, o.payload, o.attempts, o.created_at"),
                {"now": now, "until": now + timedelta(seconds=lease_seconds), "owner": owner,
                 "watches": wanted, "limit": MAX_TAKE})
            return list(cur.fetchall())

        rows = sorted(self._tx(run), key=lambda r: (r[5], r[0], r[1]))
        return [Pending(a, c, w, p if isinstance(p, dict) else json.loads(p), n, owner) for a, c, w, p, n, _ in rows]

    def renew(self, item: Pending, lease_seconds: float) -> bool:
        until = self._clock() + timedelta(seconds=lease_seconds)
        return self._one(f"UPDATE {{outbox}} SET leased_until=%s WHERE alert_id=%s AND channel=%s "  # noqa: S608
                         f"AND lease_owner=%s AND {_OPEN}", (until, item.alert_id, item.channel, item.lease)) == 1

    def delivered(self, alert_id: str, channel: str, attempts: int) -> None:
        self._one("UPDATE {outbox} SET delivered_at=%s, attempts=attempts+%s, last_error=NULL, "
                  "leased_until=NULL WHERE alert_id=%s AND channel=%s", (self._clock(), attempts, alert_id, channel))

    def failed(self, alert_id: str, channel: str, attempts: int, error: str) -> None:
        self._one("UPDATE {outbox} SET attempts=attempts+%s, last_error=%s, leased_until=NULL "
                  "WHERE alert_id=%s AND channel=%s", (attempts, error[:2000], alert_id, channel))

    def release(self, alert_id: str, channel: str) -> None:
        self._one("UPDATE {outbox} SET leased_until=NULL WHERE alert_id=%s AND channel=%s",
                  (alert_id, channel))

    def cancel(self, alert_id: str, channel: str, reason: str) -> None:
        self._one("UPDATE {outbox} SET cancelled_at=%s, last_error=%s, leased_until=NULL "
                  "WHERE alert_id=%s AND channel=%s", (self._clock(), reason, alert_id, channel))

    def queued_count(self, watch_id: str) -> int:
        row = self._one(f"SELECT COUNT(DISTINCT alert_id) FROM {{outbox}} WHERE watch_id=%s AND {_OPEN}",  # noqa: S608
                        (watch_id,))
        return int(row[0])

    def fully_delivered(self, alert_id: str) -> bool:
        row = self._one(f"SELECT COUNT(*) FROM {{outbox}} WHERE alert_id=%s AND {_OPEN}", (alert_id,))  # noqa: S608
        return int(row[0]) == 0
