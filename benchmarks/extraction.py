"""Body extraction quality: warwatch `extract` vs plain `trafilatura.extract`.

Usage: python benchmarks/extraction.py DATASET_DIR [--show-worst N] [--only warwatch|trafilatura]

DATASET_DIR follows the layout of the article-extraction-benchmark (Scrapinghub/Zyte):
`ground-truth.json` maps a page id to {"articleBody": ..., "url": ...} and the page is
`html/<id>.html.gz`. The metric is that benchmark's: per page, 4-token shingles of `\\w+`
tokens, tp/fp/fn over the shingle multisets divided by their sum; precision and recall are
averaged over pages where they are defined; F1 is computed from the two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexing.extraction.evaluation import shingle_match, shingle_scores  # noqa: E402


def score(pairs: list[tuple[str, str]]) -> dict[str, float]:
    return shingle_scores(pairs)


def load_dataset(root: Path) -> list[tuple[str, str, str, str]]:
    """(id, url, html, expected body) for every page of the dataset."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        path = root / "html" / f"{page_id}.html.gz"
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        pages.append((page_id, item.get("url") or "", html, item.get("articleBody") or ""))
    return pages


def warwatch_body(html: str, url: str) -> str:
    from indexing.extraction import extract

    return extract(html, url=url).body


def trafilatura_body(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "warwatch": warwatch_body,
    "trafilatura": trafilatura_body,
}


def benchmark_parser(doc: str | None, extractors: Iterable[str]) -> argparse.ArgumentParser:
    """The arguments every extraction quality benchmark takes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--show-worst", type=int, default=0, help="list the N worst warwatch pages")
    parser.add_argument("--only", choices=sorted(extractors), action="append")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, EXTRACTORS).parse_args(argv)
    pages = load_dataset(args.dataset)
    names = args.only or list(EXTRACTORS)
    results: dict[str, dict[str, float]] = {}
    per_page: dict[str, list[tuple[str, float, float]]] = {}
    for name in names:
        fn = EXTRACTORS[name]
        pairs = []
        rows = []
        for page_id, url, html, expected in pages:
            pred = fn(html, url)
            pairs.append((expected, pred))
            tp, fp, fn_ = shingle_match(expected, pred)
            rows.append((page_id, tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn_) if tp + fn_ else 0.0))
        results[name] = score(pairs)
        per_page[name] = rows
    print(f"{len(pages)} pages from {args.dataset}")
    print(f"{'extractor':<14}{'F1':>8}{'precision':>11}{'recall':>9}")
    for name, res in results.items():
        print(f"{name:<14}{res['f1']:>8.4f}{res['precision']:>11.4f}{res['recall']:>9.4f}")
    if args.show_worst and "warwatch" in per_page:
        urls = {pid: url for pid, url, _, _ in pages}
        worst = sorted(per_page["warwatch"], key=lambda r: min(r[1], r[2]))[: args.show_worst]
        print("\nworst warwatch pages (id, precision, recall, url):")
        for pid, p, r in worst:
            print(f"  {pid[:12]}  P={p:.3f} R={r:.3f}  {urls[pid]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
