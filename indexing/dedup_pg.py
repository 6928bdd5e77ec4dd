"""The story index of duplicate detection in Postgres (``state.backend: postgres``): enrich
workers on several hosts assign stories from one store, so copies of one event that two hosts
see at the same time still end in one story. The rules are ``indexing.dedup_base``'s, the same
as the SQLite file's; only the dialect is here.

The tables (``warwatch_dedup_meta``, ``_docs``, ``_stories``, ``_bands``) live in the first
schema of the DSN's ``search_path`` and are created on first use (under the schema lock of
``indexing.pgconn``). Dates and keys compare byte-wise (``COLLATE "C"``), as in SQLite.

Taking turns: SQLite runs one assignment at a time (its write lock). Here each assignment's
transaction first takes, in one sorted statement, transaction advisory locks on what could make
it see another document or be seen by one: its doc id, its body hash and each of its LSH band
keys. Two near copies share a band (that is how they find each other), so the second waits for
the first to commit and then finds it, exactly as in the file; unrelated documents share no key
and run side by side. Re-banding the table takes the banding lock exclusively; assignments hold
it shared, so none runs on a banding that is being replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from indexing import pgconn
from indexing.dedup_bands import band_keys
from indexing.dedup_base import BaseStoryIndex

#: every table of this store starts with it
PREFIX = "warwatch_dedup_"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {PREFIX}meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {PREFIX}docs (
    seq BIGSERIAL PRIMARY KEY, doc_id TEXT COLLATE "C" NOT NULL UNIQUE, body_hash TEXT COLLATE "C" NOT NULL,
    story_id TEXT COLLATE "C" NOT NULL, published TEXT COLLATE "C", exact_of TEXT, minhash BYTEA);
CREATE INDEX IF NOT EXISTS {PREFIX}docs_hash ON {PREFIX}docs (body_hash);
CREATE TABLE IF NOT EXISTS {PREFIX}stories (
    story_id TEXT COLLATE "C" PRIMARY KEY, canonical_doc_id TEXT NOT NULL, canonical_published TEXT COLLATE "C");
CREATE TABLE IF NOT EXISTS {PREFIX}bands (
    band INTEGER NOT NULL, hash BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (band, hash, seq));
"""

#: rows per round trip when many are written at once (a re-banding)
PAGE_SIZE = 1000


def lock_keys(doc_id: str, h: str, band_keys_row: Iterable[int]) -> list[int]:
    """The advisory-lock keys (int4, sorted, distinct) of one assignment: its doc id, its body hash
    and each (band, key). Equal inputs give equal keys on every host; a collision of unequal ones
    only makes two assignments take turns."""
    names = [f"d\0{doc_id}", f"h\0{h}", *(f"b\0{b}\0{k}" for b, k in enumerate(band_keys_row))]
    return sorted({int.from_bytes(hashlib.blake2b(n.encode("utf-8"), digest_size=4).digest(), "big", signed=True)
                   for n in names})


class PgStoryIndex(BaseStoryIndex):
    """The story index in a Postgres database (``dsn``, a secret: never in a message)."""

    _PARAM = "%s"
    _WORDS = {**{t: PREFIX + t for t in ("meta", "docs", "stories", "bands")}, "cross_join": "JOIN"}

    def __init__(self, dsn: str, *, num_perm: int, shingle_size: int, threshold: float, min_words: int,
                 window_days: float | None = None, max_words: int = 100_000, connect_timeout: int = 10) -> None:
        super().__init__(num_perm=num_perm, shingle_size=shingle_size, threshold=threshold,
                         min_words=min_words, window_days=window_days, max_words=max_words)
        self.where = pgconn.redact_dsn(dsn)
        self._db = pgconn.connect(dsn, autocommit=True, connect_timeout=connect_timeout, name="warwatch-dedup")
        from psycopg2.extras import execute_batch  # there: connect() succeeded

        self._execute_batch = execute_batch
        try:
            pgconn.ensure_schema(self._db, SCHEMA)
            self._setup()
        except BaseException:
            self._db.close()
            raise

    def sql_exec(self, sql: str, args: Sequence[Any] = ()) -> Any:
        cur = self._db.cursor()
        cur.execute(self.sql(sql), tuple(args) or None)
        return cur

    def sql_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._db.cursor() as cur:
            self._execute_batch(cur, self.sql(sql), list(rows), page_size=PAGE_SIZE)

    def _begin(self, exclusive: bool) -> None:
        with self._db.cursor() as cur:
            cur.execute("BEGIN")
            lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            try:
                cur.execute(f"SELECT {lock}(%s, 0)", (pgconn.NS_DEDUP_BANDING,))
            except BaseException:
                self._rollback()  # the caller's transaction() has not begun its own cleanup yet
                raise

    def _commit(self) -> None:
        with self._db.cursor() as cur:
            cur.execute("COMMIT")

    def _rollback(self) -> None:
        if not self._db.closed:
            with self._db.cursor() as cur:
                cur.execute("ROLLBACK")

    def _serialise(self, doc_id: str, h: str, sig: np.ndarray | None) -> None:
        bands = () if sig is None else band_keys(sig.reshape(1, -1), self._banding.bands, self._banding.rows)[0]
        keys = lock_keys(doc_id, h, (int(k) for k in bands))
        with self._db.cursor() as cur:
            # one round trip; unnest yields the sorted keys in order, so every assignment takes its
            # locks in the same order and two never wait for each other in a circle
            cur.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int4[]) AS k",
                        (pgconn.NS_DEDUP_KEY, keys))

    def _insert_doc(self, args: Sequence[Any]) -> int:
        cur = self.sql_exec("INSERT INTO {docs} (doc_id, body_hash, story_id, published, exact_of, minhash) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING seq", args)
        return int(cur.fetchone()[0])

    def _close_db(self) -> None:
        self._db.close()
