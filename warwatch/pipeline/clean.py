"""The clean stage: the article of every archived response of a batch, into ``cleaned.jsonl``.

Responses that are not articles are counted by reason, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from indexing.fileio import atomic_writer
from indexing.settings import get_settings
from warwatch.pipeline.common import ProgressCallback, StageCounts, run_dir, write_json

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


def clean(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Extract the article of every archived response of the batch into cleaned.jsonl."""
    from indexing.archive import iter_manifest, read_record
    from indexing.extraction import extract

    settings = get_settings()
    rdir = run_dir(run_id)
    manifest = rdir / "manifest.jsonl"
    result = StageCounts("clean")
    started = time.monotonic()
    entries = list(iter_manifest(manifest)) if manifest.exists() else []
    with atomic_writer(rdir / "cleaned.jsonl") as out:
        for i, entry in enumerate(entries, 1):
            if progress:
                progress("clean", i, len(entries))
            result.counts["responses"] += 1
            reason = _skip_reason(entry)
            if reason:
                result.counts[f"skipped:{reason}"] += 1
                continue
            try:
                record = read_record(settings.data_dir / entry["warc_file"], int(entry["warc_offset"]))
            except Exception as exc:  # a damaged archive must not stop the run: count it
                log.warning("cannot read WARC record for %s: %s", entry.get("url"), exc)
                result.counts["failed:warc_unreadable"] += 1
                continue
            article = extract(record.body, url=entry.get("final_url") or entry.get("url"))
            if article.status != "ok":
                if article.status_reason == "paywall" and article.body:
                    # Kept, but marked (access: paywall_teaser): never passed off as the article.
                    result.counts["paywall_teasers"] += 1
                else:
                    result.counts[f"not_article:{article.status_reason or 'unknown'}"] += 1
                    continue
            out.write(json.dumps({"article": article.to_dict(), "crawl": entry}, ensure_ascii=False) + "\n")
            result.counts["articles"] += 1
    result.seconds = time.monotonic() - started
    write_json(rdir / "clean-report.json", result.as_dict())
    return result


def _skip_reason(entry: dict[str, Any]) -> str | None:
    status = entry.get("status")
    if status is not None and not (200 <= int(status) < 300):
        return f"http_{status}"
    ctype = (entry.get("content_type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in HTML_TYPES:
        return "not_html"
    if not entry.get("warc_file"):
        return "not_archived"
    return None
