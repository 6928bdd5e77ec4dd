"""Hybrid ranking: the keyword side's hits fused with the vector side's neighbours.

Each side is trusted as far as its own evidence goes, per hit and per query, never by a property
of the corpus (how many languages a story has):

* **vector side**: every candidate's refined cosine, rescaled to 0..1 over the candidates (the
  best neighbour 1, the worst 0): it knows what a story is about in any language, and knows it
  only roughly (a small model places "Korea" near "Nordkorea").
* **keyword side**: a hit's score relative to the best keyword hit, weighted by *what it
  matched* (the named clauses of the keyword query, :attr:`SearchHit.matched`): a hit with
  **strong evidence** (:func:`is_strong`) - every typed word in its own text (``all``), every
  part of the query in any language through tags, names and words (``complete``) with a tag
  among them, or, for a query of one concept, the concept's topic or entity tag, its names or
  its phrase - is what the keyword side knows, and
  weighs :attr:`FusionParams.strong`; a hit that shares only some words (``some``) is what a
  look-alike looks like, and weighs :attr:`FusionParams.weak`.

So a story the keyword side knows with overwhelming confidence (the German seed for "North
Korean troops", through its topic tag) stays first however near a look-alike is to the query's
vector, and a look-alike that shares a word with the query cannot overturn the story's coverage
in other languages, which only the vector side finds.

A neighbour the keyword side did not find is a hit only with at least half the best
neighbour's refined score (:attr:`FusionParams.admit_ratio`; an absolute floor,
:attr:`FusionParams.admit`, is there but off: refined scores do not carry from one corpus to
another): the vector side always has nearest articles, even for a query nothing answers, and a
filter (``--lang de``) leaves it the nearest of whatever remains. On the world-like corpus the
bar keeps ~96% of the story coverage only the vector side finds and drops three quarters of the
other neighbours (benchmarks/README.md).

**Cross-lingual agreement**: the keyword side's best hit with strong evidence is the *anchor*
(what the query most surely means) and gains :attr:`FusionParams.agreement`; every other
candidate gains up to as much by how close its language-centred vector is to the anchor's
(:func:`agreement`, a ramp from :attr:`FusionParams.agree_low` to
:attr:`FusionParams.agree_high`). Two articles covering one story, in whatever languages, are
near-duplicates in the model's space once each language's mean is taken away (centred cosine
~0.45-0.85 on the world-like corpus); a look-alike shares the subject, not the story (mostly
under 0.4): so the story's coverage in languages the query's words cannot reach climbs above
same-language look-alikes, and only when the keyword side is sure of the story (no anchor
without strong evidence: a look-alike that shares some words anchors nothing).

**Title closeness**: without an anchor (no keyword hit carries the whole query) the keyword
side cannot tell the story from look-alikes that share the query's subject and some of its words,
and the vector side of title and lead puts them level too. A headline says what the article is
*about* in a few words, as a query does: each of the first :attr:`FusionParams.title_depth`
candidates gains up to :attr:`FusionParams.title` by how close its title's language-centred
vector is to the query (:func:`retitle`, rescaled over those candidates: the title nearest the
query gains it all, the farthest nothing). Not with an anchor: the keyword side is sure then.

**Echo**: with or without an anchor, each of the first :attr:`FusionParams.echo_depth` candidates
rises to :attr:`FusionParams.echo` (under 1) times the score of a better-ranked one in another
language whose near-duplicate it is (:func:`echo`, a ramp of centred cosine
:attr:`FusionParams.echo_low`..:attr:`FusionParams.echo_high`): when one language's coverage of a
story ranks well by words and titles, its other languages follow it up, just under it, above the
same-language look-alikes that share the query's words. The best :attr:`FusionParams.echo_reach`
candidates echo further: to every candidate ranked below that head, and to the neighbours under
the admission bar (a story's coverage in another language that the keyword side cannot reach and
the vector side puts just under half the best neighbour's score): such a neighbour becomes a hit
only by the echo, as the near-duplicate of one of the surest candidates.

**Names across scripts**: a typed word written as a name (capitalised) that the keyword side
finds only through its skeleton in an article of another script (Sverdlovsk in a Russian report,
Borova in a Ukrainian one) is the query's name; every candidate that carries none of the query's
names (in its own text or through the skeleton) loses :attr:`FusionParams.names`
(:func:`name_carriers`, :func:`unnamed`). The vector side knows what a story is about, not
where: a story about the same subject elsewhere (a military levy for "Sverdlovsk contract soldier
bonus") drops below the one that names the place. Before the echo, so the coverage of a named
story in a language that does not name it still follows its best article up. A neighbour the
keyword side did not find carries nothing as far as fusion knows (no request is made for it).

**No good match**: when no keyword hit has strong evidence and the best vector score is under
:attr:`FusionParams.vector_confidence`, neither side is confident: the ranking is still returned
(the nearest articles), marked ``weak`` for the caller to say so.

The constants were chosen by cross-validation across query classes (one class held out at a
time) on benchmarks/search_world.py's corpus (real pages as background, stories covered in one,
two, three and seven languages, names, unanswerable queries): benchmarks/fusion_tune.py,
figures in benchmarks/README.md, "Search quality on a corpus that looks like the world".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexing.translit import BRIDGED, CARRIED, is_name, script_of_language, script_of_word

#: the tag clauses: the article was tagged with the query's topic or entity at indexing
TAGS = frozenset({"topic", "entity"})
#: ... and, for a query of one concept (a topic, an entity, a name), these too
WHOLE_CONCEPT = frozenset({"topic", "entity", "names", "phrase"})


@dataclass(frozen=True)
class FusionParams:
    #: weight of a strong-evidence keyword hit's relative score (the vector side's is 1)
    strong: float = 1.5
    #: weight of a hit that matched only some of the query's words
    weak: float = 0.8
    #: the best refined vector score under which the vector side is not confident
    vector_confidence: float = 0.08
    #: the refined vector score a neighbour the keyword side did not find needs to be a hit ...
    admit: float = 0.0
    #: ... and this share of the best neighbour's score
    admit_ratio: float = 0.5
    #: cross-lingual agreement: the most a candidate gains for being the anchor's near-duplicate
    #: (0: off), and the centred cosine with the anchor where the gain starts and where it is full
    agreement: float = 1.5
    agree_low: float = 0.4
    agree_high: float = 0.6
    #: title closeness without an anchor: the most a candidate gains (0: off), among how many
    title: float = 2.0
    title_depth: int = 20
    #: echo: a candidate among the first ``echo_depth`` rises to this share of the score of a better
    #: one in another language whose near-duplicate it is (0: off), on a ramp of centred cosine
    #: ``echo_low``..``echo_high``
    echo: float = 0.95
    echo_depth: int = 20
    echo_low: float = 0.35
    echo_high: float = 0.6
    #: echo reach: the best this many candidates also echo to every candidate beyond the first
    #: ``echo_depth``, and to neighbours under the admission bar, which the echo admits (0: off)
    echo_reach: int = 2
    #: what a candidate that carries none of the query's names across scripts loses (0: off)
    names: float = 1.0


@dataclass(frozen=True)
class KeywordHit:
    id: str
    score: float
    matched: frozenset[str] = field(default_factory=frozenset)


#: each side's best this many are never pushed off the first page (:func:`first_page`)
FLOOR = 2


@dataclass
class Fused:
    #: (id, fused score), best first
    ranking: list[tuple[str, float]]
    #: neither side is confident: "no good match" (the ranking holds the nearest articles)
    weak: bool = False
    #: each side's best :data:`FLOOR` (vector side: admitted ones), for :func:`first_page`
    floor: list[str] = field(default_factory=list)

    def page(self, size: int, present: Callable[[str], bool] = lambda _: True) -> list[tuple[str, float]]:
        """The ranking of the ids ``present`` allows (a filter, a deleted article), with
        :func:`first_page` applied for a page of ``size``."""
        return first_page([kv for kv in self.ranking if present(kv[0])],
                          [i for i in self.floor if present(i)], size)


def first_page(ranking: list[tuple[str, float]], floor: Sequence[str], size: int) -> list[tuple[str, float]]:
    """``ranking`` with every id of ``floor`` inside its first ``size`` places: they take the
    places of the lowest others there; the page keeps the ranking's order. Each side's very best
    stays visible however the other side ranks it (a story the keyword side finds only through a
    name, or only the vector side finds): the first page holds both sides' top two."""
    wanted = set(floor)
    raised = [kv for kv in ranking[size:] if kv[0] in wanted]
    if not raised:
        return ranking
    head = ranking[:size]
    dropped: set[str] = set()
    for i, _ in reversed(head):
        if len(dropped) == len(raised):
            break
        if i not in wanted:
            dropped.add(i)
    on_page = {i for i, _ in head if i not in dropped} | {i for i, _ in raised[: len(dropped)]}
    return [kv for kv in ranking if kv[0] in on_page] + [kv for kv in ranking if kv[0] not in on_page]


def is_strong(matched: frozenset[str], *, one_concept: bool) -> bool:
    """Whether a keyword hit that matched the clauses ``matched`` carries the whole query: every
    typed word in its own text, or every part of the query with at least one of them through a
    topic or entity tag (parts bridged by name skeletons alone collide on real pages: German
    nouns are capitalised, and a skeleton keeps only sound classes), or the one concept of a
    one-concept query."""
    if "all" in matched or (one_concept and matched & WHOLE_CONCEPT):
        return True
    return "complete" in matched and bool(matched & TAGS)


def anchor(keyword: Sequence[KeywordHit], *, one_concept: bool) -> str | None:
    """The keyword hit with strong evidence (:func:`is_strong`) and the highest score (the first
    of equals), or None: what cross-lingual agreement measures the other candidates against."""
    strong = [h for h in keyword if is_strong(h.matched, one_concept=one_concept)]
    return max(strong, key=lambda h: h.score).id if strong else None


def agreement(similarity: float, params: FusionParams) -> float:
    """The gain of a candidate whose centred cosine with the anchor is ``similarity``: 0 up to
    ``agree_low``, rising linearly to ``agreement`` at ``agree_high`` and above (a step at
    ``agree_low`` when ``agree_high`` is not above it)."""
    span = max(params.agree_high - params.agree_low, 1e-6)
    return params.agreement * min(1.0, max(0.0, (similarity - params.agree_low) / span))


def _agree(scores: dict[str, float], centre: str | None, vectors: Mapping[str, np.ndarray] | None,
           params: FusionParams) -> None:
    """Add each candidate's :func:`agreement` with the anchor ``centre`` to its score (in place).
    The anchor gains the full agreement too (its similarity to itself is 1): a near-duplicate of
    the surest hit climbs beside it, never over it."""
    if not params.agreement or centre is None or not vectors or centre not in vectors:
        return
    ref = vectors[centre]
    scores[centre] = scores.get(centre, 0.0) + params.agreement
    for i in scores:
        vec = vectors.get(i)
        if i != centre and vec is not None:
            gain = agreement(float(vec @ ref), params)
            if gain > 0:  # the anchor's near-duplicate: at most just under it
                scores[i] = min(scores[i] + gain, np.nextafter(scores[centre], -np.inf))


def _ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """(id, score) best first; ties by id, so equal inputs rank alike."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def retitle(scores: dict[str, float], titles: Mapping[str, float], params: FusionParams) -> None:
    """Add to each of the ``params.title_depth`` best of ``scores`` (in place) up to
    ``params.title`` by its title score in ``titles`` (the title's language-centred cosine with
    the query), rescaled over those of them that have one: the nearest title gains it all, the
    farthest nothing; a candidate without a title score gains nothing."""
    if not params.title:
        return
    head = _ranked(scores)[: params.title_depth]
    known = {i: titles[i] for i, _ in head if i in titles}
    if len(known) < 2:
        return
    lo, hi = min(known.values()), max(known.values())
    spread = (hi - lo) or 1.0
    for i, t in known.items():
        scores[i] += params.title * (t - lo) / spread


def echo(scores: dict[str, float], similar: Callable[[str, str], float | None], params: FusionParams,
         languages: Mapping[str, str | None] | None = None, reserve: Mapping[str, float] | None = None) -> None:
    """Raise each of the ``params.echo_depth`` best of ``scores`` (in place) to ``params.echo``
    times the score of a better one among them in another language (``languages``; an unknown
    language: no echo) whose near-duplicate it is, scaled by the ramp of their centred cosine
    (``similar``; None: unknown) from ``echo_low`` to ``echo_high``: the coverage of one story in
    another language follows its best-ranked article up, never over it (the share is under 1); a
    look-alike, which shares a subject and not the story, stays where it is. Same-language pairs
    are left out: two articles in one language on one subject share words and style, which
    centring does not take away (a look-alike rose beside the story); closeness across languages
    is content. Scores are taken before any rise (no chains); a score never drops.

    With ``params.echo_reach``, the best that many also echo to every candidate ranked below the
    head and to ``reserve`` (neighbours under the admission bar, id -> the score they would have
    had): one of those the echo raises enters ``scores``: the echo admits it."""
    if not params.echo:
        return
    ranked = _ranked(scores)
    head = ranked[: params.echo_depth]
    raised: dict[str, float] = {}
    for rank, (i, own) in enumerate(head):
        _lift(raised, i, own, head[:rank], similar, params, languages)
    if params.echo_reach:
        sources = head[: params.echo_reach]
        for i, own in [*ranked[params.echo_depth:], *(reserve or {}).items()]:
            _lift(raised, i, own, sources, similar, params, languages)
    scores.update(raised)


def _lift(raised: dict[str, float], i: str, own: float, better: Sequence[tuple[str, float]],
          similar: Callable[[str, str], float | None], params: FusionParams,
          languages: Mapping[str, str | None] | None) -> None:
    """Record in ``raised`` the highest echo of ``i`` (score ``own``) from ``better`` (:func:`echo`)."""
    span = max(params.echo_high - params.echo_low, 1e-6)
    for j, score in better:
        if j == i or not _other_languages(languages, i, j):
            continue
        sim = similar(i, j)
        if sim is None or sim <= params.echo_low:
            continue
        lift = params.echo * score * min(1.0, (sim - params.echo_low) / span)
        if lift > raised.get(i, own):
            raised[i] = lift


def _other_languages(languages: Mapping[str, str | None] | None, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are known to be in two different languages."""
    la, lb = (languages or {}).get(a), (languages or {}).get(b)
    return la is not None and lb is not None and la != lb


def _similar(vectors: Mapping[str, np.ndarray] | None) -> Callable[[str, str], float | None]:
    """The centred cosine of two candidates from their vectors (None when either is missing)."""
    known = vectors or {}

    def sim(a: str, b: str) -> float | None:
        va, vb = known.get(a), known.get(b)
        return None if va is None or vb is None else float(va @ vb)

    return sim


def cross_script_names(keyword: Sequence[KeywordHit], languages: Mapping[str, str | None]) -> set[str]:
    """The query's names across scripts: typed words written as names (:func:`is_name`) that a
    keyword hit carries only through the skeleton (``BRIDGED`` + word among its matched clauses)
    while its language is written in another script than the word (a language unknown: no)."""
    out: set[str] = set()
    for h in keyword:
        script = script_of_language(languages.get(h.id))
        for clause in h.matched:
            word = clause[len(BRIDGED):]
            if clause.startswith(BRIDGED) and is_name(word) and script and script != script_of_word(word):
                out.add(word)
    return out


def name_carriers(keyword: Sequence[KeywordHit], languages: Mapping[str, str | None]) -> set[str] | None:
    """The keyword hits that carry one of the query's names across scripts
    (:func:`cross_script_names`; ``CARRIED`` + word: own text or skeleton), or None when the
    query has no such name or no hit says it carries one (nothing to tell candidates apart by)."""
    names = cross_script_names(keyword, languages)
    carriers = {h.id for h in keyword if any(CARRIED + w in h.matched for w in names)}
    return carriers or None


def unnamed(scores: dict[str, float], carriers: set[str] | None, params: FusionParams) -> None:
    """Take ``params.names`` from every candidate of ``scores`` (in place) that is not among
    ``carriers`` (None: the query has no name across scripts, nothing changes)."""
    if not params.names or carriers is None:
        return
    for i in scores:
        if i not in carriers:
            scores[i] -= params.names


def fuse(keyword: Sequence[KeywordHit], vector: Sequence[tuple[str, float]], *, one_concept: bool = False,
         params: FusionParams = FusionParams(), vectors: Mapping[str, np.ndarray] | None = None,
         titles: Mapping[str, float] | None = None,
         similar: Callable[[str, str], float | None] | None = None,
         languages: Mapping[str, str | None] | None = None) -> Fused:
    """Fuse the keyword side's hits (best first) with the vector side's (id, refined score),
    best first. ``one_concept``: the query is one topic, entity or name (its tag is the whole
    query). ``vectors``: the candidates' language-centred unit vectors (any of them missing, or
    None: no agreement for them). ``titles``: the candidates' title scores (:func:`retitle`,
    used only without an anchor). ``similar``: the candidates' centred cosine with each other
    (default: from ``vectors``), ``languages`` their languages (:func:`echo`; the keyword hits'
    also for :func:`name_carriers`). Ties go by id, so
    equal inputs give equal rankings."""
    found = {h.id for h in keyword}
    lo = min((c for _, c in vector), default=0.0)
    top = max((c for _, c in vector), default=0.0)
    spread = (top - lo) or 1.0
    bar = max(params.admit, params.admit_ratio * top)
    cosines = {i: c for i, c in vector if c >= bar or i in found}
    scores = {i: (c - lo) / spread for i, c in cosines.items()}
    reserve = {i: (c - lo) / spread for i, c in vector if i not in cosines}
    best = max((h.score for h in keyword), default=0.0) or 1.0
    strong_any = False
    for h in keyword:
        strong = is_strong(h.matched, one_concept=one_concept)
        strong_any = strong_any or strong
        scores[h.id] = scores.get(h.id, 0.0) + (params.strong if strong else params.weak) * h.score / best
    centre = anchor(keyword, one_concept=one_concept)
    _agree(scores, centre, vectors, params)
    if centre is None and titles:
        retitle(scores, titles, params)
    unnamed(scores, name_carriers(keyword, languages or {}), params)
    echo(scores, similar or _similar(vectors), params, languages, reserve)
    ranking = _ranked(scores)
    confident_vector = top >= params.vector_confidence
    floor = [h.id for h in keyword[:FLOOR]] + [i for i, _ in vector if i in cosines][:FLOOR]
    return Fused(ranking=ranking, weak=not strong_any and not confident_vector, floor=list(dict.fromkeys(floor)))
