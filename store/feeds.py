"""Feeds and their polling state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .db import iso, transaction

if TYPE_CHECKING:
    import sqlite_utils

FEED_STATE_FIELDS = {
    "url", "title", "site_url", "interval_seconds", "full_text", "status", "etag", "last_modified", "body_hash",
    "ttl_seconds", "last_checked_at", "last_success_at", "next_check_at", "error_count", "last_error",
    "redirect_target", "redirect_streak", "previous_url", "entry_count",
}


def add_feed(
    db: sqlite_utils.Database,
    url: str,
    title: str | None = None,
    site_url: str | None = None,
    interval_seconds: int | None = None,
    full_text: bool = False,
) -> tuple[int, bool]:
    """Add a feed unless its URL (or its pre-redirect URL) is known; returns (id, created)."""
    with transaction(db):
        existing = find_feed(db, url)
        if existing:
            changes: dict[str, Any] = {}
            if interval_seconds is not None and existing["interval_seconds"] != interval_seconds:
                changes["interval_seconds"] = interval_seconds
            if full_text and not existing["full_text"]:
                changes["full_text"] = 1
            if title and not existing["title"]:
                changes["title"] = title
            if changes:
                _update(db, existing["id"], changes)
            return existing["id"], False
        cursor = db.execute(
            "INSERT INTO feeds (url, title, site_url, interval_seconds, full_text, added_at) VALUES (?, ?, ?, ?, ?, ?)",
            [url, title, site_url, interval_seconds, int(full_text), iso()],
        )
        return cursor.lastrowid, True


def find_feed(db: sqlite_utils.Database, url_or_id: str | int) -> dict | None:
    """A feed by id, URL, or the URL it had before a permanent redirect."""
    text = str(url_or_id).strip()
    if text.isdigit():
        rows = list(db.query("SELECT * FROM feeds WHERE id = ?", [int(text)]))
    else:
        rows = list(db.query("SELECT * FROM feeds WHERE url = ? OR previous_url = ? ORDER BY url = ? DESC", [text, text, text]))
    return rows[0] if rows else None


def list_feeds(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM feeds ORDER BY id"))


def due_feeds(db: sqlite_utils.Database, now: str, include_all: bool = False) -> list[dict]:
    """Feeds to poll now (or every enabled feed with include_all), the most overdue first."""
    where = "status NOT IN ('gone', 'disabled')"
    params: list[Any] = []
    if not include_all:
        where += " AND (next_check_at IS NULL OR next_check_at <= ?)"
        params.append(now)
    return list(db.query(f"SELECT * FROM feeds WHERE {where} ORDER BY next_check_at IS NOT NULL, next_check_at, id", params))


def update_feed(db: sqlite_utils.Database, feed_id: int, changes: dict[str, Any]) -> None:
    """Write a feed's state in its own transaction."""
    with transaction(db):
        _update(db, feed_id, changes)


def update_feeds(db: sqlite_utils.Database, states: list[tuple[int, dict[str, Any]]]) -> None:
    """Write several feeds' states (feed id, changes) in one transaction."""
    with transaction(db):
        for feed_id, changes in states:
            _update(db, feed_id, changes)


def update_feed_in_tx(db: sqlite_utils.Database, feed_id: int, changes: dict[str, Any]) -> None:
    """Write a feed's state inside the caller's transaction (the poll's one transaction)."""
    _update(db, feed_id, changes)


def _update(db: sqlite_utils.Database, feed_id: int, changes: dict[str, Any]) -> None:
    unknown = set(changes) - FEED_STATE_FIELDS
    if unknown:
        raise ValueError(f"unknown feed fields: {sorted(unknown)}")
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE feeds SET {sets} WHERE id = ?", [*changes.values(), feed_id])


def remove_feed(db: sqlite_utils.Database, feed_id: int) -> None:
    """Remove a feed; its articles stay (with their other sources)."""
    with transaction(db):
        db.execute("DELETE FROM article_feeds WHERE feed_id = ?", [feed_id])
        db.execute("DELETE FROM feeds WHERE id = ?", [feed_id])


def feed_health(db: sqlite_utils.Database) -> dict[str, int]:
    """Feed counts by status."""
    return {r["status"]: r["n"] for r in db.query("SELECT status, count(*) AS n FROM feeds GROUP BY status")}
