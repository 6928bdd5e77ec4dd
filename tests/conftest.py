"""Shared fixtures. Services are real: the local search node started by `make test`,
Airflow's own dag.test(), HTTP servers on 127.0.0.1. Outside CI a test whose service is
missing skips; with CI=true it fails."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexing.settings import reset_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if _in_ci():
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("WARWATCH_ES_URL", "http://127.0.0.1:9200")
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback node
            json.load(resp)
    except Exception as exc:  # any failure means: no usable node
        service_missing(f"no search node at {url} ({exc}); run `warwatch local-es start`")
    return url


@pytest.fixture
def index_prefix(es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique index prefix for one test; its indices and templates are removed afterwards."""
    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", prefix)
    reset_settings()
    yield prefix
    _cleanup_prefix(es_url, prefix)


def _cleanup_prefix(es_url: str, prefix: str) -> None:
    def call(method: str, path: str) -> None:
        req = urllib.request.Request(es_url + path, method=method)
        try:
            urllib.request.urlopen(req, timeout=30).read()  # noqa: S310
        except Exception:
            pass

    call("DELETE", f"/{prefix}*?expand_wildcards=all")
    call("DELETE", f"/_index_template/{prefix}*")
    call("DELETE", f"/_component_template/{prefix}*")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(d))
    reset_settings()
    return d


def count_docs(es_url: str, alias: str) -> int:
    """Documents behind an index or alias, after a refresh (so the last writes are counted)."""
    urllib.request.urlopen(urllib.request.Request(f"{es_url}/{alias}/_refresh", method="POST"), timeout=30).read()
    with urllib.request.urlopen(f"{es_url}/{alias}/_count", timeout=30) as resp:  # noqa: S310
        return int(json.load(resp)["count"])
