"""Seeds: the articles that define the stories being followed."""

from __future__ import annotations

import json

import sqlite_utils

from .db import iso, transaction


def upsert_seed(
    db: sqlite_utils.Database,
    name: str,
    title: str,
    body: str,
    content_hash: str,
    url: str | None = None,
    threshold: float | None = None,
    keywords: list[str] | None = None,
    source: str | None = None,
) -> tuple[int, str]:
    """Insert or update a seed by name; returns (id, 'added' | 'updated' | 'unchanged')."""
    keywords_json = json.dumps(keywords or [])
    with transaction(db):
        row = get_seed(db, name)
        if row is None:
            cursor = db.execute(
                "INSERT INTO seeds (name, title, url, body, threshold, keywords, source, content_hash, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, title, url, body, threshold, keywords_json, source, content_hash, iso(), iso()],
            )
            return cursor.lastrowid, "added"
        same = (
            row["content_hash"] == content_hash
            and row["threshold"] == threshold
            and row["keywords"] == keywords_json
            and row["url"] == url
        )
        if same:
            return row["id"], "unchanged"
        db.execute(
            "UPDATE seeds SET title = ?, url = ?, body = ?, threshold = ?, keywords = ?, source = ?, content_hash = ?,"
            " updated_at = ? WHERE id = ?",
            [title, url, body, threshold, keywords_json, source, content_hash, iso(), row["id"]],
        )
        return row["id"], "updated"


def get_seed(db: sqlite_utils.Database, name_or_id: str | int) -> dict | None:
    text = str(name_or_id)
    if text.isdigit():
        rows = list(db.query("SELECT * FROM seeds WHERE id = ? OR name = ?", [int(text), text]))
    else:
        rows = list(db.query("SELECT * FROM seeds WHERE name = ?", [text]))
    return rows[0] if rows else None


def list_seeds(db: sqlite_utils.Database) -> list[dict]:
    """Every seed with its match counts."""
    return list(
        db.query(
            "SELECT s.*, "
            " (SELECT count(*) FROM matches m WHERE m.seed_id = s.id AND m.verdict = 'related') AS related,"
            " (SELECT count(*) FROM matches m WHERE m.seed_id = s.id AND m.verdict = 'copy') AS copies"
            " FROM seeds s ORDER BY s.name"
        )
    )


def remove_seed(db: sqlite_utils.Database, seed_id: int) -> None:
    """Remove a seed and its matches (articles stay)."""
    with transaction(db):
        db.execute("DELETE FROM matches WHERE seed_id = ?", [seed_id])
        db.execute("DELETE FROM seeds WHERE id = ?", [seed_id])
