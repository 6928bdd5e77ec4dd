"""Language of the article text (py3langid); the page's lang attribute is only a hint."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

_MIN_CHARS = 40
_MIN_CONFIDENCE = 0.6
_HINT = re.compile(r"^([a-zA-Z]{2,3})(?:[-_].*)?$")


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    def load() -> Any:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    from indexing.extraction.modelcache import cached_model

    # the shipped model is LZMA-compressed: ~0.5-1 CPU s to unpack in every process that
    # detects a language (each extraction worker); the unpacked identifier is kept in a cache
    return cached_model("py3langid", load)


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
