"""Where raw captures (WARC files) live: ``storage.backend`` ``local`` (the data directory, the
default) or ``s3`` (an S3-compatible object store that every host sees).

Credentials never come from a file: ``WARWATCH_STORAGE__ACCESS_KEY_ID`` /
``WARWATCH_STORAGE__SECRET_ACCESS_KEY``, or (both unset) the standard ``AWS_*`` variables and
the rest of boto3's credential chain.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, SecretStr, model_validator


class StorageSettings(BaseModel):
    model_config = {"extra": "forbid"}

    #: ``local``: WARC files stay under ``data_dir/warc``; ``s3``: written locally, uploaded whole
    #: when closed to ``{prefix}warc/{run_id}/{file}`` in ``bucket``
    backend: Literal["local", "s3"] = "local"
    bucket: str | None = None
    #: every object key starts with it (e.g. ``warwatch/``); empty: the bucket's root
    prefix: str = ""
    #: an S3-compatible server (MinIO, Ceph, s3proxy, ...); None: AWS itself
    endpoint_url: str | None = None
    region: str = "us-east-1"
    #: seconds to wait for a connection / a read (an object store that hangs must not hang a crawl)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: attempts per request (boto3's standard retry mode)
    max_attempts: int = 3
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> StorageSettings:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("storage.backend s3 needs storage.bucket")
        if self.bucket is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", self.bucket):
            raise ValueError(f"storage.bucket {self.bucket!r} is not a valid bucket name")
        if self.prefix.startswith("/") or ".." in self.prefix.split("/"):
            raise ValueError("storage.prefix must be relative (no leading /, no ..)")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both storage access key id and secret access key, or neither")
        return self
