"""How `make test` spreads the suite over its xdist workers (``--dist loadfile``).

A work unit is a test file (its module fixtures start once), except that files sharing an
expensive session service are one unit, so only one worker starts it: ``airflow standalone`` and the
migrated Airflow DB (tests/dags), the bare Elasticsearch node (``bare_elasticsearch``), the OpenSearch
node with the k-NN plugin (``knn_opensearch``); and that the
heavy tests of a few files with no module fixture are units of their own (``SPLIT_FILES``: every test,
``PEELED_TESTS``: one test of a file), so one file's minutes spread over every worker instead of
ending the run on one. Units go out
longest first (``tests/durations.json``: seconds per unit, measured with
``scripts/test-durations.py``; a unit it does not know counts as one second), so the slow files do
not start last and leave one worker running alone at the end. The durations only order the work:
a stale file costs balance, never a test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DURATIONS = Path(__file__).resolve().parent / "durations.json"

#: test ids (a directory, a file or one test) that share an expensive session service -> their unit
SHARED_SERVICE_UNITS: dict[str, str] = {
    "tests/dags/": "airflow",
    "tests/indexing/test_embeddings_es.py": "bare-elasticsearch",
    "tests/indexing/test_engine.py": "bare-elasticsearch",
    "tests/warwatch/test_localnode.py::test_bare_elasticsearch_smoke": "bare-elasticsearch",
    # the files using `knn_opensearch` (OpenSearch with the k-NN plugin)
    "tests/indexing/test_embeddings_osknn.py": "knn-opensearch",
    "tests/warwatch/test_localnode.py::test_knn_opensearch_smoke": "knn-opensearch",
}


#: files of heavy, independent tests (no module- or package-scoped fixture: tests/test_scheduling.py
#: checks): each test, each parametrised case, is a unit
SPLIT_FILES: tuple[str, ...] = (
    "tests/warwatch/test_kill.py",
    "tests/crawlers/test_isolation.py",
    "tests/warwatch/test_pipeline.py",
)
#: heavy tests with only function fixtures, in a file whose other tests share a module fixture
PEELED_TESTS: tuple[str, ...] = (
    "tests/crawlers/test_hostile.py::test_warwatch_run_indexes_every_good_article",
)


def unit_of(nodeid: str) -> str:
    """The work unit of a test id: its file, the shared-service unit the file belongs to, or the
    test itself (``SPLIT_FILES``, ``PEELED_TESTS``)."""
    path = nodeid.split("::", 1)[0]
    if path in SPLIT_FILES or nodeid.split("[", 1)[0] in PEELED_TESTS:
        return nodeid
    test = nodeid.split("[", 1)[0]
    for prefix, unit in SHARED_SERVICE_UNITS.items():
        if test == prefix or (path.startswith(prefix) and "::" not in prefix):
            return unit
    return path


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def longest_first(units: list[str], durations: dict[str, float]) -> list[str]:
    """``units`` ordered by expected seconds, longest first (ties keep collection order)."""
    return sorted(units, key=lambda u: -durations.get(u, 1.0))


def make_scheduler(config: Any, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    durations = load_durations()

    class UnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def schedule(self) -> None:
            # The base class fills its (ordered) work queue by assignment: keys placed here first
            # keep this order.
            if self.collection is None and self.collection_is_completed and self.registered_collections:
                collection = next(iter(self.registered_collections.values()))
                units = list(dict.fromkeys(unit_of(n) for n in collection))
                for unit in longest_first(units, durations):
                    self.workqueue[unit] = {}
            super().schedule()

    return UnitScheduling(config, log)
