"""Duplicates across outlets: one ``story_id`` per story, whatever URL or outlet carries it.

- Exact duplicates: the same normalised body (:func:`body_hash`: case, whitespace, punctuation,
  apostrophes and Latin diacritics ignored).
- Near duplicates (syndicated or lightly rewritten copies): MinHash of word shingles and LSH
  banding (the band store: :mod:`indexing.dedup_bands`); a candidate joins the story of its most
  similar earlier document when the estimated Jaccard similarity reaches
  ``settings.dedup.near_duplicate_threshold``.

State lives in SQLite (``{state_dir}/dedup.sqlite3``, WAL: one machine, the default) or in
Postgres (``state.backend: postgres``: enrich workers on several hosts, ``indexing.dedup_pg``);
:func:`open_story_index` is the one place that picks the backend, and the rules are written once
in ``indexing.dedup_base``. The LSH index is a table too: each
signature's band hashes are rows ``(band, hash, seq)`` under a primary key, so finding the
candidates of a new document is one indexed query and verifying them reads only their stored
signatures. Nothing is loaded into memory: opening costs the same at ten documents or a million,
an assignment costs a few milliseconds however many are stored, and every assignment (its own
transaction under a write lock) sees what other processes committed before it. Story ids are
therefore stable across runs and processes, and re-assigning a known doc id returns its stored
story. A story id is derived from the first document that opened the story and never changes; its
canonical copy (the earliest published; first seen when dates are unknown) may change as earlier
copies arrive.

A state file written before the band table existed (or with other banding, e.g. after the
threshold changed) gets its bands rebuilt from the stored signatures when first opened; its rows,
and so its story ids, are kept as they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.dedup_base import (
    MINHASH_SCHEME,
    BaseStoryIndex,
    DedupStateError,
    StoryAssignment,
    body_hash,
)
from indexing.settings import DedupSettings, Settings

if TYPE_CHECKING:
    from indexing.statesettings import StateSettings

__all__ = ["MINHASH_SCHEME", "STATE_FILE", "BaseStoryIndex", "DedupStateError", "StoryAssignment",
           "StoryIndex", "body_hash", "open_story_index"]

STATE_FILE = "dedup.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    body_hash TEXT NOT NULL,
    story_id TEXT NOT NULL,
    published TEXT,
    exact_of TEXT,
    minhash BLOB
);
CREATE INDEX IF NOT EXISTS docs_hash ON docs (body_hash);
CREATE TABLE IF NOT EXISTS stories (
    story_id TEXT PRIMARY KEY,
    canonical_doc_id TEXT NOT NULL,
    canonical_published TEXT
);
CREATE TABLE IF NOT EXISTS bands (
    band INTEGER NOT NULL,
    hash INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (band, hash, seq)
) WITHOUT ROWID;
"""


def _dedup_kwargs(dedup: DedupSettings) -> dict[str, Any]:
    return {"num_perm": dedup.minhash_permutations, "shingle_size": dedup.shingle_size,
            "threshold": dedup.near_duplicate_threshold, "min_words": dedup.min_words,
            "window_days": dedup.near_duplicate_window_days, "max_words": dedup.signature_max_words}


def open_story_index(state_dir: Path, dedup: DedupSettings, state: StateSettings | None = None) -> BaseStoryIndex:
    """The story index on the configured backend (``state``, handed in by the entry point):
    ``state_dir/dedup.sqlite3`` (``file``, or ``state`` None) or the tables ``warwatch_dedup_*`` of
    the state database (``postgres``). Every place that opens the index goes through here."""
    dsn = state.postgres_dsn if state is not None else None
    if dsn is None:
        return StoryIndex(Path(state_dir) / STATE_FILE, **_dedup_kwargs(dedup))
    from indexing.dedup_pg import PgStoryIndex

    assert state is not None
    return PgStoryIndex(dsn, connect_timeout=state.connect_timeout, **_dedup_kwargs(dedup))


class StoryIndex(BaseStoryIndex):
    """The story index in one SQLite file (``path``); ``StoryIndex.from_settings(settings)`` opens
    the pipeline's on the configured backend."""

    _WORDS = {"meta": "meta", "docs": "docs", "stories": "stories", "bands": "bands", "cross_join": "CROSS JOIN"}

    def __init__(
        self,
        path: Path,
        *,
        num_perm: int,
        shingle_size: int,
        threshold: float,
        min_words: int,
        window_days: float | None = None,
        max_words: int = 100_000,
    ):
        super().__init__(num_perm=num_perm, shingle_size=shingle_size, threshold=threshold,
                         min_words=min_words, window_days=window_days, max_words=max_words)
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._setup()
        except sqlite3.OperationalError:  # locked, disk full, ...: not the file's fault
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise DedupStateError(f"{path}: not a usable dedup state file ({exc})") from exc
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, path: Path, dedup: DedupSettings) -> StoryIndex:
        """The index stored at ``path``, created if new, with the ``dedup`` settings."""
        return cls(Path(path), **_dedup_kwargs(dedup))

    @classmethod
    def from_settings(cls, settings: Settings) -> BaseStoryIndex:
        """The pipeline's index with ``settings.dedup``: ``{state_dir}/dedup.sqlite3``, or Postgres
        with ``state.backend: postgres`` (:func:`open_story_index`)."""
        return open_story_index(settings.state_dir, settings.dedup, settings.state)

    # The dialect ---------------------------------------------------------------------
    def sql_exec(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(self.sql(sql), args)

    def sql_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(self.sql(sql), rows)

    def _begin(self, exclusive: bool) -> None:
        self._db.execute("BEGIN IMMEDIATE")  # the write lock: one assignment at a time, reads in it stay valid

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def _insert_doc(self, args: Sequence[Any]) -> int:
        cur = self._db.execute(self.sql("INSERT INTO docs (doc_id, body_hash, story_id, published, exact_of, "
                                         "minhash) VALUES (?, ?, ?, ?, ?, ?)"), args)
        assert cur.lastrowid is not None
        return cur.lastrowid

    def save(self) -> None:
        """Make everything durable (each assignment is already committed; this checkpoints)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_db(self) -> None:
        self._db.close()
