"""Bulk indexing speed: docs/s of warwatch ``index_documents`` vs the client's plain
``helpers.bulk`` with the same documents into the same node and the same mapping.

Usage: python benchmarks/bulk.py [--docs 20000] [--rounds 3] [--chunk 500]

After one uncounted warm-up round, each round indexes the documents into two fresh indices made from the warwatch templates (one
per contender, alternating which goes first), with the same chunk size and ``refresh_interval``
left at the template default. warwatch does more per chunk (an ``mget`` to detect edits and
unchanged documents, version records, dead-letter bookkeeping); that overhead is what this
measures. The warwatch run is a first indexing (nothing to compare against), like helpers.bulk's.
Goal: warwatch >= 0.9x helpers.bulk.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_latency import generate  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from indexing.settings import get_settings


def _helpers_bulk(engine: Any, index: str, docs: list[dict[str, Any]], chunk: int) -> None:
    if engine.flavor == "opensearch":
        from opensearchpy import helpers
    else:
        from elasticsearch import helpers  # type: ignore[no-redef]
    actions = ({"_index": index, "_id": d["id"], "_source": d} for d in docs)
    ok, errors = helpers.bulk(engine.client, actions, chunk_size=chunk, max_retries=3)
    assert not errors and ok == len(docs), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from indexing.engine import connect
    from indexing.index.bulk import index_documents
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.settings import reset_settings

    docs = list(generate(args.docs))
    rates: dict[str, list[float]] = {"warwatch": [], "helpers.bulk": []}
    # Round 0 is a warm-up (JIT, caches, connection pools) and is not counted.
    for rnd in range(args.rounds + 1):
        order = ["warwatch", "helpers.bulk"] if rnd % 2 == 0 else ["helpers.bulk", "warwatch"]
        for who in order:
            prefix = f"bench-bulk-{rnd}-{'ww' if who == 'warwatch' else 'hb'}-"
            os.environ["WARWATCH_INDEX_PREFIX"] = prefix
            reset_settings()
            engine = connect(get_settings())
            setup_indices(engine, get_settings().index_prefix)
            alias = articles_alias(get_settings().index_prefix)
            fresh = [dict(d) for d in docs]  # index_documents adds indexed_at/version in place
            t = time.perf_counter()
            if who == "warwatch":
                counts = index_documents(engine, fresh, chunk_size=args.chunk, settings=get_settings())
                assert counts["indexed"] == len(docs) and counts["failed"] == 0, counts
            else:
                _helpers_bulk(engine, alias, fresh, args.chunk)
            elapsed = time.perf_counter() - t
            engine.refresh(alias)
            assert engine.count(alias) == len(docs)
            if rnd > 0:
                rates[who].append(len(docs) / elapsed)
            print(f"round {rnd}{' (warm-up)' if rnd == 0 else ''}: {who:13s} {len(docs) / elapsed:8.0f} docs/s")
            for idx in [*engine.get_alias(alias), f"{prefix}article-versions"]:
                engine.delete_index(idx)
            for kind, names in (("index", ["articles", "article-versions"]),
                                ("component", ["index-settings", "articles-mappings", "article-versions-mappings"])):
                for n in names:
                    path = f"/_index_template/{prefix}{n}" if kind == "index" else f"/_component_template/{prefix}{n}"
                    try:
                        engine.client.transport.perform_request("DELETE", path)
                    except Exception as exc:  # clean-up only
                        logging.debug("clean-up of %s failed: %s", path, exc)
            engine.close()
    ww, hb = statistics.median(rates["warwatch"]), statistics.median(rates["helpers.bulk"])
    pairs = [w / h for w, h in zip(rates["warwatch"], rates["helpers.bulk"], strict=True)]
    print("per-round ratios:", ", ".join(f"{r:.2f}" for r in pairs))
    print(f"median: warwatch {ww:.0f} docs/s, helpers.bulk {hb:.0f} docs/s, ratio {ww / hb:.2f} "
          f"(goal >= 0.9: {'met' if ww / hb >= 0.9 else 'NOT met'})")
    return 0 if ww / hb >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
