"""Which documents of a run match a watch.

A watch runs the very request ``warwatch search`` builds (:func:`indexing.search.build_request`:
the same cross-lingual expansion, scoring and syntax fallback, the watch's filters as the search
filters) with one more filter: the run's document ids. So a match is what the analyst would
find by searching.

A search ranks; an alert must decide. Among the hits, a document matches when it is *about* the
query, by the measures the ranking itself uses:

- when the query denotes topics (``North Korean troops`` -> ``north-korean-troops-in-russia``,
  in any language): the document carries one of them with at least :data:`TOPIC_STRENGTH` (the
  search's saturation pivot: where the graded topic bonus reaches half; a term in the title
  counts 3), or carries it and its evidence occurs in the lead or first paragraph (news puts
  what a story is about up front; the enrichment's own matcher decides). An article tagged for a
  sentence in passing further down ranks low in search and does not alert;
- otherwise: all the typed words occur in the document's own text (the search's "typed" clause,
  seen through a named query), or it carries every entity the query names.

A watch with ``min_score`` replaces that test with ``score >= min_score``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.alerts.config import Watch
from indexing.engine import Engine, EngineError
from indexing.search import (
    TYPED_BONUS,
    Expansion,
    build_request,
    expand,
    is_syntax_error,
    neutralise_colons,
    parse_hit,
)
from indexing.settings import get_settings

log = logging.getLogger(__name__)

#: topic strength (``topic_scores``) from which a tagged document is about the topic
TOPIC_STRENGTH = 3.0
#: ids per search request
ID_CHUNK = 500
_TYPED_NAME = "warwatch-typed"
_EXTRA_SOURCE = ["topic_scores", "entity_mentions", "duplicate_of", "lead", "body"]


# --------------------------------------------------------------------------- the run's ids
def run_doc_ids(run_id: str, data_dir: Path | None = None) -> list[str] | None:
    """The document ids a run indexed: ``runs/<run_id>/indexed-ids.txt`` (one id a line, written by
    the index stage), else computed from ``cleaned.jsonl`` with the index's own id rule. None when
    the run has neither file."""
    rdir = (data_dir or get_settings().data_dir) / "runs" / run_id
    ids_file = rdir / "indexed-ids.txt"
    if ids_file.exists():
        lines = ids_file.read_text(encoding="utf-8").splitlines()
        return list(dict.fromkeys(x.strip() for x in lines if x.strip()))
    cleaned = rdir / "cleaned.jsonl"
    if cleaned.exists():
        return list(dict.fromkeys(_ids_from_cleaned(cleaned)))
    return None


def _ids_from_cleaned(path: Path) -> Iterator[str]:
    import json

    from indexing.index.documents import DocumentError, article_to_document

    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                crawl = rec.get("crawl") or {}
                # the same call the index stage makes, so the same canonical URL and id
                doc = article_to_document(rec["article"], source=str(crawl.get("source") or ""),
                                          url=crawl.get("final_url") or crawl.get("url") or "")
            except (json.JSONDecodeError, KeyError, TypeError, DocumentError) as exc:
                log.warning("%s:%d: no document id (%s)", path, lineno, exc)
                continue
            yield str(doc["id"])


# --------------------------------------------------------------------------- matching
@dataclass
class Match:
    """One matching document."""

    id: str
    story_key: str
    score: float
    duplicate_of: str | None
    article: dict[str, Any]  # the search hit's JSON (the ``warwatch search --json`` shape)


@dataclass
class WatchMatches:
    watch_id: str
    #: documents of the run the engine found (before the relevance test)
    hits: int = 0
    matches: list[Match] = field(default_factory=list)

    def by_story(self) -> dict[str, list[Match]]:
        """Matches grouped by story, best first within a story, stories in order of their best match."""
        groups: dict[str, list[Match]] = {}
        for m in sorted(self.matches, key=lambda m: -m.score):
            groups.setdefault(m.story_key, []).append(m)
        return groups


def _name_typed_clause(body: dict[str, Any]) -> None:
    """Name search's "all typed words occur" clause, so each hit says whether it matched it."""
    for clause in body["query"]["bool"]["must"][0].get("bool", {}).get("should", []):
        cs = clause.get("constant_score")
        if cs and cs.get("boost") == TYPED_BONUS and any(
                k in cs.get("filter", {}) for k in ("query_string", "simple_query_string")):
            cs["_name"] = _TYPED_NAME


def watch_request(watch: Watch, ids: list[str], expansion: Expansion, *, syntax: str) -> dict[str, Any]:
    f = watch.filters
    body = build_request(
        neutralise_colons(watch.query), expansion=expansion, syntax=syntax, size=len(ids),
        lang=",".join(f.languages) or None, source=",".join(f.sources) or None,
        topic=",".join(f.topics) or None, entity=",".join(f.entities) or None,
        timeout=get_settings().search.timeout,
    )
    body["query"]["bool"]["filter"].append({"ids": {"values": ids}})
    body["_source"] = list(body["_source"]) + _EXTRA_SOURCE
    body["track_total_hits"] = False
    _name_typed_clause(body)
    return body


def _up_front(src: Mapping[str, Any], topic_ids: list[str]) -> bool:
    """Topic evidence (the enrichment's matcher) in the lead or the body's first paragraph."""
    try:
        from indexing.enrich import load_topics

        topics = load_topics()
    except (ImportError, OSError, ValueError) as exc:  # ConfigError is a ValueError
        log.warning("topics unavailable for the lead test: %s", exc)
        return False
    first = (src.get("body") or "").strip().split("\n\n", 1)[0]
    text = "\n\n".join(t for t in (src.get("lead"), first) if t)
    scores = topics.scores("", text)
    return any((scores.get(t) or {}).get("terms", 0) > 0 for t in topic_ids)


def is_about(watch: Watch, hit: Mapping[str, Any], expansion: Expansion) -> bool:
    """The relevance test of the module docstring."""
    score = float(hit.get("_score") or 0.0)
    if watch.min_score is not None:
        return score >= watch.min_score
    src = hit.get("_source") or {}
    if expansion.topics:
        strengths = src.get("topic_scores") or {}
        tagged = [t for t in expansion.topics if t in set(src.get("topics") or [])]
        if any(float(strengths.get(t) or 0) >= TOPIC_STRENGTH for t in tagged):
            return True
        return bool(tagged) and _up_front(src, tagged)
    if _TYPED_NAME in (hit.get("matched_queries") or []):
        return True
    if expansion.entities:
        carried = set(src.get("entity_ids") or [])
        return all(e in carried for e in expansion.entities)
    return False


def _chunks(ids: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


class PartialResults(EngineError):
    """A search answered with part of its results (``timed_out``, failed shards): a watch
    evaluated on it could miss a story, so it counts as not evaluated."""


def _check_whole(resp: Mapping[str, Any], watch_id: str) -> None:
    shards = resp.get("_shards") or {}
    if resp.get("timed_out") or int(shards.get("failed") or 0) > 0:
        what = "timed out" if resp.get("timed_out") else f"{shards.get('failed')} of {shards.get('total')} shards failed"
        raise PartialResults(f"search of watch {watch_id} {what}: partial results")


def find_matches(engine: Engine, index: str, watch: Watch, ids: list[str]) -> WatchMatches:
    """The documents among ``ids`` that match ``watch``. Raises :class:`EngineError`
    (:class:`PartialResults` when an answer was partial: nothing of the watch is kept)."""
    result = WatchMatches(watch.id)
    if not ids:
        return result
    query = neutralise_colons(watch.query)
    expansion = expand(query)
    syntax = "query_string"
    for chunk in _chunks(ids, ID_CHUNK):
        try:
            resp = engine.search(index, watch_request(watch, chunk, expansion, syntax=syntax))
        except EngineError as exc:
            if syntax != "query_string" or not is_syntax_error(exc):
                raise
            log.info("watch %s: query %r is not valid query-string syntax; using simple_query_string",
                     watch.id, watch.query)
            syntax = "simple_query_string"
            resp = engine.search(index, watch_request(watch, chunk, expansion, syntax=syntax))
        _check_whole(resp, watch.id)
        for h in resp.get("hits", {}).get("hits", []):
            result.hits += 1
            if not is_about(watch, h, expansion):
                continue
            src = h.get("_source") or {}
            doc_id = str(h.get("_id"))
            article = parse_hit(h).to_json()  # without lead/body: the search --json shape
            article["story_id"] = src.get("story_id")
            result.matches.append(Match(
                id=doc_id,
                story_key=str(src.get("story_id") or doc_id),
                score=float(h.get("_score") or 0.0),
                duplicate_of=src.get("duplicate_of"),
                article=article,
            ))
    return result


def count_present(engine: Engine, index: str, ids: list[str]) -> int:
    """How many of ``ids`` are in the index (ids written before a failed bulk may be missing)."""
    return sum(engine.count(index, {"query": {"ids": {"values": chunk}}}) for chunk in _chunks(ids, ID_CHUNK))
