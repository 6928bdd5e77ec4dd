"""The open health episodes: ``(source, rule) -> story key`` of the alert that opened each, in
``state/health.sqlite`` (one machine, the default) or, with ``state.backend: postgres``, in the
table ``warwatch_health_episodes`` that checks on every host share. :func:`open_episodes` is
the one place that picks the backend; the statements are written once (:class:`Episodes`).

Opening and closing say whether *this* call did it (an insert that found the row there, a
delete that found none: another check did it first), so two checks running at once report an
episode opened (or closed) once between them; the alert itself is once per episode through the
outbox's claim (``indexing.alerts``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing import pgconn
from indexing.health.rules import Finding
from indexing.statesettings import StateSettings

#: ``{episodes}``: the table; ``?``: the parameter marker (translated per dialect)
_SCHEMA = ("CREATE TABLE IF NOT EXISTS {episodes} (source TEXT NOT NULL, rule TEXT NOT NULL, "
           "story_key TEXT NOT NULL, alert_id TEXT NOT NULL, opened_at TEXT NOT NULL, PRIMARY KEY (source, rule))")
PG_TABLE = "warwatch_health_episodes"


class Episodes:
    """The open episodes; a dialect gives :meth:`_run` (one statement, committed) and :meth:`shut`."""

    _TABLE = "episodes"
    _PARAM = "?"

    def _sql(self, sql: str) -> str:
        return sql.format(episodes=self._TABLE).replace("?", self._PARAM)

    def _run(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """Rows (of a SELECT) and the count of rows changed."""
        raise NotImplementedError

    def open_keys(self) -> set[tuple[str, str]]:
        return {(s, r) for s, r in self._run("SELECT source, rule FROM {episodes}")[0]}

    def open(self, finding: Finding, story_key: str, aid: str) -> bool:
        """Record the episode open; False when it already was (another check opened it)."""
        return self._run("INSERT INTO {episodes} VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                         (finding.source, finding.rule, story_key, aid, datetime.now(UTC).isoformat()))[1] == 1

    def close(self, key: tuple[str, str]) -> bool:
        """Close the episode ``(source, rule)``; False when it was not open (any more)."""
        return self._run("DELETE FROM {episodes} WHERE source=? AND rule=?", key)[1] == 1

    def shut(self) -> None:
        raise NotImplementedError


class FileEpisodes(Episodes):
    """The episodes in the SQLite file ``path`` (shared with the health alerts' outbox)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._run(_SCHEMA)

    def _run(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[tuple[Any, ...]], int]:
        cur = self._db.execute(self._sql(sql), tuple(args))
        return cur.fetchall(), cur.rowcount

    def shut(self) -> None:
        self._db.close()


class PgEpisodes(Episodes):
    """The episodes in the state database (``dsn``, a secret: never in a message)."""

    _TABLE = PG_TABLE
    _PARAM = "%s"

    def __init__(self, dsn: str, *, connect_timeout: int = 10) -> None:
        self._db = pgconn.connect(dsn, autocommit=True, connect_timeout=connect_timeout, name="warwatch-health")
        try:
            pgconn.ensure_schema(self._db, self._sql(_SCHEMA))
        except BaseException:
            self._db.close()
            raise

    def _run(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[tuple[Any, ...]], int]:
        with self._db.cursor() as cur:
            cur.execute(self._sql(sql), tuple(args) or None)
            return (cur.fetchall() if cur.description else []), cur.rowcount

    def shut(self) -> None:
        self._db.close()


def open_episodes(path: Path, state: StateSettings) -> Episodes:
    """The open episodes on the configured backend: the file ``path`` or the state database."""
    dsn = state.postgres_dsn
    if dsn is None:
        return FileEpisodes(path)
    return PgEpisodes(dsn, connect_timeout=state.connect_timeout)
