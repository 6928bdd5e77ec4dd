"""Connections to the shared-state database (``state.backend: postgres``) and the advisory-lock
keys every user of it agrees on.

psycopg2 is imported here, lazily: the default (file) install does not need it (it comes with the
``production`` extra). The DSN is handed in by the caller (the entry points read ``state.dsn``);
it is a secret and never appears in an error message.

Advisory locks are keyed ``(namespace, hashtext(name))``: one namespace per kind of lock, so a
batch, a crawl source and a crawl run of the same name never collide. A *session* lock lives as
long as the connection that took it: when its process dies, however it dies (SIGKILL included),
the server sees the connection close and drops the lock -- what ``flock`` gives on one host.
"""

from __future__ import annotations

import re
from typing import Any

from indexing.errors import ConfigError

#: advisory-lock namespaces (the first int4 of the two-key form)
NS_BATCH = 0x57570001
NS_DATA_LOCK = 0x57570002
NS_CRAWL_SOURCE = 0x57570003
NS_CRAWL_RUN = 0x57570004
NS_SCHEMA = 0x57570005
#: the story index (indexing.dedup_pg): its banding (shared by assignments, exclusive to re-band it)
#: and the keys one assignment serialises on (doc id, body hash, LSH bands)
NS_DEDUP_BANDING = 0x57570006
NS_DEDUP_KEY = 0x57570007


class StateUnavailable(ConfigError):
    """The state database cannot be reached (or psycopg2 is missing)."""


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password (URL or ``key=value`` form), for messages."""
    dsn = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn, flags=re.IGNORECASE)


def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 10, name: str = "warwatch") -> Any:
    """A new psycopg2 connection to ``dsn``; :class:`StateUnavailable` with the DSN redacted when
    psycopg2 is missing or the server does not answer."""
    try:
        import psycopg2
    except ImportError as exc:
        raise StateUnavailable("state.backend is postgres but psycopg2 is not installed: "
                               "pip install 'warwatch[production]'") from exc
    try:
        conn = psycopg2.connect(dsn, connect_timeout=connect_timeout, application_name=name)
    except psycopg2.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateUnavailable(f"state database {redact_dsn(dsn)} unreachable: {redact_dsn(first)}") from exc
    conn.autocommit = autocommit
    return conn


def ensure_schema(conn: Any, ddl: str) -> None:
    """Run ``ddl`` (CREATE ... IF NOT EXISTS statements) once at a time across processes:
    concurrent ``CREATE TABLE IF NOT EXISTS`` can fail on Postgres' catalog."""
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (NS_SCHEMA,))
            cur.execute(ddl)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = autocommit


def try_lock(conn: Any, namespace: int, name: str) -> bool:
    """Take the session advisory lock ``(namespace, name)`` without waiting."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (namespace, name))
        return bool(cur.fetchone()[0])


def unlock(conn: Any, namespace: int, name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (namespace, name))
        return bool(cur.fetchone()[0])


def lock_is_free(conn: Any, namespace: int, name: str) -> bool:
    """True when nobody holds ``(namespace, name)`` (taken and dropped again at once)."""
    if not try_lock(conn, namespace, name):
        return False
    unlock(conn, namespace, name)
    return True
