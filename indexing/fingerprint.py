"""A body's fingerprints for duplicate detection (``indexing.dedup``), in bounded memory.

- :func:`fingerprint` gives the exact-duplicate hash (SHA-256 of the normalised words joined by
  spaces) and the MinHash signature of the word shingles in one pass over the text.
- The text is read in pieces of about 64 K characters cut after a space or punctuation (never
  inside a word, never before a character that NFC could join to the one before), the shingles
  are hashed in batches of :data:`SHINGLE_BATCH`: memory does not grow with the text (hashing a
  3 MB page's shingles at once took about 0.5 GB: a batch is hashed as one ``num_perm`` x
  ``batch`` matrix).
- The signature covers the first ``max_words`` words only (``dedup.signature_max_words``, far
  above any article: a long read is ~10,000 words): a page of megabytes is as cheap to sign as a
  long article, and copies that agree on their first ``max_words`` words are near duplicates. The
  exact hash always covers every word.

The results equal hashing the whole list of words at once: the same words in the same order, and
a MinHash of the same shingles (a minimum does not depend on batches or repeats).

:class:`MinHash32` is datasketch 2's ``MinHash`` with its ``affine32`` scheme (the one the story
index pins, ``MINHASH_SCHEME``), bit for bit: SHA-1's first 32 bits of each shingle, MurmurHash3's
finalizer, then ``a * h + b`` modulo 2^32 per permutation, the permutations drawn as datasketch
draws them (``RandomState(1)``). Written out here so that signing a body does not import
datasketch, whose package imports scipy for its LSH (0.35 s in every extraction worker, which
signs bodies ahead: :mod:`indexing.enrich.prepared`); tests/indexing/test_dedup_memory.py holds
it to datasketch's values.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from indexing.enrich.text import normalize_text, words

#: shingles hashed per datasketch batch (a num_perm x SHINGLE_BATCH matrix: 1 MB at 128)
SHINGLE_BATCH = 1024
_PIECE_CHARS = 1 << 16
# Cut after these: no word contains them, and NFC joins none of them with what follows them
# (unlike "<", "=", ">", which a combining long solidus overlay turns into one character).
_CUT_AFTER = re.compile(r"[\s,.;:!?)\]}]")


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


@functools.lru_cache(maxsize=8)
def permutations32(num_perm: int, seed: int = 1) -> np.ndarray:
    """datasketch's ``affine32`` permutation parameters: ``[a, b]``, ``a`` odd, uint32 (drawn once
    per process and size; read-only)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    out = np.array([a, b])
    out.flags.writeable = False
    return out


class MinHash32:
    """A MinHash over ``num_perm`` affine permutations of 32-bit hashes (datasketch's ``affine32``)."""

    def __init__(self, num_perm: int) -> None:
        self.permutations = permutations32(num_perm)
        self.hashvalues = np.full(num_perm, np.uint32(0xFFFFFFFF), dtype=np.uint32)

    def update_batch(self, items: list[bytes]) -> None:
        if not items:
            return
        hv = np.fromiter((int.from_bytes(hashlib.sha1(x).digest()[:4], "little") for x in items),
                         dtype=np.uint32, count=len(items)).reshape(-1, 1)
        s1, m1, s2, m2, s3 = _FMIX32
        hv = hv ^ (hv >> s1)
        hv = hv * m1
        hv = hv ^ (hv >> s2)
        hv = hv * m2
        hv = hv ^ (hv >> s3)
        a, b = self.permutations
        self.hashvalues = np.minimum(self.hashvalues, (hv * a + b).min(axis=0))


@dataclass(frozen=True)
class Fingerprint:
    body_hash: str
    words: int  # every word of the text
    signature: np.ndarray | None  # None below ``min_words`` words


def pieces(text: str, size: int = _PIECE_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of about ``size`` characters, each ending after a cut
    character when there is one (a piece without any is as long as it has to be)."""
    start, n = 0, len(text)
    while n - start > size:
        end = start + size
        cut = max(text.rfind(c, start + size // 2, end) for c in " \n")
        if cut < 0:
            m = _CUT_AFTER.search(text, start + size // 2)
            cut = m.start() if m else n - 1
        yield text[start : cut + 1]
        start = cut + 1
    if start < n:
        yield text[start:]


def iter_words(text: str) -> Iterator[str]:
    """``words(normalize_text(text))``, a piece at a time."""
    for piece in pieces(text or ""):
        yield from words(normalize_text(piece))


def fingerprint(text: str, *, shingle_size: int, min_words: int, max_words: int,
                minhash: MinHash32 | None) -> Fingerprint:
    """Body hash and (given an empty ``minhash`` to fill) the signature of ``text``'s words."""
    digest = hashlib.sha256()
    window: deque[str] = deque(maxlen=shingle_size)
    count = 0
    for piece in pieces(text or ""):
        toks = words(normalize_text(piece))
        if toks:
            digest.update(((" " if count else "") + " ".join(toks)).encode("utf-8"))
        if minhash is not None and count < max_words:
            _add_shingles(minhash, window, toks[: max_words - count])
        count += len(toks)
    if minhash is None or count < min_words:
        return Fingerprint(digest.hexdigest(), count, None)
    if count < shingle_size:  # fewer words than a shingle: the text is its one shingle
        minhash.update_batch([" ".join(window).encode("utf-8")])
    return Fingerprint(digest.hexdigest(), count, np.asarray(minhash.hashvalues, dtype=np.uint64))


def signed(text: str, *, num_perm: int, shingle_size: int, min_words: int, max_words: int) -> Fingerprint:
    """:func:`fingerprint` with a fresh :class:`MinHash32` of ``num_perm`` permutations: what the
    story index computes of a body (and the extraction workers ahead of it)."""
    return fingerprint(text, shingle_size=shingle_size, min_words=min_words, max_words=max_words,
                       minhash=MinHash32(num_perm))


def _add_shingles(minhash: MinHash32, window: deque[str], toks: list[str]) -> None:
    """Hash the shingles ending in ``toks`` (``window``: the words before them, kept for the next
    piece), :data:`SHINGLE_BATCH` at a time."""
    batch: list[bytes] = []
    for word in toks:
        window.append(word)
        if len(window) == window.maxlen:
            batch.append(" ".join(window).encode("utf-8"))
            if len(batch) >= SHINGLE_BATCH:
                minhash.update_batch(batch)
                batch = []
    if batch:
        minhash.update_batch(batch)
