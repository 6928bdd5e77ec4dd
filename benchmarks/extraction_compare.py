"""Same output? `extract()` of this checkout against that of another one, page by page.

Usage: python benchmarks/extraction_compare.py OTHER_CHECKOUT DATASET_DIR [DATASET_DIR ...] [--show N]

OTHER_CHECKOUT is a source tree of warwatch, e.g. the main branch at the commit a change started
from (``git worktree add /tmp/old-main <commit>``). Its ``indexing/extraction`` package is imported
under another name next to this checkout's; its relative imports stay inside it, the rest of
``indexing`` (dates, URLs, settings) is this checkout's. Both extract every page of each dataset
(either layout: article-extraction ``ground-truth.json`` or web-snippets ``snippets.json``, each
page given as its benchmark gives it) and every field of ``Article.to_dict()`` is compared. Pages
whose output differs are listed with the fields that differ; the exit status is 1 when any does.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# the package name the other checkout's extraction is imported under
OTHER_PACKAGE = "_other_extraction"


def load_other_extraction(checkout: Path, name: str = OTHER_PACKAGE) -> ModuleType:
    """``indexing/extraction`` of ``checkout`` as the package ``name`` (imported once)."""
    if name in sys.modules:
        return sys.modules[name]
    package_dir = checkout / "indexing" / "extraction"
    spec = importlib.util.spec_from_file_location(
        name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no extraction package in {checkout}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def iter_pages(root: Path) -> Iterator[tuple[str, str | None, str | bytes]]:
    """(page id, url, html) of a dataset of either layout, as its quality benchmark hands them
    over: article pages decoded to text, snippet pages as saved (bytes)."""
    if (root / "ground-truth.json").exists():
        truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
        for page_id, item in sorted(truth.items()):
            raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
            yield page_id, item.get("url") or "", raw.decode("utf-8", errors="replace")
    elif (root / "snippets.json").exists():
        data = json.loads((root / "snippets.json").read_text(encoding="utf-8"))
        for key in sorted(data):
            yield key, data[key].get("url") or None, gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
    else:
        raise SystemExit(f"{root}: neither ground-truth.json nor snippets.json")


def differing_fields(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return [key for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)]


def compare(
    pages: Iterator[tuple[str, str | None, str | bytes]],
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
) -> tuple[int, list[tuple[str, list[str], dict[str, Any], dict[str, Any]]]]:
    """The number of pages compared and, for each page whose output differs, its id, the
    fields that differ and both outputs."""
    count = 0
    differences = []
    for page_id, url, html in pages:
        count += 1
        a, b = ours(html, url).to_dict(), theirs(html, url).to_dict()
        fields = differing_fields(a, b)
        if fields:
            differences.append((page_id, fields, a, b))
    return count, differences


def _show(field: str, a: Any, b: Any, width: int = 300) -> str:
    if field == "body" and isinstance(a, str) and isinstance(b, str):
        pa, pb = a.split("\n\n"), b.split("\n\n")
        only_a = [p for p in pa if p not in pb]
        only_b = [p for p in pb if p not in pa]
        return f"      only this checkout: {only_a!r:.{width}}\n      only the other:     {only_b!r:.{width}}"
    return f"      this checkout: {a!r:.{width}}\n      the other:     {b!r:.{width}}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other checkout (its indexing/extraction is compared)")
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--show", type=int, default=20, help="pages shown in detail per dataset")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    from indexing.extraction import extract

    other = load_other_extraction(args.other)
    total = 0
    for root in args.datasets:
        count, differences = compare(iter_pages(root), extract, other.extract)
        total += len(differences)
        print(f"{root}: {count} pages, {count - len(differences)} identical, {len(differences)} differ")
        for page_id, fields, a, b in differences[: args.show]:
            print(f"  {page_id}: {', '.join(fields)}")
            for field in fields:
                print(_show(field, a[field], b[field]))
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
