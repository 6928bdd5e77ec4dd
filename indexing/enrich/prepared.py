"""The enrich stage's per-article work, done ahead where the article is extracted.

Of what the enrich stage does per article, two thirds need nothing but the article: its topics
and entities (:func:`indexing.enrich.enrich`) and its body's fingerprint for the story index
(:func:`indexing.fingerprint.fingerprint`). Only the story assignment needs the shared state, one
article after the other. The clean stage's extraction workers (one process per core) compute
the first two right after extracting the page (:func:`prepare_article`, called by
``warwatch.pipeline.clean.extract_prepared``), the clean stage writes
them beside the article in ``cleaned.jsonl``, and the enrich stage uses them instead of computing
them again in its single process - which otherwise kept one core busy and the other idle after the
last page was cleaned (benchmarks/README.md "End-to-end throughput").

Each part carries a stamp of everything it depends on (:func:`enrichment_stamp`,
:func:`fingerprint_stamp`): the content of topics.yaml and entities.yaml or the dedup settings,
and the source of the code that computes it. The enrich stage uses a part only when its stamp is
the one it computes itself - an edited topics file, other dedup settings, a batch cleaned by an
older release or a worker that saw other settings all mean: computed again, as before. So the
documents are the same either way, byte for byte (tests/warwatch/test_prepared.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from indexing.settings import DedupSettings, default_config_dir

log = logging.getLogger(__name__)

_INDEXING = Path(__file__).resolve().parent.parent
#: the code whose output a stamp vouches for (its source is hashed into the stamp)
_ENRICH_CODE = (*sorted(p.relative_to(_INDEXING) for p in (_INDEXING / "enrich").glob("*.py")),
                Path("textfold.py"), Path("yamlconfig.py"))
_FINGERPRINT_CODE = (Path("fingerprint.py"), Path("enrich/text.py"), Path("textfold.py"))


@functools.lru_cache(maxsize=4)
def _code_digest(files: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for rel in files:
        digest.update(str(rel).encode() + b"\0" + (_INDEXING / rel).read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest_of(path: Path) -> str:
    resolved = path.resolve()
    st = resolved.stat()
    return _file_digest(resolved, st.st_mtime_ns, st.st_size)


def enrichment_stamp(topics_path: Path | None = None, entities_path: Path | None = None) -> str:
    """What an enrichment depends on: the topics and entities files' content and the code."""
    config = default_config_dir()
    parts = (_digest_of(Path(topics_path or config / "topics.yaml")),
             _digest_of(Path(entities_path or config / "entities.yaml")), _code_digest(_ENRICH_CODE))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def fingerprint_stamp(dedup: DedupSettings) -> str:
    """What a body's fingerprint depends on: the MinHash and shingling settings and the code."""
    params = (dedup.minhash_permutations, dedup.shingle_size, dedup.min_words, dedup.signature_max_words,
              _code_digest(_FINGERPRINT_CODE))
    return hashlib.sha256(repr(params).encode()).hexdigest()[:32]


def enrichment_fields(article: Mapping[str, Any]) -> dict[str, Any]:
    """The fields :func:`indexing.enrich.enrich` adds to ``article`` (or changes)."""
    from indexing.enrich import enrich

    enriched = enrich(article)
    return {k: v for k, v in enriched.items() if k not in article or article[k] != v}


def _signature_text(signature: np.ndarray | None) -> str | None:
    """A MinHash signature as base64 of little-endian uint32 (its values are 32-bit hashes)."""
    if signature is None:
        return None
    if signature.size and int(signature.max()) >= 1 << 32:
        raise ValueError("a MinHash value beyond 32 bits")
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def signature_of(text: str | None) -> np.ndarray | None:
    return None if text is None else np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint64)


def fingerprint_fields(body: str, dedup: DedupSettings) -> dict[str, Any]:
    """The body's fingerprint as the story index computes it (:meth:`BaseStoryIndex._fingerprint`)."""
    from indexing.fingerprint import signed

    found = signed(body or "", num_perm=dedup.minhash_permutations, shingle_size=dedup.shingle_size,
                   min_words=dedup.min_words, max_words=dedup.signature_max_words)
    return {"body_hash": found.body_hash, "words": found.words, "signature": _signature_text(found.signature)}


def prepare(article: Mapping[str, Any], dedup: DedupSettings) -> dict[str, Any]:
    """Both parts for one article (``Article.to_dict()``), each with its stamp."""
    return {"enrichment": {"stamp": enrichment_stamp(), "fields": enrichment_fields(article)},
            "fingerprint": {"stamp": fingerprint_stamp(dedup), **fingerprint_fields(article.get("body") or "", dedup)}}


def _loaded(dedup: DedupSettings) -> None:
    """The topics, the gazetteer and the MinHash permutations, loaded once per file version."""
    from indexing.enrich import load_gazetteer, load_topics
    from indexing.fingerprint import permutations32

    load_topics()
    load_gazetteer()
    permutations32(dedup.minhash_permutations)


def prepare_article(article: Any, dedup: DedupSettings) -> dict[str, Any] | None:
    """:func:`prepare` of an extracted ``Article`` the enrich stage will take (``ok``, or a paywall
    teaser with a body); None when there is nothing to prepare or preparing failed (the enrich
    stage then does it, and meets the same problem where it reports it)."""
    try:
        _loaded(dedup)  # on a worker's warm-up page already (cached: a few stat calls after that)
        if article.status != "ok" and not (article.status_reason == "paywall" and article.body):
            return None
        return prepare(article.to_dict(), dedup)
    except Exception as exc:  # noqa: BLE001 - e.g. a broken topics file: the enrich stage reports it
        log.debug("not prepared ahead: %s", exc)
        return None


def usable(prepared: Any, part: str, stamp: str) -> dict[str, Any] | None:
    """``prepared[part]`` when it carries ``stamp``, else None (computed again)."""
    if not isinstance(prepared, Mapping):
        return None
    found = prepared.get(part)
    return found if isinstance(found, dict) and found.get("stamp") == stamp else None


__all__ = ["enrichment_fields", "enrichment_stamp", "fingerprint_fields", "fingerprint_stamp",
           "prepare", "prepare_article", "signature_of", "usable"]
