"""Duplicates across outlets: one ``story_id`` per story, whatever URL or outlet carries it.

- Exact duplicates: the same normalised body (:func:`body_hash`: case, whitespace, punctuation,
  apostrophes and Latin diacritics ignored).
- Near duplicates (syndicated or lightly rewritten copies): MinHash of word shingles and LSH
  banding; a candidate joins the story of its most similar earlier document when the estimated
  Jaccard similarity reaches ``settings.dedup.near_duplicate_threshold``.

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

import functools
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import numpy as np
from datasketch import MinHash, MinHashLSH

from indexing.fingerprint import Fingerprint, fingerprint
from indexing.settings import get_settings

log = logging.getLogger(__name__)

STATE_FILE = "dedup.sqlite3"
#: datasketch's hashing scheme, pinned: stored hash values are only comparable within one scheme
MINHASH_SCHEME = "affine32"
#: how band hashes are computed (:func:`_band_keys`); stored in ``meta`` so a change rebuilds them
BAND_HASH = "fold-mix64-v1"
#: LSH weights: tuned for recall. LSH only proposes candidates, each is then checked against the
#: threshold with its estimated Jaccard, so false candidates cost a comparison, not a merge.
LSH_WEIGHTS = (0.1, 0.9)
_REBUILD_CHUNK = 5000
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


@dataclass(frozen=True)
class _Banding:
    threshold: float
    num_perm: int
    bands: int
    rows: int
    band_hash: str = BAND_HASH

    def to_json(self) -> str:
        return json.dumps(
            {"threshold": self.threshold, "num_perm": self.num_perm, "bands": self.bands,
             "rows": self.rows, "band_hash": self.band_hash},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> _Banding | None:
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(float(d["threshold"]), int(d["num_perm"]), int(d["bands"]), int(d["rows"]),
                       str(d["band_hash"]))
        except (ValueError, KeyError, TypeError):
            return None


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


@functools.lru_cache(maxsize=16)
def _lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's (bands, rows) for this threshold: the banding the in-memory index used."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return int(lsh.b), int(lsh.r)


_SEED = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit hash per band of each signature (``sigs``: n x num_perm) -> n x bands.

    Equal bands give equal keys; unequal ones collide with probability ~2**-64, and a collision
    only adds a candidate that verification rejects. Plain integer arithmetic, so the keys are the
    same on every platform and numpy version.
    """
    x = np.ascontiguousarray(sigs[:, : bands * rows], dtype=np.uint64).reshape(len(sigs), bands, rows)
    h = np.full((len(sigs), bands), _SEED, dtype=np.uint64)
    for j in range(rows):
        h = (h ^ x[:, :, j]) * _PRIME  # FNV-style fold; uint64 arrays wrap around
    h ^= h >> np.uint64(30)  # splitmix64 finaliser: spreads every input bit over the key
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h.view(np.int64)


class StoryIndex:
    """Assigns story ids; use ``StoryIndex.open()`` (or as a context manager) and ``save()``."""

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
            self._banding = self._ensure_bands()
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
            window_days=d.near_duplicate_window_days,
            max_words=d.signature_max_words,
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

    def _stored_banding(self) -> _Banding | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'lsh'").fetchone()
        return _Banding.from_json(row[0] if row else None)

    def _ensure_bands(self) -> _Banding:
        """The banding of the stored band table, rebuilt first if it does not suit these settings.

        One meta row is read when the table is current (the normal case: O(1)). Files from before
        the band table, or banded for another threshold, are re-banded once from their stored
        signatures; doc and story rows are not touched.
        """
        stored = self._stored_banding()
        if stored is not None and stored.threshold == self.threshold and stored.num_perm == self.num_perm \
                and stored.band_hash == BAND_HASH:
            return stored
        bands, rows = _lsh_shape(self.threshold, self.num_perm)
        wanted = _Banding(self.threshold, self.num_perm, bands, rows)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._stored_banding()  # another process may have done it meanwhile
            if stored == wanted:
                self._db.execute("COMMIT")
                return stored
            if stored is None or (stored.bands, stored.rows, stored.band_hash, stored.num_perm) != (
                bands, rows, BAND_HASH, self.num_perm
            ):
                self._rebuild_bands(wanted, stored)
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('lsh', ?)", (wanted.to_json(),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return wanted

    def _rebuild_bands(self, banding: _Banding, previous: _Banding | None) -> None:
        started = time.monotonic()
        self._db.execute("DELETE FROM bands")
        reader = self._db.execute("SELECT seq, minhash FROM docs WHERE minhash IS NOT NULL ORDER BY seq")
        n = 0
        while chunk := reader.fetchmany(_REBUILD_CHUNK):
            good = [(seq, blob) for seq, blob in chunk if len(blob) == self.num_perm * 8]
            if len(good) < len(chunk):
                log.warning("%s: %d stored signatures have the wrong length; left out of the band index",
                            self.path, len(chunk) - len(good))
            if not good:
                continue
            sigs = np.frombuffer(b"".join(blob for _, blob in good), dtype=np.uint64).reshape(len(good), -1)
            keys = _band_keys(sigs, banding.bands, banding.rows)
            self._db.executemany(
                "INSERT OR IGNORE INTO bands (band, hash, seq) VALUES (?, ?, ?)",
                ((b, int(k), seq) for (seq, _), row in zip(good, keys, strict=True) for b, k in enumerate(row)),
            )
            n += len(good)
        if n or previous is not None:
            log.info("%s: LSH bands %s for %d stored signatures (%dx%d, was %s) in %.1fs",
                     self.path, "rebuilt" if previous else "built", n, banding.bands, banding.rows,
                     f"{previous.bands}x{previous.rows}" if previous else "none", time.monotonic() - started)

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
        stored = self._stored_banding()
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
        keys = _band_keys(sig.reshape(1, -1), self._banding.bands, self._banding.rows)[0]
        return [(b, int(k), seq) for b, k in enumerate(keys)]

    def _add_bands(self, seq: int, doc_id: str, sig: np.ndarray | None) -> None:
        """Make ``sig`` findable as a near-duplicate candidate (``doc_id``: for subclasses and logs)."""
        if sig is not None:
            self._db.executemany("INSERT OR IGNORE INTO bands (band, hash, seq) VALUES (?, ?, ?)",
                                 self._band_rows(seq, sig))

    def _remove_bands(self, seq: int, blob: bytes | None) -> None:
        if blob is not None and len(blob) == self.num_perm * 8:
            self._db.executemany("DELETE FROM bands WHERE band = ? AND hash = ? AND seq = ?",
                                 self._band_rows(seq, np.frombuffer(blob, dtype=np.uint64)))

    def _candidate_sql(self, bands: int, windowed: bool) -> str:
        # CROSS JOIN keeps SQLite's planner on the band key: one primary-key search per band,
        # then one rowid lookup per candidate; never a scan (tests check the plan)
        values = ", ".join(["(?, ?)"] * bands)
        window = " AND (d.published IS NULL OR d.published BETWEEN ? AND ?)" if windowed else ""
        return (
            f"WITH q(band, hash) AS (VALUES {values}) "
            "SELECT DISTINCT d.seq, d.story_id, d.minhash FROM q "
            "CROSS JOIN bands b ON b.band = q.band AND b.hash = q.hash "
            "JOIN docs d ON d.seq = b.seq "
            f"WHERE d.minhash IS NOT NULL{window} ORDER BY d.seq"
        )

    def _candidate_query(self, sig: np.ndarray, published: datetime | None) -> tuple[str, list[object]]:
        bands = self._banding.bands
        keys = _band_keys(sig.reshape(1, -1), bands, self._banding.rows)[0]
        params: list[object] = []
        for b, k in enumerate(keys):
            params += [b, int(k)]
        windowed = self.window is not None and published is not None
        if windowed:
            assert self.window is not None and published is not None
            at = _utc(published)
            params += [_iso(at - self.window), _iso(at + self.window)]
        return self._candidate_sql(bands, windowed), params

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
