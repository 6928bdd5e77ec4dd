"""Enrichment and fingerprints computed by the extraction workers (indexing/enrich/prepared.py):
the enrich stage builds the same documents with them as without, uses them only when their stamp
is its own, and computes again what a changed topics file or other dedup settings made stale."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexing.enrich import enrich
from indexing.enrich.prepared import enrichment_stamp, fingerprint_stamp, prepare, signature_of
from indexing.extraction import extract
from indexing.settings import get_settings, reset_settings
from tests.conftest import REPO_ROOT
from tests.warwatch.test_clean_timeout import GOOD, _archive
from warwatch import pipeline

QUALITY = REPO_ROOT / "tests" / "fixtures" / "quality" / "articles" / "html"


def _articles() -> list[dict[str, Any]]:
    """The real saved articles as the clean stage writes them (through JSON)."""
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(QUALITY.glob("*.html.gz"))]
    pages += [p.read_bytes() for p in GOOD.values()]
    return [json.loads(json.dumps(extract(page, url=None).to_dict())) for page in pages]


def test_what_is_prepared_is_what_the_stage_computes(data_dir: Path) -> None:
    """On every fixture article, through a JSON round trip: the article with the prepared fields
    is what :func:`enrich` returns, and the fingerprint is the story index's, hash and signature."""
    from indexing.dedup import StoryIndex

    dedup = get_settings().dedup
    stories = StoryIndex.from_settings(get_settings())
    try:
        articles = _articles()
        assert len(articles) >= 30
        for article in articles:
            prepared = json.loads(json.dumps(prepare(article, dedup)))
            assert prepared["enrichment"]["stamp"] == enrichment_stamp()
            assert prepared["fingerprint"]["stamp"] == fingerprint_stamp(dedup)
            assert {**article, **prepared["enrichment"]["fields"]} == json.loads(json.dumps(enrich(article)))
            own = stories._fingerprint(article.get("body") or "")
            fp = prepared["fingerprint"]
            assert (fp["body_hash"], fp["words"]) == (own.body_hash, own.words)
            if own.signature is None:
                assert fp["signature"] is None
            else:
                assert np.array_equal(signature_of(fp["signature"]), own.signature)
        assert sum(1 for a in articles if prepare(a, dedup)["enrichment"]["fields"].get("entities")) >= 5
    finally:
        stories.close()


def test_the_stamps_follow_the_topics_file_and_the_dedup_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(config))
    before = enrichment_stamp()
    assert enrichment_stamp() == before
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + "\n# edited\n")
    assert enrichment_stamp() != before
    dedup = get_settings().dedup
    assert fingerprint_stamp(dedup) != fingerprint_stamp(dedup.model_copy(update={"shingle_size": 4}))
    assert fingerprint_stamp(dedup) == fingerprint_stamp(dedup.model_copy())


def _enriched(data_dir: Path, rid: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Enrich batch ``rid`` on a fresh story index: its documents (without the batch id), its report."""
    shutil.rmtree(get_settings().state_dir, ignore_errors=True)
    reset_settings()
    pipeline.enrich(rid)
    rdir = data_dir / "runs" / rid
    docs = [json.loads(x) for x in (rdir / "documents.jsonl").read_text().splitlines()]
    for doc in docs:
        assert doc.pop("run_id") == rid
    return docs, json.loads((rdir / "enrich-report.json").read_text())


def _copy(data_dir: Path, base: str, rid: str, edit: Any) -> None:
    """Batch ``base`` copied as ``rid``, each cleaned record passed through ``edit``."""
    shutil.copytree(data_dir / "runs" / base, data_dir / "runs" / rid)
    path = data_dir / "runs" / rid / "cleaned.jsonl"
    lines = [json.dumps(edit(json.loads(x)), ensure_ascii=False) for x in path.read_text().splitlines()]
    path.write_text("".join(x + "\n" for x in lines))


def test_the_enrich_stage_builds_the_same_documents_with_and_without_them(data_dir: Path) -> None:
    _archive(data_dir, "base", {url: path.read_bytes() for url, path in GOOD.items()})
    pipeline.clean("base")  # by the extraction worker
    cleaned = [json.loads(x) for x in (data_dir / "runs" / "base" / "cleaned.jsonl").read_text().splitlines()]
    assert len(cleaned) == len(GOOD) and all("prepared" in rec for rec in cleaned)

    def stale(rec: dict[str, Any]) -> dict[str, Any]:
        rec["prepared"]["enrichment"]["stamp"] = "another topics file"
        rec["prepared"]["fingerprint"]["stamp"] = "other dedup settings"
        rec["prepared"]["enrichment"]["fields"]["topics"] = ["not-a-topic"]  # would show if it were used
        rec["prepared"]["fingerprint"]["body_hash"] = "0" * 64
        return rec

    def damaged(rec: dict[str, Any]) -> dict[str, Any]:
        del rec["prepared"]["fingerprint"]["body_hash"]
        rec["prepared"]["fingerprint"]["signature"] = "not base64!"
        return rec

    _copy(data_dir, "base", "without", lambda rec: {k: v for k, v in rec.items() if k != "prepared"})
    _copy(data_dir, "base", "stale", stale)
    _copy(data_dir, "base", "damaged", damaged)
    ahead, report = _enriched(data_dir, "base")
    assert report["enrichment_ahead"] == report["fingerprint_ahead"] == len(GOOD)
    without, report_without = _enriched(data_dir, "without")
    assert "enrichment_ahead" not in report_without and "fingerprint_ahead" not in report_without
    stale_docs, report_stale = _enriched(data_dir, "stale")
    assert "enrichment_ahead" not in report_stale and "fingerprint_ahead" not in report_stale
    damaged_docs, report_damaged = _enriched(data_dir, "damaged")
    assert report_damaged["fingerprint_ahead_unusable"] == len(GOOD) and "fingerprint_ahead" not in report_damaged
    assert ahead == without == stale_docs == damaged_docs  # field for field, story ids included
    assert any(doc.get("topics") for doc in ahead) and any(doc.get("entities") for doc in ahead)


def test_the_warm_up_page_loads_what_preparing_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's warm-up page (not an article) parses topics.yaml and entities.yaml, so its first
    real article does not wait for them; nothing is parsed again for the next pages."""
    from indexing.enrich import entities, topics
    from indexing.enrich.prepared import prepare_article
    from warwatch.pipeline.extractor import WARM_UP_PAGE

    parsed: list[str] = []
    for module, parse, cached in ((topics, "parse_topics", "_load_topics"),
                                  (entities, "parse_gazetteer", "_load_gazetteer")):
        real = getattr(module, parse)

        def counted(path: Path, real: Any = real) -> Any:
            parsed.append(Path(path).name)
            return real(path)

        monkeypatch.setattr(module, cached, topics.cached_by_mtime(counted))  # a fresh cache, counted
    dedup = get_settings().dedup
    warm_up = extract(WARM_UP_PAGE, url=None)
    assert warm_up.status != "ok" and prepare_article(warm_up, dedup) is None
    assert sorted(parsed) == ["entities.yaml", "topics.yaml"]
    page = next(iter(GOOD.values())).read_bytes()
    assert prepare_article(extract(page, url=None), dedup) is not None
    assert sorted(parsed) == ["entities.yaml", "topics.yaml"]  # nothing parsed again
