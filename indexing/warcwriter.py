"""warcio's WARC writer with each record's gzip member written by zlib-ng at level 6.

warcio compresses every record with zlib at level 9 (``GzippingWrapper``, fixed): on news pages
(~200 KB of HTML each) that was 40% of the crawler's CPU. Measured on the 61 pages of
article-extraction-dev (13.2 MB) and 300 of web-snippets-dev (41.5 MB), CPU seconds and bytes
against zlib 9: zlib 6 0.65x / +0.6%, zlib-ng 6 0.33x / +1.3%, zlib 1 0.24x / +20%, ISA-L 3 0.12x
/ +13% (benchmarks/README.md "End-to-end throughput"). zlib-ng (a maintained fork of zlib with
vectorised matching, the ``zlib-ng`` package) keeps the archive's size for a third of the CPU.
Without it, the standard library's zlib at the same level. Either way each record is one standard
gzip member: any WARC reader reads it, and the records' bytes are the same once decompressed.
"""

from __future__ import annotations

from typing import Any, Protocol

try:
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # pragma: no cover - a main dependency; the standard library's is the same format
    import zlib as _zlib  # type: ignore[no-redef]

from warcio.warcwriter import WARCWriter

#: compression level of each record's member
GZIP_LEVEL = 6
#: the deflate library that writes them
COMPRESSOR = _zlib.__name__


class Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...

    def flush(self) -> Any: ...


class GzipMember:
    """One record's gzip member (warcio's ``GzippingWrapper``, by :data:`COMPRESSOR` at :data:`GZIP_LEVEL`)."""

    def __init__(self, out: Sink) -> None:
        self.out = out
        self._z = _zlib.compressobj(GZIP_LEVEL, _zlib.DEFLATED, _zlib.MAX_WBITS + 16)

    def write(self, buff: bytes) -> None:
        self.out.write(self._z.compress(buff))

    def flush(self) -> None:
        self.out.write(self._z.flush())
        self.out.flush()


class GzipWARCWriter(WARCWriter):
    """Writes every record as its own :class:`GzipMember` (warcio's digests, headers and
    record layout unchanged)."""

    def __init__(self, filebuf: Sink, **kwargs: Any) -> None:
        super().__init__(filebuf, gzip=False, **kwargs)  # the members are ours

    def write_record(self, record: Any, params: Any = None) -> None:
        self._write_warc_record(GzipMember(self.out), record)


__all__ = ["COMPRESSOR", "GZIP_LEVEL", "GzipMember", "GzipWARCWriter", "Sink"]
