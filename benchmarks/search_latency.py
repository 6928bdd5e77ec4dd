"""Search latency: p50/p95 of warwatch ``search()`` for 20 representative queries over 100,000
generated multilingual articles on the local node.

Usage: python benchmarks/search_latency.py [--docs 100000] [--rounds 5] [--keep] [--prefix bench-] [--hybrid]

Articles are generated in German, English, French, Ukrainian and Russian from the real gazetteer
(config/entities.yaml: names per language) and topic terms (config/topics.yaml), with filler
sentences from per-language news vocabulary; their topics/entities fields are set from what was
put in (running the matcher over 100k texts would only slow the set-up). Queries are timed
end-to-end through ``search()`` (expansion, request, parsing), with highlights, after two
warm-up rounds. Goal: p95 < 50 ms on this machine.

``--hybrid`` also times hybrid retrieval (indexing/embeddings): every article gets a vector
first. Embedding 100,000 generated texts with the bundled model would take hours here, so they
get random unit vectors (seeded) under the configured model's name: the cost of ranking them
(client-side matrix on OpenSearch, kNN on Elasticsearch) does not depend on their values, and
query vectors come from the real model. Three modes are timed alternately on the same index:
keyword only, hybrid with the query's vector cached (a repeated query, a watch), and hybrid
with the model run for every query (the cache emptied before each search).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, whatever is installed

from indexing.settings import get_settings  # noqa: E402

LANGS = ("de", "en", "fr", "uk", "ru")
VOCAB = {
    "de": "Regierung Angriff Stadt Region Bericht Minister Armee Front Dorf Behörden Nacht Verletzte Hilfe Strom "
          "Verhandlungen Präsident Sicherheit Lage Bevölkerung Soldaten Offensive Verteidigung Westen Waffen "
          "Unterstützung Sprecher erklärte meldete am Montag nach Angaben laut zudem weiterhin heute".split(),
    "en": "government attack city region report minister army front village authorities night injured aid power "
          "talks president security situation population soldiers offensive defence west weapons support "
          "spokesman said reported on Monday according to also still today".split(),
    "fr": "gouvernement attaque ville région rapport ministre armée front village autorités nuit blessés aide "
          "électricité négociations président sécurité situation population soldats offensive défense Occident "
          "armes soutien porte-parole a déclaré lundi selon aussi toujours aujourd'hui".split(),
    "uk": "уряд атака місто область звіт міністр армія фронт село влада ніч поранені допомога світло "
          "переговори президент безпека ситуація населення солдати наступ оборона Захід зброя підтримка "
          "речник заявив повідомив у понеділок за даними також досі сьогодні".split(),
    "ru": "правительство атака город область доклад министр армия фронт село власти ночь раненые помощь свет "
          "переговоры президент безопасность ситуация население солдаты наступление оборона Запад оружие "
          "поддержка представитель заявил сообщил в понедельник по данным также всё ещё сегодня".split(),
}
QUERIES = [
    "North Korean troops", "nordkoreanische Truppen", "Nordkorea Kursk", "troupes nord-coréennes",
    "drone attack Odesa", "Drohnenangriff Odessa", "prisoner exchange", "Gefangenenaustausch",
    "sanctions oil", "Sanktionen", "weapons deliveries", "Waffenlieferungen", "Zelensky", "Selenskyj Putin",
    "energy infrastructure attacks", "Kursk offensive", "Kharkiv", "Зеленський", "Курськ", '"Mark Rutte"',
]
#: queries whose every word no generated article has (a made-up word among real ones): no keyword
#: hit carries the whole query, so hybrid fusion has no anchor and reads title vectors too
#: (benchmarks/hybrid_profile.py, latency_ab.py: ``--no-anchor``)
NO_ANCHOR_QUERIES = [
    "Kursk Zorblat", "Truppen Quintavex", "drone Brexlandia", "Selenskyj Vortigan", "sanctions Plumbrook",
    "Odesa Marvilan", "prisoner Gnarfeld", "Kharkiv Tesselow", "Зеленський Квінтавекс", "Putin Oberwaldt",
]


def generate(n: int, seed: int = 7, *, start_at: int = 0) -> Iterator[dict[str, Any]]:
    """Index documents ``start_at`` .. ``n - 1`` (as ``article_to_document`` makes them); each
    from its own seed, so any range is the same documents whichever process makes it."""
    from indexing.enrich import load_gazetteer, load_topics
    from indexing.index.documents import article_to_document

    topics = list(load_topics().topics.values())
    terms = {t.id: t.plain_terms() for t in topics}
    gazetteer = load_gazetteer()
    entities = list(gazetteer.entities.values())
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(start_at, n):
        rnd = random.Random(seed * 10_000_019 + i)
        lang = LANGS[i % len(LANGS)]
        words = VOCAB[lang]
        topic = rnd.choice(topics) if rnd.random() < 0.6 else None
        ents = rnd.sample(entities, rnd.randint(1, 4))
        names = [e.labels.get(lang) or e.name for e in ents]
        sentences = []
        for _ in range(rnd.randint(8, 25)):
            sent = rnd.sample(words, rnd.randint(6, 14))
            if rnd.random() < 0.3:
                sent.insert(rnd.randrange(len(sent)), rnd.choice(names))
            if topic and rnd.random() < 0.15 and terms[topic.id].get(lang):
                sent.insert(rnd.randrange(len(sent)), rnd.choice(terms[topic.id][lang]))
            sentences.append(" ".join(sent).capitalize() + ".")
        title_bits = [rnd.choice(names)] + rnd.sample(words, 5)
        if topic and terms[topic.id].get(lang):
            title_bits.insert(1, rnd.choice(terms[topic.id][lang]))
        body = "\n\n".join(" ".join(sentences[j:j + 4]) for j in range(0, len(sentences), 4))
        published = start + timedelta(minutes=rnd.randrange(60 * 24 * 365))
        enrichment = {
            "topics": [topic.id] if topic else [],
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "lat": getattr(e, "lat", None),
                          "lon": getattr(e, "lon", None)} for e in ents],
            "entity_mentions": {e.id: rnd.randint(1, 5) for e in ents},
        }
        yield article_to_document(
            {"title": " ".join(title_bits), "body": body, "language": lang, "published": published.isoformat()},
            source=f"bench-{lang}-{i % 40}", url=f"https://bench-{i % 40}.example/{lang}/article-{i}",
            fetched_at=published, enrichment=enrichment,
        )


def with_vectors(engine: Any, docs: Iterator[dict[str, Any]], seed: int = 13, *,
                 start_at: int = 0) -> Iterator[dict[str, Any]]:
    """``docs`` (numbered from ``start_at``) with random unit vectors under the configured
    model's name (the docstring says why), each from its own seed."""
    import numpy as np

    from indexing.embeddings import get_embedder
    from indexing.index.setup import articles_alias

    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None, "--hybrid needs an embeddings backend"
    _map_vectors(engine, articles_alias(get_settings().index_prefix), embedder.dim)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    for i, doc in enumerate(docs, start=start_at):
        v, t = np.random.default_rng((seed, i)).standard_normal((2, embedder.dim)).astype(np.float32)
        yield {**doc, **_vector_fields(engine, embedder.name, v, t), "embedded_at": (start + timedelta(seconds=i)).isoformat()}


def _map_vectors(engine: Any, alias: str, dim: int) -> None:
    from indexing.embeddings.vectors import ensure_vector_field
    from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD

    ensure_vector_field(engine, alias, EMBEDDING_FIELD, dim)
    ensure_vector_field(engine, alias, TITLE_EMBEDDING_FIELD, dim, searchable=False)


def _vector_fields(engine: Any, model: str, vector: Any, title: Any) -> dict[str, Any]:
    """An article's vector and title vector (random: the docstring says why) as the embedding
    stage writes them: with both models set the article is not pending any more, and the
    fusion's title closeness reads title vectors as it does on a real index."""
    import numpy as np

    from indexing.embeddings.vectors import encode_vector, knn_plugin
    from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD, TITLE_MODEL_FIELD

    # OpenSearch with the k-NN plugin: the templates give the index ``index.knn``, so the field is a knn_vector
    floats = engine.flavor == "elasticsearch" or knn_plugin(engine)
    return {EMBEDDING_FIELD: encode_vector(engine, vector / np.linalg.norm(vector), floats=floats), "embedding_model": model,
            TITLE_EMBEDDING_FIELD: encode_vector(engine, title / np.linalg.norm(title)), TITLE_MODEL_FIELD: model}


def attach_vectors(engine: Any, alias: str, *, seed: int = 11, page: int = 1000) -> int:
    """Random unit vectors for every article without one (see the module docstring)."""
    import numpy as np

    from indexing.embeddings import get_embedder
    from indexing.embeddings.stage import pending_query

    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None, "--hybrid needs an embeddings backend"
    _map_vectors(engine, alias, embedder.dim)
    rnd = np.random.default_rng(seed)
    done, after = 0, None
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(10_000):  # bounded: 10M articles
        body: dict[str, Any] = {"query": pending_query(embedder.name), "size": page, "_source": False,
                                "sort": [{"id": "asc"}], "track_total_hits": False}
        if after:
            body["search_after"] = after
        hits = engine.search(alias, body)["hits"]["hits"]
        if not hits:
            break
        after = hits[-1]["sort"]
        vecs = rnd.standard_normal((len(hits), 2, embedder.dim)).astype(np.float32)
        ops: list[dict[str, Any]] = []
        for h, (v, t) in zip(hits, vecs, strict=True):
            done += 1
            ops += [{"update": {"_index": h["_index"], "_id": h["_id"]}},
                    {"doc": {**_vector_fields(engine, embedder.name, v, t),
                             "embedded_at": (start + timedelta(seconds=done)).isoformat()}}]
        engine.bulk(ops)
    engine.refresh(alias)
    return done


def _load_block(job: tuple[str, int, int, bool]) -> tuple[int, int, int, float]:
    """One loader process's share: articles ``start`` .. ``stop - 1`` (with vectors when
    ``hybrid``) through the real bulk path. Returns (start, indexed, failed, seconds)."""
    prefix, start, stop, hybrid = job
    from benchmarks.common import engine_for_prefix
    from indexing.index.bulk import index_documents

    t0 = time.perf_counter()
    engine = engine_for_prefix(prefix)
    docs = generate(stop, start_at=start)
    if hybrid:
        docs = with_vectors(engine, docs, start_at=start)
    counts = index_documents(engine, docs, track_versions=False, chunk_size=500, settings=get_settings())
    engine.close()
    return start, counts["indexed"], counts["failed"], time.perf_counter() - t0


def _put_settings(engine: Any, index: str, settings: dict[str, Any]) -> None:
    if engine.flavor == "elasticsearch":
        engine.client.indices.put_settings(index=index, settings=settings)
    else:
        engine.client.indices.put_settings(index=index, body=settings)


def load(engine: Any, alias: str, args: argparse.Namespace) -> None:
    """Index ``args.docs`` generated articles as a backfill would: refresh off during the load,
    ``args.workers`` loader processes (one generates while another waits on the engine), then
    refresh back on and a force-merge to ``args.segments`` segments (what a deployment does
    after a backfill: fewer segments, fewer HNSW graphs to search)."""
    import multiprocessing

    from indexing.embeddings import get_embedder
    from indexing.embeddings.vectors import ensure_vector_field
    from indexing.index.templates import EMBEDDING_FIELD

    index = next(iter(engine.get_alias(alias)))
    if args.hybrid:  # once, before the loaders race to map it
        embedder = get_embedder(get_settings().embeddings)
        assert embedder is not None, "--hybrid needs an embeddings backend"
        ensure_vector_field(engine, alias, EMBEDDING_FIELD, embedder.dim)
    _put_settings(engine, index, {"index": {"refresh_interval": "-1"}})
    t0 = time.perf_counter()
    block = max(1000, min(50_000, args.docs // (4 * args.workers) or 1))
    jobs = [(args.prefix, s, min(args.docs, s + block), args.hybrid) for s in range(0, args.docs, block)]
    indexed = failed = 0
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for start, n_ok, n_failed, secs in pool.imap_unordered(_load_block, jobs):
            indexed, failed = indexed + n_ok, failed + n_failed
            print(f"  block {start}: {n_ok} indexed, {n_failed} failed in {secs:.0f}s; "
                  f"{indexed}/{args.docs} after {time.perf_counter() - t0:.0f}s", flush=True)
    _put_settings(engine, index, {"index": {"refresh_interval": "1s"}})
    engine.refresh(alias)
    print(f"indexed {indexed} generated articles in {time.perf_counter() - t0:.0f}s ({failed} failed)", flush=True)
    t0 = time.perf_counter()
    if engine.flavor == "elasticsearch":
        engine.client.options(request_timeout=6 * 3600).indices.forcemerge(index=index, max_num_segments=args.segments)
    else:
        engine.client.indices.forcemerge(index=index, max_num_segments=args.segments, request_timeout=6 * 3600)
    print(f"force-merged {index} to {args.segments} segment(s) in {time.perf_counter() - t0:.0f}s", flush=True)


def time_modes(engine: Any, rounds: int, hybrid: bool) -> dict[str, list[float]]:
    """End-to-end milliseconds per search and mode, modes alternating query by query."""
    from indexing.embeddings import retrieval
    from indexing.search import neutralise_colons, search
    from tests.indexing.search_corpus import search_options

    modes = ["keyword"] + (["hybrid, query vector cached", "hybrid, model per query"] if hybrid else [])
    for _ in range(2):  # warm-up: caches, JIT, expansion config loading, the vector matrix
        for q in QUERIES:
            for mode in modes:
                search(q, engine=engine, hybrid=mode != "keyword", **search_options(get_settings()))
    out: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(rounds):
        for q in QUERIES:
            for mode in modes[r % len(modes):] + modes[: r % len(modes)]:
                if mode == "hybrid, model per query":  # this query's vector only: the cached mode keeps its own
                    for key in [k for k in retrieval._QUERY_CACHE if k[1] == " ".join(neutralise_colons(q).split())]:
                        del retrieval._QUERY_CACHE[key]
                t = time.perf_counter()
                res = search(q, engine=engine, hybrid=mode != "keyword", **search_options(get_settings()))
                out[mode].append((time.perf_counter() - t) * 1000)
                assert mode == "keyword" or res.retrieval == "hybrid", (q, mode)
    return out


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prefix", default="bench-search-")
    parser.add_argument("--keep", action="store_true", help="keep the index (re-use it on the next run)")
    parser.add_argument("--hybrid", action="store_true", help="also time hybrid retrieval (see the docstring)")
    parser.add_argument("--workers", type=int, default=2, help="loader processes (default 2)")
    parser.add_argument("--segments", type=int, default=1, help="force-merge to this many segments after a load")
    args = parser.parse_args(argv)
    from benchmarks.bare_es import BareSearchEngine, bare_component_templates, is_bare
    from benchmarks.common import engine_for_prefix
    from indexing.index import templates
    from indexing.index.setup import articles_alias, setup_indices

    engine = engine_for_prefix(args.prefix)
    bare = is_bare(engine)
    if bare:  # Elastic's bare test build: the templates without analysis-common/mapper-extras
        full = templates.component_templates
        with mock.patch.object(templates, "component_templates", lambda p, **kw: bare_component_templates(full(p, **kw))):
            setup_indices(engine, get_settings().index_prefix)
    else:
        setup_indices(engine, get_settings().index_prefix)
    alias = articles_alias(get_settings().index_prefix)
    if engine.count(alias) < args.docs:
        load(engine, alias, args)
    print(f"{engine.count(alias)} articles in {alias} on {engine}"
          f"{' (bare Elasticsearch: benchmarks/bare_es.py)' if bare else ''}", flush=True)
    if bare:
        engine = BareSearchEngine(engine)
    if args.hybrid:
        t0 = time.perf_counter()
        print(f"attached vectors to {attach_vectors(engine, alias)} articles in {time.perf_counter() - t0:.0f}s")
    timings = time_modes(engine, args.rounds, args.hybrid)
    p95 = {mode: _percentile(values, 95) for mode, values in timings.items()}
    for mode, values in timings.items():
        print(f"{mode:<28}: p50 {_percentile(values, 50):.1f} ms, p95 {p95[mode]:.1f} ms over {len(values)} "
              f"searches; goal p95 < 50 ms {'met' if p95[mode] < 50 else 'NOT met'}")
    if not args.keep:
        for idx in list(engine.get_alias(alias)) + [f"{args.prefix}article-versions"]:
            engine.delete_index(idx)
    return 0 if all(v < 50 for v in p95.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
