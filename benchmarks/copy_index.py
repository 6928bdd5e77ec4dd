"""Copy an articles index, vectors included, from one node to another, the searched vector field
in the form the target's index takes (floats for a ``knn_vector``/``dense_vector``, else as
stored): the same corpus and the same vectors on two engines, to compare their vector paths
without running the model again (benchmarks/README.md, "Search latency": the server's kNN against
the client-side matrix).

Usage: python benchmarks/copy_index.py FROM_URL TO_URL --prefix bench-fz7d-
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: documents per page of the copy, and the most pages (a bound on the loop: 10M documents)
PAGE = 500
MAX_PAGES = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args(argv)
    os.environ["WARWATCH_INDEX_PREFIX"] = args.prefix
    from indexing.embeddings.vectors import decode, encode_vector, ensure_vector_field, search_with_vectors
    from indexing.engine import connect
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD
    from indexing.settings import get_settings, reset_settings

    reset_settings()
    src, dst = connect(get_settings(), url=args.source), connect(get_settings(), url=args.target)
    setup_indices(dst, args.prefix)
    alias = articles_alias(args.prefix)
    floats = ensure_vector_field(dst, alias, EMBEDDING_FIELD, args.dim)
    ensure_vector_field(dst, alias, TITLE_EMBEDDING_FIELD, args.dim, searchable=False)
    target = sorted(dst.get_alias(alias))[-1]
    body = {"query": {"match_all": {}}, "size": PAGE, "sort": [{"id": "asc"}], "track_total_hits": False}
    copied, after = 0, None
    for _ in range(MAX_PAGES):
        hits = search_with_vectors(src, alias, {**body, **({"search_after": after} if after else {})}, ["*"])
        hits = hits["hits"]["hits"]
        if not hits:
            break
        ops: list[dict[str, object]] = []
        for hit in hits:
            doc = dict(hit["_source"])
            vec = decode(doc.get(EMBEDDING_FIELD), args.dim)
            if vec is not None:
                doc[EMBEDDING_FIELD] = encode_vector(dst, vec, floats=floats[target])
            ops += [{"index": {"_index": target, "_id": hit["_id"]}}, doc]
        resp = dst.bulk(ops)
        if resp.get("errors"):
            print("copy failed:", [i for i in resp["items"] if next(iter(i.values())).get("status", 0) >= 300][:2])
            return 1
        copied, after = copied + len(hits), hits[-1]["sort"]
    dst.refresh(alias)
    print(f"copied {copied} documents into {target} on {dst}; it holds {dst.count(alias)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
