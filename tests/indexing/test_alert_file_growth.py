"""The file alert channel stays idempotent per alert id without reading its whole file on every
delivery. Work is counted in bytes the process read (``/proc/self/io``), never in wall time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexing.alerts import DeliverySettings, Watch
from indexing.alerts.channels import deliver_file

#: ten times a busy watch's file today (a thousand alerts)
STORED_ALERTS = 10_000
PROC_IO = Path("/proc/self/io")


def _bytes_read() -> int:
    for line in PROC_IO.read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _payload(n: int) -> dict[str, Any]:
    return {"alert_id": f"alert-{n:08d}", "watch": {"id": "w", "name": "W"}, "story_id": f"s{n}",
            "articles": [{"title": f"Story {n} " + "x" * 800, "url": f"https://e.example/{n}"}]}


def _watch() -> Watch:
    return Watch.model_validate({"id": "w", "name": "W", "query": "kursk"})


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["alert_id"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.skipif(not PROC_IO.exists(), reason="needs /proc/self/io (Linux)")
def test_a_delivery_reads_what_was_appended_since_the_last_not_the_whole_file(data_dir: Path) -> None:
    path = data_dir / "alerts" / "w.jsonl"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8") as fh:  # written before the index existed
        fh.writelines(json.dumps(_payload(n), ensure_ascii=False) + "\n" for n in range(STORED_ALERTS))
    size = path.stat().st_size
    watch, settings = _watch(), DeliverySettings()
    deliver_file(_payload(STORED_ALERTS), watch, settings, directory=data_dir / "alerts")  # the first one indexes the file once

    before = _bytes_read()
    for n in range(STORED_ALERTS + 1, STORED_ALERTS + 21):
        deliver_file(_payload(n), watch, settings, directory=data_dir / "alerts")
    deliver_file(_payload(7), watch, settings, directory=data_dir / "alerts")  # retries: an old alert, a recent one
    deliver_file(_payload(STORED_ALERTS + 20), watch, settings, directory=data_dir / "alerts")
    read = _bytes_read() - before
    # each of the 22 deliveries reads the line before and a few index pages (about 20 KB), not the
    # whole 9.6 MB file (which the file channel used to read every time)
    assert read / 22 < 64 * 1024 < size / 100, (read, size)

    ids = _ids(path)
    assert len(ids) == STORED_ALERTS + 21 == len(set(ids))


def test_the_file_stays_the_truth_when_replaced_truncated_or_torn(data_dir: Path) -> None:
    path = data_dir / "alerts" / "w.jsonl"
    watch, settings = _watch(), DeliverySettings()
    for n in range(3):
        deliver_file(_payload(n), watch, settings, directory=data_dir / "alerts")
    deliver_file(_payload(1), watch, settings, directory=data_dir / "alerts")
    assert _ids(path) == ["alert-00000000", "alert-00000001", "alert-00000002"]

    # an operator rotates the file: what it no longer holds may be written again, once
    path.rename(path.with_suffix(".old"))
    path.write_text(json.dumps(_payload(2)) + "\n", encoding="utf-8")
    for n in (1, 2, 1):
        deliver_file(_payload(n), watch, settings, directory=data_dir / "alerts")
    assert _ids(path) == ["alert-00000002", "alert-00000001"]

    # a crash tore the last line: the alert in it is not known yet, the torn line is read once whole
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(_payload(5))[:-1])
    deliver_file(_payload(6), watch, settings, directory=data_dir / "alerts")
    deliver_file(_payload(6), watch, settings, directory=data_dir / "alerts")
    text = path.read_text(encoding="utf-8")
    assert text.count('"alert_id": "alert-00000006"') == 1
    assert text.count('"alert_id": "alert-00000005"') == 1
