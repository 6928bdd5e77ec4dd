"""Undated article links held back while a source's article cap could bite.

A source can offer far more undated links than its cap lets the crawl fetch: a huge sitemap
without dates, a section page of 100,000 links, a chain of sitemap indexes with a few dead links
each. Which of them get the places left after the dated articles must not depend on which
document happened to be answered first, nor on which one lists the most links. So the links are
kept by where they were found (discovery kind, then document), and both the bound on what is
kept and the order of release are fair at both levels: every kind (section pages, sitemaps,
feeds) gets an equal share, and within a kind every document an equal share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def water_fill(sizes: list[int], budget: int) -> list[int]:
    """Quotas for buckets of ``sizes`` summing to at most ``budget``: every bucket keeps all it
    has up to a common level, the larger ones are cut to that level (the first of them get one
    more while the budget allows)."""
    if sum(sizes) <= budget:
        return list(sizes)
    remaining, open_buckets = budget, len(sizes)
    level = 0
    for size in sorted(sizes):
        share = remaining // open_buckets
        if size > share:
            level = share
            break
        remaining -= size
        open_buckets -= 1
    extra = remaining - level * open_buckets
    quotas = []
    for size in sizes:
        if size <= level:
            quotas.append(size)
        else:
            quotas.append(level + (1 if extra > 0 else 0))
            extra -= 1
    return quotas


def round_robin(iterables: Iterable[Iterable[T]]) -> Iterator[T]:
    """One item of each iterable in turn, until all are exhausted."""
    iterators = [iter(it) for it in iterables]
    while iterators:
        alive = []
        for it in iterators:
            for item in it:
                yield item
                alive.append(it)
                break
        iterators = alive


class HeldLinks:
    """The undated links of one source: at most ``limit`` of them, by kind and document."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self._kinds: dict[str, dict[str, list[str]]] = {}  # kind -> document -> urls, in order
        self._held: set[str] = set()
        self._dropped: list[tuple[str, str]] = []  # (url, kind) dropped since take_dropped()

    def __len__(self) -> int:
        return len(self._held)

    def add(self, urls: Iterable[str], kind: str, document: str) -> Counter[str]:
        """Hold ``urls`` found by ``kind`` in ``document`` (those already held are skipped);
        returns how many links, of these or of those held before, were dropped by kind to stay
        within the limit."""
        bucket = self._kinds.setdefault(kind, {}).setdefault(document, [])
        dropped: Counter[str] = Counter()
        for url in urls:
            if url in self._held:
                continue
            if len(bucket) >= self.limit:  # one document alone never keeps more than the limit
                dropped[kind] += 1
                self._dropped.append((url, kind))
                continue
            self._held.add(url)
            bucket.append(url)
        if len(self._held) > self.limit:
            dropped.update(self._trim())
        return dropped

    def _trim(self) -> Counter[str]:
        """Cut the largest buckets to a common level, kinds first, then documents in a kind."""
        kinds = list(self._kinds.items())
        sizes = [sum(len(b) for b in docs.values()) for _, docs in kinds]
        dropped: Counter[str] = Counter()
        for (kind, docs), size, quota in zip(kinds, sizes, water_fill(sizes, self.limit), strict=True):
            if size <= quota:
                continue
            buckets = list(docs.values())
            for bucket, keep in zip(buckets, water_fill([len(b) for b in buckets], quota), strict=True):
                self._held.difference_update(bucket[keep:])
                dropped[kind] += len(bucket) - keep
                self._dropped.extend((url, kind) for url in bucket[keep:])
                del bucket[keep:]
        return dropped

    def take_dropped(self) -> list[tuple[str, str]]:
        """The (url, kind) links dropped since the last call (the caller keeps them for later)."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def release(self, skip: Callable[[str], bool] = lambda url: False) -> list[tuple[str, str]]:
        """Every held link with its kind but those ``skip`` names (requested meanwhile), fairly
        interleaved (one kind in turn, within it one document in turn); the buffer is empty
        afterwards."""
        order = list(round_robin(_by_document(kind, docs, skip) for kind, docs in self._kinds.items()))
        self._kinds.clear()
        self._held.clear()
        return order


def _by_document(kind: str, docs: dict[str, list[str]], skip: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
    return round_robin([(url, kind) for url in urls if not skip(url)] for urls in docs.values())
