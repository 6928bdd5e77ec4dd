"""Benchmarks on Elastic's bare integ-test-zip (the only Elasticsearch that installs here).

That build has the server's kNN (``dense_vector``, HNSW) but none of the modules our index
templates need (``analysis-common``: language analyzers, ``pattern_replace``, ``asciifolding``;
``mapper-extras``: ``rank_features`` and the ``rank_feature`` query). To time search on it at
scale, a benchmark installs the same templates with those parts replaced by what the server has:

* every analyzer -> ``standard`` (tokenise + lowercase; no stemming): term statistics differ, the
  work per query (postings read, BM25 scored, highlights) is of the same kind;
* ``rank_features`` fields unmapped (kept in ``_source``), and ``rank_feature`` clauses dropped
  from search requests (:class:`BareSearchEngine`): a few cheap ``should`` clauses less per query.

Figures measured this way are labelled as such; production (full Elasticsearch) runs the
real templates and queries. Nothing here is used outside ``benchmarks/``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from indexing.engine import Engine, EngineError


def is_bare(engine: Engine) -> bool:
    """Whether ``engine`` is an Elasticsearch without the language analyzers (analysis-common)."""
    if engine.flavor != "elasticsearch":
        return False
    try:
        engine.analyze({"analyzer": "german", "text": "Truppen"})
    except EngineError:
        return True
    return False


def _bare_mapping(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in props.items():
        if spec.get("type") == "rank_features":
            continue
        spec = dict(spec)
        for key in ("analyzer", "search_analyzer"):
            if key in spec and spec[key] not in ("whitespace", "standard", "keyword", "simple"):
                spec[key] = "standard"
        spec.pop("normalizer", None)
        for nested in ("properties", "fields"):
            if nested in spec:
                spec[nested] = _bare_mapping(spec[nested])
        out[name] = spec
    return out


def bare_component_templates(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``templates`` (``templates.component_templates(prefix)``) with analysis-common and
    mapper-extras replaced as the module docstring says (similarities kept: BM25 is the server's)."""
    out: dict[str, dict[str, Any]] = {}
    for name, body in templates.items():
        body = copy.deepcopy(dict(body))
        template = body.get("template", {})
        template.get("settings", {}).pop("analysis", None)
        mappings = template.get("mappings")
        if mappings and "properties" in mappings:
            mappings["properties"] = _bare_mapping(mappings["properties"])
        out[name] = body
    return out


def strip_rank_feature(node: Any) -> Any:
    """``node`` (a search body) without its ``rank_feature`` clauses (at any depth)."""
    if isinstance(node, dict):
        return {k: strip_rank_feature(v) for k, v in node.items()}
    if isinstance(node, list):
        return [strip_rank_feature(x) for x in node if not (isinstance(x, dict) and "rank_feature" in x)]
    return node


class BareSearchEngine:
    """An :class:`Engine` whose searches leave out ``rank_feature`` clauses (everything else is
    the wrapped engine's)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def __repr__(self) -> str:
        return f"{self._engine!r} (bare: rank_feature clauses dropped)"

    def search(self, index: str, body: Mapping[str, Any], **params: Any) -> dict[str, Any]:
        return self._engine.search(index, strip_rank_feature(dict(body)), **params)
