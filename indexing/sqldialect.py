"""Statements written once for SQLite and Postgres: ``?`` parameter markers and ``{word}``
placeholders for what the two spell differently (table names, ``GREATEST``/``MAX``, ``FOR
UPDATE``), translated once per statement by the store that runs them (the crawler's seen-store,
the story index)."""

from __future__ import annotations


class SqlDialect:
    """Mixed into a store: :attr:`_WORDS` (each placeholder's spelling) and :attr:`_PARAM` (the
    driver's parameter marker) are set by the store's dialect class."""

    _WORDS: dict[str, str] = {}
    _PARAM = "?"

    def translate(self, sql: str) -> str:
        """``sql`` in the dialect's words and parameter markers (cached per statement)."""
        cache: dict[str, str] = self.__dict__.setdefault("_statements", {})
        out = cache.get(sql)
        if out is None:
            out = cache[sql] = sql.format(**self._WORDS).replace("?", self._PARAM)
        return out
