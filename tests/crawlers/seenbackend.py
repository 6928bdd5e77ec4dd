"""Where a test's seen-store lives: the SQLite file under a state directory (the ``seen`` fixture of
tests/crawlers) or a Postgres schema of its own (tests/production/test_seen_store_pg.py, which runs
the same tests against it). Tests open stores and look at what is committed through this, never
through one backend's API."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawlers.state import FILE_NAME, BaseSeenStore, open_seen_store
from indexing.statesettings import StateSettings


@dataclass
class SeenBackend:
    state_dir: Path
    dsn: str | None = None  # None: the file backend

    @property
    def name(self) -> str:
        return "file" if self.dsn is None else "postgres"

    @property
    def settings(self) -> StateSettings:
        return StateSettings(backend=self.name, dsn=self.dsn)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        """The environment a process on this backend gets (WARWATCH_STATE__*)."""
        env = {"WARWATCH_STATE__BACKEND": self.name}
        if self.dsn is not None:
            env["WARWATCH_STATE__DSN"] = self.dsn
        return env

    def open(self, **kwargs: Any) -> BaseSeenStore:
        return open_seen_store(self.state_dir, self.settings, **kwargs)

    def committed_urls(self) -> set[str]:
        """Article URLs another connection sees (what survives a crash)."""
        return {r[0] for r in self.rows("SELECT url FROM {articles}")}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """``sql`` (tables as ``{articles}``, ``{pending}``, ...) on a connection of its own."""
        if self.dsn is None:
            db = sqlite3.connect(self.state_dir / FILE_NAME)
            try:
                return list(db.execute(sql.format(articles="articles", pending="pending", aliases="aliases")))
            finally:
                db.close()
        from crawlers.state_pg import PREFIX
        from indexing import pgconn

        conn = pgconn.connect(self.dsn, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.format(articles=f"{PREFIX}articles", pending=f"{PREFIX}pending",
                                       aliases=f"{PREFIX}aliases"))
                return list(cur.fetchall())
        finally:
            conn.close()

    @property
    def integrity_error(self) -> type[BaseException]:
        """What a write breaking a constraint raises."""
        if self.dsn is None:
            return sqlite3.IntegrityError
        import psycopg2

        return psycopg2.IntegrityError
