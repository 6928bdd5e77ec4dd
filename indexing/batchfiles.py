"""A batch's files (``runs/<batch_id>/<name>``: the crawl's manifest and report, each stage's
output and report) where the host that runs the next stage finds them.

With the data directory as the only storage (:class:`BatchFiles` without a store) the files are
read and written where they always were, and :meth:`BatchFiles.publish` / :meth:`BatchFiles.fetch`
do nothing. With an object store (``storage.backend: s3``) the batch directory on each host is a
work directory: a stage writes its file there (atomically, as always), then :meth:`publish` puts
it whole under ``runs/<batch_id>/<name>`` (one checked put: an object is there complete or not
at all, and the same bytes again change nothing); the next stage, on any host, :meth:`fetch`-es
its inputs first (downloaded when the local copy is missing or differs from the store's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indexing.runid import is_run_id
from indexing.storage import ObjectNotFound, Storage, StoredObject, check_key, download, file_digests

logger = logging.getLogger(__name__)

#: every batch file's key starts with it (``runs/<batch_id>/<name>``, as under the data directory)
PREFIX = "runs/"
#: under ``runs_dir``: one empty file per batch whose crawl output is in the store
PUBLISHED_DIR = ".published"


class BatchFileError(Exception):
    """A batch file name or id that cannot be a key (``..``, a slash, an empty name)."""


@dataclass(frozen=True)
class BatchObject:
    batch_id: str
    name: str
    stored: StoredObject


class BatchFiles:
    """The files of batches under ``runs_dir``, and in ``store`` too when one is given."""

    def __init__(self, runs_dir: Path, store: Storage | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.store = store

    @property
    def remote(self) -> bool:
        """True when the files are in an object store (the local copies are work copies)."""
        return self.store is not None

    def path(self, batch_id: str, name: str) -> Path:
        """The local file (not created)."""
        return self.runs_dir / _checked(batch_id, name)

    @staticmethod
    def key(batch_id: str, name: str) -> str:
        return check_key(PREFIX + _checked(batch_id, name))

    def publish(self, batch_id: str, *names: str) -> int:
        """Put each named local file that exists into the store, whole; how many are there now.
        Without a store: nothing to do (0)."""
        if self.store is None:
            return 0
        done = 0
        for name in names:
            path = self.path(batch_id, name)
            if path.is_file():
                self.store.put_file(path, self.key(batch_id, name))
                done += 1
        return done

    def fetch(self, batch_id: str, *names: str) -> list[Path]:
        """The local paths of ``names``, each made the store's copy first when the store has one
        (downloaded when missing here or different); a file the store does not have stays as it
        is here (written on this host, not published yet), or missing."""
        paths = [self.path(batch_id, name) for name in names]
        if self.store is None:
            return paths
        for name, path in zip(names, paths, strict=True):
            self._refresh(self.key(batch_id, name), path)
        return paths

    def _refresh(self, key: str, path: Path) -> None:
        assert self.store is not None
        if path.is_file() and _same_as_stored(self.store, key, path):
            return
        try:
            download(self.store, key, path)
        except ObjectNotFound:
            return
        logger.info("%s: fetched from the store", path)

    def list_stored(self, names: Iterable[str] | None = None) -> Iterator[BatchObject]:
        """Every batch file in the store (only ``names`` when given), listed by prefix; keys that
        are not ``runs/<batch_id>/<name>`` are skipped."""
        if self.store is None:
            return
        wanted = set(names) if names is not None else None
        for obj in self.store.list(PREFIX):
            parts = obj.key[len(PREFIX):].split("/")
            if len(parts) != 2 or not is_run_id(parts[0]) or (wanted is not None and parts[1] not in wanted):
                continue
            yield BatchObject(parts[0], parts[1], obj)

    def delete(self, batch_id: str, *names: str) -> None:
        """Remove the named files from the store (the local copies are the caller's)."""
        if self.store is None:
            return
        for name in names:
            self.store.delete(self.key(batch_id, name))

    # ------------------------------------------------------------------ what a crawl host published
    def mark_published(self, batch_id: str) -> None:
        """Remember (locally) that the batch's crawl output is in the store."""
        folder = self.runs_dir / PUBLISHED_DIR
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _checked(batch_id, "x").split("/")[0]).touch()

    def unpublished(self, batch_ids: Iterable[str]) -> list[str]:
        """Those of ``batch_ids`` without a published mark here (one directory listing)."""
        try:
            marked = {p.name for p in (self.runs_dir / PUBLISHED_DIR).iterdir()}
        except FileNotFoundError:
            marked = set()
        return [b for b in batch_ids if b not in marked]


def _checked(batch_id: str, name: str) -> str:
    if not is_run_id(batch_id) or batch_id.startswith(".") or not name or "/" in name or "\\" in name \
            or name in (".", ".."):
        raise BatchFileError(f"not a batch file: {batch_id!r}/{name!r}")
    return f"{batch_id}/{name}"


def _same_as_stored(store: Storage, key: str, path: Path) -> bool:
    """The local file holds the stored object's bytes: its size and SHA-256 as the store keeps
    them (:class:`~indexing.storage.S3Storage` records the digest with every put). A store that
    keeps no digest is never assumed to match (the copy is made again)."""
    head = getattr(store, "head", None)
    if head is None:
        return False
    try:
        info = head(key)
    except ObjectNotFound:
        return True  # not published (yet): the local file is all there is
    size, _, sha256 = file_digests(path)
    return int(info.get("ContentLength", -1)) == size and (info.get("Metadata") or {}).get("sha256") == sha256
