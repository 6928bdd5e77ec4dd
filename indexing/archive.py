"""Raw captures: gzipped WARC files (rotated by size) and the per-run JSONL manifest.

Every record is its own gzip member, so a record can be read back from its file offset, and a
crash while writing damages at most the record being written (a writer never appends to an
existing file: each opens a new one). Bodies are stored decoded (as the crawler saw them):
``Content-Encoding`` / ``Transfer-Encoding`` headers are kept under ``X-Archive-Orig-*`` names
so readers do not try to decode twice.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders

from indexing.dates import parse_iso
from indexing.fileio import DurableAppender, repair_partial_line
from indexing.settings import CrawlSettings
from indexing.storage import ObjectNotFound, Storage, StorageError
from indexing.warcwriter import GzipWARCWriter

logger = logging.getLogger(__name__)

_HOP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_REASONS = {200: "OK", 203: "Non-Authoritative Information", 206: "Partial Content", 304: "Not Modified"}
HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


class ArchiveError(Exception):
    """A WARC record could not be read (missing file, bad offset, damaged record)."""


@dataclass(frozen=True)
class CapturedResponse:
    url: str
    status: int
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    body: bytes
    fetched_at: datetime
    warc_headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def _header_pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        name_s = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        value_s = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        # CR/LF inside a header would break the record framing.
        value_s = value_s.replace("\r", " ").replace("\n", " ")
        if name_s.lower() in _HOP_HEADERS:
            if name_s.lower() != "content-length":
                out.append((f"X-Archive-Orig-{name_s}", value_s))
            continue
        out.append((name_s, value_s))
    return out


def _sha1_label(digest: bytes) -> str:
    """A WARC digest value as warcio writes it: ``sha1:<base32>``."""
    return "sha1:" + base64.b32encode(digest).decode("ascii")


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: str | None) -> datetime:
    return parse_iso(value) or datetime.fromtimestamp(0, UTC)


class WarcWriter:
    """Writes response records into ``<dir>/<prefix>-NNNNN.warc.gz``, rotating when a file
    reaches ``max_bytes`` (default: ``CrawlSettings``' ``warc_max_bytes``; the crawler hands in its setting). Each record is
    flushed to the OS before ``write_response`` returns; :meth:`sync` makes the records written
    so far durable (``fsync=True``: after every record). A rotated-out file is synced on close."""

    def __init__(self, directory: Path, prefix: str, max_bytes: int | None = None, fsync: bool = False,
                 on_closed: Callable[[Path], object] | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", prefix):
            raise ValueError(f"WARC prefix must be [A-Za-z0-9._-]+, got {prefix!r}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes if max_bytes is not None else CrawlSettings().warc_max_bytes
        self.fsync = fsync
        self.on_closed = on_closed  # called with each file once it is closed whole (an upload)
        self._fh: DurableAppender | None = None
        self._writer: GzipWARCWriter | None = None
        self._path: Path | None = None
        self.files: list[Path] = []
        self.records = 0
        self.last_record_id: str | None = None  # of the record written last (a conversion refers to it)

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _next_path(self) -> Path:
        pattern = re.compile(re.escape(self.prefix) + r"-(\d{5})\.warc\.gz$")
        # with the files this writer made: an uploaded file is gone from the directory
        seqs = [int(m.group(1)) for p in [*self.directory.glob(f"{self.prefix}-*.warc.gz"), *self.files]
                if (m := pattern.match(p.name))]
        return self.directory / f"{self.prefix}-{max(seqs, default=0) + 1:05d}.warc.gz"

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._next_path()
        # exclusive: never append to (or clobber) a file another writer or a crashed run left behind.
        self._fh = DurableAppender(path, exclusive=True)
        self._writer = GzipWARCWriter(self._fh)
        self._path = path
        self.files.append(path)
        info = self._writer.create_warcinfo_record(
            path.name, {"software": "warwatch (warcio)", "format": "WARC File Format 1.1"}
        )
        self._writer.write_record(info)
        self._fh.flush()
        logger.debug("opened WARC file %s", path)

    def write_response(
        self,
        url: str,
        status: int,
        headers: HeaderInput,
        body: bytes,
        fetched_at: datetime,
        reason: str | None = None,
        extra_warc_headers: Mapping[str, str] | None = None,
    ) -> tuple[Path, int]:
        """Append one response record; returns (WARC file path, offset of the record)."""
        writer = self._ready()
        pairs = _header_pairs(headers)
        pairs.append(("Content-Length", str(len(body))))
        status_line = f"{status} {reason or _REASONS.get(status, 'Response')}"
        http_headers = StatusAndHeaders(status_line, pairs, protocol="HTTP/1.1")
        warc_headers = {"WARC-Date": _iso(fetched_at)}
        if extra_warc_headers:
            warc_headers.update(extra_warc_headers)
        # Both digests in one pass over bytes already in memory (warcio would read the payload
        # once per digest); its writer keeps digests that are present.
        http_headers.compute_headers_buffer(writer.header_filter)
        block = hashlib.sha1(http_headers.headers_buff)
        block.update(body)
        warc_headers["WARC-Payload-Digest"] = _sha1_label(hashlib.sha1(body).digest())
        warc_headers["WARC-Block-Digest"] = _sha1_label(block.digest())
        return self._append(writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http_headers,
            warc_headers_dict=warc_headers))

    def write_revisit(self, url: str, status: int, headers: HeaderInput, fetched_at: datetime, *,
                      refers_to_uri: str, refers_to_date: datetime | None, payload: bytes | None = None
                      ) -> tuple[Path, int]:
        """Append a ``revisit`` record (HTTP headers, no payload copy): ``payload`` given, the
        response repeated the capture ``refers_to_*`` byte for byte (profile
        identical-payload-digest); None, the server answered 304 (server-not-modified)."""
        writer = self._ready()
        version = "1.1" if writer.warc_version.endswith("1.1") else "1.0"
        profile = "identical-payload-digest" if payload is not None else "server-not-modified"
        warc_headers = {"WARC-Date": _iso(fetched_at), "WARC-Refers-To-Target-URI": refers_to_uri,
                        "WARC-Profile": f"http://netpreserve.org/warc/{version}/revisit/{profile}"}
        if refers_to_date is not None:
            warc_headers["WARC-Refers-To-Date"] = _iso(refers_to_date)
        if payload is not None:
            warc_headers["WARC-Payload-Digest"] = _sha1_label(hashlib.sha1(payload).digest())
        status_line = f"{status} {_REASONS.get(status, 'Response')}"
        http = StatusAndHeaders(status_line, _header_pairs(headers), protocol="HTTP/1.1")
        return self._append(writer.create_warc_record(url, "revisit", http_headers=http,
                                                      warc_headers_dict=warc_headers))

    def write_conversion(self, url: str, body: bytes, fetched_at: datetime, *, refers_to: str,
                         content_type: str = "text/html; charset=utf-8") -> tuple[Path, int]:
        """Append a ``conversion`` record of the record just written (``refers_to``: its record
        id), in the same file: a page's DOM after its scripts ran, beside its capture."""
        if self._fh is None or self._writer is None:
            raise ArchiveError("a conversion record follows the record it converts")
        warc_headers = {"WARC-Date": _iso(fetched_at), "WARC-Refers-To": refers_to,
                        "WARC-Payload-Digest": _sha1_label(hashlib.sha1(body).digest())}
        record = self._writer.create_warc_record(url, "conversion", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=content_type, warc_headers_dict=warc_headers)
        return self._append(record)

    def _ready(self) -> GzipWARCWriter:
        """The writer of the current file (a new file when there is none or it is full)."""
        if self._fh is None or (self._path is not None and self._fh.tell() >= self.max_bytes):
            self._close_file()
            self._open()
        assert self._writer is not None
        return self._writer

    def _append(self, record: Any) -> tuple[Path, int]:
        assert self._fh is not None and self._writer is not None and self._path is not None
        offset = self._fh.tell()
        self._writer.write_record(record)
        self.last_record_id = record.rec_headers.get_header("WARC-Record-ID")
        self._fh.flush()
        if self.fsync:
            self._fh.sync()
        self.records += 1
        return self._path, offset

    def sync(self) -> None:
        """Make every record written so far durable (fsync; nothing to do when none is new)."""
        if self._fh is not None:
            self._fh.sync()

    def _close_file(self) -> None:
        fh, path, self._fh, self._writer, self._path = self._fh, self._path, None, None, None
        if fh is not None:
            fh.close()  # syncs: a rotated-out file is complete on disk
            if self.on_closed is not None and path is not None:
                self.on_closed(path)

    def close(self) -> None:
        self._close_file()


def _resolve_warc(warc_path: Path | str, data_dir: Path | None) -> Path:
    path = Path(warc_path)
    if data_dir is not None and not path.is_absolute() and not path.exists():
        path = Path(data_dir) / path
    return path


def _open_at(path: Path, offset: int) -> IO[bytes]:
    fh = open(path, "rb")  # noqa: SIM115 (the caller's with closes it)
    fh.seek(offset)
    return fh


def read_record(warc_path: Path | str, offset: int, *, data_dir: Path | None = None,
                storage: Storage | None = None) -> CapturedResponse:
    """Read the response record at ``offset``: from ``storage`` (``warc_path`` is then its key, a
    manifest's ``warc_file``: a ranged read), else from a file (a relative path is taken relative
    to the current directory if it exists there, else to ``data_dir``)."""
    path = warc_path if storage is not None else _resolve_warc(warc_path, data_dir)
    try:
        with storage.open_at(str(warc_path), offset) if storage is not None else _open_at(Path(path), offset) as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type not in ("response", "revisit", "conversion"):
                    raise ArchiveError(f"{path}@{offset}: record is a {record.rec_type!r}, not a response")
                http = record.http_headers
                headers: dict[str, str] = {}
                if http is not None:
                    for name, value in http.headers:
                        key = name.lower()
                        headers[key] = f"{headers[key]}, {value}" if key in headers else value
                status = int(http.get_statuscode() or 0) if http is not None else 0
                if record.rec_type == "conversion":  # a rendered page: the capture it converts was a 2xx
                    headers["content-type"] = record.rec_headers.get_header("Content-Type") or "text/html"
                    status = 200
                body = record.content_stream().read()
                wh = record.rec_headers
                return CapturedResponse(
                    url=wh.get_header("WARC-Target-URI") or "",
                    status=status,
                    headers=headers,
                    body=body,
                    fetched_at=_parse_iso(wh.get_header("WARC-Date")),
                    warc_headers={k: v for k, v in wh.headers},
                )
    except (FileNotFoundError, ObjectNotFound) as exc:
        raise ArchiveError(f"{path}: WARC file not found") from exc
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, StorageError) as exc:
        raise ArchiveError(f"{path}@{offset}: cannot read record: {exc}") from exc
    raise ArchiveError(f"{path}@{offset}: no record at this offset")


def iter_records(warc_path: Path | str, *, data_dir: Path | None = None) -> Iterator[tuple[int, CapturedResponse]]:
    """(offset, response) for every response and revisit record (empty body) of one WARC file (a
    relative path as :func:`read_record` takes it); stops quietly at a damaged tail (a crash)."""
    path = _resolve_warc(warc_path, data_dir)
    offsets: list[int] = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        try:
            for record in it:
                if record.rec_type in ("response", "revisit"):
                    offsets.append(it.get_record_offset())
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            logger.warning("%s: damaged tail after %d records: %s", path, len(offsets), exc)
    for offset in offsets:
        yield offset, read_record(path, offset)


# --- manifest ----------------------------------------------------------------------------------


def _json_line(entry: Mapping[str, Any]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode("utf-8")


class ManifestWriter:
    """Keeps a manifest open for appending; each line is flushed to the OS at once and made
    durable by :meth:`sync` (``fsync=True``: after every line) or at close."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_partial_line(self.path)
        self._out = DurableAppender(self.path)

    def append(self, entry: Mapping[str, Any]) -> None:
        self._out.write(_json_line(entry))
        self._out.flush()
        if self.fsync:
            self._out.sync()

    def sync(self) -> None:
        """Make the lines appended so far durable."""
        self._out.sync()

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ArchiveWriter:
    """A crawl run's captures: WARC records and their manifest lines, made durable together.

    :meth:`write` stores one response and its manifest line (both flushed, not yet synced);
    :meth:`sync` fsyncs the WARC file, then the manifest: call it before anything that assumes
    the captures survive a power cut (the crawler's seen-store commit). WARC first, so a durable
    manifest line never points at a record that is not on disk.
    """

    def __init__(self, warc: WarcWriter, manifest: ManifestWriter, data_dir: Path) -> None:
        self.warc = warc
        self.manifest = manifest
        self.data_dir = Path(data_dir)
        self._rel: dict[Path, str] = {}  # WARC file -> its manifest name (resolved once per file)

    @classmethod
    def open(cls, warc_dir: Path, prefix: str, manifest_path: Path, *, data_dir: Path, max_bytes: int | None = None,
             on_closed: Callable[[Path], object] | None = None) -> ArchiveWriter:
        warc = WarcWriter(warc_dir, prefix, max_bytes=max_bytes, on_closed=on_closed).__enter__()
        return cls(warc, ManifestWriter(manifest_path), data_dir)

    def write(self, entry: Mapping[str, Any], *, url: str, status: int, headers: HeaderInput, body: bytes,
              fetched_at: datetime, extra_warc_headers: Mapping[str, str] | None = None,
              rendered: bytes | None = None) -> dict[str, Any]:
        """Store one response, then its manifest line (returned): ``entry`` with ``warc_file`` (relative
        to the data dir) and ``warc_offset`` filled in; ``rendered`` (the page's DOM after its scripts
        ran) right after it in the same file, at the line's ``rendered_offset`` (what cleaning reads)."""
        path, offset = self.warc.write_response(url, status, headers, body, fetched_at,
                                                extra_warc_headers=extra_warc_headers)
        line = {**entry, "warc_file": self.relative(path), "warc_offset": offset}
        if rendered is not None:
            _, line["rendered_offset"] = self.warc.write_conversion(
                url, rendered, fetched_at, refers_to=self.warc.last_record_id or "")
        self.manifest.append(line)
        return line

    def write_revisit(self, entry: Mapping[str, Any], *, url: str, status: int, headers: HeaderInput,
                      fetched_at: datetime, refers_to_uri: str, refers_to_date: datetime | None,
                      payload: bytes | None = None) -> dict[str, Any]:
        """A revisit record (:meth:`WarcWriter.write_revisit`), then its manifest line."""
        path, offset = self.warc.write_revisit(url, status, headers, fetched_at, refers_to_uri=refers_to_uri,
                                               refers_to_date=refers_to_date, payload=payload)
        line = {**entry, "warc_file": self.relative(path), "warc_offset": offset}
        self.manifest.append(line)
        return line

    def relative(self, path: Path) -> str:
        """How the manifest names a WARC file: relative to the data dir when inside it."""
        rel = self._rel.get(path)
        if rel is None:
            try:
                rel = str(path.resolve().relative_to(self.data_dir.resolve()))
            except ValueError:
                rel = str(path)
            self._rel[path] = rel
        return rel

    def sync(self) -> None:
        """fsync the WARC records, then the manifest lines written so far (cheap when nothing is new)."""
        self.warc.sync()
        self.manifest.sync()

    flush_durable = sync

    def close(self) -> None:
        self.warc.close()
        self.manifest.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append_manifest(path: Path, entry: Mapping[str, Any]) -> None:
    """Append one JSON line to a manifest (repairing a partial last line first)."""
    with ManifestWriter(path) as writer:
        writer.append(entry)


def iter_manifest(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a manifest in order. A truncated or malformed line is skipped with a
    warning (a kill -9 can leave the last line partial); a missing file yields nothing."""
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                logger.warning("%s:%d: skipping a malformed manifest line", path, lineno)
                continue
            if isinstance(entry, dict):
                yield entry
            else:
                logger.warning("%s:%d: skipping a manifest line that is not an object", path, lineno)
