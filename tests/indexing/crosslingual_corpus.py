"""The cross-lingual fixture (tests/fixtures/crosslingual/stories.yaml): stories outside the
topic list in seven languages, look-alikes, queries per language; and the two measures of the
issue: recall@10 of a story's coverage and precision@|relevant| (the share of the story's
coverage among the first as-many-as-it-has hits)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import yaml

from indexing.settings import get_settings
from tests.indexing.search_corpus import search_options

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "crosslingual"
#: the dev fixture (tuned on) and the validation fixture (written before tuning, never tuned to)
FIXTURE = FIXTURES / "stories.yaml"
VALIDATION = FIXTURES / "stories-validation.yaml"
LANGUAGES = ("de", "en", "fr", "uk", "ru", "pl", "es")


def load(path: Path = FIXTURE) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    """Articles (``story`` None for look-alikes, ``url`` unique across fixtures) and queries:
    story -> language -> queries."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    host = "xl.example" if path == FIXTURE else f"{path.stem}.xl.example"
    articles: list[dict[str, Any]] = []
    for story, langs in data["stories"].items():
        for lang, art in langs.items():
            articles.append({**art, "language": lang, "story": story, "source": f"xl-{lang}",
                             "published": "2025-03-01T08:00:00+00:00", "url": f"https://{lang}.{host}/{story}"})
    for i, art in enumerate(data["lookalikes"]):
        articles.append({**art, "story": None, "source": "xl-lookalikes", "published": "2025-03-01T09:00:00+00:00",
                         "url": f"https://{art['language']}.{host}/lookalike-{i}"})
    return articles, data["queries"]


def measure(urls: list[str], coverage: set[str]) -> tuple[float, float]:
    """recall@10 and precision@|relevant| of one ranked result list."""
    recall = len(coverage & set(urls[:10])) / len(coverage)
    precision = len(coverage & set(urls[: len(coverage)])) / len(coverage)
    return recall, precision


def evaluate(engine: Any, articles: list[dict[str, Any]], queries: dict[str, dict[str, list[str]]],
             **search_kwargs: Any) -> list[dict[str, Any]]:
    """One row per query: story, language, query, recall, precision, the coverage it missed."""
    from indexing.search import search

    rows = []
    for story, by_lang in queries.items():
        coverage = {a["url"] for a in articles if a["story"] == story}
        for lang, qs in by_lang.items():
            for q in qs:
                urls = [h.url for h in search(q, engine=engine, size=10, **search_kwargs, **search_options(get_settings())).hits]
                recall, precision = measure([u for u in urls if u], coverage)
                rows.append({"story": story, "lang": lang, "query": q, "recall": recall, "precision": precision,
                             "missing": sorted(a["language"] for a in articles
                                               if a["url"] in coverage - set(urls[:10]))})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {"recall": statistics.mean(r["recall"] for r in rows),
            "precision": statistics.mean(r["precision"] for r in rows)}
