"""What a run (batch) id may be: it names a directory under ``data/runs/``, a pending-queue file
and the crawl's WARC files, so the crawler and the pipeline check the one pattern."""

from __future__ import annotations

import re

#: letters, digits, ``.``, ``_``, ``-``; 1 to 128 characters
RUN_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: how ``--run-id`` help and errors describe it
RUN_ID_CHARS = "[A-Za-z0-9._-], up to 128"


def is_run_id(text: str) -> bool:
    return bool(RUN_ID_RE.match(text))
