"""The configuration error every loader raises (a module of its own: the settings, the strict YAML
path and the enrichment files all raise it, and none of them has to import another for it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the file and the key."""


@contextmanager
def raised_as(error: type[ConfigError]) -> Iterator[None]:
    """Re-raise a :class:`ConfigError` from the block as ``error`` (a subclass naming the kind of
    file, e.g. the enrichment files'), message unchanged."""
    try:
        yield
    except error:
        raise
    except ConfigError as exc:
        raise error(*exc.args) from exc.__cause__ or exc
