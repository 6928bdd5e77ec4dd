"""trafilatura's content extraction (``extract_content``) with its section prunes as element walks.

``extract_content`` prunes every candidate subtree it tries (``prune_unwanted_sections``) with
XPath expressions that test id, class, role and style attributes through EXSLT ``re:test``: a
Python callback per tested element, ~1.7 ms per article page, more than a tenth of an
``extract()``. prunes.py has walks that select the same elements in the same order.

trafilatura is not patched: its module keeps its XPath and every other caller gets what it got.
Here the functions of its extraction that reach those prunes (``extract_content``, ``_extract``,
``recover_wild_text``, ``prune_unwanted_sections``) are built again from trafilatura's own code
objects over a copy of its module's namespace in which the four lists of prunes are the walks
(each expression the walks do not mirror stays as it is). Nothing of trafilatura's code is
copied: whatever else it does, it does as written. The copy of the namespace is taken at import:
a name trafilatura's module rebinds later is not seen (a list edited in place is: it is shared).
If its module is not shaped as expected (another trafilatura), its own ``extract_content`` runs.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from typing import Any

from .prunes import walks

logger = logging.getLogger(__name__)

# the prunes prune_unwanted_sections reads, and the functions between extract_content and it
_PRUNES = ("OVERALL_DISCARD_XPATH", "DISCARD_IMAGE_ELEMENTS", "TEASER_DISCARD_XPATH", "PRECISION_DISCARD_XPATH")
_REBOUND = ("prune_unwanted_sections", "recover_wild_text", "_extract", "extract_content")


def _rebound(fn: Any, namespace: dict[str, Any]) -> Any:
    """``fn`` (a plain module-level function) with ``namespace`` as its globals."""
    if not isinstance(fn, types.FunctionType) or fn.__closure__:
        raise TypeError(f"{fn!r} is not a plain function")
    out = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
    out.__kwdefaults__ = fn.__kwdefaults__
    out.__qualname__, out.__doc__, out.__module__ = fn.__qualname__, fn.__doc__, __name__
    return out


def _with_walks() -> tuple[Callable[..., Any], bool]:
    """trafilatura's extract_content over the walks, and whether it is (False: its own)."""
    from trafilatura import main_extractor

    try:
        namespace = dict(vars(main_extractor))
        for name in _PRUNES:
            namespace[name] = walks(namespace[name])
        for name in _REBOUND:
            namespace[name] = _rebound(namespace[name], namespace)
    except (KeyError, TypeError) as exc:  # pragma: no cover - trafilatura's extraction moved
        logger.info("trafilatura's extract_content runs with its XPath prunes: %s", exc)
        return main_extractor.extract_content, False
    return namespace["extract_content"], True


extract_content, WALKED = _with_walks()
