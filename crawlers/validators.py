"""Conditional-GET validators (ETag / Last-Modified) of feeds and sitemaps, saved only for
documents read completely.

A saved validator makes the next run's request conditional: a 304 means "nothing new here",
so a document whose discovery was cut short must not save one, or what the cut left is never
seen again (archive sitemaps rarely change). A document is complete when it was parsed without
a bound cutting its URL list (``sitemap_max_urls``) or its children (``sitemap_max_children``,
``sitemap_max_depth``), every listed article URL was scheduled or persisted as pending (the
scheduler persists what the per-source article cap leaves over), and every child sitemap it
listed is complete in turn. A child that fails transiently or is refused by the time budget
leaves its ancestors incomplete; a permanent failure (404, robots.txt) does not.

Validators are written when a document and all its children are settled, so a crawl killed
half-way saves nothing for the unfinished part and the next run reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawlers.state_base import BaseSeenStore

#: meta key of a discovery request: the URL its validators are stored under (the URL first
#: requested, which the conditional headers were looked up by, even after a redirect)
DOC_META = "validators_doc"


@dataclass
class _Doc:
    parent: str | None
    open_children: int = 0
    settled_self: bool = False
    complete: bool = True
    etag: str | None = None
    last_modified: str | None = None
    save: bool = False


class DocumentValidators:
    def __init__(self, store: BaseSeenStore) -> None:
        self.store = store
        self._docs: dict[str, _Doc] = {}
        self._registered: set[str] = set()  # every document requested this run (a duplicate is filtered)

    def requested(self, url: str, parent: str | None = None) -> bool:
        """A discovery request for ``url`` (a child of ``parent``) is made; False when it was
        requested before in this run (Scrapy's duplicate filter drops it: not waited for)."""
        if url in self._registered:
            return False
        self._registered.add(url)
        owner = self._docs.get(parent) if parent is not None else None
        self._docs[url] = _Doc(parent if owner is not None else None)
        if owner is not None:
            owner.open_children += 1
        return True

    def incomplete(self, url: str) -> None:
        """A bound cut what ``url`` lists (or a child of it failed): it and its ancestors keep
        the validators they had (none saved now)."""
        doc = self._docs.get(url)
        for _ in range(len(self._docs)):  # a parent is registered before its child: no cycle
            if doc is None:
                return
            doc.complete = False
            doc = self._docs.get(doc.parent) if doc.parent is not None else None

    def parsed(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """``url`` was answered 200 and read; its validators are saved once its children settle."""
        doc = self._docs.get(url)
        if doc is None:
            return
        doc.etag, doc.last_modified, doc.save = etag, last_modified, True
        self._settle(url)

    def not_modified(self, url: str) -> None:
        """``url`` answered 304: complete as it was (its validators stay)."""
        self._settle(url)

    def failed(self, url: str, permanent: bool) -> None:
        """The request for ``url`` failed: a transient failure leaves its ancestors incomplete."""
        if not permanent:
            self.incomplete(url)
        self._settle(url)

    def _settle(self, url: str) -> None:
        doc = self._docs.get(url)
        if doc is None:
            return
        doc.settled_self = True
        while doc is not None and doc.settled_self and doc.open_children <= 0:
            if doc.complete and doc.save:
                self.store.set_validators(url, doc.etag, doc.last_modified)
            del self._docs[url]
            parent = self._docs.get(doc.parent) if doc.parent is not None else None
            if parent is None:
                return
            parent.open_children -= 1
            url, doc = str(doc.parent), parent
