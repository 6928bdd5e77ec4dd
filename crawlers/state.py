"""The crawler's seen-store: SQLite in WAL mode under ``get_settings().state_dir`` (one machine,
the default), or Postgres (``state.backend: postgres``: crawlers on several hosts share it,
``crawlers.state_pg``). What it keeps and its rules (batched seen-marks, crash safety through
the manifest, revisit columns) are in ``crawlers.state_base``, written once for both;
:func:`open_seen_store` is the one place that picks the backend.

Stores created before the revisit and retry columns gain them in place (``ALTER TABLE``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawlers.policies import DueRevisit, KnownArticle, PendingArticle, RetryPolicy
from crawlers.state_base import (
    BATCH_INTERVAL,
    BATCH_SIZE,
    BaseSeenStore,
    Capture,
    PendingRow,
    schedule_key,
)

if TYPE_CHECKING:
    from indexing.statesettings import StateSettings

__all__ = [
    "BATCH_INTERVAL", "BATCH_SIZE", "FILE_NAME", "BaseSeenStore", "Capture", "DueRevisit", "KnownArticle",
    "PendingArticle", "PendingRow", "RetryPolicy", "SeenStore", "open_seen_store", "schedule_key",
]

#: the file backend's store under the state directory
FILE_NAME = "crawl.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    published REAL, first_fetched REAL NOT NULL, last_fetched REAL NOT NULL, final_url TEXT,
    discovered_via TEXT
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source, last_fetched);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, discovered_via TEXT NOT NULL,
    published REAL, discovered_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL, permanent INTEGER NOT NULL DEFAULT 0, ordered REAL
);
CREATE INDEX IF NOT EXISTS pending_source ON pending(source);
CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started REAL, finished REAL);
"""

#: Columns added to ``pending`` after its first release (stores created earlier gain them).
_PENDING_MIGRATIONS = {
    "next_try": "ALTER TABLE pending ADD COLUMN next_try REAL",
    "permanent": "ALTER TABLE pending ADD COLUMN permanent INTEGER NOT NULL DEFAULT 0",
    "ordered": "ALTER TABLE pending ADD COLUMN ordered REAL",
}

#: Columns added to ``articles`` for revisits (issue #19).
_ARTICLE_MIGRATIONS = {
    "etag": "ALTER TABLE articles ADD COLUMN etag TEXT",
    "last_modified": "ALTER TABLE articles ADD COLUMN last_modified TEXT",
    "revisits": "ALTER TABLE articles ADD COLUMN revisits INTEGER NOT NULL DEFAULT 0",
    "next_revisit": "ALTER TABLE articles ADD COLUMN next_revisit REAL",
    "schedule": "ALTER TABLE articles ADD COLUMN schedule TEXT",
    "suspect": "ALTER TABLE articles ADD COLUMN suspect TEXT",
    "suspect_since": "ALTER TABLE articles ADD COLUMN suspect_since REAL",
    "takedown": "ALTER TABLE articles ADD COLUMN takedown TEXT",
    "capture_file": "ALTER TABLE articles ADD COLUMN capture_file TEXT",
    "capture_offset": "ALTER TABLE articles ADD COLUMN capture_offset INTEGER",
    "capture_at": "ALTER TABLE articles ADD COLUMN capture_at REAL",
}


class SeenStore(BaseSeenStore):
    """The seen-store in one SQLite file (``path``)."""

    errors = (sqlite3.Error,)
    _BEGIN = "BEGIN IMMEDIATE"  # the write lock at once: one writer, reads in it stay valid
    _NO_LIMIT = -1
    _WORDS = {"articles": "articles", "aliases": "aliases", "pending": "pending", "validators": "validators",
              "runs": "runs", "greatest": "MAX", "least": "MIN", "for_update": ""}

    def __init__(
        self,
        path: Path,
        batch_size: int = BATCH_SIZE,
        batch_interval: float = BATCH_INTERVAL,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(batch_size, batch_interval, retry, clock)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns newer than the store, under the write lock: two crawlers opening one store
        at once would otherwise both read the old columns and both add one ("duplicate column")."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table, migrations in (("pending", _PENDING_MIGRATIONS), ("articles", _ARTICLE_MIGRATIONS)):
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column, ddl in migrations.items():
                    if column not in columns:
                        self._db.execute(ddl)
            self._db.execute("CREATE INDEX IF NOT EXISTS articles_revisit ON articles(source, next_revisit)")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _x(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(self._sql(sql), args)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._db.executemany(self._sql(sql), rows)

    def _in_transaction(self) -> bool:
        return self._db.in_transaction

    def _close_db(self) -> None:
        self._db.close()


def open_seen_store(
    state_dir: Path,
    state: StateSettings,
    *,
    retry: RetryPolicy | None = None,
    batch_size: int = BATCH_SIZE,
    batch_interval: float = BATCH_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> BaseSeenStore:
    """The crawl's seen-store on the configured backend (``state``, handed in by the entry point):
    ``state_dir/crawl.sqlite`` (``file``) or the tables ``warwatch_crawl_*`` of the state database
    (``postgres``). Every place that opens the seen-store goes through here."""
    dsn = state.postgres_dsn
    if dsn is None:
        return SeenStore(Path(state_dir) / FILE_NAME, batch_size, batch_interval, retry, clock)
    from crawlers.state_pg import PgSeenStore

    return PgSeenStore(dsn, batch_size=batch_size, batch_interval=batch_interval, retry=retry, clock=clock,
                       connect_timeout=state.connect_timeout)
