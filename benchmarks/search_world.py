"""Search quality on a corpus that looks like the world, per query class, for keyword only,
vectors only and hybrid retrieval.

Usage: python benchmarks/search_world.py [--datasets ../shared/datasets] [--prefix bench-world-]
                                         [--keep] [--stories dev|validation|both] [--dump FILE]

The index holds, as the pipeline would (extract -> enrich -> index -> embed):

* **background**: every real page of ``--datasets`` (web-snippets-dev: 913 pages of every kind
  and subject, mostly German, also English, French, Polish, Italian, Spanish...;
  article-extraction-dev: 61 English news pages), extracted by ``indexing.extraction.extract``;
  pages with no body are counted and left out;
* **the seed** (tests/fixtures/seed-article): the German article about North Korean troops, the
  only coverage of its story in the index;
* **stories covered in one, two or three languages** (tests/fixtures/crosslingual/world-dev.yaml,
  and world-validation.yaml, written before any tuning and reported apart), each with
  same-language look-alikes;
* **stories covered in seven languages** (tests/fixtures/crosslingual/stories.yaml and
  stories-validation.yaml) with their look-alikes;
* **names and places**: the stories of benchmarks/crosslingual.py built around names a gazetteer
  does not know (a village, a commander, a ship), with look-alikes.

Query classes: (a) a story in one language, queried in it; (b) a story in one language, queried
in another (the seed's English query is one); (c) a story in two or three languages, every query;
(d) a story in seven languages; (e) names and places; (f) filters (language, source, topic, entity,
dates) with vectors on: every hit allowed by the filter, ``total`` and ``hits`` agreeing, the same
hits as keyword-only filtering allows; (g) queries nothing in the corpus answers: the share that
comes back as "no good match" (``SearchResult.weak``, or no hit at all).

Measures per class and mode: recall@10 of the story's coverage, precision@|relevant| (the share of
the coverage among the first as-many-as-it-has hits) and nDCG@10 (binary relevance).
``--dump FILE`` writes, per query, the keyword and vector candidates with their scores (what
benchmarks/fusion_tune.py replays offline to choose and cross-validate the fusion).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, whatever is installed in the venv it runs from

from indexing.settings import get_settings  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
WORLD = {"dev": FIXTURES / "crosslingual" / "world-dev.yaml",
         "validation": FIXTURES / "crosslingual" / "world-validation.yaml"}
SEVEN = {"dev": FIXTURES / "crosslingual" / "stories.yaml",
         "validation": FIXTURES / "crosslingual" / "stories-validation.yaml"}

#: (g): queries the corpus cannot answer: war-like and everyday subjects that none of its pages is about
UNANSWERABLE = [
    "Finnish paratroopers land in Murmansk",
    "Moldovan navy sinks frigate",
    "Bundeswehr Panzerbataillon in Taiwan stationiert",
    "sous-marin nucléaire argentin coulé",
    "Antarctic penguin census results",
    "Zorblat Quintavex armistice",
    "recette du gâteau au yaourt",
    "Mars rover finds water ice caves",
    "ураган на Камчатці зруйнував порт",
    "powódź w Reykjaviku",
    "Kryptowährung Verbot in Liechtenstein",
    "elecciones municipales en Andorra",
    "Icelandic army invades Greenland",
    "quantum chromodynamics lattice results",
    "землетрясение в Антарктиде",
]


#: the seed's queries (expected.json) in a language other than the article's German
SEED_QUERY_LANGUAGES = {"North Korean troops": "en"}


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "unknown").removeprefix("www.")


def _source_id(url: str) -> str:
    return "bg-" + "".join(c if c.isalnum() else "-" for c in _host(url).lower())[:40]


def pages(snippets: Path | None, articles: Path | None) -> list[tuple[str, bytes]]:
    """(url, html) of the saved pages of a web-snippets-dev-like folder (``snippets.json`` and
    ``html/KEY.html.gz``) and an article-extraction-dev-like one (``ground-truth.json`` and
    ``html/ID.html[.gz]``); either may be None or missing."""
    out: list[tuple[str, bytes]] = []
    if snippets is not None and (snippets / "snippets.json").exists():
        meta = json.loads((snippets / "snippets.json").read_text(encoding="utf-8"))
        for key, rec in meta.items():
            path = snippets / "html" / f"{key}.html.gz"
            if path.exists():
                out.append((rec.get("url") or f"https://snippets.example/{key}", gzip.decompress(path.read_bytes())))
    if articles is not None and (articles / "ground-truth.json").exists():
        truth = json.loads((articles / "ground-truth.json").read_text(encoding="utf-8"))
        for key, rec in truth.items():
            for path in sorted((articles / "html").glob(f"{key}.*"))[:1]:
                raw = path.read_bytes()
                out.append((rec.get("url") or f"https://articles.example/{key}",
                            gzip.decompress(raw) if path.suffix == ".gz" else raw))
    return out


def background(snippets: Path | None, articles: Path | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Article dicts of the real pages of both folders (extracted), and what was skipped."""
    from indexing.extraction import extract

    out, skipped = [], {"no_body": 0, "error": 0}
    seen: set[str] = set()
    for url, html in pages(snippets, articles):
        try:
            art = extract(html, url=url).to_dict()
        except Exception:  # noqa: BLE001 - a page the extractor refuses is counted, not fatal
            skipped["error"] += 1
            continue
        if not (art.get("body") or "").strip() or url in seen:
            skipped["no_body"] += 1
            continue
        seen.add(url)
        out.append({**art, "url": url, "source": _source_id(url), "story": None, "kind": "background"})
    return out, skipped


def seed() -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    from indexing.extraction import extract

    expected = json.loads((FIXTURES / "seed-article" / "expected.json").read_text(encoding="utf-8"))
    art = extract((FIXTURES / "seed-article" / "page.html").read_bytes(), url=expected["url"]).to_dict()
    queries: dict[str, list[str]] = {}
    for q in expected["search"]["index_then_query"]:
        queries.setdefault(SEED_QUERY_LANGUAGES.get(q, "de"), []).append(q)
    return ([{**art, "url": expected["url"], "source": "seed", "story": "seed", "kind": "seed"}],
            {"seed": queries})


def stories(path: Path, tag: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    """Articles and queries (story -> language -> queries) of a story fixture (world or seven)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    host = f"{tag}.world.example"
    arts: list[dict[str, Any]] = []
    for story, langs in data["stories"].items():
        for lang, art in langs.items():
            arts.append({"title": art["title"], "body": art["body"], "language": lang, "story": f"{tag}:{story}",
                         "source": f"w-{lang}", "published": "2025-05-01T08:00:00+00:00",
                         "url": f"https://{lang}.{host}/{story}", "kind": tag})
    for i, art in enumerate(data.get("lookalikes") or []):
        arts.append({"title": art["title"], "body": art["body"], "language": art["language"], "story": None,
                     "source": f"w-{art['language']}", "published": "2025-05-01T09:00:00+00:00",
                     "url": f"https://{art['language']}.{host}/lookalike-{i}", "kind": tag})
    queries = {f"{tag}:{s}": q for s, q in (data.get("queries") or {}).items()}
    return arts, queries


def names() -> tuple[list[dict[str, Any]], dict[str, dict[str, list[str]]]]:
    from benchmarks.crosslingual import EXTRA_LOOKALIKES, EXTRA_QUERIES, EXTRA_STORIES

    arts: list[dict[str, Any]] = []
    for story, langs in EXTRA_STORIES.items():
        for lang, art in langs.items():
            arts.append({**art, "language": lang, "story": f"names:{story}", "source": f"n-{lang}",
                         "published": "2025-04-01T08:00:00+00:00", "url": f"https://{lang}.names.example/{story}",
                         "kind": "names"})
    for i, art in enumerate(EXTRA_LOOKALIKES):
        arts.append({**art, "story": None, "source": f"n-{art['language']}", "published": "2025-04-01T09:00:00+00:00",
                     "url": f"https://{art['language']}.names.example/lookalike-{i}", "kind": "names"})
    return arts, {f"names:{s}": {"any": qs} for s, qs in EXTRA_QUERIES.items()}


def corpus(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """All articles, and the queries as rows {class, split, story, lang, query}."""
    datasets = Path(args.datasets)
    arts, skipped = background(datasets / "web-snippets-dev", datasets / "article-extraction-dev")
    rows: list[dict[str, Any]] = []
    s_arts, s_queries = seed()
    arts += s_arts
    for lang, qs in s_queries["seed"].items():
        rows += [{"class": "a" if lang == "de" else "b", "split": "seed", "story": "seed", "lang": lang, "query": q}
                 for q in qs]
    splits = ["dev", "validation"] if args.stories == "both" else [args.stories]
    for split in splits:
        if not WORLD[split].exists():
            print(f"warning: {WORLD[split]} missing: classes a-c of {split} left out", file=sys.stderr)
            w_arts: list[dict[str, Any]] = []
            w_queries: dict[str, dict[str, list[str]]] = {}
        else:
            w_arts, w_queries = stories(WORLD[split], f"world-{split}")
        arts += w_arts
        covered: dict[str, set[str]] = {}
        for a in w_arts:
            if a["story"]:
                covered.setdefault(a["story"], set()).add(a["language"])
        for story, by_lang in w_queries.items():
            langs = covered.get(story, set())
            for lang, qs in by_lang.items():
                cls = ("a" if lang in langs else "b") if len(langs) == 1 else "c"
                rows += [{"class": cls, "split": split, "story": story, "lang": lang, "query": q,
                          "own": lang in langs} for q in qs]
        x_arts, x_queries = stories(SEVEN[split], f"seven-{split}")
        arts += x_arts
        rows += [{"class": "d", "split": split, "story": story, "lang": lang, "query": q}
                 for story, by_lang in x_queries.items() for lang, qs in by_lang.items() for q in qs]
    n_arts, n_queries = names()
    arts += n_arts
    rows += [{"class": "e", "split": "dev", "story": story, "lang": "any", "query": q}
             for story, by_lang in n_queries.items() for qs in by_lang.values() for q in qs]
    rows += [{"class": "g", "split": "dev", "story": None, "lang": "any", "query": q} for q in UNANSWERABLE]
    return arts, rows, skipped


def build(engine: Any, arts: list[dict[str, Any]], *, keep: bool) -> dict[str, float]:
    from indexing.embeddings.stage import embed_pending
    from indexing.index.setup import articles_alias, setup_indices
    from tests.indexing.search_corpus import index_articles

    setup_indices(engine, get_settings().index_prefix)
    alias = articles_alias(get_settings().index_prefix)
    engine.refresh(alias)
    have = engine.count(alias) if keep else 0
    reuse = have >= len(arts) - 5  # an article or two may share a canonical URL (one document)
    out = {"articles": float(len(arts)), "reused": float(reuse)}
    if not reuse:
        started = time.perf_counter()
        index_articles(engine, arts)
        out["index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    report = embed_pending(engine, settings=get_settings())
    out["embed_s"], out["embedded"] = time.perf_counter() - started, float(report.embedded)
    engine.refresh(alias)
    return out


def _urls(engine: Any, ids: list[str]) -> dict[str, str]:
    from indexing.index.setup import articles_alias

    if not ids:
        return {}
    resp = engine.search(articles_alias(get_settings().index_prefix), {"query": {"ids": {"values": ids}}, "_source": ["url"], "size": len(ids)})
    return {str(h["_id"]): (h.get("_source") or {}).get("url", "") for h in resp["hits"]["hits"]}


def candidates(engine: Any, query: str, *, depth: int = 50) -> dict[str, Any]:
    """What fusion works from: the keyword side's hits (url, score, language, topic/entity match)
    and the vector side's (url, refined score)."""
    from indexing.embeddings import get_embedder
    from indexing.embeddings.fusion import KeywordHit, anchor
    from indexing.embeddings.retrieval import candidate_languages, candidate_vectors, neighbours, title_scores
    from indexing.index.setup import articles_alias
    from indexing.search import expand, search
    from tests.indexing.search_corpus import search_options

    settings = get_settings()
    embedder = get_embedder(settings.embeddings)
    assert embedder is not None, "needs an embeddings backend"
    kw = search(query, engine=engine, size=depth, hybrid=False, **search_options(settings))
    near = neighbours(engine, articles_alias(settings.index_prefix), query, k=depth, embedder=embedder)
    urls = _urls(engine, [i for i, _ in near])
    one_concept = expand(query).one_concept
    centre = anchor([KeywordHit(h.id, h.score or 0.0, frozenset(h.matched)) for h in kw.hits], one_concept=one_concept)
    vectors = candidate_vectors(engine, articles_alias(settings.index_prefix),
                                [h.id for h in kw.hits] + [i for i, _ in near], embedder=embedder)
    urls |= {h.id: h.url or h.id for h in kw.hits}
    # each candidate's centred cosine with the anchor: all the fusion's agreement needs (fusion_tune.py)
    agree = {urls.get(i, i): float(v @ vectors[centre]) for i, v in vectors.items()} if centre in vectors else {}
    # the candidates' centred cosines with each other, those of PAIR_FLOOR and above (fusion_tune.py)
    pairs = _pairs({urls.get(i, i): v for i, v in vectors.items()})
    # each candidate's language, as the fusion's echo gets it (the keyword hits', then the matrix's)
    langs = candidate_languages(engine, articles_alias(settings.index_prefix), [i for i, _ in near], embedder=embedder)
    languages = {urls.get(i, i): lang for i, lang in langs.items()} | {h.url or h.id: h.language for h in kw.hits}
    # each candidate's title score (the fusion's title closeness, used without an anchor)
    titles = title_scores(engine, articles_alias(settings.index_prefix), query,
                          [h.id for h in kw.hits] + [i for i, _ in near], embedder=embedder)
    return {"keyword": [{"id": h.id, "url": h.url, "score": h.score, "language": h.language, "matched": h.matched}
                        for h in kw.hits],
            "keyword_total": kw.total, "one_concept": one_concept,
            "vector": [{"id": i, "url": urls.get(i, ""), "score": s} for i, s in near],
            "anchor": urls.get(centre, centre) if centre in vectors else None, "agreement": agree, "pairs": pairs,
            "languages": languages,
            "titles": {urls.get(i, i): s for i, s in titles.items()}}


#: the dump keeps the candidates' pairwise centred cosines from this up (the rest is unrelated)
PAIR_FLOOR = 0.25


def _pairs(vectors: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(url, url, centred cosine) of every pair of candidates at :data:`PAIR_FLOOR` or above."""
    keys = sorted(vectors)
    if len(keys) < 2:
        return []
    import numpy as np

    sims = np.stack([vectors[k] for k in keys]) @ np.stack([vectors[k] for k in keys]).T
    return [(keys[a], keys[b], round(float(sims[a, b]), 4)) for a, b in zip(*np.nonzero(np.triu(sims >= PAIR_FLOOR, 1)), strict=True)]


def measure(urls: list[str], coverage: set[str]) -> dict[str, float]:
    """recall@10, precision@|relevant| and nDCG@10 (binary) of one ranked list."""
    top = urls[:10]
    dcg = sum(1 / math.log2(r + 2) for r, u in enumerate(top) if u in coverage)
    ideal = sum(1 / math.log2(r + 2) for r in range(min(10, len(coverage))))
    return {"recall": len(coverage & set(top)) / len(coverage),
            "precision": len(coverage & set(urls[: len(coverage)])) / len(coverage),
            "ndcg": dcg / ideal}


def run_queries(engine: Any, arts: list[dict[str, Any]], rows: list[dict[str, Any]], *,
                dump: bool) -> list[dict[str, Any]]:
    from indexing.search import search
    from tests.indexing.search_corpus import search_options

    coverage: dict[str, set[str]] = {}
    for a in arts:
        if a["story"]:
            coverage.setdefault(a["story"], set()).add(a["url"])
    out = []
    for row in rows:
        cand = candidates(engine, row["query"])
        hybrid = search(row["query"], engine=engine, size=10, hybrid=True, **search_options(get_settings()))
        modes = {"keyword": [h["url"] for h in cand["keyword"]][:10],
                 "vectors": [h["url"] for h in cand["vector"]][:10],
                 "hybrid": [h.url for h in hybrid.hits]}
        rec = {**row, "hybrid_weak": bool(getattr(hybrid, "weak", False)), "hybrid_total": hybrid.total,
               "ranked": modes}
        keyword_all = {h["url"] for h in cand["keyword"]}
        relevant = coverage.get(row["story"] or "", set())
        rec["junk"] = sum(1 for u in modes["hybrid"] if u not in keyword_all and u not in relevant)
        if row["story"]:
            rec["coverage"] = sorted(coverage[row["story"]])
            rec["scores"] = {m: measure(u, coverage[row["story"]]) for m, u in modes.items()}
        if dump:
            rec["candidates"] = cand
        out.append(rec)
    return out


def filter_checks(engine: Any, arts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """(f): with vectors on, every filter gives exactly the hits keyword-only filtering allows
    (same set of ids among those it ranks), and ``total`` agrees with the hits."""
    from indexing.search import search
    from tests.indexing.search_corpus import search_options

    checks: list[tuple[str, dict[str, Any]]] = [("Kursk", {"lang": "de"}), ("North Korean troops", {"lang": "de"}),
              ("Angriff auf Kraftwerk", {"lang": "de"}), ("school", {"lang": "en"}),
              ("war", {"source": "seed"}), ("Ukraine", {"source": "w-pl"}),
              ("troops", {"topic": "north-korean-troops-in-russia"}), ("Russland", {"entity": "Kursk"}),
              ("Krieg", {"since": "2024-10-01", "until": "2024-10-31"}), ("drones", {"until": "2020-01-01"}),
              ("Kharkiv", {"lang": "uk"}), ("corvette", {"lang": "fr", "since": "2025-01-01"})]
    out = []
    for query, filters in checks:
        kw = search(query, engine=engine, size=1000, hybrid=False, **filters, **search_options(get_settings()))
        hy = search(query, engine=engine, size=10, hybrid=True, **filters, **search_options(get_settings()))
        stray = sorted({h.id for h in hy.hits} - _passing(engine, [h.id for h in hy.hits], filters))
        out.append({"query": query, "filters": filters, "keyword_total": kw.total, "hybrid_total": hy.total,
                    "hybrid_hits": len(hy.hits), "stray": stray,
                    "ok": not stray and (hy.total == len(hy.hits) if hy.total <= 10 else len(hy.hits) == 10)
                    and (kw.total == 0 or bool(hy.hits))})
    return out


def _passing(engine: Any, ids: list[str], filters: dict[str, Any]) -> set[str]:
    """Which of ``ids`` the filter allows: one request with the search's own filter clauses."""
    from indexing.index.setup import articles_alias
    from indexing.search.query import SearchRequest

    if not ids:
        return set()
    clauses = [*SearchRequest(query="*", **filters).filters(), {"ids": {"values": ids}}]
    resp = engine.search(articles_alias(get_settings().index_prefix), {"query": {"bool": {"filter": clauses}}, "size": len(ids), "_source": False})
    return {str(h["_id"]) for h in resp["hits"]["hits"]}


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """class/split -> mode -> mean of each measure (and n)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if "scores" in r:
            groups.setdefault(f"{r['class']} {r['split']}", []).append(r)
    for key, rs in sorted(groups.items()):
        table[key] = {m: {k: statistics.mean(r["scores"][m][k] for r in rs) for k in ("recall", "precision", "ndcg")}
                      | {"n": float(len(rs))} for m in ("keyword", "vectors", "hybrid")}
    return table


def print_report(table: dict[str, dict[str, dict[str, float]]], results: list[dict[str, Any]],
                 filters: list[dict[str, Any]]) -> None:
    print(f"{'class split':22} {'n':>4}  {'keyword R/P/nDCG':>20}  {'vectors R/P/nDCG':>20}  {'hybrid R/P/nDCG':>20}")
    for key, modes in table.items():
        cells = "  ".join(f"{m['recall']:.3f}/{m['precision']:.3f}/{m['ndcg']:.3f}".rjust(20)
                          for m in (modes["keyword"], modes["vectors"], modes["hybrid"]))
        print(f"{key:22} {int(modes['keyword']['n']):>4}  {cells}")
    junk: dict[str, list[int]] = {}
    for r in results:
        junk.setdefault(r["class"], []).append(r["junk"])
    print("hybrid hits neither coverage nor keyword hits, per query: "
          + ", ".join(f"({c}) {statistics.mean(v):.1f}" for c, v in sorted(junk.items())))
    g = [r for r in results if r["class"] == "g"]
    if g:
        weak = sum(1 for r in g if r["hybrid_weak"] or not r["ranked"]["hybrid"])
        print(f"(g) unanswerable: {weak}/{len(g)} answered 'no good match' by hybrid; "
              f"keyword gave hits for {sum(1 for r in g if r['ranked']['keyword'])}/{len(g)}")
    answerable = [r for r in results if r["class"] != "g"]
    if answerable:
        print(f"answerable queries flagged 'no good match' by hybrid: "
              f"{sum(1 for r in answerable if r['hybrid_weak'])}/{len(answerable)}")
    if filters:
        print(f"(f) filters: {sum(f['ok'] for f in filters)}/{len(filters)} exact")
        for f in filters:
            if not f["ok"]:
                print("   not exact:", json.dumps({k: f[k] for k in ('query', 'filters', 'keyword_total',
                                                                         'hybrid_total', 'hybrid_hits', 'stray')}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--prefix", default="bench-world-")
    parser.add_argument("--keep", action="store_true", help="reuse the index under --prefix if it holds the corpus")
    parser.add_argument("--stories", choices=["dev", "validation", "both"], default="both")
    parser.add_argument("--dump", help="write per-query candidates and rankings as JSON to this file")
    parser.add_argument("--show", action="store_true", help="print each query's hybrid misses")
    parser.add_argument("--means-sample", type=int, help="engine kNN path: articles the language means come from "
                        "(indexing/embeddings/knn.py MEANS_SAMPLE)")
    parser.add_argument("--knn-candidates", type=int, help="engine kNN path: candidates re-scored (knn.CANDIDATES)")
    args = parser.parse_args(argv)
    from indexing.embeddings import knn

    knn.MEANS_SAMPLE = args.means_sample or knn.MEANS_SAMPLE
    if args.knn_candidates:
        knn.CANDIDATES, knn.NUM_CANDIDATES = args.knn_candidates, 2 * args.knn_candidates

    from benchmarks.common import engine_for_prefix

    engine = engine_for_prefix(args.prefix)
    arts, rows, skipped = corpus(args)
    print(f"corpus: {len(arts)} articles ({sum(a['kind'] == 'background' for a in arts)} background real pages; "
          f"skipped {skipped}), {len(rows)} queries")
    cost = build(engine, arts, keep=args.keep)
    print("build:", {k: round(v, 1) for k, v in cost.items()})
    results = run_queries(engine, arts, rows, dump=bool(args.dump))
    filters = filter_checks(engine, arts)
    print_report(summarise(results), results, filters)
    if args.show:
        for r in results:
            if "scores" in r and r["scores"]["hybrid"]["precision"] < 1:
                print(f"  [{r['class']} {r['split']}] {r['query']!r} P={r['scores']['hybrid']['precision']:.2f} "
                      f"top3={r['ranked']['hybrid'][:3]} coverage={r['coverage']}")
    if args.dump:
        Path(args.dump).write_text(json.dumps({"results": results, "filters": filters}, ensure_ascii=False),
                                   encoding="utf-8")
    if not args.keep:
        from indexing.index.setup import articles_alias, versions_index

        for idx in list(engine.get_alias(articles_alias(get_settings().index_prefix))) + [versions_index(get_settings().index_prefix)]:
            engine.delete_index(idx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
