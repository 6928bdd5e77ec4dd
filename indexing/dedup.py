"""Duplicates across outlets: one ``story_id`` per story, whatever URL or outlet carries it.

- Exact duplicates: the same normalised body (:func:`body_hash`: case, whitespace, punctuation,
  apostrophes and Latin diacritics ignored).
- Near duplicates (syndicated or lightly rewritten copies): MinHash of word shingles and LSH
  banding (the band store: :mod:`indexing.dedup_bands`); a candidate joins the story of its most
  similar earlier document when the estimated Jaccard similarity reaches
  ``settings.dedup.near_duplicate_threshold``.

State lives in SQLite (``{state_dir}/dedup.sqlite3``, WAL). The LSH index is a table too: each
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

import hashlib
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import numpy as np
from datasketch import MinHash

from indexing.dedup_bands import (
    band_keys,
    band_rows,
    candidate_sql,
    ensure_bands,
    stored_banding,
)
from indexing.fingerprint import Fingerprint, fingerprint
from indexing.settings import DedupSettings, Settings

log = logging.getLogger(__name__)

STATE_FILE = "dedup.sqlite3"
#: datasketch's hashing scheme, pinned: stored hash values are only comparable within one scheme
MINHASH_SCHEME = "affine32"
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


class DedupStateError(RuntimeError):
    """The dedup state file is unusable (other MinHash parameters, corrupt)."""


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


def _earlier(a: str | None, b: str | None) -> bool:
    """Is published date ``a`` strictly earlier than ``b`` (unknown dates sort last)?"""
    if a is None:
        return False
    return b is None or a < b


class StoryIndex:
    """Assigns story ids; use ``StoryIndex.from_settings(settings)`` or ``open(path, dedup)`` (or as a context manager) and ``save()``."""

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
        self.path = path
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.threshold = threshold
        self.min_words = min_words
        self.max_words = max_words  # words of a body its signature covers (indexing.fingerprint)
        self.window = timedelta(days=window_days) if window_days else None
        #: candidate rows read for verification since opening (diagnostics and tests)
        self.candidates_checked = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_params()
            self._banding = ensure_bands(self._db, path, threshold=threshold, num_perm=num_perm)
        except sqlite3.OperationalError:  # locked, disk full, ...: not the file's fault
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise DedupStateError(f"{path}: not a usable dedup state file ({exc})") from exc
        except BaseException:
            self._db.close()
            raise
        # the permutations are the costly part of a MinHash: generate them once
        self._perms = MinHash(num_perm=num_perm, scheme=MINHASH_SCHEME).permutations

    @classmethod
    def open(cls, path: Path, dedup: DedupSettings) -> StoryIndex:
        """The index stored at ``path``, created if new, with the ``dedup`` settings."""
        d = dedup
        return cls(
            Path(path),
            num_perm=d.minhash_permutations,
            shingle_size=d.shingle_size,
            threshold=d.near_duplicate_threshold,
            min_words=d.min_words,
            window_days=d.near_duplicate_window_days,
            max_words=d.signature_max_words,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StoryIndex:
        """The pipeline's index: ``{state_dir}/dedup.sqlite3`` with ``settings.dedup``."""
        return cls.open(settings.state_dir / STATE_FILE, settings.dedup)

    # State ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        wanted = {"num_perm": str(self.num_perm), "shingle_size": str(self.shingle_size), "scheme": MINHASH_SCHEME}
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        for key, value in wanted.items():
            if key in rows and rows[key] != value:
                raise DedupStateError(
                    f"{self.path}: built with {key}={rows[key]}, settings say {value}; "
                    f"move the file away to rebuild story ids"
                )
        self._db.executemany("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", wanted.items())

    def _fingerprint(self, body: str) -> Fingerprint:
        """Body hash and signature, streamed in bounded memory (:mod:`indexing.fingerprint`)."""
        mh = MinHash(num_perm=self.num_perm, permutations=self._perms, scheme=MINHASH_SCHEME)
        return fingerprint(body, shingle_size=self.shingle_size, min_words=self.min_words,
                           max_words=self.max_words, minhash=mh)

    # Assigning -----------------------------------------------------------------------
    def assign(self, doc_id: str, body: str, published: datetime | None = None) -> StoryAssignment:
        """The story of ``doc_id``; idempotent for a known doc id."""
        found = self._fingerprint(body or "")  # outside the lock: the expensive part
        h, sig = found.body_hash, found.signature
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._follow_banding()
            result = self._assign_locked(doc_id, h, published, sig)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return result

    def _follow_banding(self) -> None:
        """Use the banding the table has now: another process may have re-banded it since we opened."""
        stored = stored_banding(self._db)
        if stored is not None and stored != self._banding:
            log.warning("%s: LSH bands were rebuilt by another process (%dx%d at threshold %s); following them",
                        self.path, stored.bands, stored.rows, stored.threshold)
            self._banding = stored

    def _assign_locked(
        self, doc_id: str, h: str, published: datetime | None, sig: np.ndarray | None
    ) -> StoryAssignment:
        db = self._db
        pub = _iso(published)
        blob = sig.tobytes() if sig is not None else None
        row = db.execute(
            "SELECT seq, story_id, body_hash, exact_of, minhash FROM docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is not None:
            seq, story_id, old_hash, exact_of, old_blob = row
            if old_hash != h:  # an edited article stays in its story
                db.execute("UPDATE docs SET body_hash = ?, minhash = ? WHERE doc_id = ?", (h, blob, doc_id))
                self._remove_bands(seq, old_blob)
                self._add_bands(seq, doc_id, sig)
            return self._result(story_id, doc_id, exact_of, None)

        exact = db.execute(
            "SELECT doc_id, story_id FROM docs WHERE body_hash = ? ORDER BY seq LIMIT 1", (h,)
        ).fetchone()
        similarity: float | None = None
        if exact is not None:
            exact_of, story_id = exact
        else:
            exact_of = None
            story_id, similarity = self._near(sig, published) if sig is not None else (None, None)
            if story_id is None:
                story_id = "st-" + hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:20]
        cur = db.execute(
            "INSERT INTO docs (doc_id, body_hash, story_id, published, exact_of, minhash) VALUES (?, ?, ?, ?, ?, ?)",
            (doc_id, h, story_id, pub, exact_of, None if exact_of else blob),
        )
        if exact_of is None and cur.lastrowid is not None:
            self._add_bands(cur.lastrowid, doc_id, sig)
        story = db.execute(
            "SELECT canonical_doc_id, canonical_published FROM stories WHERE story_id = ?", (story_id,)
        ).fetchone()
        if story is None:
            db.execute("INSERT INTO stories VALUES (?, ?, ?)", (story_id, doc_id, pub))
        elif _earlier(pub, story[1]):
            db.execute(
                "UPDATE stories SET canonical_doc_id = ?, canonical_published = ? WHERE story_id = ?",
                (doc_id, pub, story_id),
            )
        return self._result(story_id, doc_id, exact_of, similarity)

    def _band_rows(self, seq: int, sig: np.ndarray) -> Iterable[tuple[int, int, int]]:
        return band_rows(self._banding, seq, sig)

    def _add_bands(self, seq: int, doc_id: str, sig: np.ndarray | None) -> None:
        """Make ``sig`` findable as a near-duplicate candidate (``doc_id``: for subclasses and logs)."""
        if sig is not None:
            self._db.executemany("INSERT OR IGNORE INTO bands (band, hash, seq) VALUES (?, ?, ?)",
                                 self._band_rows(seq, sig))

    def _remove_bands(self, seq: int, blob: bytes | None) -> None:
        if blob is not None and len(blob) == self.num_perm * 8:
            self._db.executemany("DELETE FROM bands WHERE band = ? AND hash = ? AND seq = ?",
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
        rows = [r for r in self._db.execute(sql, params).fetchall() if len(r[2]) == self.num_perm * 8]
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
        row = self._db.execute("SELECT canonical_doc_id FROM stories WHERE story_id = ?", (story_id,)).fetchone()
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
        row = self._db.execute("SELECT story_id FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    # Lifecycle -----------------------------------------------------------------------
    def save(self) -> None:
        """Make everything durable (each assignment is already committed; this checkpoints)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        try:
            self.save()
        finally:
            self._db.close()

    def __enter__(self) -> StoryIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
