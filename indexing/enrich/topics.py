"""Topic tagging from config/topics.yaml.

A topic has multilingual ``terms`` (evidence), optional ``require_any`` (context: at least one
must occur too) and ``exclude`` (look-alike senses), and a ``min_score``. Term syntax, on top of
the phrase patterns of :mod:`indexing.enrich.matcher` (``stem*``, ``*end``, inflections):

- ``(a|b|c)``          any of the alternatives (phrases or patterns);
- ``A NEAR/n B``       A and B within n words of each other, in either order;
- ``@entity-id``       any name, alias or adjective of a gazetteer entity (config/entities.yaml).

Scoring: every distinct place where a term matches counts once, three times in the title.
An article is tagged when its score reaches ``min_score``, some ``require_any`` term occurs, and
the ``exclude`` score (same weights) stays below the term score.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from indexing.errors import raised_as
from indexing.settings import default_config_dir
from indexing.yamlconfig import cached_by_mtime

from ._config import EnrichConfigError, EnrichId, Language, Text, as_per_language, load_items
from .entities import Gazetteer, load_gazetteer
from .matcher import Match, PatternError, PhraseMatcher
from .text import Token, nfc, tokenize

log = logging.getLogger(__name__)

TITLE_WEIGHT = 3
CORE_LANGUAGES = ("de", "en", "fr", "uk", "ru", "pl", "es")
ROLES = ("terms", "require_any", "exclude")
# "(?<!\s)": a match can only start where a whitespace run starts (split's leftmost match does
# anyway); without it a search tried every position of a long run, each scanning to its end.
_NEAR_RE = re.compile(r"(?<!\s)\s++NEAR/(\d+)\s+")


@dataclass(frozen=True)
class Term:
    text: str  # as configured
    language: str
    parts: tuple[tuple[str, ...], ...]  # one or two parts, each a tuple of alternative patterns
    near: int | None = None

    @property
    def is_plain(self) -> bool:
        """A literal phrase usable as-is in a search query."""
        return self.near is None and len(self.parts[0]) == 1 and not _is_special(self.parts[0][0])

    @property
    def is_wildcard(self) -> bool:
        """A single pattern with ``*`` (query_string syntax), no alternatives or NEAR."""
        p = self.parts[0][0]
        return self.near is None and len(self.parts[0]) == 1 and "*" in p and not p.startswith("@")


def _is_special(pattern: str) -> bool:
    return "*" in pattern or pattern.startswith("@")


@dataclass(frozen=True)
class Topic:
    id: str
    label: dict[str, str]
    terms: tuple[Term, ...]
    require_any: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()
    min_score: int = 1

    def plain_terms(self) -> dict[str, list[str]]:
        """Literal phrases per language (usable as-is in a search query)."""
        return self._single_patterns(lambda t: t.is_plain)

    def wildcard_terms(self) -> dict[str, list[str]]:
        """Single ``*`` patterns per language (query_string syntax)."""
        return self._single_patterns(lambda t: t.is_wildcard)

    def _single_patterns(self, keep: Callable[[Term], bool]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for t in self.terms:
            if keep(t) and t.parts[0][0] not in out[t.language]:
                out[t.language].append(t.parts[0][0])
        return dict(out)


@dataclass(frozen=True)
class TermHit:
    topic: str
    start: int  # char offsets into the (NFC) text
    end: int
    #: the char spans of the matched words themselves: the words between the two parts of a
    #: ``A NEAR/n B`` term lie inside start..end but are not part of the topic ("Ivanovets" in
    #: "corvette Ivanovets sunk")
    spans: tuple[tuple[int, int], ...] = ()


class TopicSet:
    """Compiled topics; ``tag(title, body, language)`` returns the matching topic ids."""

    def __init__(self, topics: list[Topic], gazetteer: Gazetteer | None = None, source: str = "<memory>"):
        self.source = source
        self.topics: dict[str, Topic] = {}
        self._order: list[str] = []
        self._rank: dict[str, int] = {}
        self._matcher = PhraseMatcher()
        # Each distinct term text is compiled once, whichever topics and roles use it: the war
        # context (``@ukraine``, ``@russia``, ...) is shared by most topics, and one payload per
        # topic would multiply the matches of every common name by the number of topics.
        self._terms: list[Term] = []
        self._users: list[list[tuple[str, str]]] = []  # term index -> (topic id, role) using it
        term_index: dict[str, int] = {}
        for topic in topics:
            if topic.id in self.topics:
                raise EnrichConfigError(f"{source}: topic '{topic.id}': duplicate id")
            self.topics[topic.id] = topic
            self._order.append(topic.id)
            self._rank[topic.id] = len(self._rank)
            for role in ROLES:
                for term in getattr(topic, role):
                    idx = term_index.get(term.text)
                    if idx is None:
                        idx = term_index[term.text] = len(self._terms)
                        self._terms.append(term)
                        self._users.append([])
                        self._compile(term, idx, topic.id, role, gazetteer)
                    if (topic.id, role) not in self._users[idx]:
                        self._users[idx].append((topic.id, role))

    def _compile(self, term: Term, idx: int, topic_id: str, role: str, gazetteer: Gazetteer | None) -> None:
        for pi, alternatives in enumerate(term.parts):
            for alt in alternatives:
                for pattern in self._resolve(alt, topic_id, role, gazetteer):
                    try:
                        self._matcher.add(pattern, (idx, pi))
                    except PatternError as exc:
                        raise EnrichConfigError(
                            f"{self.source}: topic '{topic_id}': {role}: {term.text!r}: {exc}"
                        ) from exc

    def _resolve(self, alt: str, topic_id: str, role: str, gazetteer: Gazetteer | None) -> list[str]:
        if not alt.startswith("@"):
            return [alt]
        if gazetteer is None:
            gazetteer = load_gazetteer()
        try:
            ent = gazetteer.get(alt[1:])
        except KeyError as exc:
            raise EnrichConfigError(f"{self.source}: topic '{topic_id}': {role}: {exc.args[0]}") from None
        out = ent.patterns()
        for items in ent.adjectives.values():
            out.extend(items)
        return out

    def __len__(self) -> int:
        return len(self.topics)

    # Matching -------------------------------------------------------------------------
    def _field_hits(self, tokens: list[Token]) -> dict[tuple[str, str], set[int]]:
        """(topic, role) -> token start positions of term hits in one field."""
        return self._resolve_hits(self._matcher.find(tokens))

    def _term_positions(self, matches: list[Match]) -> dict[int, set[int]]:
        """term index -> token start positions where the term (both parts of a NEAR) occurs."""
        parts: dict[int, dict[int, list[Match]]] = defaultdict(lambda: defaultdict(list))
        for m in matches:
            payload: tuple[int, int] = m.payload  # type: ignore[assignment]
            parts[payload[0]][payload[1]].append(m)
        out: dict[int, set[int]] = {}
        for idx, by_part in parts.items():
            term = self._terms[idx]
            if term.near is None:
                out[idx] = {m.start for m in by_part[0]}
                continue
            found: set[int] = set()
            for a in by_part.get(0, []):
                for b in by_part.get(1, []):
                    gap = max(b.start - a.end, a.start - b.end, 0)
                    if gap <= term.near and (a.end <= b.start or b.end <= a.start):
                        found.add(min(a.start, b.start))
                        break
            if found:
                out[idx] = found
        return out

    def _resolve_hits(self, matches: list[Match]) -> dict[tuple[str, str], set[int]]:
        hits: dict[tuple[str, str], set[int]] = defaultdict(set)
        for idx, positions in self._term_positions(matches).items():
            for user in self._users[idx]:
                hits[user].update(positions)
        return hits

    def scores(self, title: str, body: str) -> dict[str, dict[str, int]]:
        """Per topic: weighted ``terms``, ``require_any`` and ``exclude`` scores (for tuning)."""
        return self.scores_tokens(tokenize(title or ""), tokenize(body or ""))

    def scores_tokens(self, title: list[Token], body: list[Token]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for weight, tokens in ((TITLE_WEIGHT, title), (1, body)):
            if not tokens:
                continue
            for (topic_id, role), positions in self._field_hits(tokens).items():
                per = out.setdefault(topic_id, dict.fromkeys(ROLES, 0))
                per[role] += weight * len(positions)
        return out

    def tag(self, title: str, body: str, language: str | None = None) -> list[str]:
        """Topic ids for an article, best first. Terms of every language apply whatever
        ``language`` says: mixed-language articles and wrong language guesses still get tagged."""
        return self.tag_tokens(tokenize(title or ""), tokenize(body or ""))

    def tag_tokens(self, title: list[Token], body: list[Token]) -> list[str]:
        """:meth:`tag` on already tokenised fields."""
        found: list[tuple[int, int, str]] = []
        for topic_id, s in self.scores_tokens(title, body).items():
            topic = self.topics[topic_id]
            score = s["terms"]
            if score < topic.min_score:
                continue
            if topic.require_any and s["require_any"] == 0:
                continue
            if s["exclude"] and s["exclude"] >= score:
                continue
            found.append((-score, self._rank[topic_id], topic_id))
        return [t for _, _, t in sorted(found)]

    def find_terms(self, text: str) -> list[TermHit]:
        """Where topic terms (not context or exclusions) occur in ``text``: query expansion."""
        text = nfc(text)
        tokens = tokenize(text)
        matches = [
            m for m in self._matcher.find(tokens)
            if any(role == "terms" for _, role in self._users[m.payload[0]])  # type: ignore[index]
        ]
        hit_topics = {
            topic_id
            for idx in self._term_positions(matches)
            for topic_id, role in self._users[idx]
            if role == "terms"
        }
        out: list[TermHit] = []
        for topic_id in hit_topics:
            mine = [m for m in matches if (topic_id, "terms") in self._users[m.payload[0]]]  # type: ignore[index]
            first = min(m.start for m in mine)
            last = max(m.end for m in mine)
            spans = tuple(sorted({(tokens[m.start].start, tokens[m.end - 1].end) for m in mine}))
            out.append(TermHit(topic_id, tokens[first].start, tokens[last - 1].end, spans))
        return sorted(out, key=lambda h: (h.start, h.topic))


# Loading ------------------------------------------------------------------------------
_GROUP_RE = re.compile(r"\(([^()]*)\)")
_MAX_EXPANSIONS = 500


def _expand_groups(piece: str) -> tuple[str, ...]:
    """``a (b|c) d`` -> ``a b d``, ``a c d`` (every combination of the groups)."""
    if not piece:
        raise ValueError("empty phrase")
    results = [""]
    pos = 0
    for m in _GROUP_RE.finditer(piece):
        literal = piece[pos : m.start()]
        alts = [a.strip() for a in m.group(1).split("|") if a.strip()]
        if not alts:
            raise ValueError("empty alternative group '()'")
        results = [r + literal + a for r in results for a in alts]
        if len(results) > _MAX_EXPANSIONS:
            raise ValueError(f"more than {_MAX_EXPANSIONS} combinations")
        pos = m.end()
    results = [" ".join((r + piece[pos:]).split()) for r in results]
    if any(c in r for r in results for c in "()|"):
        raise ValueError("unbalanced '(', ')' or '|' outside a group")
    return tuple(dict.fromkeys(results))


def _parse_term(lang: str, text: str) -> Term:
    pieces = _NEAR_RE.split(text)
    if len(pieces) not in (1, 3):
        raise ValueError(f"{text!r}: at most one NEAR/n per term")
    near = int(pieces[1]) if len(pieces) == 3 else None
    parts: list[tuple[str, ...]] = []
    for piece in (pieces[0], pieces[-1]) if near is not None else (pieces[0],):
        try:
            parts.append(_expand_groups(piece.strip()))
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
    return Term(text=text, language=lang, parts=tuple(parts), near=near)


def _check_term(text: str) -> str:
    _parse_term("any", text)  # raises ValueError naming the term
    return text


def _label(value: Any) -> Any:
    return {"en": value} if isinstance(value, str) else value


TermText = Annotated[Text, AfterValidator(_check_term)]
#: Terms per language, each checked (groups, NEAR) where it is written.
Terms = Annotated[dict[Language, list[TermText]], BeforeValidator(as_per_language)]


class TopicSpec(BaseModel):
    """One item of topics.yaml (see the file's header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EnrichId
    label: Annotated[dict[str, Text], BeforeValidator(_label)]
    description: str = ""
    terms: Annotated[Terms, Field(min_length=1)]
    require_any: Terms = Field(default_factory=dict)
    exclude: Terms = Field(default_factory=dict)
    min_score: int = Field(default=1, ge=1, strict=True)

    def topic(self) -> Topic:
        roles = {role: tuple(_parse_term(lang, t) for lang, ts in getattr(self, role).items() for t in ts)
                 for role in ROLES}
        return Topic(id=self.id, label=dict(self.label), terms=roles["terms"], require_any=roles["require_any"],
                     exclude=roles["exclude"], min_score=self.min_score)


def parse_topics(path: Path, gazetteer: Gazetteer | None = None) -> TopicSet:
    topics: list[Topic] = []
    for item in load_items(path, "topics", TopicSpec, "topic"):
        topic = item.value.topic()
        missing = [lang for lang in CORE_LANGUAGES if not any(t.language == lang for t in topic.terms)]
        if missing:
            log.warning("%s:%d: %s: no terms for %s", path, item.line(), item.label, ", ".join(missing))
        topics.append(topic)
    ts = TopicSet(topics, gazetteer=gazetteer, source=str(path))
    log.debug("loaded %d topics from %s", len(ts), path)
    return ts


_load_topics = cached_by_mtime(parse_topics)


def load_topics(path: Path | None = None) -> TopicSet:
    """The topics in ``path`` (default: topics.yaml in the config directory), parsed once per
    file version. ``@entity`` references resolve against the default gazetteer (entities.yaml)."""
    with raised_as(EnrichConfigError):
        return _load_topics(Path(path) if path is not None else default_config_dir() / "topics.yaml")
