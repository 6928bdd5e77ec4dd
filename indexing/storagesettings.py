"""Where raw captures (WARC files) live: ``storage.backend`` ``local`` (the data directory, the
default) or ``s3`` (an S3-compatible object store that every host sees).

Credentials never come from a file: ``WARWATCH_STORAGE__ACCESS_KEY_ID`` /
``WARWATCH_STORAGE__SECRET_ACCESS_KEY``, or (both unset) the standard ``AWS_*`` variables and
the rest of boto3's credential chain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

import yaml
from pydantic import BaseModel, SecretStr, model_validator

#: settings only the environment may set: top-level keys, and keys of the ``storage`` section
SECRET_KEYS = ("es_password", "es_api_key")
STORAGE_SECRET_KEYS = ("access_key_id", "secret_access_key")


def secret_keys_in_file(root: yaml.MappingNode) -> Iterator[yaml.Node]:
    """The key nodes of a settings file's top-level mapping that name a secret (an error)."""
    for key_node, value in root.value:
        if key_node.value in SECRET_KEYS:
            yield key_node
        if key_node.value == "storage" and isinstance(value, yaml.MappingNode):
            yield from (k for k, _ in value.value if k.value in STORAGE_SECRET_KEYS)


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
