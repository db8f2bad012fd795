"""Open the SQLite store (WAL, busy timeout, migrations) and run writes in BEGIN IMMEDIATE transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import MIGRATIONS, NewerSchema, migrate, refuse_newer

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
# A long poll's page cache grows with the store, 1/16 of the file within these bounds (SQLite's default is
# 2 MiB): a cold pull of 100,000 articles slowed by a fifth over its run as the FTS5 and near-duplicate
# b-trees outgrew 2 MiB; 32 MiB on every connection would cost small stores memory for nothing.
CACHE_MIN_KIB, CACHE_MAX_KIB = 2 * 1024, 32 * 1024
# SQLite copies the WAL into the database every 1,000 pages (4 MiB) by default. A poll commits once a feed,
# and a cold pull's feeds each write ~1 MiB, mostly to the same FTS5 and index pages: copied again every
# few feeds. A poll checkpoints every POLL_CHECKPOINT_PAGES instead (200-feed cold pull: commits 3.7 ->
# 2.0 s, the poll 19.0 -> 16.9 s; 4,000-40,000 pages all gave 16.2-17.9 s, never checkpointing 19.0 s),
# and a WAL file left larger than WAL_KEEP_BYTES is cut back to it when SQLite next starts it afresh.
DEFAULT_CHECKPOINT_PAGES, POLL_CHECKPOINT_PAGES = 1_000, 10_000
WAL_KEEP_BYTES = 16 * 1024 * 1024


class StoreError(Exception):
    """The database cannot be opened or written (not SQLite, read-only, disk full)."""


def open_db(path: str | Path, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the store at path, ready for concurrent readers and writers."""
    import sqlite_utils  # here, not at the top: the parser processes use store/ without a connection (~80 ms)

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise StoreError(f"cannot open database {path}: folder {path.parent} does not exist")
    conn = None
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")
        conn.execute("PRAGMA foreign_keys = ON")
        # No sqlite-utils plugins: their prepare_connection hook has nothing to give seedwatch, and finding
        # them scans every installed package's entry points (~10-20 ms of each command's start).
        db = sqlite_utils.Database(conn, execute_plugins=False)
        if migrate_schema:
            migrate(db, transaction)
    except (sqlite3.DatabaseError, NewerSchema) as exc:
        if conn is not None:
            conn.close()
        raise StoreError(f"cannot open database {path}: {exc}") from None
    if mode.lower() != "wal" and str(path) != ":memory:":
        conn.close()
        raise StoreError(f"cannot open database {path}: WAL mode refused ({mode})")
    return db


class Reader:
    """The store for a command that only reads: the calls store/'s reads make (conn, execute, query) on sqlite3 alone.

    `seedwatch query` spent ~45 of its ~97 ms importing sqlite-utils (dateutil and its regexes among them)
    for these three calls. store/'s reading functions take it where their hints say Database. The
    connection is query_only, so a write sent here fails instead of landing.
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Any = None) -> Iterator[dict[str, Any]]:
        """Each row as a dict, as sqlite_utils.Database.query gives it for store/'s reads.

        Unlike it, the statement runs when the first row is asked for, and a column name given twice keeps
        the last value: store/ lists its rows at once and names each column once.
        """
        cursor = self.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))


def open_reader(path: str | Path) -> Reader | sqlite_utils.Database:
    """Open the store to read only; a store that does not exist yet or needs migrating is opened by open_db."""
    path = Path(path)
    if not path.is_file():
        return open_db(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        refuse_newer(current)
    except (sqlite3.DatabaseError, NewerSchema) as exc:
        conn.close()
        raise StoreError(f"cannot open database {path}: {exc}") from None
    if current != len(MIGRATIONS) or journal.lower() != "wal":
        conn.close()
        return open_db(path)
    conn.execute("PRAGMA query_only = ON")
    return Reader(conn)


def fit_page_cache(db: sqlite_utils.Database) -> int:
    """Size this connection's page cache to 1/16 of the store (CACHE_MIN_KIB..CACHE_MAX_KIB); returns KiB."""
    try:
        pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = db.conn.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.Error:
        return 0  # a speed-up only: a store that cannot answer this says so at its next read or write
    kib = min(CACHE_MAX_KIB, max(CACHE_MIN_KIB, pages * page_size // 16 // 1024))
    return _set_page_cache(db, kib)


def release_page_cache(db: sqlite_utils.Database) -> None:
    """Shrink this connection's page cache back to CACHE_MIN_KIB (a daemon between polls holds no more)."""
    _set_page_cache(db, CACHE_MIN_KIB)


def checkpoint_rarely(db: sqlite_utils.Database, rarely: bool = True) -> None:
    """Checkpoint this connection's WAL every POLL_CHECKPOINT_PAGES (a poll's many commits), or with rarely=False as SQLite does."""
    pages = POLL_CHECKPOINT_PAGES if rarely else DEFAULT_CHECKPOINT_PAGES
    try:
        db.conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
    except sqlite3.Error:
        pass  # a speed-up only, as the page cache's size


def _set_page_cache(db: sqlite_utils.Database, kib: int) -> int:
    try:
        db.conn.execute(f"PRAGMA cache_size = {-kib}")
    except sqlite3.Error:
        return 0  # a closed or broken connection: nothing to size
    return kib


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction taken with BEGIN IMMEDIATE, so writers queue instead of failing."""
    conn = db.conn
    for attempt in range(20):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            # busy_timeout already waited; this covers the rare lock that outlasts it.
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt))
    else:
        raise StoreError("database stayed locked by another writer for too long")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(when: datetime | None = None) -> str:
    """A UTC timestamp as stored: 'YYYY-MM-DDTHH:MM:SSZ' (sorts as text, reads in Datasette)."""
    return (when or utcnow()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_in(seconds: float) -> str:
    return iso(utcnow() + timedelta(seconds=seconds))
