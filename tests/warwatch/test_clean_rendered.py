"""The clean stage reads a rendered page's DOM (the WARC ``conversion`` record the crawler wrote
beside the capture, crawlers/downloadermiddlewares/render.py), not the application shell as served."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from indexing.archive import ArchiveWriter, read_record
from tests.crawlers.test_render import PARAGRAPHS, SHELL
from warwatch import pipeline

RENDERED = SHELL.replace(b"<div id='app'></div>", b"<div id='app'><h1>Truppen in Kursk</h1>"
                         + b"".join(b"<p>" + p.encode() + b"</p>" for p in PARAGRAPHS) + b"</div>")


def test_the_capture_stays_as_served_and_the_clean_stage_reads_the_rendered_page(data_dir: Path) -> None:
    rid = pipeline.new_run_id()
    url = "http://news.example/news/kursk-truppen"
    now = datetime.now(UTC)
    with ArchiveWriter.open(data_dir / "warc", "test", pipeline.run_dir(rid) / "manifest.jsonl",
                            data_dir=data_dir) as archive:
        line = archive.write({"url": url, "final_url": url, "status": 200, "fetched_at": now.isoformat(),
                              "source": "fixture", "content_type": "text/html", "fingerprint": "x"},
                             url=url, status=200, headers={"Content-Type": "text/html"}, body=SHELL,
                             fetched_at=now, rendered=RENDERED)
    warc = data_dir / line["warc_file"]
    assert read_record(warc, line["warc_offset"]).body == SHELL
    rendered = read_record(warc, line["rendered_offset"])
    assert (rendered.body, rendered.status, rendered.content_type) == (RENDERED, 200, "text/html")
    with open(warc, "rb") as fh:
        records = [r for r in ArchiveIterator(fh) if r.rec_type in ("response", "conversion")]
        ids = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Refers-To"))
               for r in records]
    assert [t for t, _, _ in ids] == ["response", "conversion"] and ids[1][2] == ids[0][1]

    result = pipeline.clean(rid)
    assert result.counts["articles"] == 1
    cleaned = [json.loads(x) for x in (data_dir / "runs" / rid / "cleaned.jsonl").read_text().splitlines()]
    assert cleaned[0]["article"]["body"].split("\n\n") == PARAGRAPHS
