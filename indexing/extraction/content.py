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

The same for ``compare_extraction`` (the full precision pass on thin pages: readability and
jusText against trafilatura's extraction), which prunes the whole raw page with the first of
those lists before readability reads it.
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


def _with_walks(module: Any, prunes: tuple[str, ...], functions: tuple[str, ...]) -> dict[str, Any]:
    """``functions`` of trafilatura's ``module`` over a copy of its namespace in which the lists
    named in ``prunes`` are walks; {} if the module is not shaped as expected."""
    try:
        namespace = dict(vars(module))
        for name in prunes:
            namespace[name] = walks(namespace[name])
        for name in functions:
            namespace[name] = _rebound(namespace[name], namespace)
    except (KeyError, TypeError) as exc:  # pragma: no cover - trafilatura's extraction moved
        logger.info("trafilatura's %s runs with its XPath prunes: %s", module.__name__, exc)
        return {}
    return {name: namespace[name] for name in functions}


def _walked() -> tuple[Callable[..., Any], Callable[..., Any], bool]:
    from trafilatura import external, main_extractor

    extraction = _with_walks(main_extractor, _PRUNES, _REBOUND)
    comparison = _with_walks(external, ("OVERALL_DISCARD_XPATH",), ("compare_extraction",))
    return (
        extraction.get("extract_content", main_extractor.extract_content),
        comparison.get("compare_extraction", external.compare_extraction),
        bool(extraction and comparison),
    )


extract_content, compare_extraction, WALKED = _walked()
