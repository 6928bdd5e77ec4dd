"""Models that are slow to unpack, kept unpacked in the user's cache directory.

py3langid ships its model LZMA-compressed: unpacking it costs ~0.5-1 CPU second in every process
that detects a language (each extraction worker of each run), loading the unpacked copy ~0.1.
The copy is a pickle, so it is only ever read from a directory that only this user can write
(created 0700; a directory that is group- or world-writable or owned by someone else is not
used), and its name carries the package's version and the model file's size and time, so an
upgrade never loads an older model. Any failure falls back to the slow path: the cache is an
optimisation, never a requirement.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$WARWATCH_MODEL_CACHE``, else ``$XDG_CACHE_HOME/warwatch``, else ``~/.cache/warwatch``."""
    explicit = os.environ.get("WARWATCH_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "warwatch"


def _private(directory: Path) -> bool:
    """The directory exists (created 0700 if missing), belongs to this user, and nobody else can write it."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _key(package: str) -> str:
    import importlib

    module = importlib.import_module(package)
    version = metadata.version(package)
    files = sorted(p for p in Path(module.__file__ or "").parent.rglob("*") if p.is_file() and "model" in p.name)
    stamp = "-".join(f"{p.stat().st_size}.{int(p.stat().st_mtime)}" for p in files[:4])
    return f"{package}-{version}-{stamp}-py{sys.version_info[0]}{sys.version_info[1]}.pickle"


def cached_model(package: str, load: Callable[[], Any]) -> Any:
    """``load()``'s result, from the cache when a copy for this version of ``package`` is there
    (written there after the first ``load()``)."""
    directory = cache_dir()
    try:
        if not _private(directory):
            return load()
        path = directory / _key(package)
    except Exception:  # noqa: BLE001 - no cache, the slow path
        return load()
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - written by this user into a directory only they can write
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - a damaged copy is replaced
        log.info("model cache %s unreadable (%s): loading the model again", path, exc)
    model = load()
    _store(path, model)
    return model


def _store(path: Path, model: Any) -> None:
    """Write the copy atomically (a temporary file renamed), or nothing when the disk says no."""
    tmp: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as fh:
            tmp = fh.name
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - a full or read-only disk: no cache
        log.info("model cache %s not written (%s)", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
