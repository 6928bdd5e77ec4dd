"""One search request against the engine, with the ``simple_query_string`` fallback for a query
the engine cannot parse and :class:`~indexing.search.safety.QueryError` for one too expensive or
malformed to run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from indexing.engine import Engine, EngineError
from indexing.search.query import SearchRequest
from indexing.search.safety import QueryError, is_syntax_error, is_too_expensive

log = logging.getLogger(__name__)

def run(engine: Engine, index: str, request: SearchRequest,
        shape: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], str]:
    """One search request for ``request`` (``shape`` edits the body), with the simple_query_string fallback
    for a query the engine cannot parse, the timeouts of ``search`` settings, and
    :class:`QueryError` for a query too expensive or malformed to run."""
    limits = request.limits
    query = request.query
    syntax = "query_string"
    for syntax in ("query_string", "simple_query_string"):
        body = request.body(syntax)
        if shape:
            shape(body)
        try:
            resp = engine.search(index, body, request_timeout=limits.request_timeout)
        except EngineError as exc:
            if isinstance(exc, QueryError):
                raise
            if is_too_expensive(exc):
                raise QueryError(f"query too expensive for the engine: {query[:80]!r}") from exc
            if syntax == "simple_query_string" or not is_syntax_error(exc):
                if is_syntax_error(exc):
                    raise QueryError(f"malformed query {query[:80]!r}: {exc}") from exc
                raise
            log.info("query %r is not valid query-string syntax (%s); using simple_query_string", query, exc)
            continue
        if resp.get("timed_out"):
            log.warning("search for %r timed out after %s: results are partial", query, limits.timeout)
        return resp, syntax
    raise AssertionError("unreachable")  # pragma: no cover


