"""Story dedup at scale: the SQLite band index vs the former in-memory datasketch LSH, same run.

Usage: python benchmarks/dedup.py [--docs 20000] [--queries 1000] [--seed 1] [--dir DIR]

1. Stores ``--docs`` generated articles with :class:`indexing.dedup.StoryIndex` (a mix of
   unrelated stories, rewritten and truncated copies and exact copies, dated over a year).
2. Opening: ``StoryIndex.open`` on that file vs the former design, which at open loaded every
   stored signature into a datasketch ``MinHashLSH`` in memory (:class:`InMemoryLSHIndex`, built
   from the same rows of a copy of the same file).
3. Assigning: the same ``--queries`` new documents (copies of stored ones and new stories) go
   through ``assign()`` on both; docs/s, and whether both put every document in the same story.

Single process, warm page cache (the file was just written); CPU time is shown next to wall
time because the machine may be shared. MinHash computation, identical in
both, is reported on its own so the index's share is visible.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasketch import LeanMinHash, MinHashLSH  # noqa: E402

from indexing.dedup import MINHASH_SCHEME, StoryIndex  # noqa: E402
from indexing.dedup_bands import LSH_WEIGHTS  # noqa: E402
from indexing.settings import get_settings  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class InMemoryLSHIndex(StoryIndex):
    """The former design, for comparison: every stored signature loaded into an in-memory
    ``MinHashLSH`` when opened (and other processes' additions loaded before each assignment);
    candidates come from that LSH. Doc and story rows are the same SQLite tables."""

    def __init__(self, path: Path, **kwargs: object) -> None:
        super().__init__(path, **kwargs)  # type: ignore[arg-type]
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm, weights=LSH_WEIGHTS)
        self._minhashes: dict[str, LeanMinHash] = {}
        self._loaded_seq = 0
        self.rows_loaded = 0
        self._sync()

    def _sync(self) -> None:
        rows = self._db.execute(
            "SELECT seq, doc_id, minhash FROM docs WHERE seq > ? ORDER BY seq", (self._loaded_seq,)
        ).fetchall()
        self.rows_loaded += len(rows)
        for seq, doc_id, blob in rows:
            self._loaded_seq = max(self._loaded_seq, seq)
            if blob is None or doc_id in self._minhashes:
                continue
            mh = LeanMinHash(seed=1, hashvalues=np.frombuffer(blob, dtype=np.uint64), scheme=MINHASH_SCHEME)
            self._minhashes[doc_id] = mh
            self._lsh.insert(doc_id, mh)

    def _follow_banding(self) -> None:  # runs under the write lock at every assignment
        self._sync()

    def _add_bands(self, seq: int, doc_id: str, sig: np.ndarray | None) -> None:
        if sig is not None and doc_id not in self._minhashes:
            mh = LeanMinHash(seed=1, hashvalues=sig, scheme=MINHASH_SCHEME)
            self._minhashes[doc_id] = mh
            self._lsh.insert(doc_id, mh)

    def _remove_bands(self, seq: int, blob: bytes | None) -> None:
        pass  # no edits in this benchmark

    def _near(self, sig: np.ndarray, published: datetime | None) -> tuple[str | None, float | None]:
        mh = LeanMinHash(seed=1, hashvalues=sig, scheme=MINHASH_SCHEME)
        best: tuple[float, str] | None = None
        for cand in self._lsh.query(mh):
            other = self._minhashes.get(cand)
            if other is None:
                continue
            self.candidates_checked += 1
            sim = mh.jaccard(other)
            if sim >= self.threshold and (best is None or sim > best[0]):
                best = (sim, cand)
        if best is None:
            return None, None
        row = self._db.execute("SELECT story_id FROM docs WHERE doc_id = ?", (best[1],)).fetchone()
        return (row[0], best[0]) if row else (None, None)


# Generated articles -------------------------------------------------------------------------
class Generator:
    """News-like bodies: Zipf-distributed words from a large vocabulary, 120-600 words each."""

    def __init__(self, seed: int, vocab_size: int = 30000) -> None:
        self.rng = random.Random(seed)
        syll = ["ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "vo", "zu", "ber", "dan", "gor", "lin", "mar", "sk"]
        vocab: set[str] = set()
        while len(vocab) < vocab_size:
            vocab.add("".join(self.rng.choice(syll) for _ in range(self.rng.randint(2, 4))))
        self.vocab = sorted(vocab)
        self.cum = list(np.cumsum([1.0 / (i + 1) for i in range(vocab_size)]))

    def story(self) -> str:
        n = self.rng.randint(120, 600)
        return " ".join(self.rng.choices(self.vocab, cum_weights=self.cum, k=n))

    def variant(self, body: str) -> str:
        """A syndicated copy: rewritten (3-10% of words), truncated (60-90%) or exact."""
        toks = body.split()
        kind = self.rng.random()
        if kind < 0.5:
            for i in self.rng.sample(range(len(toks)), int(len(toks) * self.rng.uniform(0.03, 0.10))):
                toks[i] = self.rng.choice(self.vocab)
        elif kind < 0.8:
            toks = toks[: int(len(toks) * self.rng.uniform(0.6, 0.9))]
        return " ".join(toks)

    def corpus(self, n: int, copy_share: float, pool: list[str] | None = None) -> list[tuple[str, datetime]]:
        """``n`` (body, published) pairs; ``copy_share`` of them copies of earlier ones (or of ``pool``)."""
        out: list[tuple[str, datetime]] = []
        sources = list(pool or [])
        for i in range(n):
            published = T0 + timedelta(minutes=i * 26)  # 20,000 docs span about a year
            if sources and self.rng.random() < copy_share:
                body = self.variant(self.rng.choice(sources))
            else:
                body = self.story()
                sources.append(body)
            out.append((body, published))
        return out


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


@contextlib.contextmanager
def _trace_statements() -> Iterator[list[str]]:
    """The SQL statements run by connections opened inside the block."""
    statements: list[str] = []
    real_connect = sqlite3.connect

    def connect(*a: Any, **kw: Any) -> sqlite3.Connection:
        con = real_connect(*a, **kw)
        con.set_trace_callback(statements.append)
        return con

    sqlite3.connect = connect  # type: ignore[assignment]
    try:
        yield statements
    finally:
        sqlite3.connect = real_connect  # type: ignore[assignment]


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000, help="documents stored before measuring")
    parser.add_argument("--queries", type=int, default=1000, help="documents assigned by each approach")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="keep the state files here (default: temp)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    work = args.dir or Path(tempfile.mkdtemp(prefix="warwatch-dedup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path_sql, path_mem = work / "bands.sqlite3", work / "inmemory.sqlite3"
    for p in work.glob("*.sqlite3*"):
        p.unlink()
    d = get_settings().dedup
    params = {"num_perm": d.minhash_permutations, "shingle_size": d.shingle_size,
              "threshold": d.near_duplicate_threshold, "min_words": d.min_words}

    gen = Generator(args.seed)
    stored = gen.corpus(args.docs, copy_share=0.25)
    stored_bodies = [b for b, _ in stored]
    queries = gen.corpus(args.queries, copy_share=0.5, pool=stored_bodies[:: max(1, len(stored_bodies) // 2000)])
    queries = [(b, T0 + timedelta(days=400, minutes=i)) for i, (b, _) in enumerate(queries)]

    # 1. fill the store (band index), timing the first and the last tenth
    print(f"storing {args.docs} generated documents in {path_sql} ...", flush=True)
    tenth = max(1, args.docs // 10)
    fill_rates: list[float] = []
    start = time.perf_counter()
    with StoryIndex(path_sql, **params) as idx:  # type: ignore[arg-type]
        for i, (body, published) in enumerate(stored):
            if i % tenth == 0:
                t_tenth = time.perf_counter()
            idx.assign(f"doc-{i}", body, published)
            if i % tenth == tenth - 1:
                fill_rates.append(tenth / (time.perf_counter() - t_tenth))
        stories = idx._db.execute("SELECT COUNT(*) FROM stories").fetchone()[0]
    fill_s = time.perf_counter() - start
    shutil.copyfile(path_sql, path_mem)  # the same rows for the in-memory approach
    size_mb = path_sql.stat().st_size / 1e6

    # 2. open time (median of 3 opens; each closes again)
    def open_sql() -> int:
        i = StoryIndex(path_sql, **params)  # type: ignore[arg-type]
        i.close()
        return 0

    def open_mem() -> int:
        i = InMemoryLSHIndex(path_mem, **params)
        n = i.rows_loaded
        i.close()
        return n

    open_sql_s, _ = _timed(open_sql, 3)
    open_mem_s, mem_rows = _timed(open_mem, 3)
    open_cpu = {"sqlite-bands": _cpu(open_sql), "in-memory-lsh": _cpu(open_mem)}
    # what opening runs, counted once outside the timings: statements, and those reading documents
    traced: dict[str, list[str]] = {}
    for name, opener in (("sqlite-bands", open_sql), ("in-memory-lsh", open_mem)):
        with _trace_statements() as statements:
            opener()
        traced[name] = list(statements)

    # one-time upgrade of a state file written by the in-memory version (same rows, no bands)
    path_legacy = work / "legacy.sqlite3"
    shutil.copyfile(path_sql, path_legacy)
    con = sqlite3.connect(str(path_legacy))
    with con:
        con.execute("DROP TABLE bands")
        con.execute("DELETE FROM meta WHERE key = 'lsh'")
    con.close()
    migrate_s, _ = _timed(lambda: StoryIndex(path_legacy, **params).close(), 1)  # type: ignore[arg-type]
    band_rows = [sqlite3.connect(str(p)).execute("SELECT COUNT(*) FROM bands").fetchone()[0]
                 for p in (path_sql, path_legacy)]
    if band_rows[0] != band_rows[1]:
        print(f"MIGRATION MISMATCH: {band_rows[1]} band rows after upgrade, {band_rows[0]} written live")

    # 3. assign the same new documents with both; MinHash time on its own
    probe = StoryIndex(path_sql, **params)  # type: ignore[arg-type]
    sig_s = _cpu(lambda: [probe._fingerprint(b) for b, _ in queries])
    probe.close()
    results: dict[str, list[str]] = {}
    rates: dict[str, float] = {}
    cpu_ms: dict[str, float] = {}
    cands: dict[str, int] = {}
    for name, factory in (("sqlite-bands", lambda: StoryIndex(path_sql, **params)),  # type: ignore[arg-type]
                          ("in-memory-lsh", lambda: InMemoryLSHIndex(path_mem, **params))):
        idx = factory()
        start, cpu = time.perf_counter(), time.process_time()
        results[name] = [idx.assign(f"q-{i}", b, p).story_id for i, (b, p) in enumerate(queries)]
        rates[name] = len(queries) / (time.perf_counter() - start)
        cpu_ms[name] = 1000 * (time.process_time() - cpu) / len(queries)
        cands[name] = idx.candidates_checked
        idx.close()
    same = sum(a == b for a, b in zip(results["sqlite-bands"], results["in-memory-lsh"], strict=True))

    print(f"\n{args.docs} stored docs ({stories} stories), state file {size_mb:.0f} MB; filled in {fill_s:.0f} s "
          f"({args.docs / fill_s:.0f} docs/s; first tenth {fill_rates[0]:.0f}/s, last tenth {fill_rates[-1]:.0f}/s)")
    print(f"tokens + MinHash alone (same in both): CPU {1000 * sig_s / len(queries):.2f} ms/doc\n")
    print(f"{'approach':<16}{'open (s)':>10}{'open CPU':>10}{'statements':>12}{'reading docs':>14}{'assign docs/s':>15}"
          f"{'ms/doc':>9}{'CPU ms/doc':>12}{'candidates/doc':>16}")
    for name, open_s in (("sqlite-bands", open_sql_s), ("in-memory-lsh", open_mem_s)):
        reads = sum(" from docs" in st.lower() or " from bands" in st.lower() for st in traced[name])
        print(f"{name:<16}{open_s:>10.3f}{open_cpu[name]:>10.3f}{len(traced[name]):>12}{reads:>14}{rates[name]:>15.0f}"
              f"{1000 / rates[name]:>9.2f}{cpu_ms[name]:>12.2f}{cands[name] / len(queries):>16.2f}")
    print(f"(in-memory-lsh loaded {mem_rows} stored rows at each open)")
    print(f"\nsame story for {same}/{len(queries)} assigned documents")
    print(f"one-time upgrade of a file from the in-memory version: {migrate_s:.1f} s "
          f"({band_rows[1]} band rows rebuilt from stored signatures)")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
