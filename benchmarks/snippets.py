"""Snippet extraction quality: warwatch `extract` vs plain `trafilatura.extract`, per language.

Usage: python benchmarks/snippets.py DATASET_DIR [--show-worst N] [--lang de,fr ...]

DATASET_DIR follows the layout of web-snippets-dev (trafilatura's evaluation data):
`snippets.json` maps a page key to {"url", "with": [...], "without": [...]} and the page is
`html/<key>.html.gz`. The score is the dataset's usual one: per page, recall = share of `with`
snippets found in the extracted text, precision = share of `without` snippets absent from it;
each is averaged over the pages and F1 is computed from the two averages. Whitespace is
collapsed on both sides before matching (a snippet that spans a line break still counts).

A page's language is that of its `with` snippets (py3langid, the page's lang attribute as a
hint): the ground truth decides, not either extractor.

Both extractors get the page as saved (bytes): each finds the encoding itself, as it must on the
web (21 of the 913 dev pages are not UTF-8; decoding them as UTF-8 first broke their text for both).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extraction import benchmark_parser  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from indexing.extraction.evaluation import PageScore, aggregate, snippet_page_score  # noqa: E402

_LANG_ATTR = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)


@dataclass
class SnippetPage:
    key: str
    url: str
    html: bytes
    with_: list[str]
    without: list[str]
    language: str


def page_language(html: bytes, snippets: list[str]) -> str:
    from indexing.extraction.language import detect_language

    m = _LANG_ATTR.search(html[:20_000])
    hint = m.group(1).decode("ascii").lower() if m else None
    return detect_language(" ".join(snippets), hint) or "unknown"


def load_snippets(root: Path, keys: list[str] | None = None) -> list[SnippetPage]:
    """Every page of the dataset (or those of ``keys``) with its snippets and language."""
    data = json.loads((root / "snippets.json").read_text(encoding="utf-8"))
    pages = []
    for key in keys if keys is not None else sorted(data):
        item = data[key]
        raw = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        with_ = [s for s in item.get("with") or [] if s.strip()]
        without = [s for s in item.get("without") or [] if s.strip()]
        lang = item.get("language") or page_language(raw, with_)
        pages.append(SnippetPage(key, item.get("url") or "", raw, with_, without, lang))
    return pages


def page_score(page: SnippetPage, text: str) -> PageScore:
    """(precision, recall) of one page; None where the page has no snippets of that kind."""
    return snippet_page_score(text, page.with_, page.without)


def warwatch_text(html: bytes, url: str) -> str:
    from indexing.extraction import extract

    return extract(html, url=url or None).body


def warwatch_full_text(html: bytes, url: str) -> str:
    """Headline, lead and body: what a reader of the document sees."""
    from indexing.extraction import extract

    art = extract(html, url=url or None)
    return "\n".join(x for x in (art.title, art.lead, art.body) if x)


def trafilatura_text(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url or None) or ""


EXTRACTORS: dict[str, Callable[[bytes, str], str]] = {
    "warwatch": warwatch_text,
    "trafilatura": trafilatura_text,
    "warwatch-full": warwatch_full_text,
}
DEFAULT_EXTRACTORS = ["warwatch", "trafilatura"]


def run(pages: list[SnippetPage], names: list[str]) -> dict[str, list[PageScore]]:
    return {name: [page_score(p, EXTRACTORS[name](p.html, p.url)) for p in pages] for name in names}


def _report_rows(pages: list[SnippetPage], scores: dict[str, list[PageScore]],
                 groups: dict[str, list[int]]) -> None:
    names = list(scores)
    header = f"{'subset':<12}{'pages':>6}" + "".join(f"{n + ' F1':>16}{'P':>7}{'R':>7}" for n in names)
    print(header)
    for label, idx in groups.items():
        row = f"{label:<12}{len(idx):>6}"
        for name in names:
            res = aggregate([scores[name][i] for i in idx])
            row += f"{res['f1']:>16.4f}{res['precision']:>7.3f}{res['recall']:>7.3f}"
        print(row)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, EXTRACTORS)
    parser.add_argument("--min-pages", type=int, default=5, help="smallest language shown on its own")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    pages = load_snippets(args.dataset)
    scores = run(pages, args.only or DEFAULT_EXTRACTORS)

    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, page in enumerate(pages):
        by_lang[page.language].append(i)
    groups: dict[str, list[int]] = {"all": list(range(len(pages)))}
    groups["de+fr"] = [i for i, p in enumerate(pages) if p.language in {"de", "fr"}]
    other: list[int] = []
    for lang, idx in sorted(by_lang.items(), key=lambda kv: -len(kv[1])):
        if len(idx) >= args.min_pages:
            groups[lang] = idx
        else:
            other.extend(idx)
    if other:
        groups["other"] = other
    print(f"{len(pages)} pages from {args.dataset}")
    _report_rows(pages, scores, groups)
    if args.show_worst and "warwatch" in scores:
        rows = sorted(
            zip(pages, scores["warwatch"], strict=True),
            key=lambda r: min(x for x in r[1] if x is not None) if any(x is not None for x in r[1]) else 1,
        )
        print("\nworst warwatch pages (key, lang, precision, recall, url):")
        for page, (p, r) in rows[: args.show_worst]:
            print(f"  {page.key[:40]:<40} {page.language} P={p} R={r} {page.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
