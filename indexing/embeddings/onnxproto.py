"""The few ONNX messages :mod:`indexing.embeddings.e5ort` builds, written as protobuf bytes directly.

onnxruntime takes a model as serialised bytes; the ``onnx`` package's helpers would build them too,
but importing it costs ~0.6 s of CPU per process (it loads ``ml_dtypes``), paid by every ``warwatch
search`` and every task that embeds. What is written here is the subset of ``onnx.proto`` a graph
of float tensors needs: ModelProto (``ir_version``, ``graph``, ``opset_import``), GraphProto
(nodes, name, initialisers, inputs, outputs), NodeProto (inputs, outputs, ``op_type``, domain,
int and float attributes), TensorProto (dims, data type, name, raw little-endian data) and
ValueInfoProto (a float tensor whose first dimension is free). Field numbers are onnx.proto's;
tests/indexing/test_e5numpy.py parses these bytes with the ``onnx`` package and compares them
with what its helpers make.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

IR_VERSION = 8  # ONNX 1.10+: what opset 17 needs
FLOAT = 1  # TensorProto.FLOAT
_DTYPES = {np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int8"): 3, np.dtype("int64"): 7}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _key(number, 2) + _varint(len(data)) + data


def tensor(name: str, value: np.ndarray) -> bytes:
    """A TensorProto with ``value``'s shape, type and little-endian bytes."""
    array = np.ascontiguousarray(value)
    kind = _DTYPES.get(array.dtype)
    if kind is None:
        raise ValueError(f"no ONNX type written here for {array.dtype}")
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, kind) + _bytes(8, name) + _bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes())


def value_info(name: str, width: int) -> bytes:
    """A float tensor ``[N, width]``, ``N`` free."""
    free, fixed = _bytes(1, _bytes(2, "N")), _bytes(1, _int(1, width))  # Dimension: dim_param, dim_value
    tensor_type = _int(1, FLOAT) + _bytes(2, free + fixed)  # TypeProto.Tensor: elem_type, shape
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], *, domain: str = "",
         **attrs: int | float) -> bytes:
    """A NodeProto; attributes are ints or floats."""
    out = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs) + _bytes(4, op_type)
    for name, value in sorted(attrs.items()):
        if isinstance(value, float):
            attr = _bytes(1, name) + _key(2, 5) + struct.pack("<f", value) + _int(20, 1)  # f, type FLOAT
        else:
            attr = _bytes(1, name) + _int(3, int(value)) + _int(20, 2)  # i, type INT
        out += _bytes(5, attr)
    return out + (_bytes(7, domain) if domain else b"")


@dataclass
class Graph:
    """Nodes and initialisers (already encoded) of one graph."""

    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)

    def model(self, inputs: Sequence[tuple[str, int]], outputs: Sequence[tuple[str, int]],
              opsets: Sequence[tuple[str, int]]) -> bytes:
        """The serialised ModelProto: this graph with float ``[N, width]`` inputs and outputs."""
        graph = (b"".join(_bytes(1, n) for n in self.nodes) + _bytes(2, "e5")
                 + b"".join(_bytes(5, t) for t in self.initializers)
                 + b"".join(_bytes(11, value_info(n, w)) for n, w in inputs)
                 + b"".join(_bytes(12, value_info(n, w)) for n, w in outputs))
        opset = b"".join(_bytes(8, _bytes(1, d) + _int(2, v)) for d, v in opsets)
        return _int(1, IR_VERSION) + _bytes(7, graph) + opset


__all__ = ["FLOAT", "Graph", "IR_VERSION", "node", "tensor", "value_info"]
