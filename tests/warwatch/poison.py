"""An extractor that never finishes on a poisoned page (the worker running it must be killed) and
is the real one on every other page. Outside a worker process (in the pipeline's own process,
where nothing could stop it) it fails at once instead of hanging the test."""

from __future__ import annotations

import os
import threading
from typing import Any

from indexing.extraction import extract as _real  # bound before a test puts this module in its place

MARK = b"<!-- warwatch-test: this page hangs the extractor -->"
#: a page that kills the worker process running the extractor (a crash in a C extension)
CRASH = b"<!-- warwatch-test: this page crashes the extractor -->"
PARENT_ENV = "WARWATCH_TEST_PARENT_PID"


def extract(html: str | bytes, url: str | None = None) -> Any:
    raw = html if isinstance(html, bytes) else html.encode("utf-8")
    if MARK in raw:
        if os.environ.get(PARENT_ENV) == str(os.getpid()):
            raise AssertionError("the poisoned page is extracted in the pipeline's own process: "
                                 "it would hang the clean stage for good")
        threading.Event().wait()  # stuck for good, like a regex backtracking for hours
    if CRASH in raw and os.environ.get(PARENT_ENV) != str(os.getpid()):
        os._exit(139)  # what a segfault in a parser looks like from outside
    return _real(html, url=url)
