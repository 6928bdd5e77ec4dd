"""Storage of raw captures that every host sees: a local directory or an S3-compatible bucket.

Objects are named by keys relative to the storage root (``warc/<run_id>/<file>``, as a manifest's
``warc_file`` says): the data directory for :class:`LocalStorage`, ``{prefix}`` in the bucket for
:class:`S3Storage`. A WARC file is written locally while a crawl writes it and handed over whole
(:meth:`Storage.put_file`, checked: Content-MD5 and a read-back of size + SHA-256), so a reader
never sees half a file; readers read a record at an offset (:meth:`Storage.open_at`: a ranged
GET), and retention lists by prefix and deletes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from indexing.fileio import atomic_writer
from indexing.storagesettings import StorageSettings

logger = logging.getLogger(__name__)

#: objects one ``list`` call yields at most (a bound on outside input: a bucket can hold anything)
MAX_LISTED = 1_000_000
_CHUNK = 1 << 20


class StorageError(Exception):
    """The store could not be read or written (unreachable, refused, a checksum mismatch)."""


class ObjectNotFound(StorageError):
    """No object under that key."""


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the storage root
    size: int
    modified: datetime


class Storage(Protocol):
    """Where WARC files live; keys are relative POSIX paths (``warc/<run_id>/<file>``)."""

    def open_at(self, key: str, offset: int) -> AbstractContextManager[IO[bytes]]:
        """A stream of the object from ``offset`` on (read only as far as needed)."""
        ...

    def put_file(self, path: Path, key: str) -> StoredObject:
        """Store a closed local file whole under ``key`` (idempotent: the same bytes again change nothing)."""
        ...

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Objects whose key starts with ``prefix``, at most :data:`MAX_LISTED`."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object (a missing one is not an error)."""
        ...


def check_key(key: str) -> str:
    """A key as storage accepts it: relative, no ``..``, no empty parts."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or "\\" in key or any(p in ("..", ".", "") for p in parts):
        raise StorageError(f"not a storage key: {key!r}")
    return key


def file_digests(path: Path) -> tuple[int, str, str]:
    """(size, MD5 base64, SHA-256 hex) of a file, read once in blocks."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            md5.update(block)
            sha.update(block)
            size += len(block)
    return size, base64.b64encode(md5.digest()).decode("ascii"), sha.hexdigest()


class LocalStorage:
    """Keys are paths under ``root`` (the data directory): what warwatch always did."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key  # as warwatch always read a manifest's warc_file (old ones may be absolute)

    def open_at(self, key: str, offset: int) -> AbstractContextManager[IO[bytes]]:
        try:
            fh = open(self.path(key), "rb")  # noqa: SIM115 (returned to the caller's with)
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"{self.path(key)}: not found") from exc
        fh.seek(offset)
        return fh

    def put_file(self, path: Path, key: str) -> StoredObject:
        target = self.path(key)
        if Path(path).resolve() != target.resolve():
            with open(path, "rb") as src, atomic_writer(target, binary=True) as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        return self._info(target, key)

    def _info(self, path: Path, key: str) -> StoredObject:
        st = path.stat()
        return StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rstrip("/") if prefix.endswith("/") else self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return
        for n, path in enumerate(sorted(p for p in start.rglob("*") if p.is_file())):
            if n >= MAX_LISTED:
                logger.warning("%s: listing stopped at %d objects", start, MAX_LISTED)
                return
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield self._info(path, key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible bucket (boto3). Keys are stored as ``{prefix}{key}``. ``spool``: the local
    directory WARC files are written into before their upload; a file still there (being written,
    or its upload failed and waits for a retry) is read from there."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", spool: Path | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.spool = LocalStorage(spool) if spool is not None else None

    def _call(self, op: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ObjectNotFound(f"s3://{self.bucket}/{kwargs.get('Key', '')}: not found") from exc
            raise StorageError(f"s3://{self.bucket}: {op} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket}: {op} failed: {exc}") from exc

    def open_at(self, key: str, offset: int) -> AbstractContextManager[IO[bytes]]:
        if self.spool is not None and self.spool.path(key).is_file():
            return self.spool.open_at(key, offset)
        answer = self._call("get_object", Key=self.prefix + check_key(key), Range=f"bytes={offset}-")
        return closing(answer["Body"])

    def head(self, key: str) -> dict[str, Any]:
        return dict(self._call("head_object", Key=self.prefix + check_key(key)))

    def put_file(self, path: Path, key: str) -> StoredObject:
        size, md5, sha256 = file_digests(path)
        try:
            head = self.head(key)
        except ObjectNotFound:
            head = {}
        if not _same(head, size, sha256):
            with open(path, "rb") as fh:
                self._call("put_object", Key=self.prefix + key, Body=fh, ContentLength=size, ContentMD5=md5,
                           Metadata={"sha256": sha256})
            head = self.head(key)  # the read-back: what the store holds now
            if not _same(head, size, sha256):
                raise StorageError(f"s3://{self.bucket}/{self.prefix}{key}: stored object does not match "
                                   f"{path} ({head.get('ContentLength')} bytes, expected {size})")
        return StoredObject(key, size, head.get("LastModified") or datetime.now(UTC))

    def list(self, prefix: str) -> Iterator[StoredObject]:
        token: dict[str, str] = {}
        listed = 0
        while listed < MAX_LISTED:
            page = self._call("list_objects_v2", Prefix=self.prefix + prefix, **token)
            for obj in page.get("Contents", []):
                listed += 1
                if obj["Key"].endswith("/"):
                    continue  # a "directory" marker (some servers list their directories), not a file
                yield StoredObject(obj["Key"][len(self.prefix):], int(obj["Size"]), obj["LastModified"])
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}
        logger.warning("s3://%s/%s%s: listing stopped at %d objects", self.bucket, self.prefix, prefix, listed)

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self.prefix + check_key(key))


def _same(head: dict[str, Any], size: int, sha256: str) -> bool:
    return bool(head) and int(head.get("ContentLength", -1)) == size and \
        (head.get("Metadata") or {}).get("sha256") == sha256


def download(storage: Storage, key: str, path: Path) -> bool:
    """Copy an object into a local file (atomically); True when done."""
    with storage.open_at(key, 0) as src, atomic_writer(path, binary=True) as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    return True


def s3_client(settings: StorageSettings) -> Any:
    """A boto3 S3 client for these settings (credentials: the settings' pair from the environment,
    else boto3's own chain: ``AWS_*`` variables, profiles, instance roles)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # the production extra
        raise StorageError("storage.backend s3 needs boto3: pip install 'warwatch[production]'") from exc
    keys: dict[str, str] = {}
    if settings.access_key_id is not None and settings.secret_access_key is not None:
        keys = {"aws_access_key_id": settings.access_key_id.get_secret_value(),
                "aws_secret_access_key": settings.secret_access_key.get_secret_value()}
    config = Config(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                    retries={"max_attempts": settings.max_attempts, "mode": "standard"},
                    s3={"addressing_style": "path"},
                    # checksums the way every S3-compatible server understands (Content-MD5)
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config,
                        **keys)


def open_storage(settings: StorageSettings, data_dir: Path) -> Storage:
    """The storage the settings name (entry points call this and hand the result in)."""
    if settings.backend == "s3":
        assert settings.bucket is not None  # StorageSettings checks it
        return S3Storage(s3_client(settings), settings.bucket, settings.prefix, spool=data_dir)
    return LocalStorage(data_dir)


class Uploads:
    """Hands closed WARC files under ``data_dir`` to ``storage`` whole (key: the path relative to
    ``data_dir``), removing the local copy once the store holds it; a failed upload leaves the
    file where it is, counted, for :meth:`retry` (the next run)."""

    def __init__(self, storage: Storage, data_dir: Path) -> None:
        self.storage = storage
        self.data_dir = Path(data_dir)
        self.counts = {"uploaded": 0, "upload_failed": 0, "retried": 0}

    def __call__(self, path: Path) -> bool:
        key = Path(path).resolve().relative_to(self.data_dir.resolve()).as_posix()
        try:
            self.storage.put_file(path, key)
        except (StorageError, OSError) as exc:
            self.counts["upload_failed"] += 1
            logger.warning("%s: upload failed, kept for the next run: %s", path, exc)
            return False
        Path(path).unlink()
        self.counts["uploaded"] += 1
        return True

    def retry(self, spool: Path, skip: Callable[[str], bool], limit: int = 10_000) -> int:
        """Upload the WARC files earlier runs left in ``spool/<run_id>/`` (a run ``skip`` names
        is still writing its files: left alone); returns how many went up."""
        done = 0
        for n, path in enumerate(sorted(Path(spool).glob("*/*.warc.gz"))):
            if n >= limit:
                logger.warning("%s: %d files waiting; the rest waits for the next run", spool, n)
                break
            if skip(path.parent.name):
                continue
            if self(path):
                done += 1
                self.counts["retried"] += 1
        return done
