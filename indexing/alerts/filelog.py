"""The file channel's record of what it wrote: which alert ids each ``alerts/<watch>.jsonl`` holds.

The file channel is idempotent per alert id (a run killed between the write and the outbox
update writes again: once per alert). Asking the file itself meant reading all of it on every
delivery, which grows with every alert ever sent. Instead ``alerts/.delivered.sqlite`` keeps the
ids found in each file and the byte offset read up to; a delivery reads only what was appended
since (normally the one line the previous delivery wrote), then looks its id up in an index.

The JSONL file stays the truth: the index is rebuilt from it when the file was replaced or
truncated (another inode, or shorter than the offset), or when the index file is lost; a torn last
line (a crash in the middle of a write) is read again once it is complete. A delivery holds the
index's write lock from the look-up to the append, so two evaluations at once cannot both write
one alert.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

INDEX_FILE = ".delivered.sqlite"
# json.dumps writes the key exactly so; inside a JSON string the quotes would be escaped.
_ALERT_ID = re.compile(rb'"alert_id": "((?:[^"\\]|\\.)*)"')
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, inode INTEGER, offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ids (name TEXT NOT NULL, alert_id TEXT NOT NULL, PRIMARY KEY (name, alert_id))
    WITHOUT ROWID;
"""


class DeliveredIndex:
    """The delivered ids of one JSONL file, under the index's write lock (see :func:`open_index`)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        #: lines read from the file by :meth:`catch_up` (tests count the work)
        self.lines_read = 0

    def catch_up(self) -> None:
        """Index the lines appended since the last look (all of them for a new or replaced file)."""
        db, name = self._db, self.path.name
        row = db.execute("SELECT inode, offset FROM files WHERE name=?", (name,)).fetchone()
        inode, offset = row if row is not None else (None, 0)
        try:
            st = self.path.stat()
        except FileNotFoundError:
            st = None
        if st is None or st.st_ino != inode or st.st_size < offset:
            db.execute("DELETE FROM ids WHERE name=?", (name,))
            offset = 0
        if st is not None and st.st_size > offset:
            offset = self._read_from(offset)
        db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?)", (name, st.st_ino if st else None, offset))

    def _read_from(self, offset: int) -> int:
        with self.path.open("rb") as fh:
            fh.seek(offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn by a crash (or being written): read again when complete
                offset += len(line)
                self.lines_read += 1
                self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?,?)",
                                     [(self.path.name, m.decode("utf-8", "replace"))
                                      for m in _ALERT_ID.findall(line)])
        return offset

    def __contains__(self, alert_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE name=? AND alert_id=?",
                                (self.path.name, alert_id)).fetchone() is not None


@contextlib.contextmanager
def open_index(path: Path) -> Iterator[DeliveredIndex]:
    """The index of ``path`` (a JSONL file of alerts), caught up, with the write lock held until
    the block ends (write the alert inside it). Raises ``sqlite3.Error`` or ``OSError``."""
    db = sqlite3.connect(path.parent / INDEX_FILE, timeout=30, isolation_level=None)
    try:
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            index = DeliveredIndex(db, path)
            index.catch_up()
            yield index
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()
