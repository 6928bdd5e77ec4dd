"""Query safety: what warwatch lets a query ask of the engine.

Colons that are punctuation are neutralised, explicit queries recognised, regular expressions
made literal, leading and one-letter wildcards refused, wildcard and fuzzy terms counted, and
the engine's own refusals (syntax, too expensive) told apart for :mod:`indexing.search.execute`.
"""

from __future__ import annotations

import re
from typing import Any

from indexing.engine import EngineError
from indexing.settings import SearchSettings

_EXPLICIT_SYNTAX = re.compile(r"(^|[\s(])([\w.*]+:|[+-]\S)|\b(AND|OR|NOT)\b")
_FIELD_PREFIX = re.compile(r"(^|[\s(])([\w.*]+):")


def neutralise_colons(query: str) -> str:
    """Headlines are full of colons ("Report 3: ...", "ГУР: ...", "Guerre en Ukraine : ...").
    Only a colon after one of our field names (``title:``, ``source:``, ``body_de:``) means a
    field in query-string syntax; anywhere else it is punctuation and becomes a space."""
    from indexing.index.templates import mapped_fields

    known = mapped_fields()

    def repl(m: re.Match[str]) -> str:
        name = m.group(2)
        is_field = name in known or ("*" in name and any(f.startswith(name.split("*")[0]) for f in known))
        return m.group(0) if is_field else f"{m.group(1)}{name} "

    return _FIELD_PREFIX.sub(repl, query or "").replace(" : ", " ")


def is_explicit(query: str) -> bool:
    """A query naming fields (``title:x``), boolean operators or +/- terms says exactly what it
    wants: it is not expanded."""
    return bool(_EXPLICIT_SYNTAX.search(query or ""))


_WILDCARD_ONLY = re.compile(r"^\s*\*?\s*$")


def is_match_all(query: str) -> bool:
    """An empty query or a lone ``*``: every article (``match_all``), nothing to check or expand."""
    return bool(_WILDCARD_ONLY.match(query or ""))


class QueryError(EngineError):
    """A query warwatch will not run: too expensive (leading or one-letter wildcards, too many
    wildcard or fuzzy terms, too long) or malformed beyond repair. The message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400, error_type="query_rejected")


#: simple_query_string operators allowed in the fallback: no fuzzy, no slop.
SIMPLE_FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|ESCAPE|WHITESPACE|PREFIX"
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"~?\d*|\S+')
# a slash after an even run of backslashes (none, or escaped backslashes) opens a regexp
_UNESCAPED_SLASH = re.compile(r"(?<!\\)((?:\\\\)*)/")
_TOO_EXPENSIVE = ("too_complex_to_determinize", "too_many_clauses", "too_many_nested_clauses",
                  "maxclausecount", "toomanyclauses", "determinizedstates")


def query_string_limits() -> dict[str, Any]:
    """query_string options that keep one query from costing the cluster: no leading
    wildcards, bounded automata and fuzzy expansions."""
    return {"allow_leading_wildcard": False, "max_determinized_states": 2000, "fuzzy_max_expansions": 10,
            "analyze_wildcard": False}


def _expansive(term: str) -> bool:
    """Whether ``term`` (one token of the query) is a wildcard or fuzzy term; raises for a
    wildcard with fewer than two characters before it."""
    word = term.split(":", 1)[1] if ":" in term and not term.startswith(":") else term
    word = word.lstrip("+-(!").rstrip(")")
    if not word or word == "*" or word.startswith('"'):
        return False
    if "*" in word or "?" in word:
        prefix = re.split(r"[*?]", word, maxsplit=1)[0]
        if len(prefix) < 2:
            raise QueryError(f"wildcard {word!r} refused: it needs two letters before * or ?")
        return True
    return bool(re.search(r"[^\\]~\d*(\.\d+)?$", word))


def check_query(query: str, limits: SearchSettings | None = None) -> str:
    """The user's query made safe for query_string, or :class:`QueryError`.

    Regular expressions (``/.../``) are not offered: slashes become literal. Leading and
    one-letter wildcards are refused (they scan the whole term dictionary), and so are more
    than ``search.max_expansive_terms`` wildcard or fuzzy terms, or a query over
    ``search.max_query_chars`` characters (``limits``: the ``search`` settings; default: the code's
    defaults)."""
    limits = limits or SearchSettings()
    if len(query) > limits.max_query_chars:
        raise QueryError(f"query too long: {len(query)} characters (at most {limits.max_query_chars})")
    text = _UNESCAPED_SLASH.sub(r"\1\\/", query)
    expansive = sum(1 for tok in _TOKEN.findall(text) if _expansive(tok))
    if expansive > limits.max_expansive_terms:
        raise QueryError(f"query too expensive: {expansive} wildcard or fuzzy terms "
                         f"(at most {limits.max_expansive_terms})")
    return text


def is_too_expensive(exc: EngineError) -> bool:
    text = f"{exc.error_type} {exc} {exc.info}".lower().replace(" ", "")
    return any(k in text for k in _TOO_EXPENSIVE)


def is_syntax_error(exc: EngineError) -> bool:
    text = f"{exc.error_type} {exc} {exc.info}".lower()
    return exc.status == 400 and any(k in text for k in ("parse", "query_shard", "search_phase", "lexical",
                                                          "token_mgr", "failed to create query"))

