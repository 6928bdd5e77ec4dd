"""Language of the article text (py3langid); the page's lang attribute is only a hint.

py3langid counts byte n-gram features with a DFA walked byte by byte in Python, each step a
read from its 39 MB transition table that waits on the one before (1.2 ms per page between the
other stages, mostly cache misses). The DFA is an Aho-Corasick automaton whose states are at
most ``_DFA_DEPTH`` bytes deep: the state after any byte is the one reached from the start state
over the last ``_DFA_DEPTH`` bytes alone. So every position's state is computed at once with
numpy, ``_DFA_DEPTH`` vectorised steps, the same states and the same feature counts in the same
order (``tests/indexing/extraction/test_language.py`` checks the depth on the model and the counts
against py3langid's walk). A model of another shape keeps py3langid's own walk.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_MIN_CHARS = 40
_MIN_CONFIDENCE = 0.6
_HINT = re.compile(r"^([a-zA-Z]{2,3})(?:[-_].*)?$")


# The bundled model this was verified on (py3langid 0.4: 104,583 states sharing 38,346 rows of
# transitions, none deeper than 6 bytes); ``vectorised_walk`` is used only on a model with that many states.
_DFA_STATES = 104_583
_DFA_DEPTH = 6


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    def load() -> Any:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    from indexing.extraction.modelcache import cached_model

    # the shipped model is LZMA-compressed: ~0.5-1 CPU s to unpack in every process that
    # detects a language (each extraction worker); the unpacked identifier is kept in a cache
    stock = cached_model("py3langid", load)

    class _Identifier(LanguageIdentifier):  # type: ignore[misc]
        """py3langid's identifier with the vectorised walk where the model allows it."""

        __slots__ = ("_walk",)

        def _raw_score(self, text: bytes) -> Any:
            visits = self._walk(text) if self._walk is not None else None
            if visits:
                return self._sparse_score(visits, self.nb_ptc)
            return super()._raw_score(text if self._walk is None else b"")

    # the cached identifier's fields (references, no copy) under the class with the faster walk;
    # the cache keeps py3langid's own class
    identifier = _Identifier.__new__(_Identifier)
    for name in LanguageIdentifier.__slots__:
        if hasattr(stock, name):
            setattr(identifier, name, getattr(stock, name))
    identifier._walk = vectorised_walk(identifier)
    return identifier


def vectorised_walk(identifier: Any) -> Any:
    """A function bytes -> {feature: count} (None when none) equal to py3langid's
    ``visit_counts`` for this identifier's model, or None for a model it was not verified on."""
    try:
        table = np.frombuffer(identifier.tk_nextmove, dtype=np.uint32)
        rowbase = np.asarray(identifier._rowbase, dtype=np.int64)
        output = np.asarray(identifier.tk_output, dtype=np.int64)
    except (AttributeError, TypeError, ValueError):
        return None
    if len(rowbase) != _DFA_STATES or len(output) != _DFA_STATES or int(rowbase.max()) + 256 > len(table):
        return None

    def walk(data: bytes) -> dict[int, int] | None:
        text = np.frombuffer(data, dtype=np.uint8)
        n = len(text)
        states = np.zeros(n, dtype=np.int64)
        # step j moves every position i >= j over byte i - j: after the last step, position i
        # has read bytes i - _DFA_DEPTH + 1 .. i from the start state (fewer at the start)
        for j in range(min(_DFA_DEPTH, n) - 1, -1, -1):
            states[j:] = table[rowbase[states[j:]] + text[: n - j]]
        features = output[states]
        features = features[features >= 0]
        if not len(features):
            return None
        found, first, counts = np.unique(features, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")  # py3langid's Counter: in order of first visit
        return dict(zip(found[order].tolist(), counts[order].tolist(), strict=True))

    return walk


def normalise_hint(value: str | None) -> str | None:
    """'de-DE' -> 'de'; anything that is not a language tag -> None."""
    if not value:
        return None
    match = _HINT.match(value.strip())
    if not match:
        return None
    code = match.group(1).lower()
    return code if len(code) == 2 else None


def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``; the hint decides only when the text is too short or unclear."""
    hint = normalise_hint(hint)
    sample = (text or "")[:1500]
    if len(sample.strip()) < _MIN_CHARS:
        return hint
    try:
        ranked = _identifier().rank(sample)
    except (ValueError, KeyError, IndexError):
        logger.debug("language detection failed", exc_info=True)
        return hint
    if not ranked:
        return hint
    best, prob = ranked[0]
    if prob >= _MIN_CONFIDENCE:
        return str(best)
    # Unclear: the hint wins when the model gives it some weight.
    if hint:
        for lang, p in ranked[:5]:
            if lang == hint and p >= 0.1:
                return hint
    return str(best)
