"""Revisit figures reach the per-source ``{prefix}runs`` documents; unchanged revisits and
takedown lines are not counted as extraction failures (they have no article to extract)."""

from __future__ import annotations

import json
from pathlib import Path

from indexing.health.figures import run_figures


def test_revisit_figures_and_no_false_extraction_failures(data_dir: Path) -> None:
    rdir = data_dir / "runs" / "r1"
    rdir.mkdir(parents=True)
    counts = {"discovered": 0, "fetched": 1, "revisits_due": 4, "revisits_done": 3, "revisits_overdue": 1,
              "revisits_not_modified": 1, "revisits_changed": 1, "takedowns_suspected": 2,
              "takedowns_confirmed": 1}
    (rdir / "crawl-report.json").write_text(json.dumps({"sources": {"s": counts}}), encoding="utf-8")
    lines = [
        {"source": "s", "url": "a", "revisit": True, "change": "unchanged", "warc_type": "revisit"},
        {"source": "s", "url": "b", "revisit": True, "takedown": "removed", "status": 404},
        {"source": "s", "url": "c", "revisit": True, "change": "updated"},
    ]
    (rdir / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    crawl = {"source": "s", "change": "updated"}
    (rdir / "cleaned.jsonl").write_text(json.dumps({"crawl": crawl, "article": {}}) + "\n", encoding="utf-8")
    [doc] = run_figures("r1", data_dir / "runs")
    assert {k: doc[k] for k in counts if k != "discovered"} == {k: v for k, v in counts.items() if k != "discovered"}
    assert (doc["archived"], doc["extracted"], doc["extraction_failed"]) == (1, 1, 0)


def test_render_counts_reach_the_run_documents_and_are_mapped(data_dir: Path) -> None:
    from indexing.index.templates import runs_mappings

    rdir = data_dir / "runs" / "r1"
    rdir.mkdir(parents=True)
    sources = {"js": {"fetched": 5, "render": {"rendered": 3, "failed": 1, "capped": 1}},
               "plain": {"fetched": 2, "render": {}}, "old": {"fetched": 1}}  # a report from before rendering
    (rdir / "crawl-report.json").write_text(json.dumps({"sources": sources}), encoding="utf-8")
    docs = {d["source"]: d for d in run_figures("r1", data_dir / "runs")}
    fields = ("rendered", "render_failed", "render_unavailable", "render_capped")
    assert {s: tuple(d[f] for f in fields) for s, d in docs.items()} == {
        "js": (3, 1, 0, 1), "plain": (0, 0, 0, 0), "old": (0, 0, 0, 0)}
    assert all(runs_mappings()["properties"][f] == {"type": "integer"} for f in fields)
