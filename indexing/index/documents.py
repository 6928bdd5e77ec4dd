"""From a cleaned (and enriched) article to the document stored in the articles index.

The document carries at least the CONTRACT.md fields (url, canonical_url, title, body, language,
source, published, fetched_at, topics, entities, story_id) plus the per-language copies of
title/lead/body (templates.py explains why), the names as transliteration skeletons
(``names_translit``, translit.py), entity details for facets and the map, and a
content hash used to detect edits (versions.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from indexing.dates import parse_iso
from indexing.index.labels import label_fields
from indexing.index.templates import TEXT_FIELDS, lang_field
from indexing.translit import name_tokens
from indexing.urls import canonicalize_url, doc_id

log = logging.getLogger(__name__)


class DocumentError(ValueError):
    """The article cannot become a document (no usable URL)."""


def iso_datetime(value: Any) -> str | None:
    """ISO 8601 in UTC (UTC assumed when the value has no zone), or None for unusable values
    (``indexing.dates.parse_iso``)."""
    if value is None or value == "":
        return None
    dt = parse_iso(value)
    if dt is None:
        log.debug("unparseable date %r dropped", value)
        return None
    return dt.isoformat()


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    out: list[str] = []
    for v in value:
        s = (v.get("id") or v.get("name") or v.get("label")) if isinstance(v, Mapping) else v
        if s is not None and str(s).strip():
            out.append(str(s).strip())
    return list(dict.fromkeys(out))


def _coords(entity: Mapping[str, Any]) -> dict[str, float] | None:
    lat = entity.get("lat")
    lon = entity.get("lon", entity.get("lng"))
    for key in ("location", "coordinates", "coords", "geo"):
        v = entity.get(key)
        if isinstance(v, Mapping):
            lat, lon = v.get("lat", lat), v.get("lon", v.get("lng", lon))
        elif isinstance(v, (list, tuple)) and len(v) == 2:
            lat, lon = v[0], v[1]  # the gazetteer writes [lat, lon]
    try:
        flat, flon = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(flat) and math.isfinite(flon) and -90 <= flat <= 90 and -180 <= flon <= 180):
        return None
    return {"lat": round(flat, 5), "lon": round(flon, 5)}


_TYPE_BUCKETS = {
    "person": "people", "per": "people", "people": "people",
    "organization": "organizations", "organisation": "organizations", "org": "organizations",
    "place": "places", "location": "places", "loc": "places", "gpe": "places", "country": "places",
    "city": "places", "region": "places",
}


#: the spellings enrichments used to write next to the mapping's (read, never written)
_OLD_SPELLINGS = {"people": "persons", "organizations": "organisations"}


def _bucket(enrichment: Mapping[str, Any], key: str) -> list[str]:
    """The names of one type, under the mapping's spelling or, in an enrichment written before,
    the other one."""
    value = enrichment.get(key)
    if value is None and key in _OLD_SPELLINGS:
        value = enrichment.get(_OLD_SPELLINGS[key])
    return _str_list(value)


def entity_fields(enrichment: Mapping[str, Any]) -> dict[str, Any]:
    """``entity_ids``, ``entities`` (names and labels), ``people``/``organizations``/``places``, ``locations``.

    Takes what enrichment gives: either ready fields (``entities`` as names, ``entity_ids``,
    ``locations``...) or ``entities`` as dicts ``{"id", "name", "labels", "type", "lat", "lon"}``.
    """
    raw = enrichment.get("entities") or []
    ids: list[str] = _str_list(enrichment.get("entity_ids"))
    names: list[str] = []
    canonical: list[str] = []
    buckets: dict[str, list[str]] = {k: _bucket(enrichment, k) for k in ("people", "organizations", "places")}
    locations: list[dict[str, float]] = []
    for loc in enrichment.get("locations") or []:
        c = _coords(loc if isinstance(loc, Mapping) else {"coords": loc})
        if c and c not in locations:
            locations.append(c)
    for ent in raw:
        if isinstance(ent, str):
            names.append(ent)
            continue
        if not isinstance(ent, Mapping):
            continue
        eid = ent.get("id") or ent.get("name") or ent.get("label")
        if not eid:
            continue
        ids.append(str(eid))
        name = str(ent.get("name") or ent.get("label") or eid)
        names.append(name)
        canonical.append(name)
        labels = ent.get("labels")
        if isinstance(labels, Mapping):
            names.extend(str(v) for v in labels.values() if v)
        elif isinstance(labels, (list, tuple)):
            names.extend(str(v) for v in labels if v)
        bucket = _TYPE_BUCKETS.get(str(ent.get("type") or ent.get("kind") or "").lower())
        if bucket:
            buckets[bucket].append(name)
        loc = _coords(ent)
        if loc and loc not in locations:
            locations.append(loc)
    out: dict[str, Any] = {
        "entity_ids": list(dict.fromkeys(ids)),
        "entities": list(dict.fromkeys(names)),
        "locations": locations,
    }
    out.update({k: list(dict.fromkeys(v)) for k, v in buckets.items()})
    mentions = enrichment.get("entity_mentions")
    if isinstance(mentions, Mapping):
        clean = {str(k): float(v) for k, v in mentions.items()
                 if isinstance(v, (int, float)) and v > 0 and "." not in str(k)}
        if clean:
            out["entity_mentions"] = clean
    for passthrough in ("entity_canonical", "entity_types"):
        if enrichment.get(passthrough):
            out[passthrough] = list(enrichment[passthrough])
    if "entity_canonical" not in out and canonical:
        out["entity_canonical"] = list(dict.fromkeys(canonical))
    return out


def _topic_scores(topics: list[str], given: Any, texts: Mapping[str, str | None]) -> dict[str, float]:
    """``{topic id: strength}`` for the tagged topics: as enrichment gives it, or counted with the
    topic set's own matcher (how many topic terms occur in title, lead and body)."""
    if not topics:
        return {}
    if isinstance(given, Mapping):
        raw = {str(k): v.get("terms") if isinstance(v, Mapping) else v for k, v in given.items()}
    else:
        try:
            from indexing.enrich import load_topics
        except ImportError:
            return {}
        try:
            body = "\n\n".join(t for t in (texts.get("lead"), texts.get("body")) if t)
            raw = {k: v.get("terms") for k, v in load_topics().scores(texts.get("title") or "", body).items()}
        except (OSError, ValueError) as exc:  # a broken topics file is reported by enrichment itself
            log.debug("topic scores unavailable: %s", exc)
            return {}
    out: dict[str, float] = {}
    for tid in topics:
        v = raw.get(tid)
        if isinstance(v, (int, float)) and v > 0 and "." not in tid:
            out[tid] = float(v)
    return out


def content_hash(title: str | None, lead: str | None, body: str | None) -> str:
    h = hashlib.sha256()
    for part in (title, lead, body):
        h.update(" ".join((part or "").split()).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def _images(value: Any) -> list[dict[str, Any]]:
    out = []
    for img in value or []:
        if hasattr(img, "to_dict"):
            img = img.to_dict()
        if isinstance(img, Mapping) and img.get("src"):
            out.append({k: img.get(k) for k in ("src", "caption", "credit") if img.get(k)})
    return out


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    raise TypeError(f"cannot read {type(obj).__name__} as an article")


def _urls(article: Mapping[str, Any], url: str) -> tuple[str | None, str]:
    """The fetched URL (canonicalised) and the canonical URL (the page's own, else the fetched one)."""
    try:
        fetched_url = canonicalize_url(url) if url else None
    except ValueError:
        fetched_url = None
    canonical: str | None = None
    raw_canonical = article.get("canonical_url")
    if isinstance(raw_canonical, str) and raw_canonical.startswith(("http://", "https://")):
        try:
            canonical = canonicalize_url(raw_canonical)
        except ValueError:
            canonical = None
    canonical = canonical or fetched_url
    if not canonical:
        raise DocumentError(f"article without a usable URL (url={url!r}, canonical={raw_canonical!r})")
    return fetched_url, canonical


def _record(article: Mapping[str, Any], texts: Mapping[str, str | None], *, source: str,
            fetched_url: str | None, canonical: str, fetched_at: Any) -> dict[str, Any]:
    """The article's own fields: ids, URLs, dates, metadata."""
    return {
        "id": doc_id(canonical),
        "url": fetched_url or canonical,
        "canonical_url": canonical,
        "source": source,
        "site_name": article.get("site_name"),
        "section": article.get("section"),
        "tags": _str_list(article.get("tags")),
        "authors": _str_list(article.get("authors")),
        "language": (article.get("language") or "").lower() or None,
        "published": iso_datetime(article.get("published")),
        "modified": iso_datetime(article.get("modified")),
        "fetched_at": iso_datetime(fetched_at) or datetime.now(UTC).isoformat(),
        "images": _images(article.get("images")),
        "word_count": len((texts["body"] or "").split()),
        "access": "paywall_teaser" if article.get("status_reason") == "paywall" else "full",
        "content_hash": content_hash(texts["title"], texts["lead"], texts["body"]),
    }


def _text(doc: dict[str, Any], texts: Mapping[str, str | None]) -> None:
    """title/lead/body, their copies in the language's fields, the names' skeletons."""
    lf = lang_field(doc["language"])
    for name, text in texts.items():
        doc[name] = text
        if text:
            doc[f"{name}_{lf}"] = text
    # Names in a script-independent form (translit.py), for names the gazetteer does not know.
    doc["names_translit"] = " ".join(name_tokens(texts.values()))


def _tags(doc: dict[str, Any], article: Mapping[str, Any], enrichment: Mapping[str, Any],
          texts: Mapping[str, str | None]) -> None:
    """Topics, entities, story, their ranking signals and their labels in every language."""
    doc["topics"] = _str_list(enrichment.get("topics", article.get("topics")))
    doc["story_id"] = enrichment.get("story_id") or article.get("story_id")
    doc.update(entity_fields(enrichment if "entities" in enrichment else article))
    scores = _topic_scores(doc["topics"], enrichment.get("topic_scores"), texts)
    if scores:
        doc["topic_scores"] = scores
    doc.update(label_fields(doc["topics"], doc.get("entity_ids") or []))


#: CONTRACT fields: kept as null when unknown; other empty values are dropped (a smaller
#: _source, and "missing" means missing in Kibana too).
_ALWAYS = frozenset({"url", "canonical_url", "title", "body", "language", "source", "published", "fetched_at",
                     "topics", "entities", "story_id"})


def article_to_document(
    article_dict: Mapping[str, Any] | Any,
    *,
    source: str,
    url: str,
    fetched_at: str | datetime | None = None,
    enrichment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The index document of one article. ``enrichment`` may be the enriched article itself
    (``enrich(article)``): its ``topics``, ``entities`` and ``story_id`` are taken.

    Raises :class:`DocumentError` when neither ``url`` nor the article's canonical URL is usable.
    """
    article = _as_dict(article_dict)
    enrichment = dict(enrichment or {})
    fetched_url, canonical = _urls(article, url)
    texts = {f: (article.get(f) or None) for f in TEXT_FIELDS}
    doc = _record(article, texts, source=source, fetched_url=fetched_url, canonical=canonical,
                  fetched_at=fetched_at)
    _text(doc, texts)
    _tags(doc, article, enrichment, texts)
    return {k: v for k, v in doc.items() if k in _ALWAYS or v not in (None, "", [], {})}
