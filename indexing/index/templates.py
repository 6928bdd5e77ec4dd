"""Index templates: analysis settings and mappings for articles and their earlier versions.

Design
------
* Composable templates: component ``{prefix}index-settings``, ``{prefix}articles-mappings`` and
  ``{prefix}article-versions-mappings`` (each with the analysis it uses); index templates ``{prefix}articles`` (pattern
  ``{prefix}articles-v*``) and ``{prefix}article-versions``; ``{prefix}runs`` (pipeline figures per
  run and source, ``indexing/health``) and ``{prefix}changes`` (edits and takedowns,
  ``indexing/changes``) have their own. Installing them is idempotent (PUT).
* Per-language fields, chosen by the article's language at index time (documents.py copies the
  text into ``title_de``/``lead_de``/``body_de`` and so on): each language gets its own analyzer,
  so a query is stemmed the way each language's documents were. Multi-fields would run every
  analyzer over every article, producing wrongly stemmed tokens that match across languages.
  The generic ``title``/``lead``/``body`` stay indexed with the neutral analyzer (Kibana searches
  them), and everything is copied into ``text_all`` (not stored) for catch-all queries.
* Ukrainian: Elasticsearch has no Ukrainian analyzer without a plugin, and the Russian Snowball
  stemmer mangles Ukrainian (different vowels and endings: і/ї/є, -ові, -ів). ``ww_uk`` is a
  *light suffix stripper*: standard tokenizer, apostrophes unified (Ukrainian writes ʼ ’ ' inside
  words), lowercase, a Ukrainian stop list, then one ``pattern_replace`` that removes the longest
  common inflectional ending (noun/adjective cases, reflexive -ся) while keeping a stem of at
  least three letters. It conflates the case forms of a word (Курськ/Курська/Курській,
  солдати/солдатів) with few false merges, and needs only analysis-common, present on both
  engines. "other" languages get the neutral ``ww_default`` (lowercase + ASCII folding).
* Names across scripts: ``names_translit`` holds a lossy Latin skeleton of every capitalised
  word (``Покровськ``, ``Pokrowsk`` and ``Pokrovsk`` all become ``pakravsk``, see
  ``indexing/translit.py``), so names the gazetteer does not know are found in every script.
* Ranking signals: ``entity_mentions`` and ``topic_scores`` are ``rank_features`` ({id: count}),
  so search can prefer articles *about* an entity or topic (mapper-extras: part of every
  Elasticsearch and OpenSearch distribution, though not of Elastic's bare integ-test-zip). Bodies
  use BM25 with ``b=0.4`` (``ww_body``): news reports are long for a reason.
* ``dynamic: false``: fields we did not map are kept in ``_source`` but not indexed, so a new
  key from extraction never makes the engine reject a document.

Bump :data:`MAPPING_VERSION` whenever the mapping or analysis changes incompatibly:
``warwatch es migrate`` then builds ``{prefix}articles-v{N}``, reindexes and flips the alias.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

#: The version of the articles mapping; the concrete index is ``{prefix}articles-v{MAPPING_VERSION}``.
MAPPING_VERSION = 2

#: Languages with their own analysed fields; anything else goes to ``*_other``.
LANGUAGES: tuple[str, ...] = ("de", "en", "fr", "ru", "uk", "pl", "es")
LANG_FIELDS: tuple[str, ...] = (*LANGUAGES, "other")
TEXT_FIELDS: tuple[str, ...] = ("title", "lead", "body")

_APOSTROPHE_MAP = ["’=>'", "ʼ=>'", "‘=>'", "`=>'", "´=>'", "ʹ=>'"]

# Ukrainian inflectional endings, longest first for readability; the lazy stem in the pattern
# below makes the engine remove the longest one that leaves >= 3 letters anyway.
_UK_ENDINGS = [
    "ськими", "ського", "ському", "ських", "ьому", "ього", "ями", "ами", "ові", "еві", "єві",
    "ого", "ому", "ими", "іми", "ися", "ася", "ося", "ись", "ися", "ий", "ій", "ої", "ою", "ею",
    "єю", "ях", "ах", "ів", "їв", "ам", "ям", "ом", "ем", "єм", "им", "ім", "их", "іх", "ей",
    "ся", "сь", "а", "я", "у", "ю", "і", "ї", "и", "о", "е", "є", "ь",
]
UK_STEM_PATTERN = "^(.{3,}?)(?:" + "|".join(dict.fromkeys(_UK_ENDINGS)) + ")$"

# Polish: core OpenSearch/Elasticsearch have no Polish analyzer (Stempel is a plugin, published
# for OpenSearch 3.8 as a bare jar only). ``ww_pl`` strips the commonest case endings the same way
# as ``ww_uk`` (a stem of >= 4 letters stays): kraj/kraju/krajem, uchodźców/uchodźcy.
_PL_ENDINGS = [
    "owego", "owych", "owymi", "ami", "ach", "owi", "ego", "emu", "ymi", "imi", "ych", "ich", "iem",
    "ów", "om", "em", "ie", "ia", "iu", "ej", "ym", "im", "ą", "ę", "a", "y", "i", "u", "o", "e",
]
PL_STEM_PATTERN = "^(.{4,}?)(?:" + "|".join(dict.fromkeys(_PL_ENDINGS)) + ")$"
PL_STOPWORDS = [
    "i", "w", "z", "na", "do", "się", "że", "nie", "to", "jest", "o", "od", "po", "za", "dla", "jak",
    "oraz", "ze", "a", "przez", "ale", "czy", "już", "jego", "jej", "ich", "tym", "ten", "ta", "te",
]

UK_STOPWORDS = [
    "і", "й", "та", "в", "у", "на", "з", "із", "зі", "до", "за", "що", "як", "не", "ні", "по", "про",
    "від", "для", "при", "це", "цей", "ця", "ці", "той", "та", "ті", "його", "її", "їх", "він", "вона",
    "воно", "вони", "ми", "ви", "я", "ти", "але", "а", "чи", "або", "же", "ж", "б", "би", "вже", "ще",
    "так", "також", "тому", "бо", "який", "яка", "яке", "які", "де", "коли", "щоб", "ніж", "під", "над",
    "між", "через", "після", "перед", "без", "біля", "був", "була", "було", "були", "є", "бути",
]


def analysis_settings() -> dict[str, Any]:
    return {
        "char_filter": {
            "ww_apostrophes": {"type": "mapping", "mappings": _APOSTROPHE_MAP},
        },
        "filter": {
            "ww_uk_stop": {"type": "stop", "stopwords": UK_STOPWORDS},
            "ww_uk_stem": {"type": "pattern_replace", "pattern": UK_STEM_PATTERN, "replacement": "$1"},
            "ww_pl_stop": {"type": "stop", "stopwords": PL_STOPWORDS},
            "ww_pl_stem": {"type": "pattern_replace", "pattern": PL_STEM_PATTERN, "replacement": "$1"},
        },
        "analyzer": {
            "ww_default": {
                "type": "custom",
                "tokenizer": "standard",
                "char_filter": ["ww_apostrophes"],
                "filter": ["lowercase", "asciifolding"],
            },
            "ww_uk": {
                "type": "custom",
                "tokenizer": "standard",
                "char_filter": ["ww_apostrophes"],
                "filter": ["lowercase", "ww_uk_stop", "ww_uk_stem"],
            },
            "ww_pl": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "ww_pl_stop", "ww_pl_stem"],
            },
        },
        "normalizer": {
            "ww_lower": {"type": "custom", "filter": ["lowercase", "asciifolding"]},
        },
    }


def similarity_settings() -> dict[str, Any]:
    # BM25 with b=0.4 instead of 0.75 for article bodies: news reports are long for a reason.
    return {"ww_body": {"type": "BM25", "k1": 1.2, "b": 0.4}}


#: Analyzer per language field: the engines' built-in language analyzers where they exist.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "de": "german",
    "en": "english",
    "fr": "french",
    "ru": "russian",
    "uk": "ww_uk",
    "pl": "ww_pl",
    "es": "spanish",
    "other": "ww_default",
}


def _keyword(**extra: Any) -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024, **extra}


def _language_field(lang: str, *, body: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "text", "analyzer": LANGUAGE_ANALYZERS[lang]}
    if body:
        # Offsets in the postings make highlighting long bodies cheap; weaker length
        # normalisation keeps full reports from losing against two-line briefs.
        field["index_options"] = "offsets"
        field["similarity"] = "ww_body"
    return field


def _text_fields() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        generic: dict[str, Any] = {"type": "text", "analyzer": "ww_default", "copy_to": "text_all"}
        if name == "title":
            generic["fields"] = {"raw": _keyword(ignore_above=512)}
        props[name] = generic
        for lang in LANG_FIELDS:
            props[f"{name}_{lang}"] = _language_field(lang, body=name == "body")
    props["text_all"] = {"type": "text", "analyzer": "ww_default"}
    # Proper names as script-independent skeletons (indexing/translit.py), computed in Python and
    # joined by spaces: the built-in whitespace analyzer needs no analysis settings (so the field
    # can be added to a live index), no norms (an article naming many places is not penalised),
    # frequencies but no positions (single-term matches only).
    props["names_translit"] = {"type": "text", "analyzer": "whitespace", "norms": False,
                               "index_options": "freqs"}
    return props


def _label_fields() -> dict[str, Any]:
    """``labels_{lang}``: the article's topic and entity labels in every language (labels.py),
    each analysed the way its language is; no norms (many tags are no reason to rank lower)."""
    return {f"labels_{lang}": {**_language_field(lang), "norms": False} for lang in LANG_FIELDS}


#: The fields a query without field names searches (``index.query.default_field``): what
#: Kibana's search bar sends. Article text in every language, and the labels of its topics and
#: entities, so "North Korean troops" finds German coverage tagged with that topic.
DEFAULT_QUERY_FIELDS: tuple[str, ...] = (
    *TEXT_FIELDS, *(f"{name}_*" for name in TEXT_FIELDS), "labels_*",
)

#: Where vectors live (indexing/embeddings): ``embedding`` itself is mapped by the engine adapter
#: when vectors are first written (its size depends on the model, its type on the engine).
EMBEDDING_FIELD = "embedding"
#: ... and the title's own vector (hybrid fusion's title closeness, indexing/embeddings/titles.py),
#: written with it; never searched by kNN (not indexed as one)
TITLE_EMBEDDING_FIELD = "title_embedding"
#: both: a migration maps them in the new index as the old one does (vectors.carry_vector_fields)
VECTOR_FIELDS = (EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD)
#: the model of the title vector (the stage's work list: articles without one of the configured model)
TITLE_MODEL_FIELD = "title_embedding_model"


def _tag_fields() -> dict[str, Any]:
    return {
        "topics": _keyword(),
        "entity_ids": _keyword(),
        "entities": _keyword(copy_to="text_all"),
        "entity_canonical": _keyword(),
        # How often each entity is mentioned ({id: count}): lets search prefer articles *about*
        # the query's entities over ones naming them in passing (rank_feature queries).
        "entity_mentions": {"type": "rank_features"},
        # How strongly each tagged topic is present ({id: topic term hits}): graded topic ranking.
        "topic_scores": {"type": "rank_features"},
        "entity_types": _keyword(),
        "people": _keyword(),
        "organizations": _keyword(),
        "places": _keyword(),
        "locations": {"type": "geo_point"},
        "story_id": _keyword(),
        "duplicate_of": _keyword(),
        # Which model embedded the article and when (indexing/embeddings): articles without a
        # vector of the configured model are the embedding stage's work list.
        "embedding_model": _keyword(),
        "title_embedding_model": _keyword(),
        "embedded_at": {"type": "date"},
    }


def _record_fields() -> dict[str, Any]:
    return {
        **{name: _keyword() for name in ("id", "url", "canonical_url", "source", "site_name", "section",
                                         "tags", "authors", "language", "content_hash", "access", "warc_file",
                                         "run_id", "removal", "removal_change_id")},
        # the capture the document was made from (indexing/changes: change records point at it)
        "warc_offset": {"type": "long"},
        # a confirmed takedown marks the article (it stays searchable): removed, removal (the kind)
        "removed": {"type": "boolean"},
        # access: "full", or "paywall_teaser": the page showed only the start of the article.
        "version": {"type": "integer"},
        "word_count": {"type": "integer"},
        **{name: {"type": "date"} for name in ("published", "modified", "fetched_at", "first_seen", "indexed_at",
                                               "removed_at", "restored_at")},
        "images": {
            "type": "object",
            "properties": {
                "src": _keyword(),
                "caption": {"type": "text", "analyzer": "ww_default"},
                "credit": _keyword(),
            },
        },
    }


def article_mappings() -> dict[str, Any]:
    props: dict[str, Any] = {**_record_fields(), **_tag_fields(), **_text_fields(), **_label_fields()}
    return {
        "dynamic": False,
        "_meta": {"mapping_version": MAPPING_VERSION, "owner": "warwatch"},
        "properties": props,
    }


def version_mappings() -> dict[str, Any]:
    return {
        "dynamic": False,
        "_meta": {"owner": "warwatch"},
        "properties": {
            "doc_id": _keyword(),
            "version": {"type": "integer"},
            "url": _keyword(),
            "canonical_url": _keyword(),
            "source": _keyword(),
            "language": _keyword(),
            "title": {"type": "text", "analyzer": "ww_default"},
            "body": {"type": "text", "analyzer": "ww_default"},
            "lead": {"type": "text", "analyzer": "ww_default"},
            "content_hash": _keyword(),
            "published": {"type": "date"},
            "modified": {"type": "date"},
            "fetched_at": {"type": "date"},
            "first_seen": {"type": "date"},
            "replaced_at": {"type": "date"},
            "changes": _keyword(),
            "kinds": _keyword(),
            "change_id": _keyword(),
            "warc_file": _keyword(),
            "warc_offset": {"type": "long"},
        },
    }


def changes_mappings() -> dict[str, Any]:
    """``{prefix}changes``: one record per edit or takedown (``indexing/changes/records.py``)."""
    capture = {"properties": {"warc_file": _keyword(), "warc_offset": {"type": "long"}, "fetched_at": {"type": "date"}}}
    number = {"properties": {"before": _keyword(), "after": _keyword(), "before_value": {"type": "double"},
                             "after_value": {"type": "double"}, "context": {"type": "text", "analyzer": "ww_default"}}}
    return {
        "dynamic": False,
        "_meta": {"owner": "warwatch"},
        "properties": {
            **{name: _keyword() for name in ("id", "doc_id", "url", "canonical_url", "source", "language", "event",
                                             "kinds", "before", "after", "final_url", "run_id", "story_id",
                                             "topics", "entities")},
            "title": {"type": "text", "analyzer": "ww_default", "fields": {"raw": _keyword()}},
            "title_before": {"type": "text", "analyzer": "ww_default"},
            **{name: {"type": "date"} for name in ("detected_at", "first_seen")},
            **{name: {"type": "integer"} for name in ("version_before", "version_after", "status")},
            "known_article": {"type": "boolean"},
            "capture_before": capture,
            "capture_after": capture,
            "numbers": number,
            # [{kind, before, after, sentences, ...}]: kept for reading, searched through `kinds`
            "changes": {"type": "object", "enabled": False},
        },
    }


def runs_mappings() -> dict[str, Any]:
    """``{prefix}runs``: one document per run and source (``indexing/health/figures.py``)."""
    counts = ("found", "fetched", "new", "updated", "unchanged", "duplicates", "skipped_known", "not_modified",
              "robots_denied", "failed", "discovery_failed", "attempts", "archived", "extracted",
              "extraction_failed", "freshness_samples", "freshness_undated", "blocked",
              "revisits_due", "revisits_done", "revisits_overdue", "revisits_not_modified", "revisits_changed",
              "takedowns_suspected", "takedowns_confirmed",
              # pages that needed JavaScript (crawlers/downloadermiddlewares/render.py)
              "rendered", "render_failed", "render_unavailable", "render_capped")
    seconds = ("crawl_seconds", "clean_seconds", "enrich_seconds", "index_seconds", "freshness_lag_median_seconds",
               "freshness_lag_max_seconds")
    return {
        "dynamic": False,
        "_meta": {"owner": "warwatch"},
        "properties": {
            "run_id": _keyword(),
            "source": _keyword(),
            "started_at": {"type": "date"},
            "finished_at": {"type": "date"},
            "recorded_at": {"type": "date"},
            "finish_reason": _keyword(),
            **{name: {"type": "integer"} for name in counts},
            "bytes": {"type": "long"},
            "error_ratio": {"type": "float"},
            "blocked_ratio": {"type": "float"},
            **{name: {"type": "float"} for name in seconds},
            # {reason: count}: kept for reading, not indexed (reasons are open-ended: http_503, ...)
            "failures": {"type": "object", "enabled": False},
            "failure_reasons": _keyword(),
            "flags": _keyword(),
        },
    }


def component_templates(prefix: str, *, knn: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``{name: body}`` of the component templates; ``knn``: index settings articles indices get
    for vector search in the server (OpenSearch's ``index.knn``: ``vectors.knn_settings``).

    The analysis settings travel with each mappings component: a component template is
    validated on its own, so its mappings can only name analyzers it defines itself.
    """
    analysis = {"analysis": analysis_settings(), "similarity": similarity_settings()}
    return {
        f"{prefix}index-settings": {
            "template": {
                "settings": {
                    "index": {
                        "number_of_shards": 1,
                        "auto_expand_replicas": "0-1",
                        "refresh_interval": "1s",
                    },
                },
            },
            "_meta": {"owner": "warwatch"},
        },
        f"{prefix}articles-mappings": {
            "template": {"settings": {**analysis, "index": {"query": {"default_field": list(DEFAULT_QUERY_FIELDS)},
                                                            **(knn or {})}},
                         "mappings": article_mappings()},
            "_meta": {"owner": "warwatch", "mapping_version": MAPPING_VERSION},
        },
        f"{prefix}article-versions-mappings": {
            "template": {"settings": analysis, "mappings": version_mappings()},
            "_meta": {"owner": "warwatch"},
        },
        f"{prefix}runs-mappings": {
            "template": {"mappings": runs_mappings()},
            "_meta": {"owner": "warwatch"},
        },
        f"{prefix}changes-mappings": {
            "template": {"settings": analysis, "mappings": changes_mappings()},
            "_meta": {"owner": "warwatch"},
        },
    }


def index_templates(prefix: str) -> dict[str, dict[str, Any]]:
    """``{name: body}`` of the composable index templates."""
    return {
        f"{prefix}articles": {
            "index_patterns": [f"{prefix}articles-v*"],
            "composed_of": [f"{prefix}index-settings", f"{prefix}articles-mappings"],
            "priority": 200,
            "_meta": {"owner": "warwatch", "mapping_version": MAPPING_VERSION},
        },
        f"{prefix}article-versions": {
            "index_patterns": [f"{prefix}article-versions*"],
            "composed_of": [f"{prefix}index-settings", f"{prefix}article-versions-mappings"],
            "priority": 200,
            "_meta": {"owner": "warwatch"},
        },
        f"{prefix}runs": {
            "index_patterns": [f"{prefix}runs"],
            "composed_of": [f"{prefix}index-settings", f"{prefix}runs-mappings"],
            "priority": 200,
            "_meta": {"owner": "warwatch"},
        },
        f"{prefix}changes": {
            "index_patterns": [f"{prefix}changes"],
            "composed_of": [f"{prefix}index-settings", f"{prefix}changes-mappings"],
            "priority": 200,
            "_meta": {"owner": "warwatch"},
        },
    }


def lang_field(language: str | None) -> str:
    """The suffix of the language fields an article in ``language`` goes to."""
    lang = (language or "").lower().split("-")[0].split("_")[0]
    return lang if lang in LANGUAGES else "other"


@functools.cache
def mapped_fields() -> frozenset[str]:
    """Every field path of the articles mapping (``images.src``, ``title.raw`` included).
    Cached: the mapping is code, and search asks on every query."""
    out: set[str] = set()

    def walk(props: dict[str, Any], parent: str) -> None:
        for name, spec in props.items():
            path = f"{parent}{name}"
            out.add(path)
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            for sub in spec.get("fields", {}):
                out.add(f"{path}.{sub}")

    walk(article_mappings()["properties"], "")
    return frozenset(out)
