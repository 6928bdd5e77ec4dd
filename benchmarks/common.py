"""What several benchmarks share."""

from __future__ import annotations

import logging
import os
from typing import Any

from indexing.settings import get_settings


def engine_for_prefix(prefix: str) -> Any:
    """An engine connection whose settings use ``prefix`` for every index and alias (the
    benchmark's own indices, never the user's)."""
    logging.basicConfig(level=logging.WARNING)
    os.environ["WARWATCH_INDEX_PREFIX"] = prefix
    from indexing.engine import connect
    from indexing.settings import reset_settings

    reset_settings()
    return connect(get_settings())
