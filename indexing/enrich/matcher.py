"""A token-trie phrase matcher: every configured pattern of a topic set or gazetteer is compiled
into one trie of word units, and a text is matched in one pass over its tokens.

Pattern syntax (one phrase, words separated by spaces or hyphens):

- ``word``      the word itself, inflection-tolerant: Cyrillic words of 4+ letters accept the
                Russian/Ukrainian case endings on their stem (``Зеленський`` -> ``Зеленського``),
                Latin words of 3+ letters a trailing ``s`` (German genitive: ``Putins``);
- ``stem*``     any word starting with ``stem`` (``nordkoreanisch*``, ``північнокорейськ*``);
- ``*end``      any word ending with ``end`` (German compounds: ``*drohnen``);
- ``ABC``       a short all-caps word (up to 4 letters) matches only in capitals (``UN`` is not
                French ``un``, ``EU`` not ``eu``); write ``Nato`` separately if wanted.

Text and patterns go through the same normalisation (:mod:`indexing.enrich.text`).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .text import Token, is_cyrillic, tokenize

# Russian and Ukrainian noun/adjective endings (after ё -> е). A stem plus one of these is
# accepted as an inflected form of a configured word.
_CYR_ENDINGS = frozenset(
    """
    а я у ю о е є и і ї ы ь й
    ой ей ою ею єю ом ем єм ам ям ах ях ов ев ів їв ым им ім ых их іх ую юю ая яя ое ее ые ие
    ій ий ый ої ьої
    ого его ому ему ами ями ові еві єві ими ыми іми ого ього ьому
    """.split()
) | {""}
# Endings stripped from a configured Cyrillic word to find its stem (longest first).
_CYR_STRIP = ("ий", "ій", "ый", "ой", "ая", "яя", "ое", "ее", "а", "я", "о", "е", "ь", "й", "и", "ы", "і")
_CYR_MIN_STEM = 4
_LATIN_MIN_INFLECT = 3
_CASE_SENSITIVE_MAX = 4
_MIN_AFFIX = 3
_MAX_ENDING = max(len(e) for e in _CYR_ENDINGS)
_CACHE_MAX = 200_000

_STAR_CHUNK = re.compile(r"\S+")


class PatternError(ValueError):
    """A pattern cannot be compiled (empty, or a wildcard stem too short)."""


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    payloads: list[Hashable] = field(default_factory=list)


class Match(NamedTuple):
    start: int  # first token index
    end: int  # one past the last token index
    payload: Hashable


def _cyr_stem(word: str) -> str:
    for ending in _CYR_STRIP:
        if word.endswith(ending) and len(word) - len(ending) >= _CYR_MIN_STEM:
            return word[: -len(ending)]
    return word


class PhraseMatcher:
    """Compile many phrase patterns once; find them all in a token list in one pass."""

    def __init__(self) -> None:
        self._root = _Node()
        self._unit_ids: dict[tuple[str, str], int] = {}
        self._exact: dict[str, set[int]] = {}
        self._case: dict[str, set[int]] = {}
        self._prefix: dict[str, set[int]] = {}
        self._suffix: dict[str, set[int]] = {}
        self._stem: dict[str, set[int]] = {}
        self._prefix_lengths: set[int] = set()
        self._suffix_lengths: set[int] = set()
        self._cache: dict[str, frozenset[int]] = {}

    # Compiling ------------------------------------------------------------------------
    def _unit(self, kind: str, value: str, table: dict[str, set[int]]) -> int:
        key = (kind, value)
        uid = self._unit_ids.get(key)
        if uid is None:
            uid = len(self._unit_ids)
            self._unit_ids[key] = uid
            table.setdefault(value, set()).add(uid)
        return uid

    def _word_units(self, chunk: str) -> list[int]:
        """Units for one whitespace-separated chunk of a pattern (may hold several words)."""
        lead = chunk.startswith("*")
        trail = chunk.endswith("*")
        core = chunk.strip("*")
        toks = tokenize(core)
        if not toks:
            raise PatternError(f"no word in {chunk!r}")
        units: list[int] = []
        for i, tok in enumerate(toks):
            first, last = i == 0, i == len(toks) - 1
            if (lead and first) or (trail and last):
                if len(tok.norm) < _MIN_AFFIX:
                    raise PatternError(f"wildcard stem {tok.norm!r} in {chunk!r} is shorter than {_MIN_AFFIX}")
                if lead and first and trail and last:
                    raise PatternError(f"infix wildcards (*x*) are not supported: {chunk!r}")
                if trail and last:
                    units.append(self._unit("p", tok.norm, self._prefix))
                    self._prefix_lengths.add(len(tok.norm))
                else:
                    units.append(self._unit("s", tok.norm, self._suffix))
                    self._suffix_lengths.add(len(tok.norm))
            elif tok.orig.isupper() and len(tok.orig) <= _CASE_SENSITIVE_MAX:
                units.append(self._unit("c", tok.orig, self._case))
            elif is_cyrillic(tok.norm) and len(tok.norm) >= _CYR_MIN_STEM:
                units.append(self._unit("i", _cyr_stem(tok.norm), self._stem))
            elif len(tok.norm) >= _LATIN_MIN_INFLECT and not is_cyrillic(tok.norm):
                uid = self._unit("x", tok.norm, self._exact)
                self._exact.setdefault(tok.norm + "s", set()).add(uid)
                units.append(uid)
            else:
                units.append(self._unit("x", tok.norm, self._exact))
        return units

    def pattern_units(self, pattern: str) -> list[int]:
        units: list[int] = []
        for chunk in _STAR_CHUNK.findall(pattern):
            units.extend(self._word_units(chunk))
        if not units:
            raise PatternError(f"empty pattern {pattern!r}")
        return units

    def add(self, pattern: str, payload: Hashable) -> None:
        node = self._root
        for uid in self.pattern_units(pattern):
            node = node.children.setdefault(uid, _Node())
        if payload not in node.payloads:
            node.payloads.append(payload)
        self._cache.clear()

    # Matching -------------------------------------------------------------------------
    def _norm_units(self, word: str) -> frozenset[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        found: set[int] = set()
        hit = self._exact.get(word)
        if hit:
            found |= hit
        n = len(word)
        for k in self._prefix_lengths:
            if k <= n:
                hit = self._prefix.get(word[:k])
                if hit:
                    found |= hit
        for k in self._suffix_lengths:
            if k <= n:
                hit = self._suffix.get(word[n - k :])
                if hit:
                    found |= hit
        if self._stem and is_cyrillic(word):
            for k in range(0, min(_MAX_ENDING, n - _CYR_MIN_STEM) + 1):
                if word[n - k :] in _CYR_ENDINGS if k else True:
                    hit = self._stem.get(word[: n - k])
                    if hit:
                        found |= hit
        result = frozenset(found)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[word] = result
        return result

    def find(self, tokens: Sequence[Token]) -> list[Match]:
        """Every occurrence of every pattern (overlaps included), in text order."""
        root = self._root
        cache_get = self._cache.get
        norm_units = self._norm_units
        case_get = self._case.get if self._case else None
        matches: list[Match] = []
        active: list[tuple[_Node, int]] = []
        for i, tok in enumerate(tokens):
            units = cache_get(tok.norm)
            if units is None:
                units = norm_units(tok.norm)
            if case_get is not None:
                hit = case_get(tok.orig)
                if hit:
                    units = units | hit
            if not units:
                if active:
                    active = []
                continue
            nxt: list[tuple[_Node, int]] = []
            active.append((root, i))
            for node, start in active:
                children = node.children
                for uid in units:
                    child = children.get(uid)
                    if child is None:
                        continue
                    if child.payloads:
                        for payload in child.payloads:
                            matches.append(Match(start, i + 1, payload))
                    if child.children:
                        nxt.append((child, start))
            active = nxt
        return matches
