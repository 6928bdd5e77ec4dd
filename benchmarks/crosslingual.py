"""Cross-lingual search quality: recall@10 and look-alike ordering, with and without the
transliteration bridge for names (``names_translit``, indexing/translit.py), and with and
without hybrid retrieval (indexing/embeddings: keyword search fused with multilingual vectors).

Usage: python benchmarks/crosslingual.py [--prefix bench-xling-] [--background N] [--keep] [--show-misses]
                                         [--no-vectors] [--fixture dev|validation|both]

Two corpora in one index (each competes with the other's articles):

* the configured-story corpus below (topics, gazetteer names, names the gazetteer lacks);
* tests/fixtures/crosslingual: stories outside the topic list written natively in seven
  languages (de, en, fr, uk, ru, pl, es) with look-alikes, a few queries per language
  (tests/indexing/crosslingual_corpus.py), in two independent fixtures: ``stories.yaml`` (dev:
  what the retrieval was tuned on) and ``stories-validation.yaml`` (validation: written before
  any tuning, never tuned to). ``--fixture dev|validation|both`` (default both: indexed together,
  each competing with the other's articles). For each: recall@10 and precision@|relevant| (the
  share of the story's coverage among the first as-many-as-it-has hits), keyword only, hybrid,
  and the vector side alone (the query's nearest articles, nothing fused).

Ingest: articles/s of enrich + convert + index (what makes an article searchable by keyword),
and of the embedding stage (``embed_pending``) run after it, over the same articles.

Corpus: the stories of tests/indexing/search_corpus.py (each covered in de/en/fr/uk/ru, plus its
look-alikes) and the stories below, built around names a gazetteer may well not know (a
village, a commander, a ship), each with look-alikes that share words but not the name. Every
article is enriched, converted and indexed as the pipeline does it, on the local node.

For every story and every query (en, de, fr): recall@10 of the story's coverage, and whether all
the coverage found ranks above every look-alike. Printed side by side for ``search()`` with the
bridge (the default) and with ``translit=False``. Names the gazetteer knows are listed: those
stories are found through entity tags anyway and say little about the bridge.

``--background N`` puts the corpus among N generated articles (benchmarks/search_latency.py's
generator: five languages, gazetteer names, topic terms, capitalised German nouns), so common
words and names compete as they do in a real index. An index under ``--prefix`` that already
holds N articles is reused (``search_latency.py --keep --prefix P`` leaves one). The generator
writes thousands of articles tagged with the corpus stories' topics (North Korean troops, drones,
prisoners): among them recall@10 of a topic story measures the background, not the search; the
name stories (Ocheretyne, Tarnavskyi, Ivanovets) stay meaningful.
``--latency R`` then times search_latency.py's 20 queries plus this corpus's queries, R rounds,
with and without the bridge alternately (same index, same load), and prints p50/p95 of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexing.settings import get_settings
from tests.indexing import crosslingual_corpus, search_corpus  # noqa: E402

#: Stories around names that are not (or were not, when written) in config/entities.yaml.
EXTRA_STORIES: dict[str, dict[str, dict[str, str]]] = {
    "ocheretyne": {
        "en": {"title": "Russian troops enter Ocheretyne after weeks of assaults",
               "body": "Russian forces have entered the village of Ocheretyne north-west of Avdiivka, Ukrainian "
                       "officers said. Defenders of Ocheretyne were pushed back after a brigade rotation went "
                       "wrong."},
        "de": {"title": "Russische Truppen dringen in Otscheretyne ein",
               "body": "Russische Einheiten sind nach wochenlangen Angriffen in das Dorf Otscheretyne "
                       "eingedrungen, berichten ukrainische Offiziere. Die Verteidiger Otscheretynes mussten sich "
                       "zurückziehen."},
        "fr": {"title": "Les troupes russes entrent dans Otcheretyne",
               "body": "Les forces russes sont entrées dans le village d'Otcheretyne, au nord-ouest d'Avdiïvka, "
                       "selon des officiers ukrainiens. Les défenseurs ont dû reculer."},
        "uk": {"title": "Російські війська зайшли в Очеретине",
               "body": "Після тижнів штурмів російські підрозділи зайшли в село Очеретине, повідомили українські "
                       "офіцери. Захисники Очеретиного відійшли на нові позиції."},
        "ru": {"title": "Российские войска вошли в Очеретино",
               "body": "После нескольких недель штурмов российские подразделения вошли в посёлок Очеретино, "
                       "сообщают украинские офицеры. Защитники Очеретина отступили."},
    },
    "tarnavskyi": {
        "en": {"title": "General Tarnavskyi replaced as commander of the southern grouping",
               "body": "President Zelensky replaced General Oleksandr Tarnavskyi as commander of the Tavria "
                       "operational-strategic group. Tarnavskyi led the 2023 counter-offensive in the south."},
        "de": {"title": "General Tarnawskyj als Kommandeur im Süden abgelöst",
               "body": "Präsident Selenskyj hat General Olexandr Tarnawskyj als Kommandeur der Gruppe Tawrija "
                       "abgelöst. Tarnawskyj hatte die Gegenoffensive im Süden geführt."},
        "fr": {"title": "Le général Tarnavsky remplacé à la tête du groupement sud",
               "body": "Le président Zelensky a remplacé le général Oleksandr Tarnavsky à la tête du groupement "
                       "Tavria. Tarnavsky avait dirigé la contre-offensive dans le sud."},
        "uk": {"title": "Генерала Тарнавського замінили на посаді командувача",
               "body": "Президент Зеленський замінив генерала Олександра Тарнавського на посаді командувача "
                       "угруповання Таврія. Тарнавський керував контрнаступом на півдні."},
        "ru": {"title": "Генерала Тарнавского сменили на посту командующего",
               "body": "Президент Зеленский сменил генерала Александра Тарнавского на посту командующего "
                       "группировкой Таврия. Тарнавский руководил контрнаступлением на юге."},
    },
    "ivanovets": {
        "en": {"title": "Naval drones sink the Russian missile corvette Ivanovets",
               "body": "Ukrainian naval drones sank the Russian missile corvette Ivanovets in the Black Sea, "
                       "military intelligence said. The Ivanovets carried a crew of about forty."},
        "de": {"title": "Seedrohnen versenken russische Raketenkorvette Iwanowez",
               "body": "Ukrainische Seedrohnen haben die russische Raketenkorvette Iwanowez im Schwarzen Meer "
                       "versenkt, teilte der Militärgeheimdienst mit. Die Iwanowez hatte rund vierzig Mann "
                       "Besatzung."},
        "fr": {"title": "Des drones navals coulent la corvette russe Ivanovets",
               "body": "Des drones navals ukrainiens ont coulé la corvette lance-missiles russe Ivanovets en mer "
                       "Noire, selon le renseignement militaire. L'Ivanovets avait une quarantaine de marins à "
                       "bord."},
        "uk": {"title": "Морські дрони знищили російський ракетний корабель «Івановець»",
               "body": "Українські морські дрони знищили російський ракетний корабель «Івановець» у Чорному морі, "
                       "повідомила розвідка. На борту «Івановця» було близько сорока членів екіпажу."},
        "ru": {"title": "Морские дроны потопили ракетный корабль «Ивановец»",
               "body": "Украинские морские дроны потопили ракетный корабль «Ивановец» в Черном море, сообщила "
                       "разведка. На борту «Ивановца» находилось около сорока человек."},
    },
}

EXTRA_LOOKALIKES: list[dict[str, str]] = [
    {"language": "en", "title": "Russian troops enter a village near Toretsk",
     "body": "Russian forces entered a village north of Toretsk after weeks of assaults, Ukrainian officers said."},
    {"language": "uk", "title": "Російські війська зайшли в Прогрес",
     "body": "Після тижнів штурмів російські підрозділи зайшли в село Прогрес, повідомили офіцери."},
    {"language": "de", "title": "General im Süden: neuer Kommandeur ernannt",
     "body": "Präsident Selenskyj hat einen neuen Kommandeur für die Gruppe Süd ernannt. Der General war zuvor "
             "Stabschef."},
    {"language": "ru", "title": "Генерала Соколова сменили на посту командующего",
     "body": "Президент сменил генерала Соколова на посту командующего флотом."},
    {"language": "en", "title": "Naval drones hit Russian landing ship in Crimea",
     "body": "Ukrainian naval drones struck a Russian landing ship near Crimea, the navy said."},
    {"language": "fr", "title": "Une corvette française en escale à Constanța",
     "body": "Une corvette de la marine française fait escale en Roumanie, en mer Noire."},
]

EXTRA_QUERIES: dict[str, list[str]] = {
    "ocheretyne": ["Ocheretyne", "Otscheretyne eingedrungen", "troupes russes Otcheretyne"],
    "tarnavskyi": ["General Tarnavskyi replaced", "Tarnawskyj abgelöst", "général Tarnavsky"],
    "ivanovets": ["corvette Ivanovets sunk", "Iwanowez versenkt", "corvette Ivanovets"],
}


def build_corpus() -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Articles (with ``story``, None for look-alikes) and queries per story."""
    articles = search_corpus.corpus()
    for story, langs in EXTRA_STORIES.items():
        for lang, art in langs.items():
            articles.append({**art, "language": lang, "story": story, "source": f"xling-{lang}",
                             "published": "2024-11-08T08:00:00+00:00", "url": f"https://{lang}.xling.example/{story}"})
    for i, art in enumerate(EXTRA_LOOKALIKES):
        articles.append({**art, "story": None, "source": "lookalikes", "published": "2024-11-08T09:00:00+00:00",
                         "url": f"https://{art['language']}.xling.example/lookalike-{i}"})
    return articles, {**search_corpus.QUERIES, **EXTRA_QUERIES}


def evaluate(engine: Any, articles: list[dict[str, Any]], queries: dict[str, list[str]], *,
             translit: bool, hybrid: bool = False) -> dict[str, dict[str, Any]]:
    """Per story: per query recall@10 and whether coverage ranks above every look-alike."""
    from indexing.search import search

    lookalikes = {a["url"] for a in articles if a["story"] is None}
    out: dict[str, dict[str, Any]] = {}
    for story, qs in queries.items():
        coverage = {a["url"] for a in articles if a["story"] == story}
        rows = []
        for q in qs:
            urls = [h.url for h in search(q, engine=engine, size=10, translit=translit, hybrid=hybrid, **search_corpus.search_options(get_settings())).hits]
            found = coverage & set(urls)
            last = max((urls.index(u) for u in found), default=-1)
            first_look = min((urls.index(u) for u in lookalikes & set(urls)), default=len(urls))
            missing = sorted(a["language"] for a in articles if a["url"] in coverage - found)
            precision = len(coverage & set(urls[: len(coverage)])) / len(coverage)
            rows.append({"query": q, "recall": len(found) / len(coverage), "above": last < first_look,
                         "missing": missing, "precision": precision})
        out[story] = {"rows": rows, "recall": statistics.mean(r["recall"] for r in rows),
                      "above": all(r["above"] for r in rows)}
    return out


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))]


def time_queries(engine: Any, extra: list[str], rounds: int) -> dict[str, list[float]]:
    """End-to-end milliseconds per search, bridge on and off alternately (after a warm-up)."""
    from benchmarks.search_latency import QUERIES
    from indexing.search import search

    qs = [*QUERIES, *extra]
    for q in qs:  # warm-up: caches, expansion config
        search(q, engine=engine, **search_corpus.search_options(get_settings()))
        search(q, engine=engine, translit=False, **search_corpus.search_options(get_settings()))
    out: dict[str, list[float]] = {"with bridge": [], "without bridge": []}
    for r in range(rounds):
        for q in qs:
            order = [True, False] if r % 2 == 0 else [False, True]
            for translit in order:
                t = time.perf_counter()
                search(q, engine=engine, translit=translit, **search_corpus.search_options(get_settings()))
                out["with bridge" if translit else "without bridge"].append((time.perf_counter() - t) * 1000)
    return out


def known_names() -> dict[str, list[str]]:
    """The extra stories whose names the gazetteer recognises (per story: entity ids)."""
    from indexing.enrich import expand_query

    out: dict[str, list[str]] = {}
    for story, qs in EXTRA_QUERIES.items():
        ids = sorted({e for q in qs for e in expand_query(q).entities})
        out[story] = ids
    return out


def ingest(engine: Any, articles: list[dict[str, Any]], *, vectors: bool) -> dict[str, float]:
    """Index ``articles`` as the pipeline does (enrich, convert, bulk, refresh), then run the
    embedding stage: articles/s of each part."""
    t0 = time.perf_counter()
    counts = search_corpus.index_articles(engine, articles)
    t_index = time.perf_counter() - t0
    out = {"articles": float(counts["indexed"]), "index_s": t_index, "embed_s": 0.0}
    if vectors:
        from indexing.embeddings.stage import embed_pending

        report = embed_pending(engine, settings=get_settings())
        out["embed_s"] = report.seconds
        out["embedded"] = float(report.embedded)
    return out


def report_configured(queries: dict[str, list[str]], results: dict[str, dict[str, dict[str, Any]]],
                      show_misses: bool) -> None:
    """The configured-story corpus: recall@10, precision and ordering per story and mode."""
    known = known_names()
    modes = list(results)
    print(f"\n{'story':<20}" + "".join(f" {m:>22}" for m in modes) + "   (recall@10 / precision@|rel| / above)")
    for story in queries:
        note = f"  (gazetteer knows: {', '.join(known[story])})" if known.get(story) else ""
        cells = "".join(f" {r[story]['recall']:>8.3f} {statistics.mean(x['precision'] for x in r[story]['rows']):>6.3f}"
                        f" {str(r[story]['above']):>6}" for r in results.values())
        print(f"{story:<20}{cells}{note}")
        if show_misses:
            for mode, r in results.items():
                for row in r[story]["rows"]:
                    if row["recall"] < 1 or not row["above"]:
                        print(f"    [{mode}] {row['query']!r}: recall {row['recall']:.2f} missing {row['missing'] or '-'}"
                              f"{'' if row['above'] else ' LOOK-ALIKE ABOVE'}")
    for mode, r in results.items():
        rows = [x for st in r.values() for x in st["rows"]]
        print(f"configured stories, {mode:<22}: mean recall@10 {statistics.mean(x['recall'] for x in rows):.3f}, "
              f"precision@|rel| {statistics.mean(x['precision'] for x in rows):.3f}, "
              f"coverage above look-alikes for every story: {all(st['above'] for st in r.values())}")


#: the client-side matrix's ranking (indexing/embeddings/matrix.py), step by step
VECTOR_MODES: dict[str, dict[str, Any]] = {
    "vectors, plain cosine": {"feedback": 0, "centred": False},
    "vectors, centred": {"feedback": 0},
    "vectors, feedback": {"centred": False, "feedback": 3},
    "vectors, centred + feedback": {"feedback": 3},
    "vectors only": {},  # as search runs it (refine.FEEDBACK: none since issue #15 round 7)
}


def vector_rows(engine: Any, articles: list[dict[str, Any]], queries: dict[str, dict[str, list[str]]],
                ranking: dict[str, Any]) -> list[dict[str, Any]]:
    """The vector side alone (what hybrid retrieval fuses with the keyword ranking), ranked by
    the client-side matrix with ``ranking`` (:meth:`VectorMatrix.nearest`'s options; the
    engine's kNN when it has one): rows as :func:`crosslingual_corpus.evaluate` gives them."""
    from indexing.embeddings import get_embedder
    from indexing.embeddings.matrix import matrix_for
    from indexing.embeddings.retrieval import neighbours, query_vector
    from indexing.embeddings.vectors import native_knn
    from indexing.index.setup import articles_alias

    alias, embedder = articles_alias(get_settings().index_prefix), get_embedder(get_settings().embeddings)
    assert embedder is not None
    resp = engine.search(alias, {"query": {"match_all": {}}, "size": 10000, "_source": ["url"]})
    url_of = {h["_id"]: (h.get("_source") or {}).get("url") for h in resp["hits"]["hits"]}

    def nearest(q: str) -> list[tuple[str, float]]:
        if native_knn(engine):
            return neighbours(engine, alias, q, k=10, embedder=embedder)
        vec = query_vector(q, embedder)
        matrix = matrix_for(engine, alias, embedder.name, embedder.dim)
        return matrix.nearest(vec, 10, **ranking)
    rows = []
    for story, by_lang in queries.items():
        coverage = {a["url"] for a in articles if a["story"] == story}
        for lang, qs in by_lang.items():
            for q in qs:
                urls = [url_of.get(i) or "" for i, _ in nearest(q)]
                recall, precision = crosslingual_corpus.measure(urls, coverage)
                rows.append({"story": story, "lang": lang, "query": q, "recall": recall, "precision": precision,
                             "missing": sorted(a["language"] for a in articles
                                               if a["url"] in coverage - set(urls))})
    return rows


def report_stories(rows_by_mode: dict[str, list[dict[str, Any]]], show_misses: bool, name: str) -> None:
    """One fixture's stories outside the topic list: recall@10 and precision@|relevant|."""
    print(f"\nstories outside the topic list, {name}, queries in {len(crosslingual_corpus.LANGUAGES)} languages")
    for mode, rows in rows_by_mode.items():
        per_lang = {lang: crosslingual_corpus.summary([r for r in rows if r["lang"] == lang])
                    for lang in crosslingual_corpus.LANGUAGES}
        total = crosslingual_corpus.summary(rows)
        print(f"  {mode:<22}: recall@10 {total['recall']:.3f}, precision@|rel| {total['precision']:.3f}   "
              + " ".join(f"{lang} {v['recall']:.2f}/{v['precision']:.2f}" for lang, v in per_lang.items()))
        if show_misses:
            for r in rows:
                if r["recall"] < 1 or r["precision"] < 1:
                    print(f"      {r['query']!r} ({r['story']}): recall {r['recall']:.2f}, "
                          f"precision {r['precision']:.2f}, missing {r['missing']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="bench-xling-")
    parser.add_argument("--keep", action="store_true", help="keep the index afterwards")
    parser.add_argument("--latency", type=int, default=0, metavar="R",
                        help="also time the queries with and without the bridge, R rounds")
    parser.add_argument("--background", type=int, default=0, metavar="N",
                        help="index the corpus among N generated articles (default: none)")
    parser.add_argument("--no-vectors", action="store_true", help="skip the embedding stage and hybrid retrieval")
    parser.add_argument("--show-misses", action="store_true", help="list every query with its misses")
    parser.add_argument("--fixture", choices=["dev", "validation", "both"], default="both",
                        help="which fixture of stories outside the topic list (default: both, in one index)")
    args = parser.parse_args(argv)
    from benchmarks.common import engine_for_prefix
    from indexing.index.setup import articles_alias, setup_indices, versions_index

    engine = engine_for_prefix(args.prefix)
    articles, queries = build_corpus()
    paths = {"dev": crosslingual_corpus.FIXTURE, "validation": crosslingual_corpus.VALIDATION}
    fixtures = {name: crosslingual_corpus.load(path) for name, path in paths.items()
                if args.fixture in (name, "both")}
    xl_articles = [a for arts, _ in fixtures.values() for a in arts]
    vectors = not args.no_vectors
    try:
        alias = articles_alias(get_settings().index_prefix)
        have = engine.count(alias) if engine.index_exists(alias) else 0
        if args.background == 0 or have < args.background:
            for idx in list(engine.get_alias(alias)) + [versions_index(get_settings().index_prefix)]:
                engine.delete_index(idx)  # a fresh index
        setup_indices(engine, get_settings().index_prefix)
        if args.background and engine.count(alias) < args.background:
            from benchmarks.search_latency import generate
            from indexing.index.bulk import index_documents

            bg = index_documents(engine, generate(args.background), track_versions=False, chunk_size=1000, settings=get_settings())
            print(f"indexed {bg['indexed']} generated background articles ({bg['failed']} failed)")
        cost = ingest(engine, articles + xl_articles, vectors=vectors)
        print(f"indexed {cost['articles']:.0f} corpus articles on {engine}; {engine.count(alias)} articles in {alias}")
        modes: dict[str, dict[str, bool]] = {"keyword": {"translit": True}, "keyword, no bridge": {"translit": False}}
        if vectors:
            modes["hybrid"] = {"translit": True, "hybrid": True}
        configured = {m: evaluate(engine, articles, queries, **{"hybrid": False, **kw}) for m, kw in modes.items()}
        stories = {name: {m: crosslingual_corpus.evaluate(engine, arts, qs, **{"hybrid": False, **kw})
                          for m, kw in modes.items()} for name, (arts, qs) in fixtures.items()}
        if vectors:
            for name, (arts, qs) in fixtures.items():
                for mode, ranking in VECTOR_MODES.items():
                    stories[name][mode] = vector_rows(engine, arts, qs, ranking)
        if args.latency:
            timing = time_queries(engine, [q for qs in queries.values() for q in qs], args.latency)
    finally:
        if not args.keep:
            for idx in list(engine.get_alias(articles_alias(get_settings().index_prefix))) + [versions_index(get_settings().index_prefix)]:
                engine.delete_index(idx)
    report_configured(queries, configured, args.show_misses)
    for name, rows_by_mode in stories.items():
        report_stories(rows_by_mode, args.show_misses, f"{name} fixture ({paths[name].name})")
    n = cost["articles"]
    print(f"\ningest: enrich+convert+index {n / cost['index_s']:.1f} articles/s (keyword-searchable at once)"
          + (f"; embedding stage {cost.get('embedded', 0) / max(cost['embed_s'], 1e-9):.1f} articles/s; "
             f"both {n / (cost['index_s'] + cost['embed_s']):.1f} articles/s" if vectors else ""))
    if args.background:
        print("(with --background, topic stories compete with generated on-topic articles: see the docstring)")
    if args.latency:
        for mode, values in timing.items():
            print(f"latency {mode:<14}: p50 {_percentile(values, 50):.1f} ms, p95 {_percentile(values, 95):.1f} ms "
                  f"over {len(values)} searches")
    best = [crosslingual_corpus.summary(by_mode["hybrid" if vectors else "keyword"]) for by_mode in stories.values()]
    return 0 if all(b["recall"] >= 0.9 and b["precision"] >= 0.8 for b in best) else 1


if __name__ == "__main__":
    sys.exit(main())
