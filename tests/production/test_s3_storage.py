"""Raw captures on an S3-compatible object store (issue #18 §2): a real crawl of the demo site with
``storage.backend: s3`` against s3proxy (a real S3 API server on 127.0.0.1:59000, filesystem
backend), WARC files uploaded whole, the clean stage reading records back with ranged GETs, reruns
idempotent, and a failed upload (server stopped) kept locally, counted and retried by the next run."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from indexing.archive import WarcWriter, append_manifest, iter_manifest
from indexing.settings import get_settings, reset_settings
from indexing.storage import S3Storage, Uploads, s3_client
from tests.production.conftest import use_bucket
from tests.production.s3proxy import S3Proxy

BUCKET = "warwatch-test"
PREFIX = "ww/"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    from demo.server import serve

    with serve() as server:
        yield server.base_url


@pytest.fixture
def s3_env(s3proxy: S3Proxy, site: str, data_dir: Path, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for a crawl into the bucket; yields the sources file of the demo site."""
    from demo.server import render_sources

    # small WARC files: the crawl rotates, so several files are closed and uploaded mid-crawl
    use_bucket(monkeypatch, s3proxy, BUCKET, PREFIX, WARWATCH_STORAGE__CONNECT_TIMEOUT="3",
               WARWATCH_CRAWL__WARC_MAX_BYTES="40000")
    yield render_sources(site, tmp_path / "sources.yaml")
    reset_settings()


def _objects(prefix: str) -> dict[str, dict[str, Any]]:
    client = s3_client(get_settings().storage)
    page = client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + prefix)
    return {o["Key"]: {"size": o["Size"], "etag": o.get("ETag"), "modified": o["LastModified"]}
            for o in page.get("Contents", []) if not o["Key"].endswith("/")}  # s3proxy lists its directories


def _crawl(sources: Path) -> tuple[str, dict[str, Any]]:
    from warwatch import pipeline

    run_id = pipeline.new_run_id()  # random suffix: two runs in one second differ
    return run_id, pipeline.crawl(run_id, sources, budget=300)


def _manifest(data_dir: Path, run_id: str) -> list[dict[str, Any]]:
    return list(iter_manifest(data_dir / "runs" / run_id / "manifest.jsonl"))


def test_a_crawl_uploads_whole_warcs_and_clean_reads_them_from_the_store(s3_env: Path, data_dir: Path) -> None:
    from warwatch import pipeline

    run_id, report = _crawl(s3_env)
    lines = _manifest(data_dir, run_id)
    files = {e["warc_file"] for e in lines}
    assert lines and all(f.startswith(f"warc/{run_id}/") for f in files)
    stored = _objects(f"warc/{run_id}/")
    assert set(stored) == {PREFIX + f for f in files} and len(stored) >= 2  # rotated mid-crawl
    assert report["storage"] == {"uploaded": len(stored), "upload_failed": 0, "retried": 0}
    assert not list((data_dir / "warc").rglob("*.warc.gz"))  # uploaded, then the local copy removed

    client = s3_client(get_settings().storage)
    for name in files:  # whole: every record the manifest names is in the object, at its offset
        obj = client.get_object(Bucket=BUCKET, Key=PREFIX + name)
        body = obj["Body"].read()
        assert obj["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
        it = ArchiveIterator(io.BytesIO(body))
        offsets = {it.get_record_offset() for r in it if r.rec_type in ("response", "revisit")}
        assert offsets == {e["warc_offset"] for e in lines if e["warc_file"] == name}

    counts = pipeline.clean(run_id).counts
    assert counts["responses"] == len(lines) and counts["articles"] >= 10
    assert not [k for k in counts if k.startswith("failed:")]
    cleaned = (data_dir / "runs" / run_id / "cleaned.jsonl").read_bytes()
    urls = {json.loads(x)["crawl"]["url"] for x in cleaned.splitlines()}
    assert len(urls) == counts["articles"]

    # reruns: the clean stage gives the same file; a second crawl adds only its own objects;
    # the same file uploaded again (a retried task) changes no object
    assert pipeline.clean(run_id).counts == counts
    assert (data_dir / "runs" / run_id / "cleaned.jsonl").read_bytes() == cleaned
    run2, _ = _crawl(s3_env)
    assert _objects(f"warc/{run_id}/") == stored
    added = set(_objects("warc/")) - set(stored)
    assert all(k.startswith(f"{PREFIX}warc/{run2}/") for k in added), added
    name = sorted(files)[0]
    again = data_dir / name
    again.write_bytes(client.get_object(Bucket=BUCKET, Key=PREFIX + name)["Body"].read())
    storage = S3Storage(client, BUCKET, PREFIX)
    assert Uploads(storage, data_dir)(again) and not again.exists()
    assert _objects(f"warc/{run_id}/") == stored  # same keys, sizes, ETags and times: not rewritten


def test_a_failed_upload_stays_local_counted_and_the_next_run_uploads_it(
        s3_env: Path, s3proxy: S3Proxy, data_dir: Path) -> None:
    from warwatch import pipeline

    s3proxy.stop()
    try:
        run_id, report = _crawl(s3_env)
    finally:
        s3proxy.start()
    left = sorted((data_dir / "warc" / run_id).glob("*.warc.gz"))
    assert left and report["storage"] == {"uploaded": 0, "upload_failed": len(left), "retried": 0}
    assert _objects(f"warc/{run_id}/") == {}
    first = pipeline.clean(run_id).counts  # read from the local copy while it waits
    assert first["articles"] >= 10 and not [k for k in first if k.startswith("failed:")]
    sums = {f"{PREFIX}warc/{run_id}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in left}

    _, report2 = _crawl(s3_env)
    assert report2["storage"]["retried"] == len(left) and report2["storage"]["upload_failed"] == 0
    assert not list((data_dir / "warc" / run_id).glob("*.warc.gz"))
    client = s3_client(get_settings().storage)
    for key, digest in sums.items():
        assert hashlib.sha256(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest() == digest
    assert pipeline.clean(run_id).counts == first  # now from the store


def test_retention_deletes_old_objects_by_prefix_and_keeps_what_a_batch_needs(
        s3_env: Path, data_dir: Path, index_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from warwatch.pipeline import maintenance
    from warwatch.pipeline.common import capture_storage

    monkeypatch.setenv("WARWATCH_STORAGE__PREFIX", "retention/")  # a namespace of its own in the bucket
    reset_settings()
    storage = capture_storage()
    names = {}
    for rid in ("old-run", "kept-run"):
        with WarcWriter(data_dir / "warc" / rid, f"warwatch-{rid}", on_closed=Uploads(storage, data_dir)) as w:
            path, offset = w.write_response(f"http://127.0.0.1/{rid}", 200, {"content-type": "text/html"},
                                            b"<p>capture</p>", datetime.now(UTC))
        names[rid] = f"warc/{rid}/{path.name}"
    # a batch not processed yet still needs the file of kept-run
    append_manifest(data_dir / "runs" / "kept-run" / "manifest.jsonl",
                    {"url": "http://127.0.0.1/kept-run", "warc_file": names["kept-run"], "warc_offset": offset})
    assert {o.key for o in storage.list("warc/")} == set(names.values())

    assert maintenance._warc_retention(time.time, dry_run=False)["deleted"] == 0  # nothing old yet
    later = time.time() + (get_settings().pipeline.raw_retention_days or 0) * 86400 + 60
    result = maintenance._warc_retention(lambda: later, dry_run=False)
    assert (result["deleted"], result["kept_unprocessed"], result["kept_unchecked"]) == (1, 1, 0)
    assert {o.key for o in storage.list("warc/")} == {names["kept-run"]}
    assert not list((data_dir / "warc").rglob("*.warc.gz"))  # the copy fetched for the check is gone
