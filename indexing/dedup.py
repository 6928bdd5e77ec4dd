"""Duplicates across outlets: one ``story_id`` per story, whatever URL or outlet carries it.

- Exact duplicates: the same normalised body (:func:`body_hash`: case, whitespace, punctuation,
  apostrophes and Latin diacritics ignored).
- Near duplicates (syndicated or lightly rewritten copies): MinHash of word shingles and an LSH
  index (datasketch); a candidate joins the story of its most similar earlier document when the
  estimated Jaccard similarity reaches ``settings.dedup.near_duplicate_threshold``.

State lives in SQLite (``{state_dir}/dedup.sqlite3``, WAL): every assignment is its own
transaction under a write lock, and each process loads the rows other processes added before it
assigns, so story ids are stable across runs and processes, and re-assigning a known doc id
returns its stored story. A story id is derived from the first document that opened the story and
never changes; its canonical copy (the earliest published; first seen when dates are unknown)
may change as earlier copies arrive.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from indexing.enrich.text import normalize_text, words
from indexing.settings import get_settings

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
    return _hash_words(words(normalize_text(text or "")))


def _hash_words(toks: list[str]) -> str:
    return hashlib.sha256(" ".join(toks).encode("utf-8")).hexdigest()


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _earlier(a: str | None, b: str | None) -> bool:
    """Is published date ``a`` strictly earlier than ``b`` (unknown dates sort last)?"""
    if a is None:
        return False
    return b is None or a < b


class StoryIndex:
    """Assigns story ids; use ``StoryIndex.open()`` (or as a context manager) and ``save()``."""

    def __init__(self, path: Path, *, num_perm: int, shingle_size: int, threshold: float, min_words: int):
        self.path = path
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.threshold = threshold
        self.min_words = min_words
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._check_params()
        # Bands tuned for recall: LSH only proposes candidates, each is then checked against the
        # threshold with its estimated Jaccard, so false candidates cost a comparison, not a merge.
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
        self._minhashes: dict[str, LeanMinHash] = {}
        # the permutations are the costly part of a MinHash: generate them once
        self._perms = MinHash(num_perm=num_perm, scheme=MINHASH_SCHEME).permutations
        self._loaded_seq = 0
        self._sync()

    @classmethod
    def open(cls, path: Path | None = None) -> StoryIndex:
        """The index stored at ``path`` (default ``{state_dir}/dedup.sqlite3``), created if new."""
        settings = get_settings()
        d = settings.dedup
        return cls(
            Path(path) if path is not None else settings.state_dir / STATE_FILE,
            num_perm=d.minhash_permutations,
            shingle_size=d.shingle_size,
            threshold=d.near_duplicate_threshold,
            min_words=d.min_words,
        )

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

    def _sync(self) -> None:
        """Load documents other processes (or earlier runs) added since the last look."""
        rows = self._db.execute(
            "SELECT seq, doc_id, minhash FROM docs WHERE seq > ? ORDER BY seq", (self._loaded_seq,)
        ).fetchall()
        for seq, doc_id, blob in rows:
            self._loaded_seq = max(self._loaded_seq, seq)
            if blob is None or doc_id in self._minhashes:
                continue
            mh = LeanMinHash(seed=1, hashvalues=np.frombuffer(blob, dtype=np.uint64), scheme=MINHASH_SCHEME)
            self._minhashes[doc_id] = mh
            self._lsh.insert(doc_id, mh)

    def _minhash(self, toks: list[str]) -> LeanMinHash | None:
        if len(toks) < self.min_words:
            return None
        k = self.shingle_size
        shingles = {" ".join(toks[i : i + k]) for i in range(max(1, len(toks) - k + 1))}
        mh = MinHash(num_perm=self.num_perm, permutations=self._perms, scheme=MINHASH_SCHEME)
        mh.update_batch([s.encode("utf-8") for s in shingles])
        return LeanMinHash(mh)

    # Assigning -----------------------------------------------------------------------
    def assign(self, doc_id: str, body: str, published: datetime | None = None) -> StoryAssignment:
        """The story of ``doc_id``; idempotent for a known doc id."""
        toks = words(normalize_text(body or ""))
        h = _hash_words(toks)
        pub = _iso(published)
        mh = self._minhash(toks)  # outside the lock: the expensive part
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._sync()
            result = self._assign_locked(doc_id, h, pub, mh)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if mh is not None and doc_id not in self._minhashes:
            self._minhashes[doc_id] = mh
            self._lsh.insert(doc_id, mh)
        return result

    def _assign_locked(self, doc_id: str, h: str, pub: str | None, mh: LeanMinHash | None) -> StoryAssignment:
        db = self._db
        blob = mh.hashvalues.astype(np.uint64).tobytes() if mh is not None else None
        row = db.execute("SELECT story_id, body_hash, exact_of FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None:
            story_id, old_hash, exact_of = row
            if old_hash != h:  # an edited article stays in its story
                db.execute("UPDATE docs SET body_hash = ?, minhash = ? WHERE doc_id = ?", (h, blob, doc_id))
                if doc_id in self._minhashes and mh is not None:
                    self._lsh.remove(doc_id)
                    self._minhashes[doc_id] = mh
                    self._lsh.insert(doc_id, mh)
            return self._result(story_id, doc_id, exact_of, None)

        exact = db.execute(
            "SELECT doc_id, story_id FROM docs WHERE body_hash = ? ORDER BY seq LIMIT 1", (h,)
        ).fetchone()
        similarity: float | None = None
        if exact is not None:
            exact_of, story_id = exact
        else:
            exact_of = None
            story_id, similarity = self._near(mh) if mh is not None else (None, None)
            if story_id is None:
                story_id = "st-" + hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:20]
        db.execute(
            "INSERT INTO docs (doc_id, body_hash, story_id, published, exact_of, minhash) VALUES (?, ?, ?, ?, ?, ?)",
            (doc_id, h, story_id, pub, exact_of, None if exact_of else blob),
        )
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

    def _near(self, mh: LeanMinHash) -> tuple[str | None, float | None]:
        best: tuple[float, str] | None = None
        for cand in self._lsh.query(mh):
            other = self._minhashes.get(cand)
            if other is None:
                continue
            sim = mh.jaccard(other)
            if sim >= self.threshold and (best is None or sim > best[0]):
                best = (sim, cand)
        if best is None:
            return None, None
        row = self._db.execute("SELECT story_id FROM docs WHERE doc_id = ?", (best[1],)).fetchone()
        return (row[0], best[0]) if row else (None, None)

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
