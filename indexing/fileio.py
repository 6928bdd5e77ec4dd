"""Durable file writes: the one home for "whole or not at all" and "this line survives a power cut".

Two kinds of write, each for a reader that assumes the earlier step is on disk:

- **replace a file atomically** (reports, offsets, pending queues, id lists):
  :func:`atomic_write_text` / :func:`atomic_write_bytes` / :func:`atomic_write_json`, or
  :func:`atomic_writer` to stream a large file. The data goes to a uniquely named temporary file
  in the same directory (so ``os.replace`` never crosses a file system and two writers never share
  a temporary), is flushed and fsynced, replaces the target, and the directory is fsynced so the
  new name survives a power cut too. A reader sees the old file or the new one, never half.
- **append lines** (manifests, dead letters, alert files): :func:`append_lines_durable` writes,
  flushes and fsyncs before returning, and fsyncs the directory when it created the file.
  :class:`DurableAppender` keeps the file open and syncs on demand, for writers that append many
  lines and make them durable in groups (the crawler's manifest before each seen-store commit).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = [
    "DurableAppender",
    "append_line_durable",
    "append_lines_durable",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "fsync_dir",
]

# File systems that cannot fsync a directory say so with one of these; the data itself is synced.
_DIR_SYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM}


def fsync_dir(directory: Path | str) -> None:
    """Make the entries of ``directory`` (a new or renamed file's name) durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno in _DIR_SYNC_UNSUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _temp_path(path: Path) -> Path:
    # Hidden, unique per writer: two runs writing the same report never clobber each other's
    # temporary, and globbing for "*.jsonl" never picks one up.
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


@overload
def atomic_writer(path: Path | str, *, binary: Literal[False] = ...) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_writer(path: Path | str, *, binary: Literal[True]) -> contextlib.AbstractContextManager[IO[bytes]]: ...


def atomic_writer(path: Path | str, *, binary: bool = False) -> contextlib.AbstractContextManager[IO[Any]]:
    """``with atomic_writer(path) as fh: fh.write(...)``: ``path`` gets the whole content once the
    block ends without an exception (fsynced, renamed, directory fsynced); on an exception the
    temporary file is removed and ``path`` is untouched. The parent directory is created."""
    return _atomic_writer(Path(path), binary)


@contextlib.contextmanager
def _atomic_writer(path: Path, binary: bool) -> Iterator[IO[Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as open() would give
    try:
        fh: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    with atomic_writer(path, binary=True) as fh:
        fh.write(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically and durably."""
    with atomic_writer(path) as fh:
        fh.write(text)


def atomic_write_json(path: Path | str, data: Any, *, indent: int | None = 2) -> None:
    """Replace ``path`` with ``data`` as JSON (UTF-8, non-ASCII kept, newline-terminated)."""
    atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False, default=str) + "\n")


def append_lines_durable(path: Path | str, lines: Iterable[str]) -> int:
    """Append ``lines`` (each gets a trailing newline if it has none) to ``path`` and fsync before
    returning; the directory is fsynced when this call created the file. Returns the number of
    lines written (nothing is opened for none)."""
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if not data:
        return 0
    with DurableAppender(path) as out:
        out.write(data.encode("utf-8"))
    return data.count("\n")


def append_line_durable(path: Path | str, line: str) -> None:
    """Append one line to ``path``, durable when this returns (see :func:`append_lines_durable`)."""
    append_lines_durable(path, [line])


class DurableAppender:
    """A file open for appending whose writes become durable at :meth:`sync` (and at close).

    ``sync()`` costs nothing when nothing was written since the last one, so a caller may call it
    before every step that assumes the earlier writes are on disk.
    """

    def __init__(self, path: Path | str, *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._new = exclusive or not self.path.exists()
        # "xb": a writer that must never append to (or clobber) a file someone else left behind.
        self._fh: IO[bytes] | None = open(self.path, "xb" if exclusive else "ab")  # noqa: SIM115 - close()
        self._dirty = self._new  # a new file's name must reach the disk too

    def write(self, data: bytes) -> int:
        """Buffered write; :meth:`flush` hands it to the OS, :meth:`sync` to the disk."""
        if self._fh is None:
            raise ValueError(f"{self.path}: appender is closed")
        self._dirty = True
        return self._fh.write(data)

    def flush(self) -> None:
        """Hand buffered writes to the OS: readers in other processes see them (not yet durable)."""
        if self._fh is not None:
            self._fh.flush()

    def tell(self) -> int:
        if self._fh is None:
            raise ValueError(f"{self.path}: appender is closed")
        return self._fh.tell()

    @property
    def dirty(self) -> bool:
        """True when written data (or the file's creation) is not fsynced yet."""
        return self._dirty

    def sync(self) -> None:
        """fsync what was written (and the directory entry of a file this appender created)."""
        if not self._dirty or self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if self._new:
            fsync_dir(self.path.parent)
            self._new = False
        self._dirty = False

    def close(self) -> None:
        if self._fh is None:
            return
        try:
            self.sync()
        finally:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> DurableAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_json(path: Path | str) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing or unreadable (writes here are atomic, so a
    killed writer never leaves half a file; a hand-edited one may still be broken: logged)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logging.getLogger(__name__).warning("%s: unreadable (%s); treated as empty", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


_log = logging.getLogger(__name__)


def repair_partial_line(path: Path) -> None:
    """Cut a partial last line (left by kill -9 mid-write) so appends start on a fresh line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # Scan backwards for the last newline.
        pos = size
        chunk = 65536
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            data = fh.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                _log.warning("%s: dropped a partial last line (%d bytes)", path, size - start - idx - 1)
                return
            pos = start
        fh.truncate(0)
        _log.warning("%s: dropped a partial only line (%d bytes)", path, size)
