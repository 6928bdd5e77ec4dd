"""When each source's sitemaps and sections were last walked (a full discovery; between two, the
crawl DAG only polls feeds): ``state/discovery.json`` on the file backend, the table
``warwatch_discovery`` with ``state.backend: postgres`` (crawl workers on several hosts decide
from one record, and a flock-guarded JSON file on a shared volume is no record for them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from indexing import pgconn
from indexing.fileio import read_json
from indexing.settings import get_settings
from warwatch.pipeline import batches
from warwatch.pipeline.common import write_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS warwatch_discovery (source_id TEXT PRIMARY KEY, walked_at TIMESTAMPTZ NOT NULL);
"""


def _discovery_file() -> Path:
    return get_settings().state_dir / "discovery.json"


def _db() -> Any:
    """A connection to the state database (postgres), the table made sure of; None: the file."""
    state = get_settings().state
    dsn = state.postgres_dsn
    if dsn is None:
        return None
    conn = pgconn.connect(dsn, connect_timeout=state.connect_timeout, name="warwatch-discovery")
    try:
        pgconn.ensure_schema(conn, SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def record_full_discovery(source_ids: Iterable[str], now: datetime | None = None) -> None:
    """Remember when each source's sitemaps and sections were last walked."""
    when = now or datetime.now(UTC)
    ids = sorted(set(source_ids))
    conn = _db()
    if conn is None:
        path = _discovery_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with batches.data_lock("discovery", timeout=60):
            state = read_json(path)
            state.update({sid: when.isoformat() for sid in ids})
            write_json(path, state)
        return
    try:
        with conn, conn.cursor() as cur:  # one transaction
            for sid in ids:
                cur.execute("INSERT INTO warwatch_discovery (source_id, walked_at) VALUES (%s, %s) "
                            "ON CONFLICT (source_id) DO UPDATE SET walked_at = excluded.walked_at", (sid, when))
    finally:
        conn.close()


def _last_walk(source_id: str) -> datetime | None:
    conn = _db()
    if conn is None:
        last = read_json(_discovery_file()).get(source_id)
        try:
            return datetime.fromisoformat(str(last)) if last else None
        except ValueError:
            return None
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT walked_at FROM warwatch_discovery WHERE source_id = %s", (source_id,))
            row = cur.fetchone()
    finally:
        conn.close()
    return row[0] if row is not None else None


def full_discovery_due(source_id: str, now: datetime | None = None) -> bool:
    """True when ``source_id`` has not had a full discovery for ``pipeline.discovery_interval_hours``."""
    now = now or datetime.now(UTC)
    when = _last_walk(source_id)
    interval = timedelta(hours=get_settings().pipeline.discovery_interval_hours)
    return when is None or now - when >= interval
