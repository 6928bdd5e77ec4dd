"""The story assignment of :mod:`indexing.dedup`, written once for both backends:
:class:`BaseStoryIndex` holds every rule (exact copies, near copies through the LSH band store,
the canonical copy, edits, the publication window); ``indexing.dedup`` (SQLite, one machine) and
``indexing.dedup_pg`` (Postgres, enrich workers on several hosts) only say how to talk to theirs.

Statements here use ``?`` parameters and ``{name}`` for the words of :data:`SQL_WORDS` (the
tables, and what the two databases spell differently). Each assignment is one transaction; a
dialect makes two assignments that could see each other take turns (SQLite: the one write lock;
Postgres: advisory locks on the document's band keys, body hash and id, :meth:`_serialise`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import numpy as np

from indexing.dedup_bands import band_keys, band_rows, candidate_sql, ensure_bands, stored_banding
from indexing.fingerprint import Fingerprint, fingerprint, signed
from indexing.sqldialect import SqlDialect

log = logging.getLogger(__name__)

#: datasketch's hashing scheme, pinned: stored hash values are only comparable within one scheme
MINHASH_SCHEME = "affine32"
#: the SQL words a dialect names
SQL_WORDS = ("meta", "docs", "stories", "bands", "cross_join")


class DedupStateError(RuntimeError):
    """The dedup state is unusable (other MinHash parameters, a corrupt file)."""


@dataclass(frozen=True)
class StoryAssignment:
    story_id: str
    is_exact_duplicate: bool  # the same normalised body was seen under another doc id
    duplicate_of: str | None  # exact: the first doc with that body; near: the story's canonical doc
    is_near_duplicate: bool = False  # not exact, and another copy is the story's canonical one
    canonical_doc_id: str | None = None  # the story's earliest published copy (may be this doc)
    similarity: float | None = None  # estimated Jaccard with the matched copy (near duplicates)


def body_hash(text: str) -> str:
    """Hash of the normalised body: equal for copies differing in case, spacing or punctuation."""
    return fingerprint(text, shingle_size=1, min_words=0, max_words=0, minhash=None).body_hash


def _utc(dt: datetime) -> datetime:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else _utc(dt).isoformat()


class BaseStoryIndex(SqlDialect):
    """Assigns story ids; a dialect sets :attr:`_WORDS`, :attr:`_PARAM` and the methods marked
    "the dialect", then calls :meth:`_setup` once connected. Use as a context manager."""

    #: where the state is, for messages (a path, or the redacted DSN)
    where = ""

    def __init__(self, *, num_perm: int, shingle_size: int, threshold: float, min_words: int,
                 window_days: float | None = None, max_words: int = 100_000) -> None:
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.threshold = threshold
        self.min_words = min_words
        self.max_words = max_words  # words of a body its signature covers (indexing.fingerprint)
        self.window = timedelta(days=window_days) if window_days else None
        #: candidate rows read for verification since opening (diagnostics and tests)
        self.candidates_checked = 0

    def _setup(self) -> None:
        self._check_params()
        self._banding = ensure_bands(self, self.where, threshold=self.threshold, num_perm=self.num_perm)

    # The dialect ---------------------------------------------------------------------
    sql = SqlDialect.translate

    def sql_exec(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement; the result has ``fetchone``/``fetchall``."""
        raise NotImplementedError

    def sql_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[None]:
        """One transaction, committed on success; ``exclusive``: no assignment runs meanwhile
        (re-banding the table), else assignments run side by side as far as the dialect allows."""
        self._begin(exclusive)
        try:
            yield
            self._commit()
        except BaseException:
            self._rollback()
            raise

    def _begin(self, exclusive: bool) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _serialise(self, doc_id: str, h: str, sig: np.ndarray | None) -> None:
        """Inside an assignment's transaction: wait for every other assignment that could see
        this document or be seen by it (same id, body hash or LSH band) to finish."""

    def _insert_doc(self, args: Sequence[Any]) -> int:
        """Insert a ``docs`` row (doc_id, body_hash, story_id, published, exact_of, minhash); its seq."""
        raise NotImplementedError

    def save(self) -> None:
        """Make everything durable (each assignment is already committed)."""

    def _close_db(self) -> None:
        raise NotImplementedError

    # State ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        wanted = {"num_perm": str(self.num_perm), "shingle_size": str(self.shingle_size), "scheme": MINHASH_SCHEME}
        rows = dict(self.sql_exec("SELECT key, value FROM {meta}").fetchall())
        for key, value in wanted.items():
            if key in rows and rows[key] != value:
                raise DedupStateError(
                    f"{self.where}: built with {key}={rows[key]}, settings say {value}; "
                    f"move the state away to rebuild story ids"
                )
        with self.transaction():
            self.sql_many("INSERT INTO {meta} (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", wanted.items())

    def _fingerprint(self, body: str) -> Fingerprint:
        """Body hash and signature, streamed in bounded memory (:mod:`indexing.fingerprint`)."""
        return signed(body, num_perm=self.num_perm, shingle_size=self.shingle_size, min_words=self.min_words,
                      max_words=self.max_words)

    # Assigning -----------------------------------------------------------------------
    def assign(self, doc_id: str, body: str, published: datetime | None = None,
               found: Fingerprint | None = None) -> StoryAssignment:
        """The story of ``doc_id``; idempotent for a known doc id. ``found``: the body's fingerprint
        computed ahead with this index's settings (:mod:`indexing.enrich.prepared`)."""
        if found is None:
            found = self._fingerprint(body or "")  # outside the transaction: the expensive part
        h, sig = found.body_hash, found.signature
        with self.transaction():
            self._follow_banding()
            self._serialise(doc_id, h, sig)
            return self._assign_locked(doc_id, h, published, sig)

    def _follow_banding(self) -> None:
        """Use the banding the table has now: another process may have re-banded it since we opened."""
        stored = stored_banding(self)
        if stored is not None and stored != self._banding:
            log.warning("%s: LSH bands were rebuilt by another process (%dx%d at threshold %s); following them",
                        self.where, stored.bands, stored.rows, stored.threshold)
            self._banding = stored

    def _assign_locked(
        self, doc_id: str, h: str, published: datetime | None, sig: np.ndarray | None
    ) -> StoryAssignment:
        x = self.sql_exec
        pub = _iso(published)
        blob = sig.tobytes() if sig is not None else None
        row = x("SELECT seq, story_id, body_hash, exact_of, minhash FROM {docs} WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None:
            seq, story_id, old_hash, exact_of, old_blob = row
            if old_hash != h:  # an edited article stays in its story
                x("UPDATE {docs} SET body_hash = ?, minhash = ? WHERE doc_id = ?", (h, blob, doc_id))
                self._remove_bands(seq, old_blob)
                self._add_bands(seq, doc_id, sig)
            return self._result(story_id, doc_id, exact_of, None)

        exact = x("SELECT doc_id, story_id FROM {docs} WHERE body_hash = ? ORDER BY seq LIMIT 1", (h,)).fetchone()
        similarity: float | None = None
        if exact is not None:
            exact_of, story_id = exact
        else:
            exact_of = None
            story_id, similarity = self._near(sig, published) if sig is not None else (None, None)
            if story_id is None:
                story_id = "st-" + hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:20]
        seq = self._insert_doc((doc_id, h, story_id, pub, exact_of, None if exact_of else blob))
        if exact_of is None:
            self._add_bands(seq, doc_id, sig)
        x("INSERT INTO {stories} (story_id, canonical_doc_id, canonical_published) VALUES (?, ?, ?) "
          "ON CONFLICT (story_id) DO NOTHING", (story_id, doc_id, pub))
        if pub is not None:  # the earliest published copy is canonical (unknown dates sort last)
            x("UPDATE {stories} SET canonical_doc_id = ?, canonical_published = ? WHERE story_id = ? "
              "AND (canonical_published IS NULL OR canonical_published > ?)", (doc_id, pub, story_id, pub))
        return self._result(story_id, doc_id, exact_of, similarity)

    def _band_rows(self, seq: int, sig: np.ndarray) -> Iterable[tuple[int, int, int]]:
        return band_rows(self._banding, seq, sig)

    def _add_bands(self, seq: int, doc_id: str, sig: np.ndarray | None) -> None:
        """Make ``sig`` findable as a near-duplicate candidate (``doc_id``: for subclasses and logs)."""
        if sig is not None:
            self.sql_many("INSERT INTO {bands} (band, hash, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          self._band_rows(seq, sig))

    def _remove_bands(self, seq: int, blob: bytes | None) -> None:
        if blob is not None and len(blob) == self.num_perm * 8:
            self.sql_many("DELETE FROM {bands} WHERE band = ? AND hash = ? AND seq = ?",
                          self._band_rows(seq, np.frombuffer(blob, dtype=np.uint64)))

    def _candidate_query(self, sig: np.ndarray, published: datetime | None) -> tuple[str, list[object]]:
        bands = self._banding.bands
        keys = band_keys(sig.reshape(1, -1), bands, self._banding.rows)[0]
        params: list[object] = []
        for b, k in enumerate(keys):
            params += [b, int(k)]
        windowed = self.window is not None and published is not None
        if windowed:
            assert self.window is not None and published is not None
            at = _utc(published)
            params += [_iso(at - self.window), _iso(at + self.window)]
        return candidate_sql(bands, windowed), params

    def _near(self, sig: np.ndarray, published: datetime | None) -> tuple[str | None, float | None]:
        sql, params = self._candidate_query(sig, published)
        rows = [r for r in self.sql_exec(sql, params).fetchall() if len(r[2]) == self.num_perm * 8]
        self.candidates_checked += len(rows)
        if not rows:
            return None, None
        others = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint64).reshape(len(rows), -1)
        # the estimate datasketch's MinHash.jaccard gives: the share of equal hash values
        sims = np.count_nonzero(others == sig, axis=1) / float(self.num_perm)
        best = int(np.argmax(sims))  # ties: the earliest stored copy (rows are in seq order)
        if sims[best] < self.threshold:
            return None, None
        return rows[best][1], float(sims[best])

    def _result(self, story_id: str, doc_id: str, exact_of: str | None, similarity: float | None) -> StoryAssignment:
        row = self.sql_exec("SELECT canonical_doc_id FROM {stories} WHERE story_id = ?", (story_id,)).fetchone()
        canonical = row[0] if row else doc_id
        duplicate_of = exact_of or (canonical if canonical != doc_id else None)
        return StoryAssignment(
            story_id=story_id,
            is_exact_duplicate=exact_of is not None,
            duplicate_of=duplicate_of,
            is_near_duplicate=exact_of is None and canonical != doc_id,
            canonical_doc_id=canonical,
            similarity=similarity,
        )

    def story_of(self, doc_id: str) -> str | None:
        row = self.sql_exec("SELECT story_id FROM {docs} WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return int(self.sql_exec("SELECT COUNT(*) FROM {docs}").fetchone()[0])

    # Lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        try:
            self.save()
        finally:
            self._close_db()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

