"""Articles, their sources, matches, the near-duplicate index and document frequencies.

Functions ending in `_tx` run inside the caller's transaction (one per feed poll).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .db import iso

if TYPE_CHECKING:
    import sqlite_utils

ARTICLE_FIELDS = (
    "url", "link", "guid", "title", "summary", "content", "content_html", "author",
    "published_at", "updated_at", "language", "duplicate_of", "duplicate_score", "shingle_count", "index_keys",
)
_CHUNK = 500  # SQLite's default host-parameter limit is well above this
MAX_LOOKUP_KEYS = 2000  # index keys looked up per text (a 10,000-word text has more; its head decides)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def feed_guids(db: sqlite_utils.Database, feed_id: int) -> set[str]:
    """Every GUID stored for this feed."""
    return {r[0] for r in db.execute("SELECT guid FROM article_feeds WHERE feed_id = ?", [feed_id])}


def known_guids(db: sqlite_utils.Database, feed_id: int, guids: list[str]) -> set[str]:
    """The GUIDs of this feed that are already stored."""
    found: set[str] = set()
    for chunk in _chunks(guids):
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0] for r in db.execute(f"SELECT guid FROM article_feeds WHERE feed_id = ? AND guid IN ({marks})", [feed_id, *chunk])
        )
    return found


def ids_by_url(db: sqlite_utils.Database, urls: list[str]) -> dict[str, int]:
    """Stored article ids for these canonical URLs."""
    found: dict[str, int] = {}
    for chunk in _chunks(urls):
        marks = ",".join("?" * len(chunk))
        found.update((u, i) for u, i in db.execute(f"SELECT url, id FROM articles WHERE url IN ({marks})", chunk))
    return found


def add_source_tx(db: sqlite_utils.Database, feed_id: int, guid: str, article_id: int) -> None:
    db.execute(
        "INSERT OR IGNORE INTO article_feeds (feed_id, guid, article_id, first_seen_at) VALUES (?, ?, ?, ?)",
        [feed_id, guid, article_id, iso()],
    )


def insert_article_tx(db: sqlite_utils.Database, fields: dict[str, Any]) -> int:
    """Insert one article (fields from ARTICLE_FIELDS) and return its id."""
    values = [fields.get(k) for k in ARTICLE_FIELDS]
    cursor = db.execute(
        f"INSERT INTO articles ({', '.join(ARTICLE_FIELDS)}, first_seen_at) VALUES ({', '.join('?' * len(ARTICLE_FIELDS))}, ?)",
        [*values, iso()],
    )
    return cursor.lastrowid


def add_shingles_tx(db: sqlite_utils.Database, article_id: int, hashes: Iterable[int]) -> None:
    db.conn.executemany("INSERT OR IGNORE INTO shingles (hash, article_id) VALUES (?, ?)", [(h, article_id) for h in hashes])


def postings(db: sqlite_utils.Database, keys: list[int]) -> dict[int, list[int]]:
    """The articles each of these index keys points at (keys that point at none left out)."""
    found: dict[int, list[int]] = {}
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        for h, article_id in db.execute(f"SELECT hash, article_id FROM shingles WHERE hash IN ({marks})", chunk):
            ids = found.get(h)
            if ids is None:
                found[h] = [article_id]
            else:
                ids.append(article_id)
    return found


def index_info(db: sqlite_utils.Database, ids: list[int]) -> dict[int, tuple[int | None, int]]:
    """For these articles: id -> (duplicate_of, index_keys)."""
    found: dict[int, tuple[int | None, int]] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update((i, (d, k)) for i, d, k in db.execute(f"SELECT id, duplicate_of, index_keys FROM articles WHERE id IN ({marks})", chunk))
    return found


def load_df(db: sqlite_utils.Database) -> tuple[dict[str, int], int]:
    """All document frequencies and the number of documents they were counted over."""
    df = dict(db.execute("SELECT term, df FROM term_df").fetchall())
    row = db.execute("SELECT value FROM meta WHERE key = 'df_docs'").fetchone()
    return df, int(row[0]) if row else 0


def add_df_tx(db: sqlite_utils.Database, counts: Counter[str], docs: int) -> None:
    """Add one poll's term document counts to the store's totals."""
    if not docs:
        return
    db.conn.executemany(
        "INSERT INTO term_df (term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
        counts.items(),
    )
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('df_docs', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
        [docs],
    )


def upsert_match_tx(
    db: sqlite_utils.Database,
    article_id: int,
    seed_id: int,
    score: float,
    verdict: str,
    copy_score: float,
    explain: dict[str, Any],
    base: float | None = None,
) -> None:
    """Record a score and verdict (base: the score against the seed's text alone); a review status already given is kept."""
    db.execute(
        "INSERT INTO matches (article_id, seed_id, score, verdict, copy_score, explain, base, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(article_id, seed_id) DO UPDATE SET score = excluded.score, verdict = excluded.verdict, "
        "copy_score = excluded.copy_score, explain = excluded.explain, base = excluded.base, scored_at = excluded.scored_at",
        [article_id, seed_id, round(score, 4), verdict, round(copy_score, 4), json.dumps(explain),
         None if base is None else round(base, 4), iso()],
    )


def owners(db: sqlite_utils.Database, article_ids: list[int]) -> dict[int, set[int]]:
    """For these articles, the seeds whose stored match calls them related or a copy (article id -> seed ids)."""
    found: dict[int, set[int]] = {}
    for chunk in _chunks(article_ids):
        marks = ",".join("?" * len(chunk))
        for article_id, seed_id in db.execute(
            f"SELECT article_id, seed_id FROM matches WHERE article_id IN ({marks}) AND verdict != 'unrelated'", chunk
        ):
            found.setdefault(article_id, set()).add(seed_id)
    return found


def articles_after(db: sqlite_utils.Database, after: int, limit: int = 500) -> list[dict]:
    """The next stored articles' ids and texts with an id above after, in id order (a scoring batch)."""
    return list(db.query("SELECT id, title, summary, content FROM articles WHERE id > ? ORDER BY id LIMIT ?", [after, limit]))


def count_after(db: sqlite_utils.Database, after: int, most: int = -1) -> int:
    """How many stored articles have an id above after, counting no further than most (-1: all of them)."""
    return db.execute("SELECT count(*) FROM (SELECT 1 FROM articles WHERE id > ? LIMIT ?)", [after, most]).fetchone()[0]


def article_count(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def article_texts(db: sqlite_utils.Database, ids: list[int]) -> list[dict]:
    """Title, summary and content of these articles, in the order asked."""
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in db.query(f"SELECT id, title, summary, content FROM articles WHERE id IN ({marks})", ids)}
    return [rows[i] for i in ids if i in rows]
