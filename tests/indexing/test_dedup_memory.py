"""Story assignment of a huge body in bounded memory (tracemalloc), with the same fingerprints as
hashing all of its words at once."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from indexing.dedup import MINHASH_SCHEME, StoryIndex, body_hash
from indexing.enrich.text import normalize_text, words
from indexing.fingerprint import MinHash32, fingerprint, iter_words, permutations32, pieces

_VOCAB = ("Pokrovsk", "Покровськ", "troops", "l'armée", "don’t", "Südkorea", "Łukaszenka", "e\u0301te\u0301",
          "1,200", "km²", "北朝鮮の兵士", "dron", "ЗСУ", "ukraińskie", "x" * 40)


def _text(n_words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    seps = (" ", " ", " ", "\n\n", ", ", ". ", "—", "\u00a0", "'", "<\u0338")
    return "".join(rng.choice(_VOCAB) + rng.choice(seps) for _ in range(n_words))


def _varied(n_chars: int) -> str:
    """Text of 20,000 distinct words in random order: nearly every shingle is new."""
    vocab = np.array([f"w{i}ort" for i in range(20_000)])
    idx = np.random.default_rng(7).integers(0, len(vocab), size=n_chars // 8 + 1)
    return " ".join(vocab[idx].tolist())[:n_chars]


def _whole(text: str, k: int = 3) -> tuple[str, np.ndarray]:
    """The fingerprints as they were computed before: every word and shingle in memory at once."""
    toks = words(normalize_text(text))
    shingles = {" ".join(toks[i : i + k]) for i in range(max(1, len(toks) - k + 1))}
    mh = MinHash(num_perm=128, scheme=MINHASH_SCHEME)
    mh.update_batch([s.encode("utf-8") for s in shingles])
    return hashlib.sha256(" ".join(toks).encode("utf-8")).hexdigest(), np.asarray(mh.hashvalues, dtype=np.uint64)


@pytest.mark.parametrize("n_words", [2, 31, 5_000, 60_000])
def test_streamed_fingerprints_equal_the_whole_text_ones(n_words: int) -> None:
    text = _text(n_words, seed=n_words)
    assert len(list(pieces(text, size=1000))) > 1 or len(text) <= 1000
    assert "".join(pieces(text, size=1000)) == text
    assert list(iter_words(text)) == words(normalize_text(text))
    found = fingerprint(text, shingle_size=3, min_words=0, max_words=10**9, minhash=MinHash32(128))
    expected_hash, expected_sig = _whole(text)  # datasketch's MinHash over every shingle at once
    assert found.body_hash == expected_hash == body_hash(text)
    assert found.signature is not None and np.array_equal(found.signature, expected_sig)


@pytest.mark.parametrize("num_perm", [1, 64, 128, 256])
def test_our_minhash_is_datasketchs_affine32_bit_for_bit(num_perm: int) -> None:
    """The permutations and the hash values of :class:`MinHash32` are datasketch's (the scheme the
    stored signatures were computed with), batch by batch."""
    theirs = MinHash(num_perm=num_perm, scheme=MINHASH_SCHEME)
    assert np.array_equal(permutations32(num_perm), theirs.permutations)
    ours = MinHash32(num_perm)
    rng = random.Random(num_perm)
    batches = [[], [b""], [b"a"] * 3, [rng.choice(_VOCAB).encode() + str(i).encode() for i in range(2000)],
               [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(500)]]
    for batch in batches:
        ours.update_batch(batch)
        theirs.update_batch(batch)
        assert np.array_equal(ours.hashvalues, theirs.hashvalues) and ours.hashvalues.dtype == np.uint32


def test_a_page_without_spaces_is_cut_at_punctuation_or_kept_whole() -> None:
    text = "слово," * 50_000 + "a" * 70_000
    parts = list(pieces(text, size=1000))
    assert "".join(parts) == text and max(len(p) for p in parts[:-1]) <= 1000 + 6
    assert list(iter_words(text)) == words(normalize_text(text))


def test_a_body_of_megabytes_is_assigned_in_bounded_memory(tmp_path: Path) -> None:
    index = StoryIndex(tmp_path / "d.sqlite3", num_perm=128, shingle_size=3, threshold=0.5, min_words=30)
    peaks = {}
    page = _varied(3 * 1024 * 1024)
    # a 3 MB page of distinct shingles (which took 0.4 GB), then ten times that
    for megabytes, body in ((3, page), (30, page * 10)):
        tracemalloc.start()
        try:
            index.assign(f"doc-{megabytes}", body)
            peaks[megabytes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peaks[megabytes] < 16 * 1024 * 1024, peaks  # measured: 1.4 to 5 MB
    # the same first 100,000 words (the signature's cap): one story
    assert index.story_of("doc-3") == index.story_of("doc-30")
    index.close()
