"""warcio's WARC writer with each record's gzip member at zlib's default level.

warcio compresses every record at level 9 (``GzippingWrapper``, fixed). On news pages that is
the crawler's largest single cost: measured on the 61 pages of article-extraction-dev (13.2 MB),
level 9 took 0.255 CPU s for 2,475 KB, level 6 (zlib's and gzip's default) 0.166 s for 2,490 KB:
35% less CPU for 0.6% more bytes (benchmarks/README.md "End-to-end throughput"). The records
are the same bytes once decompressed, one gzip member each, so readers see no difference.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

from warcio.warcwriter import WARCWriter

#: zlib level of each record's member
GZIP_LEVEL = 6


class Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...

    def flush(self) -> Any: ...


class GzipMember:
    """One record's gzip member (warcio's ``GzippingWrapper`` at :data:`GZIP_LEVEL`)."""

    def __init__(self, out: Sink) -> None:
        self.out = out
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

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


__all__ = ["GZIP_LEVEL", "GzipMember", "GzipWARCWriter", "Sink"]
