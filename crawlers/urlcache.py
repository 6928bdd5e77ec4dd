"""Memoised pure URL functions for the crawl's hot path.

A crawl asks the same questions about the same URL several times (scheduling, middlewares,
the article callback, redirects); these wrappers answer repeats from bounded LRU caches.
Every function here is a pure function of its arguments, so caching changes no result.
"""

from __future__ import annotations

import functools

from indexing.sources import Source
from indexing.urls import canonicalize_url, host_in_scope, is_private_address, url_host

_SIZE = 16384


@functools.lru_cache(maxsize=_SIZE)
def canonical(url: str) -> str:
    """``indexing.urls.canonicalize_url``, memoised."""
    return canonicalize_url(url)


@functools.lru_cache(maxsize=_SIZE)
def _in_scope(url: str, source_url: str) -> bool:
    return host_in_scope(url, source_url)


def in_scope(source: Source, url: str) -> bool:
    """``source.in_scope(url)``, memoised (the scope is a function of the two URLs)."""
    return _in_scope(url, source.url)


@functools.lru_cache(maxsize=4096)
def host_is_private(host: str) -> bool:
    """``indexing.urls.is_private_address(host)``, memoised (it caches its DNS answers for
    the process already)."""
    return is_private_address(host)


@functools.lru_cache(maxsize=4096)
def normalised_host(hostname: str) -> str:
    """``indexing.urls.url_host`` of a URL whose ``urlsplit(url).hostname`` is ``hostname``."""
    return url_host(f"http://[{hostname}]/" if ":" in hostname else f"http://{hostname}/")
