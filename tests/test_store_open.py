"""Opening the store: open_reader gives read-only commands sqlite3 alone, and hands anything unusual to open_db."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from store import schema
from store.db import Reader, StoreError, open_db, open_reader, transaction


def add_feeds(db, n: int) -> None:
    with transaction(db):
        for i in range(n):
            db.execute("INSERT INTO feeds (url, title, added_at) VALUES (?, ?, 'now')", [f"https://example.org/{i}", f"Feed {i}"])


def test_a_current_store_opens_as_a_reader_that_reads_what_sqlite_utils_reads(fresh_db, db_path):
    add_feeds(fresh_db, 3)
    reader = open_reader(db_path)
    assert isinstance(reader, Reader)
    sql = "SELECT id, url, title FROM feeds WHERE id > ? ORDER BY id"
    assert list(reader.query(sql, [1])) == list(fresh_db.query(sql, [1]))
    assert list(reader.query("SELECT count(*) AS n FROM feeds")) == [{"n": 3}]
    assert reader.execute("SELECT count(*) FROM feeds").fetchone() == (3,)


def test_a_reader_cannot_write(fresh_db, db_path):
    add_feeds(fresh_db, 1)
    reader = open_reader(db_path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("DELETE FROM feeds")
    assert fresh_db.execute("SELECT count(*) FROM feeds").fetchone() == (1,)


def test_a_store_that_does_not_exist_is_created_by_open_db(db_path):
    db = open_reader(db_path)
    assert isinstance(db, sqlite_utils.Database)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_store_is_migrated_before_it_is_read(db_path):
    db = open_db(db_path, migrate_schema=False)
    with transaction(db):
        schema.MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
    db.conn.close()
    opened = open_reader(db_path)
    assert isinstance(opened, sqlite_utils.Database)
    assert opened.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)


def test_a_store_newer_than_this_seedwatch_is_refused_as_open_db_refuses_it(fresh_db, db_path):
    fresh_db.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match=f"cannot open database {db_path}: its schema version .* is newer than this seedwatch's"):
        open_reader(db_path)


def test_a_file_that_is_not_sqlite_is_a_store_error_and_is_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"not a database\x00" * 100)
    with pytest.raises(StoreError, match="notes.db"):
        open_reader(path)
    assert path.read_bytes() == b"not a database\x00" * 100
