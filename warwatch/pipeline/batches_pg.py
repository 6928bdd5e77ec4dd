"""The batch registry and its leases in Postgres (``state.backend: postgres``): what
:mod:`warwatch.pipeline.batches` keeps in ``lease.json``, ``processed.json`` and
``alerts-pending.json`` plus flocks, for workers on several hosts.

- one row per batch in ``warwatch_batches``: the lease (owner, stage, host, pid, taken, expires),
  ``processed_at`` and the pending-alerts record; every change is one transaction on that row;
- :meth:`PgBatches.claim` picks unprocessed batches with ``SELECT ... FOR UPDATE SKIP LOCKED``:
  two hosts claiming at once never get the same batch;
- the per-batch *lock* (who is working on it right now) is a session advisory lock on this
  process's connection: the server drops it when the process dies, however it dies. A
  process-bound lease (``pid`` set) whose lock we could take is therefore dead: taken over at once;
  a lease handed between Airflow tasks (``pid`` None) lives until it expires or is released.

One connection per process (made again after a fork), used under a thread lock.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from indexing import pgconn

SCHEMA = """
CREATE TABLE IF NOT EXISTS warwatch_batches (
    batch_id TEXT PRIMARY KEY,
    owner TEXT, stage TEXT, host TEXT, pid INTEGER, taken TIMESTAMPTZ, expires TIMESTAMPTZ,
    processed_at TIMESTAMPTZ, summary JSONB,
    alerts_pending JSONB, alerts_next_try TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS warwatch_batches_todo ON warwatch_batches (batch_id) WHERE processed_at IS NULL;
"""
_LEASE_COLUMNS = "owner, stage, host, pid, taken, expires"
#: rows a claim may lease (a lease-free row is taken when it is unexpired or its process is gone)
_CLAIMABLE = ("processed_at IS NULL AND (owner IS NULL OR owner = %(owner)s OR expires <= %(now)s "
              "OR pid IS NOT NULL) AND (alerts_next_try IS NULL OR alerts_next_try <= %(now)s)")


class PgBatches:
    """The registry of one state database (see the module docstring)."""

    def __init__(self, dsn: str, *, connect_timeout: int = 10) -> None:
        self._dsn = dsn
        self._timeout = connect_timeout
        self._conn: Any = None
        self._pid = -1
        self._held: set[str] = set()  # batch locks this process holds
        self._mutex = threading.RLock()

    # ------------------------------------------------------------------ connection
    def _db(self) -> Any:
        if self._conn is None or self._pid != os.getpid() or self._conn.closed:
            self._conn = pgconn.connect(self._dsn, connect_timeout=self._timeout, name="warwatch-batches")
            self._pid = os.getpid()
            self._held = set()  # a new session holds nothing (a fork's locks stay the parent's)
            pgconn.ensure_schema(self._conn, SCHEMA)
        return self._conn

    def _run(self, sql: str, args: Any = None, *, fetch: bool = False) -> list[tuple[Any, ...]]:
        """One statement in its own transaction."""
        with self._mutex:
            conn = self._db()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, args)
                    rows = cur.fetchall() if fetch else []
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            return rows

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._held = set()

    # ------------------------------------------------------------------ locks
    def _lock(self, batch_id: str) -> bool:
        if batch_id in self._held:  # like a second flock on the file: held already, even by us
            return False
        if pgconn.try_lock(self._db(), pgconn.NS_BATCH, batch_id):
            self._held.add(batch_id)
            return True
        return False

    def unlock(self, batch_id: str) -> None:
        with self._mutex:
            if batch_id in self._held and self._conn is not None and self._pid == os.getpid():
                pgconn.unlock(self._conn, pgconn.NS_BATCH, batch_id)
            self._held.discard(batch_id)

    def data_lock(self, name: str, timeout: float, poll: float = 0.2) -> bool:
        """Wait up to ``timeout`` for the advisory lock ``name`` (polled, bounded by the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._mutex:
                if pgconn.try_lock(self._db(), pgconn.NS_DATA_LOCK, name):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

    def data_unlock(self, name: str) -> None:
        with self._mutex:
            if self._conn is not None and self._pid == os.getpid():
                pgconn.unlock(self._conn, pgconn.NS_DATA_LOCK, name)

    # ------------------------------------------------------------------ leases
    @staticmethod
    def _lease_args(batch_id: str, owner: str, stage: str, seconds: float, bind_pid: bool,
                    now: datetime) -> dict[str, Any]:
        return {"batch_id": batch_id, "owner": owner, "stage": stage, "host": socket.gethostname(),
                "pid": os.getpid() if bind_pid else None, "taken": now, "expires": now + timedelta(seconds=seconds),
                "now": now}

    _SET_LEASE = ("UPDATE warwatch_batches SET owner=%(owner)s, stage=%(stage)s, host=%(host)s, pid=%(pid)s, "
                  "taken=%(taken)s, expires=%(expires)s WHERE batch_id=%(batch_id)s")

    def acquire(self, batch_id: str, owner: str, *, stage: str, seconds: float, bind_pid: bool, create: bool,
                now: datetime) -> bool:
        """Lease ``batch_id`` to ``owner`` and lock it; False when it is unknown (and not
        ``create``), processed, locked by a live process or leased to someone else."""
        with self._mutex:
            if not self._lock(batch_id):
                return False
            try:
                taken = self._take(batch_id, create, self._lease_args(batch_id, owner, stage, seconds, bind_pid, now))
            except BaseException:
                self.unlock(batch_id)
                raise
            if not taken:
                self.unlock(batch_id)
            return taken

    def _take(self, batch_id: str, create: bool, args: dict[str, Any]) -> bool:
        conn = self._db()
        try:
            with conn.cursor() as cur:
                if create:
                    cur.execute("INSERT INTO warwatch_batches (batch_id) VALUES (%s) ON CONFLICT DO NOTHING",
                                (batch_id,))
                cur.execute("SELECT owner, pid, expires, processed_at FROM warwatch_batches "
                            "WHERE batch_id=%s FOR UPDATE", (batch_id,))
                row = cur.fetchone()
                # We hold the batch lock, so a process-bound lease's process is gone.
                ok = row is not None and row[3] is None and (
                    row[0] in (None, args["owner"]) or row[1] is not None or row[2] is None or row[2] <= args["now"])
                if ok:
                    cur.execute(self._SET_LEASE, args)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return ok

    def claim(self, owner: str, *, stage: str, seconds: float, bind_pid: bool, limit: int,
              now: datetime) -> list[tuple[str, bool]]:
        """Lease up to ``limit`` unprocessed batches nobody else has, oldest first: (batch id,
        whether only its alerts are pending). Rows another claim is looking at are skipped."""
        out: list[tuple[str, bool]] = []
        with self._mutex:
            conn = self._db()
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT batch_id, alerts_pending IS NOT NULL FROM warwatch_batches "  # noqa: S608
                                f"WHERE {_CLAIMABLE} ORDER BY batch_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
                                {"owner": owner, "now": now, "limit": limit})
                    for batch_id, pending in cur.fetchall():
                        if not self._lock(batch_id):
                            continue  # a live process works on it (or this one does already)
                        args = self._lease_args(batch_id, owner, "index:done" if pending else stage, seconds,
                                                bind_pid, now)
                        cur.execute(self._SET_LEASE, args)
                        out.append((batch_id, bool(pending)))
                conn.commit()
            except BaseException:
                conn.rollback()
                for batch_id, _ in out:
                    self.unlock(batch_id)
                raise
        return out

    def renew(self, batch_id: str, owner: str, *, stage: str, seconds: float, bind_pid: bool,
              now: datetime) -> str | None:
        """Extend ``owner``'s lease; None when done, else the owner who has it now."""
        args = self._lease_args(batch_id, owner, stage, seconds, bind_pid, now)
        rows = self._run(self._SET_LEASE + " AND owner=%(owner)s RETURNING batch_id", args, fetch=True)
        if rows:
            return None
        return str(self.read_lease(batch_id).get("owner"))

    def release(self, batch_id: str, owner: str) -> None:
        """Give the batch back (the lease goes if it is still ``owner``'s), then the lock."""
        try:
            self._run("UPDATE warwatch_batches SET owner=NULL, stage=NULL, host=NULL, pid=NULL, taken=NULL, "
                      "expires=NULL WHERE batch_id=%s AND owner=%s", (batch_id, owner))
        finally:
            self.unlock(batch_id)

    def read_lease(self, batch_id: str) -> dict[str, Any]:
        """The lease as ``lease.json`` has it ({} when none)."""
        rows = self._run(f"SELECT {_LEASE_COLUMNS} FROM warwatch_batches WHERE batch_id=%s AND owner IS NOT NULL",  # noqa: S608
                         (batch_id,), fetch=True)
        if not rows:
            return {}
        owner, stage, host, pid, taken, expires = rows[0]
        return {"owner": owner, "stage": stage, "host": host, "pid": pid,
                "taken": taken.isoformat() if taken else None, "expires": expires.isoformat() if expires else None}

    def recover_stuck(self, now: datetime) -> tuple[list[str], list[str]]:
        """(freed, hung): expired or process-bound leases whose lock is free are removed; expired
        ones whose lock a live process holds are named."""
        freed: list[str] = []
        hung: list[str] = []
        rows = self._run("SELECT batch_id, pid, expires FROM warwatch_batches WHERE processed_at IS NULL AND "
                         "owner IS NOT NULL AND (pid IS NOT NULL OR expires IS NULL OR expires <= %s) "
                         "ORDER BY batch_id", (now,), fetch=True)
        for batch_id, pid, expires in rows:
            expired = expires is None or expires <= now
            with self._mutex:
                if batch_id in self._held:
                    continue
                if not self._lock(batch_id):
                    if pid is None or expired:
                        hung.append(batch_id)
                    continue
                try:
                    self._run("UPDATE warwatch_batches SET owner=NULL, stage=NULL, host=NULL, pid=NULL, "
                              "taken=NULL, expires=NULL WHERE batch_id=%s AND expires IS NOT DISTINCT FROM %s",
                              (batch_id, expires))
                    freed.append(batch_id)
                finally:
                    self.unlock(batch_id)
        return freed, hung

    # ------------------------------------------------------------------ the registry
    def register(self, batch_ids: list[str]) -> None:
        """Make rows for batches found on the shared volume (idempotent)."""
        if batch_ids:
            self._run("INSERT INTO warwatch_batches (batch_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                      (batch_ids,))

    def mark_processed(self, batch_id: str, summary: dict[str, Any], now: datetime) -> None:
        self._run("INSERT INTO warwatch_batches (batch_id, processed_at, summary) VALUES (%s, %s, %s) "
                  "ON CONFLICT (batch_id) DO UPDATE SET processed_at=EXCLUDED.processed_at, "
                  "summary=EXCLUDED.summary", (batch_id, now, json.dumps(summary, default=str)))

    def is_processed(self, batch_id: str) -> bool:
        rows = self._run("SELECT 1 FROM warwatch_batches WHERE batch_id=%s AND processed_at IS NOT NULL",
                         (batch_id,), fetch=True)
        return bool(rows)

    def unprocessed(self, limit: int = 100_000) -> list[str]:
        rows = self._run("SELECT batch_id FROM warwatch_batches WHERE processed_at IS NULL ORDER BY batch_id "
                         "LIMIT %s", (limit,), fetch=True)
        return [r[0] for r in rows]

    def processed_among(self, batch_ids: list[str]) -> set[str]:
        rows = self._run("SELECT batch_id FROM warwatch_batches WHERE batch_id = ANY(%s) AND processed_at "
                         "IS NOT NULL", (batch_ids,), fetch=True)
        return {r[0] for r in rows}

    # ------------------------------------------------------------------ pending alerts
    def alerts_pending(self, batch_id: str) -> dict[str, Any]:
        rows = self._run("SELECT alerts_pending FROM warwatch_batches WHERE batch_id=%s", (batch_id,), fetch=True)
        return dict(rows[0][0]) if rows and rows[0][0] else {}

    def set_alerts_pending(self, batch_id: str, record: dict[str, Any] | None, *, only_if_none: bool = False) -> None:
        """Write (``record``) or clear (None) the batch's pending-alerts record."""
        if record is None:
            self._run("UPDATE warwatch_batches SET alerts_pending=NULL, alerts_next_try=NULL WHERE batch_id=%s",
                      (batch_id,))
            return
        guard = " WHERE warwatch_batches.alerts_pending IS NULL" if only_if_none else ""
        self._run("INSERT INTO warwatch_batches (batch_id, alerts_pending, alerts_next_try) VALUES (%s, %s, %s) "
                  "ON CONFLICT (batch_id) DO UPDATE SET alerts_pending=EXCLUDED.alerts_pending, "
                  "alerts_next_try=EXCLUDED.alerts_next_try" + guard,
                  (batch_id, json.dumps(record, default=str), record["next_try"]))
