"""The crawler's seen-store in Postgres (``state.backend: postgres``): crawls on several hosts
share one store, so an article one host stored is known to the others, a URL one left pending is
resumed by the next, whichever host runs it. The behaviour is ``crawlers.state_base``'s, the same
as the SQLite file's; only the dialect is here.

The tables (``warwatch_crawl_articles``, ``_aliases``, ``_pending``, ``_validators``, ``_runs``)
live in the first schema of the DSN's ``search_path`` and are created on first use
(``CREATE ... IF NOT EXISTS`` under the schema lock of ``indexing.pgconn``). Times are kept as
epoch seconds (``DOUBLE PRECISION``), as in the file, so both backends compute the same
schedules; keys compare byte-wise (``COLLATE "C"``), as SQLite does, so orders agree too.

The connection runs in autocommit mode with explicit ``BEGIN``/``COMMIT``, the transactions the
base class writes (a batch of seen-marks is one). Concurrent writers: upserts (``ON CONFLICT``),
read-modify-writes under ``SELECT ... FOR UPDATE``, deadlock victims run again (the base class).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from crawlers.policies import RetryPolicy
from crawlers.state_base import BATCH_INTERVAL, BATCH_SIZE, BaseSeenStore
from indexing import pgconn

#: every table of this store starts with it (the DSN's database may hold other warwatch tables)
PREFIX = "warwatch_crawl_"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {PREFIX}articles (
    url TEXT COLLATE "C" PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    published DOUBLE PRECISION, first_fetched DOUBLE PRECISION NOT NULL,
    last_fetched DOUBLE PRECISION NOT NULL, final_url TEXT, discovered_via TEXT,
    etag TEXT, last_modified TEXT, revisits INTEGER NOT NULL DEFAULT 0, next_revisit DOUBLE PRECISION,
    schedule TEXT, suspect TEXT, suspect_since DOUBLE PRECISION, takedown TEXT, capture_file TEXT,
    capture_offset BIGINT, capture_at DOUBLE PRECISION);
CREATE INDEX IF NOT EXISTS {PREFIX}articles_source ON {PREFIX}articles (source, last_fetched);
CREATE INDEX IF NOT EXISTS {PREFIX}articles_revisit ON {PREFIX}articles (source, next_revisit);
CREATE TABLE IF NOT EXISTS {PREFIX}aliases (alias TEXT COLLATE "C" PRIMARY KEY, url TEXT COLLATE "C" NOT NULL);
CREATE TABLE IF NOT EXISTS {PREFIX}pending (
    url TEXT COLLATE "C" PRIMARY KEY, source TEXT NOT NULL, discovered_via TEXT NOT NULL,
    published DOUBLE PRECISION, discovered_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try DOUBLE PRECISION,
    permanent INTEGER NOT NULL DEFAULT 0, ordered DOUBLE PRECISION);
CREATE INDEX IF NOT EXISTS {PREFIX}pending_source ON {PREFIX}pending (source);
CREATE TABLE IF NOT EXISTS {PREFIX}validators (
    url TEXT COLLATE "C" PRIMARY KEY, etag TEXT, last_modified TEXT, updated DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS {PREFIX}runs (
    run_id TEXT COLLATE "C" PRIMARY KEY, started DOUBLE PRECISION, finished DOUBLE PRECISION);
"""

#: rows per round trip when many are written at once (pending URLs of a sitemap)
PAGE_SIZE = 500


class PgSeenStore(BaseSeenStore):
    """The seen-store in a Postgres database (``dsn``, a secret: never in a message)."""

    _BEGIN = "BEGIN"
    _NO_LIMIT = None  # LIMIT NULL: no limit
    _PARAM = "%s"
    _WORDS = {**{t: PREFIX + t for t in ("articles", "aliases", "pending", "validators", "runs")},
              "greatest": "GREATEST", "least": "LEAST", "for_update": " FOR UPDATE"}

    def __init__(
        self,
        dsn: str,
        batch_size: int = BATCH_SIZE,
        batch_interval: float = BATCH_INTERVAL,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        connect_timeout: int = 10,
    ) -> None:
        super().__init__(batch_size, batch_interval, retry, clock)
        self._db = pgconn.connect(dsn, autocommit=True, connect_timeout=connect_timeout,
                                  name="warwatch-crawl-state")
        import psycopg2  # there: connect() succeeded
        from psycopg2 import errors as pgerrors
        from psycopg2.extras import execute_batch

        self.errors = (psycopg2.Error,)
        self.retryable = (pgerrors.DeadlockDetected, pgerrors.SerializationFailure)
        self._execute_batch = execute_batch
        try:
            pgconn.ensure_schema(self._db, SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def _x(self, sql: str, args: Sequence[Any] = ()) -> Any:
        cur = self._db.cursor()
        cur.execute(self._sql(sql), tuple(args) or None)
        return cur

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self._db.cursor() as cur:
                self._execute_batch(cur, self._sql(sql), rows, page_size=PAGE_SIZE)

    def _in_transaction(self) -> bool:
        from psycopg2.extensions import TRANSACTION_STATUS_IDLE

        return not self._db.closed and self._db.info.transaction_status != TRANSACTION_STATUS_IDLE

    def _close_db(self) -> None:
        self._db.close()
