"""Seen-store batching (crash safety through the manifest), the recrawl minimum interval
setting, the single-pass WARC digests and the memoised URL helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawlers.state import KnownArticle
from crawlers.urlcache import canonical, host_is_private, in_scope, normalised_host
from indexing.archive import WarcWriter, append_manifest, read_record
from indexing.settings import get_settings, reset_settings
from indexing.sources import Source
from indexing.urls import canonicalize_url, is_private_address, url_host
from tests.conftest import REPO_ROOT
from tests.crawlers.seenbackend import SeenBackend

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


class FakeClock:
    """An injected monotonic clock: the test moves time, nothing sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_batched_marks_commit_by_count_by_time_and_before_other_writes(seen: SeenBackend) -> None:
    clock = FakeClock()
    store = seen.open(batch_size=3, batch_interval=3600, clock=clock)
    store.add_pending([(f"https://e.com/{i}", "s", "feed", None) for i in range(8)])
    store.mark_stored(
        "https://e.com/0", "s", "fp0", NOW, None, aliases=["https://e.com/0-amp"], durable=False
    )
    store.mark_stored("https://e.com/1", "s", "fp1", NOW, None, durable=False)
    # Visible to this store's own reads at once, not committed yet.
    assert store.lookup("https://e.com/0-amp").url == "https://e.com/0"  # type: ignore[union-attr]
    assert store.uncommitted == 2 and seen.committed_urls() == set()
    store.mark_stored("https://e.com/2", "s", "fp2", NOW, None, durable=False)  # third: batch full
    assert store.uncommitted == 0
    assert seen.committed_urls() == {"https://e.com/0", "https://e.com/1", "https://e.com/2"}

    # Any other write commits the open batch first (durable effects keep the call order).
    store.mark_stored("https://e.com/3", "s", "fp3", NOW, None, durable=False)
    store.pending_failed("https://e.com/7")
    assert "https://e.com/3" in seen.committed_urls() and store.uncommitted == 0

    # A quiet batch is committed by the periodic flush once it is batch_interval old.
    store.batch_interval = 60
    store.mark_stored("https://e.com/4", "s", "fp4", NOW, None, durable=False)
    store.flush_if_due()
    assert "https://e.com/4" not in seen.committed_urls()
    clock.now += 59
    store.flush_if_due()
    assert "https://e.com/4" not in seen.committed_urls()  # not due a moment before the interval
    clock.now += 1
    store.flush_if_due()
    assert "https://e.com/4" in seen.committed_urls()

    store.mark_stored("https://e.com/5", "s", "fp5", NOW, None, durable=False)
    store.close()
    store.close()  # idempotent
    assert seen.committed_urls() == {f"https://e.com/{i}" for i in range(6)}
    reopened = seen.open()
    # 7 failed once (transiently): it waits for its backoff, then is pending again
    assert {p.url for p in reopened.pending("s")} == {"https://e.com/6"}
    later = datetime.now(UTC) + timedelta(hours=1)
    assert {p.url for p in reopened.pending("s", later)} == {"https://e.com/6", "https://e.com/7"}
    reopened.close()


def test_a_failed_mark_leaves_the_rest_of_the_batch(seen: SeenBackend) -> None:
    store = seen.open(batch_size=10, batch_interval=3600)
    store.mark_stored("https://e.com/a", "s", "fa", NOW, None, durable=False)
    with pytest.raises(seen.integrity_error):
        store.mark_stored("https://e.com/b", None, "fb", NOW, None, durable=False)  # type: ignore[arg-type]
    store.mark_stored("https://e.com/c", "s", "fc", NOW, None, durable=False)
    store.close()
    assert seen.committed_urls() == {"https://e.com/a", "https://e.com/c"}


def test_captures_are_fsynced_before_the_seen_mark_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen: SeenBackend
) -> None:
    """Power-cut safety (issue 9): wired as the archive pipeline wires them, the WARC record and
    the manifest line reach the disk before the seen-store commits the URL: never "seen" without
    its capture."""
    import os

    from indexing.archive import ArchiveWriter

    store = seen.open(batch_size=2, batch_interval=3600)
    archive = ArchiveWriter.open(tmp_path / "warc", "run", tmp_path / "run" / "manifest.jsonl",
                                 max_bytes=10**9, data_dir=tmp_path)
    store.before_commit = archive.sync
    synced: list[tuple[str, set[str]]] = []  # (file fsynced, URLs committed at that moment)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        synced.append((name, seen.committed_urls()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    for i in range(2):
        url = f"https://e.com/{i}"
        archive.write({"url": url}, url=url, status=200, headers={"Content-Type": "text/html"},
                      body=f"<p>{i}</p>".encode(), fetched_at=NOW)
        assert not [n for n, _ in synced if n.endswith((".warc.gz", ".jsonl"))]  # no fsync per item
        store.mark_stored(url, "s", f"f{i}", NOW, None, durable=False)  # the 2nd fills the batch
    names = [n for n, _ in synced]
    assert "run-00001.warc.gz" in names and "manifest.jsonl" in names
    assert names.index("run-00001.warc.gz") < names.index("manifest.jsonl")  # records before lines
    assert all(committed == set() for _, committed in synced)  # both before the commit...
    assert seen.committed_urls() == {"https://e.com/0", "https://e.com/1"}  # ...which then happened

    synced.clear()
    store.flush()  # nothing new written: no fsync, no cost
    store.add_pending([("https://e.com/p", "s", "feed", None)])
    assert synced == []
    archive.close()
    store.close()


_KILLED_WRITER = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from crawlers.state import open_seen_store
from indexing.settings import get_settings
store = open_seen_store(Path(sys.argv[1]), get_settings().state, batch_size=1000, batch_interval=3600)
store.mark_stored("https://e.com/durable", "s", "f0", datetime.now(UTC), None)
for i in range(5):
    store.mark_stored(f"https://e.com/batched-{i}", "s", f"f{i}", datetime.now(UTC), None, durable=False)
os.kill(os.getpid(), 9)
"""


def test_kill_9_loses_only_uncommitted_marks_and_the_manifest_restores_them(
    data_dir: Path, seen: SeenBackend
) -> None:
    """A writer killed with its batch open; another process (this one) replays its run."""
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(seen.state_dir)],
        cwd=REPO_ROOT,
        env={**os.environ, **seen.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    assert seen.committed_urls() == {"https://e.com/durable"}

    # The archive pipeline flushed a manifest line for every batched mark before it was
    # made; the crawl replays unfinished runs' manifests at start-up.
    from crawlers.replay import replay_unfinished_runs

    store = seen.open()
    store.run_started("killed")
    store.close()
    manifest = get_settings().runs_dir / "killed" / "manifest.jsonl"
    for i in range(5):
        append_manifest(
            manifest,
            {
                "url": f"https://e.com/batched-{i}",
                "fingerprint": f"f{i}",
                "source": "s",
                "fetched_at": "2024-05-03T12:00:00Z",
                "aliases": [f"https://e.com/batched-{i}?amp=1"],
            },
        )
    store = seen.open()
    assert replay_unfinished_runs(store, get_settings().runs_dir, "next") == 5
    store.close()
    assert seen.committed_urls() == {"https://e.com/durable"} | {
        f"https://e.com/batched-{i}" for i in range(5)
    }
    again = seen.open()
    assert again.unfinished_runs() == []  # the killed run is reconciled and closed
    assert again.lookup("https://e.com/batched-3?amp=1").fingerprint == "f3"  # type: ignore[union-attr]
    again.close()


def test_recrawl_min_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    window = timedelta(hours=48)
    # published 30 min before its only fetch, fetched 2 h ago: the age-based interval is 30 min
    art = KnownArticle(
        "u", "s", "f", NOW - timedelta(hours=2.5), NOW - timedelta(hours=2), NOW - timedelta(hours=2)
    )
    assert get_settings().crawl.recrawl_min_interval_hours == 1.0
    assert art.due_for_recrawl(NOW, window)  # default floor 1 h < 2 h
    monkeypatch.setenv("WARWATCH_CRAWL__RECRAWL_MIN_INTERVAL_HOURS", "3")
    reset_settings()
    assert get_settings().crawl.recrawl_min_interval_hours == 3.0
    assert not art.due_for_recrawl(NOW, window)  # floor 3 h > 2 h
    assert art.due_for_recrawl(NOW, window, timedelta(minutes=90))  # explicit floor wins
    assert not art.due_for_recrawl(NOW + timedelta(hours=0.9), window)
    assert art.due_for_recrawl(NOW + timedelta(hours=1), window)


def test_seen_store_recrawl_uses_the_min_interval(seen: SeenBackend) -> None:
    store = seen.open()
    now = datetime.now(UTC)
    store.mark_stored("https://e.com/a", "s", "fp", now - timedelta(hours=2), now - timedelta(hours=2.5))
    assert [a.url for a in store.due_for_recrawl("s", now, timedelta(hours=48), timedelta(hours=1))] == [
        "https://e.com/a"
    ]
    assert list(store.due_for_recrawl("s", now, timedelta(hours=48), timedelta(hours=3))) == []
    store.close()


def test_warc_digests_are_computed_once_and_verify(tmp_path: Path) -> None:
    body = "<html><body>é ünïcode and bytes</body></html>".encode() * 40
    with WarcWriter(tmp_path, "t", max_bytes=10**9) as writer:
        path, offset = writer.write_response(
            "https://e.com/a",
            200,
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"), ("X-A", "1\r\n2")],
            body,
            NOW,
            extra_warc_headers={"WARC-Source-URI": "https://e.com/canonical"},
        )
        writer.write_response("https://e.com/empty", 204, {}, b"", NOW)
    checked = 0
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            record.content_stream().read()
            if record.rec_type == "response":
                assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
                assert record.rec_headers.get_header("WARC-Block-Digest").startswith("sha1:")
                assert record.digest_checker.passed is True
                checked += 1
    assert checked == 2
    captured = read_record(path, offset)
    assert captured.body == body and captured.header("x-archive-orig-content-encoding") == "gzip"
    assert captured.warc_headers["WARC-Source-URI"] == "https://e.com/canonical"


URLS = [
    "https://News.Example.com:443/a/../b/story-1.html?utm_source=x&b=2&a=1#frag",
    "http://127.0.0.1:8080/x",
    "http://[::1]:80/amp/story",
    "https://BÜcher.de/a",
    "http://Example.COM./",
    "http://10.0.0.1/world",
    "mailto:someone@example.com",
]


@pytest.mark.parametrize("url", URLS)
def test_memoised_url_helpers_agree_with_indexing_urls(url: str) -> None:
    from urllib.parse import urlsplit

    source = Source(id="s", name="S", url="https://news.example.com/", feeds=["https://news.example.com/rss"])
    for _ in range(2):  # cold and cached
        assert canonical(url) == canonicalize_url(url)
        assert in_scope(source, url) == source.in_scope(url)
        host = normalised_host(urlsplit(url).hostname or "")
        assert host == url_host(url)
        assert host_is_private(host) == is_private_address(host)


def test_two_crawlers_opening_an_older_store_at_once_add_each_new_column_once(tmp_path: Path) -> None:
    """Another process is adding the new columns to an older store (its transaction still open):
    opening the store then waits for it and adds only what is still missing, instead of reading the
    old columns and failing on "duplicate column name" once the other commits."""
    import sqlite3
    import threading

    from crawlers.state import _SCHEMA, SeenStore

    path = tmp_path / "crawl.sqlite"
    old = sqlite3.connect(str(path), isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(_SCHEMA)  # a store as created before the migrated columns existed
    old.execute("BEGIN IMMEDIATE")
    old.execute("ALTER TABLE articles ADD COLUMN schedule TEXT")  # the other process, mid-migration
    opened: list[object] = []

    def open_store() -> None:
        try:
            SeenStore(path).close()
            opened.append("opened")
        except sqlite3.Error as exc:
            opened.append(exc)

    thread = threading.Thread(target=open_store)
    thread.start()
    thread.join(0.5)  # it waits on the other's write lock ...
    assert thread.is_alive() and opened == []
    old.execute("COMMIT")  # ... which finishes its migration
    thread.join(30)
    old.close()
    assert opened == ["opened"]
    columns = [row[1] for row in sqlite3.connect(str(path)).execute("PRAGMA table_info(articles)")]
    assert columns.count("schedule") == 1 and {"etag", "capture_at"} <= set(columns)
