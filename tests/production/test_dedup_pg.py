"""The story index of duplicate detection on Postgres (issue #18 §2, ``state.backend: postgres``).

- The story tests of tests/indexing/test_dedup.py that go through the ``index`` fixture run again
  here, their index in a Postgres schema of its own (the same test functions: nothing copied).
- What the file's own tests check through SQLite files, checked on the database: parameters,
  re-banding by another connection, the publication window, reopening.
- Two processes ("hosts") assigning near copies of the same stories at the same moment end with
  one story per event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from indexing.dedup import BaseStoryIndex, DedupStateError, StoryIndex, open_story_index
from indexing.dedup_pg import PgStoryIndex, lock_keys
from indexing.settings import DedupSettings, reset_settings
from indexing.statesettings import StateSettings
from tests.conftest import REPO_ROOT
from tests.indexing.test_dedup import (  # noqa: F401  (collected again with the Postgres `index`)
    STORY,
    T0,
    rewrite,
    test_different_stories_on_the_same_subject_stay_apart,
    test_earliest_published_copy_is_canonical_and_story_id_is_stable,
    test_edited_article_is_re_banded,
    test_exact_duplicate,
    test_rewritten_copies_share_the_story,
    test_short_bodies_only_exact,
    test_truncated_syndicated_copy,
)
from tests.production import services
from tests.production.conftest import fresh_schema


@pytest.fixture
def state(postgres: services.Postgres) -> StateSettings:
    return StateSettings(backend="postgres", dsn=fresh_schema(postgres))  # type: ignore[arg-type]


def _open(state: StateSettings, tmp_path: Path, **dedup: object) -> BaseStoryIndex:
    return open_story_index(tmp_path / "state", DedupSettings().model_copy(update=dedup), state)


@pytest.fixture
def index(state: StateSettings, tmp_path: Path) -> Iterator[BaseStoryIndex]:
    """The story index in a Postgres schema of the test's own (overrides test_dedup's file)."""
    with _open(state, tmp_path) as idx:
        yield idx


def test_postgres_backend_is_chosen_and_leaves_no_file(index: BaseStoryIndex, tmp_path: Path) -> None:
    assert isinstance(index, PgStoryIndex)
    index.assign("a", STORY, T0)
    assert not (tmp_path / "state" / "dedup.sqlite3").exists()
    assert isinstance(open_story_index(tmp_path / "state", DedupSettings(), StateSettings()), StoryIndex)


def test_persistent_across_connections_and_parameters_checked(state: StateSettings, tmp_path: Path) -> None:
    with _open(state, tmp_path) as idx:
        a = idx.assign("a", STORY, T0)
        assert idx.assign("a", STORY, T0) == a and len(idx) == 1  # idempotent
    with _open(state, tmp_path) as idx:
        assert idx.story_of("a") == a.story_id and len(idx) == 1
        near = idx.assign("b", rewrite(STORY, 0.04, seed=1), T0 - timedelta(hours=1))
        assert near.story_id == a.story_id and near.canonical_doc_id == "b"  # the earlier copy
    with pytest.raises(DedupStateError, match="shingle_size"):
        _open(state, tmp_path, shingle_size=7)


def test_follows_bands_rebuilt_by_another_connection(state: StateSettings, tmp_path: Path) -> None:
    with _open(state, tmp_path) as idx:
        a = idx.assign("a", STORY, T0)
        _open(state, tmp_path, near_duplicate_threshold=0.8).close()  # re-bands the shared table
        b = idx.assign("b", rewrite(STORY, 0.01, seed=4), T0)
        assert b.story_id == a.story_id and b.is_near_duplicate
        rows = idx.sql_exec("SELECT COUNT(DISTINCT band), COUNT(*) FROM {bands}").fetchall()
    assert rows == [(14, 2 * 14)]


def test_publication_window(state: StateSettings, tmp_path: Path) -> None:
    with _open(state, tmp_path, near_duplicate_window_days=3) as idx:
        a = idx.assign("a", STORY, T0)
        assert idx.assign("near", rewrite(STORY, 0.04, seed=1), T0 + timedelta(days=2)).story_id == a.story_id
        assert idx.assign("later", rewrite(STORY, 0.04, seed=2), T0 + timedelta(days=30)).story_id != a.story_id


def test_lock_keys_are_sorted_distinct_and_shared_by_near_copies() -> None:
    keys = lock_keys("doc", "hash", [11, 22, 22])
    assert keys == sorted(set(keys)) and len(keys) == 5  # doc, hash, and three (band, key) pairs
    assert all(-(2**31) <= k < 2**31 for k in keys)
    # one band in common is one lock in common: that is what makes near copies take turns
    assert len(set(keys) & set(lock_keys("other", "hash2", [99, 22, 33]))) == 1


def _host(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.production.pgstate_worker", *args], cwd=REPO_ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run_hosts(envs: list[dict[str, str]], *args: str) -> list[dict[str, object]]:
    """Start one worker per environment, let them all go at once, and collect their answers."""
    hosts = [_host(env, *(a.format(host=i) for a in args)) for i, env in enumerate(envs)]
    try:
        for h in hosts:
            assert h.stdout is not None and json.loads(h.stdout.readline()) == "ready"
        for h in hosts:
            assert h.stdin is not None
            h.stdin.write("go\n")
            h.stdin.flush()
        out = []
        for h in hosts:
            stdout, _ = h.communicate(timeout=120)
            assert h.returncode == 0
            out.append(json.loads(stdout))
        return out
    finally:
        for h in hosts:
            if h.poll() is None:
                h.kill()
                h.wait()


def host_envs(state: StateSettings, tmp_path: Path, n: int = 2) -> list[dict[str, str]]:
    """The environments of ``n`` hosts sharing only the state database (their own data dirs)."""
    assert state.dsn is not None
    return [{**os.environ, "WARWATCH_DATA_DIR": str(tmp_path / f"host-{i}"), "WARWATCH_STATE__BACKEND": "postgres",
             "WARWATCH_STATE__DSN": state.dsn.get_secret_value(), "WARWATCH_EMBEDDINGS__BACKEND": "none"}
            for i in range(n)]


def test_two_hosts_assigning_near_copies_at_once_end_with_one_story_each(state: StateSettings,
                                                                            tmp_path: Path) -> None:
    stories = 40
    envs = host_envs(state, tmp_path)
    got = run_hosts(envs, "assign", "{host}1", str(stories))  # seeds 01 and 11: different copies
    first, second = got
    assert len(first) == len(second) == stories
    for i in range(stories):
        assert first[f"01-{i}"] == second[f"11-{i}"], f"story {i}: two stories for one event"
    assert len({first[f"01-{i}"] for i in range(stories)}) == stories  # unrelated stories stay apart
    reset_settings()
    with open_story_index(tmp_path / "state", DedupSettings(), state) as idx:
        assert len(idx) == 2 * stories
        assert idx.sql_exec("SELECT COUNT(*) FROM {stories}").fetchone()[0] == stories
