"""How `make test` spreads work over xdist workers (tests/scheduling.py): files sharing a session
service are one unit, units go out longest first. Driven through xdist's own scheduler with
stand-in worker handles (the scheduler only calls ``send_runtest_some`` and ``shutdown``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from tests import scheduling

pytest.importorskip("xdist")


class _Config:
    class option:  # noqa: N801 - pytest's attribute name
        loadscopereorder = False

    def getvalue(self, name: str) -> Any:
        return ["2*popen"] if name == "tx" else None


class _Node:
    def __init__(self, name: str) -> None:
        self.gateway = type("G", (), {"id": name})()
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


COLLECTION = [
    "tests/test_a.py::test_1",
    "tests/test_a.py::test_2",
    "tests/dags/test_dagbag.py::test_x",
    "tests/test_slow.py::test_1",
    "tests/dags/test_airflow_rest.py::test_y",
    "tests/indexing/test_engine.py::test_bare",
    "tests/test_b.py::test_1",
    "tests/indexing/test_embeddings_es.py::test_knn",
]


def test_files_sharing_a_service_are_one_unit_and_other_files_their_own() -> None:
    assert scheduling.unit_of("tests/dags/test_dagbag.py::test_x") == "airflow"
    assert scheduling.unit_of("tests/dags/test_airflow_ui.py::test_y[p]") == "airflow"
    assert scheduling.unit_of("tests/indexing/test_engine.py::t") == "bare-elasticsearch"
    assert scheduling.unit_of("tests/indexing/test_embeddings_es.py::t") == "bare-elasticsearch"
    assert scheduling.unit_of("tests/warwatch/test_localnode.py::test_bare_elasticsearch_smoke") == "bare-elasticsearch"
    assert scheduling.unit_of("tests/warwatch/test_localnode.py::test_knn_opensearch_smoke") == "knn-opensearch"
    assert scheduling.unit_of("tests/warwatch/test_localnode.py::test_stop_really_stops") == "tests/warwatch/test_localnode.py"
    assert scheduling.unit_of("tests/test_a.py::test_1[x::y]") == "tests/test_a.py"


#: session node fixtures -> the unit every test asking for them must be in (one JVM per session)
SESSION_NODE_UNITS = {"bare_elasticsearch": "bare-elasticsearch", "bare_elasticsearch_node": "bare-elasticsearch",
                      "knn_opensearch": "knn-opensearch", "knn_opensearch_node": "knn-opensearch"}


def test_every_test_of_a_session_node_is_in_its_unit() -> None:
    """A test asking for a session node in a unit of its own would start a second JVM on another
    worker: each must be listed in SHARED_SERVICE_UNITS (directly, by its file or by its id)."""
    tests = Path(__file__).resolve().parent
    misplaced = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                for arg in node.args.args:
                    unit = SESSION_NODE_UNITS.get(arg.arg)
                    if unit and scheduling.unit_of(f"{rel}::{node.name}") != unit:
                        misplaced.append(f"{rel}::{node.name} ({arg.arg})")
    assert misplaced == []


def test_heavy_independent_tests_are_units_of_their_own() -> None:
    kill = "tests/warwatch/test_kill.py::test_interrupted_run_then_next_run_indexes_everything_once[crawl-SIGINT]"
    assert scheduling.unit_of(kill) == kill
    peeled = scheduling.PEELED_TESTS[0]
    assert scheduling.unit_of(peeled) == peeled
    assert scheduling.unit_of(peeled.split("::")[0] + "::test_other") == peeled.split("::")[0]


def _shared_fixtures(source: str) -> list[str]:
    """Fixtures defined in ``source`` with a scope wider than a test's."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                scope = [k.value for k in getattr(deco, "keywords", []) if k.arg == "scope"]
                if scope and not (isinstance(scope[0], ast.Constant) and scope[0].value == "function"):
                    found.append(node.name)
    return found


def test_split_files_share_no_fixture_between_their_tests() -> None:
    """A module fixture in a split file would start once per worker that gets one of its tests;
    a peeled test must exist (a renamed one would silently rejoin its file)."""
    root = Path(__file__).resolve().parent.parent
    assert _shared_fixtures("@pytest.fixture(scope='module')\ndef f(): pass\n") == ["f"]
    for path in scheduling.SPLIT_FILES:
        assert _shared_fixtures((root / path).read_text()) == [], path
    for test in scheduling.PEELED_TESTS:
        path, name = test.split("::", 1)
        assert f"def {name}(" in (root / path).read_text(), test


def test_longest_first_and_unknown_units_count_one_second() -> None:
    durations = {"b": 5.0, "c": 50.0}
    assert scheduling.longest_first(["a", "b", "c", "d"], durations) == ["c", "b", "a", "d"]


def test_durations_file_missing_or_broken_orders_nothing(tmp_path: Path) -> None:
    assert scheduling.load_durations(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert scheduling.load_durations(tmp_path / "bad.json") == {}
    (tmp_path / "ok.json").write_text(json.dumps({"u": 3, "v": "x"}))
    assert scheduling.load_durations(tmp_path / "ok.json") == {"u": 3.0}


def test_the_scheduler_sends_shared_service_units_whole_to_one_worker_longest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduling, "load_durations",
                        lambda path=None: {"airflow": 100.0, "tests/test_slow.py": 60.0, "bare-elasticsearch": 30.0})
    sched = scheduling.make_scheduler(_Config(), None)
    nodes = [_Node("gw0"), _Node("gw1")]
    for node in nodes:
        sched.add_node(node)
    for node in nodes:
        sched.add_node_collection(node, COLLECTION)
    sched.schedule()
    first = [COLLECTION[i] for i in nodes[0].sent]
    second = [COLLECTION[i] for i in nodes[1].sent]
    # the longest unit first to the first worker, the next to the second
    assert {scheduling.unit_of(n) for n in first[:2]} == {"airflow"}
    assert scheduling.unit_of(second[0]) == "tests/test_slow.py"
    for unit in ("airflow", "bare-elasticsearch"):
        holders = [n for n, sent in zip(nodes, (first, second), strict=True)
                   if any(scheduling.unit_of(t) == unit for t in sent)]
        assert len(holders) == 1, unit
    # every test sent once or still queued for whichever worker finishes first
    queued = [n for unit in sched.workqueue.values() for n in unit]
    assert sorted(first + second + queued) == sorted(COLLECTION)
