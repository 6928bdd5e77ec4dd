"""The pure parts of benchmarks/opensearch_knn.py: the engine it runs, exact top k, recall and the
bulk bodies. No network, no node (fetching, checking and starting the engine is warwatch/localnode's,
tested in tests/warwatch/test_localnode*.py)."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.opensearch_knn import (
    KNN_ENGINE,
    as_sent,
    bulk_bodies,
    exact_top,
    knn_body,
    mapping,
    percentile,
    random_unit,
    recall,
)


def test_the_benchmark_runs_the_local_nodes_knn_engine() -> None:
    from warwatch import localnode

    spec = localnode.ENGINES[KNN_ENGINE]
    assert spec.version == "3.5.0" and [p.artifact for p in spec.plugins] == ["opensearch-knn"]


def test_exact_top_matches_a_full_sort_and_recall_counts_the_overlap() -> None:
    rows = random_unit(500, dim=16, seed=3)
    q = random_unit(1, dim=16, seed=4)[0]
    top = exact_top(rows, q, 30)
    assert top == [int(i) for i in np.argsort(-(rows @ q), kind="stable")[:30]]
    assert recall(top, top) == 1.0
    assert recall(top[:15] + list(range(1000, 1015)), top) == 0.5
    assert recall(list(reversed(top)), top) == 1.0  # order inside the top k does not count
    assert recall(top[1:] + [top[0]], top, k=10) == 0.9  # only the first k of what was found
    assert exact_top(rows[:5], q, 30) == [int(i) for i in np.argsort(-(rows[:5] @ q))]


def test_rows_as_sent_are_what_the_bulk_bodies_carry() -> None:
    rows = as_sent(random_unit(7, dim=8))
    bodies = list(bulk_bodies(rows, batch=3))
    assert [n for n, _ in bodies] == [3, 3, 1]
    docs = [json.loads(line) for _, body in bodies for line in body.decode().splitlines()]
    assert [d["index"]["_id"] for d in docs[0::2]] == [str(i) for i in range(7)]
    sent = np.array([d["vec"] for d in docs[1::2]], dtype=np.float32)
    assert np.array_equal(sent, rows)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)


def test_knn_body_and_percentile() -> None:
    body = knn_body(np.ones(4, dtype=np.float32), 200, 300)
    assert body["size"] == 200 and body["_source"] is False
    assert body["query"]["knn"]["vec"] == {"vector": [1.0] * 4, "k": 200, "method_parameters": {"ef_search": 300}}
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([3.0], 50) == 3.0


def test_mapping_is_lucene_cosine() -> None:
    field = mapping(16, 100)["mappings"]["properties"]["vec"]
    assert field["type"] == "knn_vector" and field["dimension"] == 384
    assert field["method"]["engine"] == "lucene" and field["method"]["space_type"] == "cosinesimil"
