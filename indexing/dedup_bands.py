"""The LSH band store of :mod:`indexing.dedup`: MinHash signatures cut into bands, one row
``(band, hash, seq)`` per band of each stored signature in the table ``bands`` (SQLite, or
``warwatch_dedup_bands`` in Postgres: the statements go through the index's dialect, :class:`BandDb`).

Finding the candidates of a new signature is one indexed query (:func:`candidate_sql`); the
banding (bands x rows for the threshold, the band hash) is kept in ``meta`` and the table is
rebuilt from the stored signatures when it does not suit the settings (:func:`ensure_bands`).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from datasketch import MinHashLSH

log = logging.getLogger(__name__)

#: how band hashes are computed (:func:`band_keys`); stored in ``meta`` so a change rebuilds them
BAND_HASH = "fold-mix64-v1"
#: LSH weights: tuned for recall. LSH only proposes candidates, each is then checked against the
#: threshold with its estimated Jaccard, so false candidates cost a comparison, not a merge.
LSH_WEIGHTS = (0.1, 0.9)
REBUILD_CHUNK = 5000


class BandDb(Protocol):
    """What the band store needs of a story index's database (``?`` parameters, ``{table}`` words)."""

    def sql_exec(self, sql: str, args: Sequence[Any] = ()) -> Any: ...

    def sql_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def transaction(self, exclusive: bool = False) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class Banding:
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
    def from_json(cls, text: str | None) -> Banding | None:
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(float(d["threshold"]), int(d["num_perm"]), int(d["bands"]), int(d["rows"]),
                       str(d["band_hash"]))
        except (ValueError, KeyError, TypeError):
            return None


@functools.lru_cache(maxsize=16)
def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's (bands, rows) for this threshold: the banding the in-memory index used."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return int(lsh.b), int(lsh.r)


_SEED = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
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


def band_rows(banding: Banding, seq: int, sig: np.ndarray) -> list[tuple[int, int, int]]:
    """The band table's rows of signature ``sig`` stored as ``seq``."""
    keys = band_keys(sig.reshape(1, -1), banding.bands, banding.rows)[0]
    return [(b, int(k), seq) for b, k in enumerate(keys)]


def stored_banding(db: BandDb) -> Banding | None:
    """The banding the band table was built with (None before there was one)."""
    row = db.sql_exec("SELECT value FROM {meta} WHERE key = 'lsh'").fetchone()
    return Banding.from_json(row[0] if row else None)


def ensure_bands(db: BandDb, where: str, *, threshold: float, num_perm: int) -> Banding:
    """The banding of the stored band table, rebuilt first if it does not suit these settings.

    One meta row is read when the table is current (the normal case: O(1)). Stores from before
    the band table, or banded for another threshold, are re-banded once from their stored
    signatures, with no assignment running meanwhile; doc and story rows are not touched.
    """
    stored = stored_banding(db)
    if stored is not None and stored.threshold == threshold and stored.num_perm == num_perm \
            and stored.band_hash == BAND_HASH:
        return stored
    bands, rows = lsh_shape(threshold, num_perm)
    wanted = Banding(threshold, num_perm, bands, rows)
    with db.transaction(exclusive=True):
        stored = stored_banding(db)  # another process may have done it meanwhile
        if stored == wanted:
            return stored
        if stored is None or (stored.bands, stored.rows, stored.band_hash, stored.num_perm) != (
            bands, rows, BAND_HASH, num_perm
        ):
            rebuild_bands(db, where, wanted, stored)
        db.sql_exec("INSERT INTO {meta} (key, value) VALUES ('lsh', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (wanted.to_json(),))
    return wanted


def rebuild_bands(db: BandDb, where: str, banding: Banding, previous: Banding | None) -> None:
    """Band every stored signature anew, :data:`REBUILD_CHUNK` at a time (``where``: for the log)."""
    started = time.monotonic()
    db.sql_exec("DELETE FROM {bands}")
    n = last = 0
    while chunk := db.sql_exec("SELECT seq, minhash FROM {docs} WHERE minhash IS NOT NULL AND seq > ? "
                               "ORDER BY seq LIMIT ?", (last, REBUILD_CHUNK)).fetchall():
        last = chunk[-1][0]
        good = [(seq, blob) for seq, blob in chunk if len(blob) == banding.num_perm * 8]
        if len(good) < len(chunk):
            log.warning("%s: %d stored signatures have the wrong length; left out of the band index",
                        where, len(chunk) - len(good))
        if not good:
            continue
        sigs = np.frombuffer(b"".join(blob for _, blob in good), dtype=np.uint64).reshape(len(good), -1)
        keys = band_keys(sigs, banding.bands, banding.rows)
        db.sql_many(
            "INSERT INTO {bands} (band, hash, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(b, int(k), seq) for (seq, _), row in zip(good, keys, strict=True) for b, k in enumerate(row)],
        )
        n += len(good)
    if n or previous is not None:
        log.info("%s: LSH bands %s for %d stored signatures (%dx%d, was %s) in %.1fs",
                 where, "rebuilt" if previous else "built", n, banding.bands, banding.rows,
                 f"{previous.bands}x{previous.rows}" if previous else "none", time.monotonic() - started)


def candidate_sql(bands: int, windowed: bool) -> str:
    """The query for the stored signatures sharing a band with the ``bands`` (band, hash) pairs
    bound first (and the published window bound last, when ``windowed``)."""
    # CROSS JOIN keeps SQLite's planner on the band key: one primary-key search per band,
    # then one rowid lookup per candidate; never a scan (tests check the plan). Postgres spells
    # it JOIN ({cross_join}).
    values = ", ".join(["(?, ?)"] * bands)
    window = " AND (d.published IS NULL OR d.published BETWEEN ? AND ?)" if windowed else ""
    return (
        f"WITH q(band, hash) AS (VALUES {values}) "
        "SELECT DISTINCT d.seq, d.story_id, d.minhash FROM q "
        "{cross_join} {bands} b ON b.band = q.band AND b.hash = q.hash "
        "JOIN {docs} d ON d.seq = b.seq "
        f"WHERE d.minhash IS NOT NULL{window} ORDER BY d.seq"
    )
