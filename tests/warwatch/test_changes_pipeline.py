"""Edits and takedowns end to end (issue #19): an article archived and indexed, then a revised
capture (a number changed), then a confirmed takedown, each through the real clean and index
stages and the real node; `warwatch changes --json`, `warwatch history --json`, and watch alerts
once per change event across reruns."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexing.alerts import DeliverySettings, Watch, evaluate
from indexing.archive import WarcWriter, append_manifest
from indexing.settings import get_settings
from tests.conftest import count_docs
from warwatch import pipeline
from warwatch.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
URL = "https://weltnachrichten-heute.example/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
PAGE = (FIXTURES / "seed-article" / "page.html").read_text(encoding="utf-8")
FAST = DeliverySettings(retries=1, backoff_seconds=0.0, timeout_seconds=5)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _page(soldiers: str) -> bytes:
    assert "600.000" in PAGE  # the fixture's figure, replaced by the version's own
    return PAGE.replace("600.000", soldiers).encode("utf-8")


@pytest.fixture(autouse=True)
def _extract_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clean stage's extraction in this process (its time bound is not under test here: a
    worker process per clean call would cost seconds each)."""
    import contextlib
    import importlib

    clean = importlib.import_module("warwatch.pipeline.clean")  # the module (the package exports the function)
    monkeypatch.setattr(clean, "_extractor", lambda pages=None: contextlib.nullcontext(clean._InProcess()))


def _batch(data_dir: Path, entries: list[dict[str, Any]], bodies: list[tuple[int, bytes]], at: datetime) -> str:
    """A crawl batch by hand: each body archived as a WARC response, its manifest line with it."""
    rid = pipeline.new_run_id(at)
    rdir = pipeline.run_dir(rid)
    with WarcWriter(data_dir / "warc", f"t{at:%H%M%S}") as writer:
        for entry, (status, body) in zip(entries, bodies, strict=True):
            path, offset = writer.write_response(URL, status, {"Content-Type": "text/html; charset=utf-8"}, body, at)
            append_manifest(rdir / "manifest.jsonl", {
                "url": URL, "final_url": URL, "status": status, "fetched_at": at.isoformat(),
                "warc_file": str(path.relative_to(data_dir)), "warc_offset": offset, "source": "welt",
                "content_type": "text/html; charset=utf-8", "fingerprint": f"f{at:%H%M}", **entry})
    return rid


def _cli(*argv: str) -> tuple[int, Any]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(list(argv))
    return code, json.loads(buf.getvalue()) if buf.getvalue().strip().startswith("{") else buf.getvalue()


def _alerts(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / "nk.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_edit_and_takedown_are_recorded_listed_and_alerted_once(index_prefix: str, data_dir: Path,
                                                                 es_url: str) -> None:
    watch = Watch.model_validate({"id": "nk", "name": "North Korean troops in Russia",
                                  "query": "North Korean troops in Russia", "on": ["edited", "removed"]})

    def stages(rid: str) -> dict[str, int]:
        pipeline.clean(rid)
        counts = dict(pipeline.index(rid).counts)
        evaluate(rid, settings=get_settings(), watches=[watch], delivery=FAST)
        return counts

    first = _batch(data_dir, [{}], [(200, _page("6000"))], T0)
    assert stages(first).get("created") == 1
    assert _alerts(data_dir) == []  # a new article: this watch asks for edits and takedowns only

    revised = _batch(data_dir, [{"revisit": True, "change": "updated", "discovered_via": "revisit"}],
                     [(200, _page("3000"))], T0 + timedelta(hours=1))
    counts = stages(revised)
    assert counts["changes:numbers"] == 1 and counts["versions"] == 1, counts

    removed_at = T0 + timedelta(hours=3)
    takedown = _batch(data_dir, [{"takedown": "removed", "status": 404, "revisit": True,
                                  "first_seen": (removed_at - timedelta(seconds=5)).isoformat(),
                                  "confirmed_at": removed_at.isoformat()}], [(404, b"<h1>Not found</h1>")], removed_at)
    clean = pipeline.clean(takedown)
    assert clean.counts["takedowns:removed"] == 1 and clean.counts["responses"] == 0
    counts = dict(pipeline.index(takedown).counts)
    assert counts["takedowns:recorded"] == 1, counts
    evaluate(takedown, settings=get_settings(), watches=[watch], delivery=FAST)

    # Everything again: nothing new is stored or alerted.
    for rid in (first, revised, takedown):
        stages(rid)
    assert count_docs(es_url, f"{index_prefix}changes") == 2
    alerts = _alerts(data_dir)
    assert [a["event"] for a in alerts] == ["edited", "removed"]
    assert "6000 → 3000" in alerts[0]["text"] and "North Korean troops in Russia" in alerts[0]["text"]
    assert "404" in alerts[1]["text"]

    code, listed = _cli("changes", "--json")
    assert code == 0
    records = listed["changes"]
    assert [r["kinds"] for r in records] == [["removed"], ["numbers"]]  # newest first
    gone, edit = records
    assert (edit["before"], edit["after"]) == ("6000", "3000")
    assert edit["numbers"][0]["before_value"] == 6000 and edit["numbers"][0]["after_value"] == 3000
    assert edit["url"] == URL and edit["canonical_url"] == URL and edit["source"] == "welt"
    assert (edit["version_before"], edit["version_after"]) == (1, 2)
    assert edit["capture_before"]["warc_file"] != edit["capture_after"]["warc_file"]
    assert gone["status"] == 404 and gone["first_seen"].startswith("2026-12-01T10:59:55")
    assert gone["capture_before"] == edit["capture_after"]  # the last capture of the article
    assert _cli("changes", "--json", "--kind", "removed")[1]["changes"] == [gone]
    assert _cli("changes", "--json", "--source", "elsewhere")[1]["changes"] == []

    code, history = _cli("history", URL + "?utm_source=feed", "--json")
    assert code == 0 and history["url"] == URL
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert "6000" in history["versions"][0]["body"] and "3000" in history["versions"][1]["body"]
    assert history["versions"][-1]["removed"] is True and history["versions"][-1]["removal"] == "removed"
    assert [c["id"] for c in history["changes"]] == [edit["id"], gone["id"]]  # oldest first
    code, _ = _cli("history", "https://weltnachrichten-heute.example/no-such-article")
    assert code == 1


def test_a_removed_article_fetched_again_is_marked_back(index_prefix: str, data_dir: Path) -> None:
    first = _batch(data_dir, [{}], [(200, _page("6000"))], T0)
    pipeline.clean(first)
    pipeline.index(first)
    gone = _batch(data_dir, [{"takedown": "walled", "status": 200, "first_seen": (T0 + timedelta(hours=1)).isoformat(),
                              "confirmed_at": (T0 + timedelta(hours=1)).isoformat()}], [(200, b"<p>subscribe</p>")],
                  T0 + timedelta(hours=1))
    pipeline.clean(gone)
    pipeline.index(gone)
    back = _batch(data_dir, [{"revisit": True, "change": "updated"}], [(200, _page("6000"))], T0 + timedelta(hours=2))
    pipeline.clean(back)
    counts = pipeline.index(back).counts
    assert counts["restored"] == 1 and counts.get("changes", 0) == 0, counts
    code, history = _cli("history", URL, "--json")
    current = history["versions"][-1]
    assert "removed" not in current and current["restored_at"]
    assert [c["kinds"] for c in history["changes"]] == [["walled"]]
