"""Change records and the version plan (issue #19): pure functions, no engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from indexing.alerts import Watch, parse_watches
from indexing.alerts.events import change_message, event_of
from indexing.changes.diff import Change
from indexing.changes.records import (
    TakedownEntryError,
    describe,
    edit_record,
    removed_document,
    takedown_record,
)
from indexing.errors import ConfigError
from indexing.index.versions import plan

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BODY = "Pyongyang sent 10,000 troops to Kursk, officials said.\n\nThe deployment began in October."


def _doc(**kw: Any) -> dict[str, Any]:
    doc = {"id": "d1", "url": "https://n.example/a", "canonical_url": "https://n.example/a", "source": "n",
           "language": "en", "title": "Troops in Kursk", "body": BODY, "authors": ["A. Writer"],
           "published": "2026-12-01T08:00:00+00:00", "fetched_at": "2026-12-01T09:00:00+00:00",
           "warc_file": "warc/a-00001.warc.gz", "warc_offset": 120, "run_id": "r1", "version": 1,
           "topics": ["nk-troops"], "story_id": "s1"}
    doc.update(kw)
    return doc


NUMBERS = Change("numbers", "10,000", "3,000", 10000.0, 3000.0, context="Pyongyang sent 3,000 troops to Kursk.")
HEADLINE = Change("headline", "Troops in Kursk", "Fewer troops in Kursk")


def test_an_edit_record_names_kinds_both_numbers_and_both_captures() -> None:
    old = _doc()
    new = _doc(title="Fewer troops in Kursk", warc_file="warc/b-00001.warc.gz", warc_offset=9,
               fetched_at="2026-12-01T10:00:00+00:00", run_id="r2", version=2)
    rec = edit_record(old, new, [HEADLINE, NUMBERS], now=NOW)
    assert rec["kinds"] == ["headline", "numbers"]
    assert (rec["before"], rec["after"]) == ("10,000", "3,000")
    assert rec["numbers"] == [{"before": "10,000", "after": "3,000", "before_value": 10000.0, "after_value": 3000.0,
                               "context": "Pyongyang sent 3,000 troops to Kursk."}]
    assert rec["capture_before"] == {"warc_file": "warc/a-00001.warc.gz", "warc_offset": 120,
                                     "fetched_at": "2026-12-01T09:00:00+00:00"}
    assert rec["capture_after"]["warc_file"] == "warc/b-00001.warc.gz"
    assert (rec["version_before"], rec["version_after"], rec["run_id"]) == (1, 2, "r2")
    assert rec["detected_at"] == "2026-12-01T10:00:00+00:00"
    assert rec["title_before"] == "Troops in Kursk" and rec["title"] == "Fewer troops in Kursk"
    # The same event computed again (a rerun) has the same id; another edit has another.
    assert edit_record(old, new, [HEADLINE, NUMBERS], now=NOW)["id"] == rec["id"]
    assert edit_record(old, _doc(title="Other", version=2), [HEADLINE], now=NOW)["id"] != rec["id"]


def test_a_takedown_record_and_the_removed_mark() -> None:
    stored = _doc(version=3)
    entry = {"takedown": "redirected", "status": 301, "final_url": "https://n.example/", "url": "https://n.example/a",
             "first_seen": "2026-12-02T08:00:00+00:00", "confirmed_at": "2026-12-02T08:00:05+00:00",
             "warc_file": "warc/c-00001.warc.gz", "warc_offset": 77, "source": "n"}
    rec = takedown_record(entry, stored, doc_id="d1", now=NOW, run_id="r3")
    assert rec["kinds"] == ["redirected"] and rec["status"] == 301 and rec["final_url"] == "https://n.example/"
    assert rec["first_seen"] == entry["first_seen"] and rec["detected_at"] == entry["confirmed_at"]
    assert rec["capture_before"]["warc_file"] == "warc/a-00001.warc.gz"
    assert rec["capture_after"] == {"warc_file": "warc/c-00001.warc.gz", "warc_offset": 77,
                                    "fetched_at": entry["confirmed_at"]}
    # A second confirmation of the same takedown is the same event.
    assert takedown_record({**entry, "confirmed_at": "2026-12-03T00:00:00+00:00"}, stored, doc_id="d1",
                           now=NOW)["id"] == rec["id"]
    marked = removed_document(stored, rec)
    assert marked is not None and marked["removed"] is True and marked["removal"] == "redirected"
    assert marked["title"] == stored["title"]  # still the article, still searchable
    assert removed_document(marked, rec) is None  # already marked: nothing to write
    assert "redirected (301, https://n.example/, first seen 2026-12-02" in describe(rec)
    with pytest.raises(TakedownEntryError):
        takedown_record({**entry, "takedown": "vanished"}, stored, doc_id="d1", now=NOW)


def test_plan_modified_alone_and_furniture_make_no_version_and_no_record() -> None:
    old = _doc()
    stamp = _doc(modified="2026-12-01T09:30:00+00:00", fetched_at="2026-12-01T10:00:00+00:00")
    out = plan({"d1": old}, [stamp], now=NOW)
    assert out.versions == [] and out.changes == [] and out.updated == 1
    # A revisit without the feed's date to fall back on (the page shows none): not a date change.
    undated = _doc(published=None, fetched_at="2026-12-01T11:00:00+00:00")
    out = plan({"d1": old}, [undated], now=NOW)
    assert out.changes == [] and out.unchanged == 1 and undated["published"] == old["published"]
    # An image URL with a new cache buster: the content fields differ, compare() finds no change.
    imgs = _doc(images=[{"src": "https://cdn.example/a.jpg?v=2", "caption": "Troops"}])
    out = plan({"d1": _doc(images=[{"src": "https://cdn.example/a.jpg?v=1", "caption": "Troops"}])}, [imgs], now=NOW)
    assert out.versions == [] and out.changes == [] and out.furniture == 1


def test_plan_edit_makes_a_version_and_a_record_and_an_old_capture_is_stale() -> None:
    old = _doc()
    new = _doc(body=BODY.replace("10,000", "3,000"), fetched_at="2026-12-01T10:00:00+00:00", version=None,
               warc_file="warc/b.warc.gz")
    out = plan({"d1": old}, [new], now=NOW)
    assert [r["kinds"] for r in out.changes] == [["numbers"]]
    assert out.changes[0]["capture_before"]["warc_file"] == "warc/a-00001.warc.gz"
    assert len(out.versions) == 1 and out.versions[0][1]["change_id"] == out.changes[0]["id"]
    assert new["version"] == 2
    # The first capture indexed again after the edit (an old batch rerun): not written, not a change.
    again = plan({"d1": {**new}}, [_doc()], now=NOW)
    assert again.stale == 1 and again.documents == [] and again.changes == []


def test_unchanged_content_keeps_the_first_capture() -> None:
    old = _doc()
    revisit = _doc(fetched_at="2026-12-02T09:00:00+00:00", warc_file="warc/z.warc.gz", run_id="r9")
    out = plan({"d1": old}, [revisit], now=NOW)
    assert out.unchanged == 1 and out.documents == []


def test_watch_on_events_are_validated_with_file_and_line() -> None:
    text = "watches:\n  - id: nk\n    query: x\n    on: [new, edited]\n  - id: b\n    query: y\n"
    watches = parse_watches(text, __import__("pathlib").Path("watches.yaml")).watches
    assert watches[0].on == ["new", "edited"] and watches[1].on == ["new"]
    with pytest.raises(ConfigError, match=r"watches.yaml:4: watch 'nk': key 'on"):
        parse_watches("watches:\n  - id: nk\n    query: x\n    on: [new, deleted]\n",
                      __import__("pathlib").Path("watches.yaml"))


def test_change_alert_messages() -> None:
    watch = Watch.model_validate({"id": "nk", "name": "North Korean troops in Russia", "query": "x"})
    rec = edit_record(_doc(), _doc(title="Fewer troops in Kursk", version=2), [HEADLINE, NUMBERS], now=NOW)
    text = change_message(watch, rec)
    assert event_of(rec) == "edited"
    assert text.startswith("An article about North Korean troops in Russia was edited: "
                           "the number of troops changed 10,000 → 3,000 (headline changed")
    gone = takedown_record({"takedown": "removed", "status": 404, "url": "https://n.example/a",
                            "first_seen": "2026-12-02T08:00:00+00:00"}, _doc(), doc_id="d1", now=NOW)
    assert event_of(gone) == "removed"
    assert change_message(watch, gone).startswith("An article about North Korean troops in Russia was removed "
                                                  "(404, first seen 2026-12-02T08:00:00+00:00)")
