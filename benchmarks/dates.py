"""Publication dates: how often warwatch's extraction finds one, and how often it is the right day,
side by side with htmldate (the date finder trafilatura uses) on the same pages in the same run.

Usage: python benchmarks/dates.py DATASET_DIR [DATASET_DIR ...] [--baseline CHECKOUT] [--show N]

DATASET_DIR: either layout of ``benchmarks/extraction_compare.py`` (article-extraction or
web-snippets). The datasets carry no dates, so the figures use what the pages themselves say:

- *found*: the share of pages given a publication date (missing dates are users' first complaint
  about news crawlers). Not every page has one (product pages, wikis, home pages): found is not
  accuracy.
- *URL-dated*: pages whose URL holds a full date (``/2019/11/18/``, ``20220503``): the share whose
  date is that day, or within one day (a timestamp late in the evening west of Greenwich is the next
  day in UTC, which is what warwatch stores).
- *htmldate, markup only* (``extensive_search=False``: JSON-LD, meta tags, ``<time>``, the URL and
  the page's own date elements, no free-text guessing): where both give a date, the share within a
  day of each other; where only htmldate gives one, the page counts as *missed* (``--show`` lists
  some, to read: such a date can be a copyright year or a last-modified stamp).
- *future*: dates after the run's day (wrong by definition).

``--baseline CHECKOUT`` adds the extraction of another checkout (e.g. main before a change) as a row.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.extraction_compare import iter_pages, load_other_extraction  # noqa: E402

#: a full date in a URL: 2019/11/18, 2019-11-18, 20191118 (not followed or preceded by a digit)
URL_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)")

Finder = Callable[[Any, str | None], "date | None"]


def url_date(url: str | None) -> date | None:
    m = URL_DATE.search(url or "")
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def finders(baseline: Path | None) -> dict[str, Finder]:
    import htmldate

    from indexing.extraction import extract

    def ours(module_extract: Callable[..., Any]) -> Finder:
        def find(html: Any, url: str | None) -> date | None:
            published = module_extract(html, url=url).published
            return published.date() if published else None
        return find

    def with_htmldate(extensive: bool) -> Finder:
        def find(html: Any, url: str | None) -> date | None:
            text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    found = htmldate.find_date(text, url=url, original_date=True, extensive_search=extensive,
                                               outputformat="%Y-%m-%d")
                except Exception:  # noqa: BLE001 - a crash is a page without a date for the row
                    return None
            return date.fromisoformat(found) if found else None
        return find

    named: dict[str, Finder] = {"warwatch": ours(extract)}
    if baseline is not None:
        named["baseline"] = ours(load_other_extraction(baseline).extract)
    named["htmldate-markup"] = with_htmldate(False)
    named["htmldate"] = with_htmldate(True)
    return named


def near(a: date | None, b: date | None) -> bool:
    return a is not None and b is not None and abs((a - b).days) <= 1


def measure(pages: list[tuple[str, str | None, Any]], named: dict[str, Finder]) -> dict[str, dict[str, date | None]]:
    """Each finder's date per page id."""
    return {name: {pid: find(html, url) for pid, url, html in pages} for name, find in named.items()}


def report(title: str, pages: list[tuple[str, str | None, Any]], found: dict[str, dict[str, date | None]],
           today: date, show: int) -> None:
    urls = {pid: url_date(url) for pid, url, _ in pages}
    dated = [pid for pid, d in urls.items() if d]
    markup = found["htmldate-markup"]
    print(f"\n{title}: {len(pages)} pages, {len(dated)} with a date in the URL")
    print(f"{'finder':<17}{'found':>13}{'URL day':>11}{'URL ±1':>9}{'markup ±1':>15}{'missed':>8}{'future':>8}")
    for name, days in found.items():
        n_found = sum(1 for d in days.values() if d)
        exact = sum(1 for pid in dated if days[pid] == urls[pid])
        close = sum(1 for pid in dated if near(days[pid], urls[pid]))
        both = [pid for pid in days if days[pid] and markup[pid]]
        agree = sum(1 for pid in both if near(days[pid], markup[pid]))
        missed = sum(1 for pid in days if markup[pid] and not days[pid])
        future = sum(1 for d in days.values() if d and d > today)
        print(f"{name:<17}{n_found:>6} ({n_found / max(len(pages), 1):.3f}){exact:>6}/{len(dated):<4}{close:>5}/{len(dated):<3}"
              f"{agree:>7}/{len(both):<7}{missed:>8}{future:>8}")
    if show:
        ours, url_of = found["warwatch"], {pid: url for pid, url, _ in pages}
        wrong = [pid for pid in dated if not near(ours[pid], urls[pid])]
        print(f"  warwatch off the URL's day ({len(wrong)}):")
        for pid in wrong[:show]:
            print(f"    {ours[pid]} url {urls[pid]}  {url_of[pid]}")
        missed = [pid for pid in ours if markup[pid] and not ours[pid]]
        print(f"  warwatch without a date where htmldate's markup has one ({len(missed)}):")
        for pid in missed[:show]:
            print(f"    {markup[pid]}  {url_of[pid]}")
        differ = [pid for pid in ours if ours[pid] and markup[pid] and not near(ours[pid], markup[pid])]
        print(f"  both, more than a day apart ({len(differ)}):")
        for pid in differ[:show]:
            print(f"    warwatch {ours[pid]} htmldate {markup[pid]}  {url_of[pid]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--baseline", type=Path, help="a checkout whose extraction is a row of its own")
    parser.add_argument("--show", type=int, default=0, help="list up to N pages of each kind of miss")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # trafilatura's per-page warnings
    named = finders(args.baseline)
    today = (datetime.now(UTC) + timedelta(days=1)).date()
    everything: list[tuple[str, str | None, Any]] = []
    merged: dict[str, dict[str, date | None]] = {name: {} for name in named}
    for root in args.datasets:
        pages = [(f"{root.name}/{pid}", url, html) for pid, url, html in iter_pages(root)]
        found = measure(pages, named)
        report(str(root), pages, found, today, args.show)
        everything += pages
        for name in named:
            merged[name].update(found[name])
    if len(args.datasets) > 1:
        report("all", everything, merged, today, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
