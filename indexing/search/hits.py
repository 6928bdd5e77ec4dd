"""Search results: hits parsed from the engine's response, facets and totals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from indexing.index.templates import lang_field
from indexing.search.query import FACET_FIELDS


@dataclass
class SearchHit:
    id: str
    url: str | None
    canonical_url: str | None
    title: str | None
    source: str | None
    language: str | None
    published: str | None
    score: float | None
    topics: list[str]
    highlights: list[str]
    entities: list[str] = field(default_factory=list)
    #: the keyword clauses the hit matched (``all``, ``some``, ``names``, ``phrase``, ``topic``,
    #: ``entity``, ``complete``): why the keyword side found it
    matched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "canonical_url": self.canonical_url, "title": self.title,
            "source": self.source, "language": self.language, "published": self.published,
            "score": self.score, "topics": self.topics, "highlights": self.highlights,
        }


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[dict[str, Any]]] | None = None
    took_ms: int | None = None
    query_syntax: str = "query_string"  # or "simple_query_string" after a syntax error
    retrieval: str = "keyword"  # or "hybrid": fused with the vector neighbours
    #: no good match: neither the keyword nor the vector side is confident (the hits are the
    #: nearest articles, not answers; indexing/embeddings/fusion.py)
    weak: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "hits": [h.to_json() for h in self.hits]}
        if self.weak:
            out["match"] = "weak"
        if self.facets is not None:
            out["facets"] = self.facets
        return out



def parse_hit(h: Mapping[str, Any]) -> SearchHit:
    src = h.get("_source") or {}
    hl = h.get("highlight") or {}
    lang = lang_field(src.get("language"))
    # Title fragment first, then body fragments of the article's own language, then any.
    ordered = [f"title_{lang}", f"body_{lang}"] + sorted(k for k in hl if k not in (f"title_{lang}", f"body_{lang}"))
    snippets: list[str] = []
    for key in ordered:
        for frag in hl.get(key, []):
            if frag not in snippets:
                snippets.append(frag)
    return SearchHit(
        id=str(h.get("_id")), url=src.get("url"), canonical_url=src.get("canonical_url"),
        title=src.get("title"), source=src.get("source"), language=src.get("language"),
        published=src.get("published"), score=h.get("_score"), topics=list(src.get("topics") or []),
        highlights=snippets, entities=list(src.get("entities") or []),
        matched=sorted(set(h.get("matched_queries") or ())),  # a list, or a dict name -> score
    )


def facets_of(aggs: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in [*FACET_FIELDS, "day"]:
        buckets = (aggs.get(name) or {}).get("buckets", [])
        out[name] = [{"key": b.get("key_as_string", b.get("key")), "count": b.get("doc_count", 0)}
                     for b in buckets]
    return out



def total_of(resp: Mapping[str, Any]) -> int:
    total = resp.get("hits", {}).get("total", 0)
    return int(total.get("value", 0) if isinstance(total, Mapping) else total)


