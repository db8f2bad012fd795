"""Review queries: list matches, explain one article, mark items, count everything."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .db import iso, transaction
from .schema import ARTICLE_WHEN

if TYPE_CHECKING:
    import sqlite_utils

# "found": what the scorer found (related, copy) and what the reviewer kept whatever its verdict, so an item
# kept and later judged unrelated (another seed claims it, a threshold was raised) stays in listings and exports.
VERDICT_SETS = {
    "found": ("related", "copy"),
    "related": ("related",),
    "copy": ("copy",),
    "unrelated": ("unrelated",),
    "all": ("related", "copy", "unrelated"),
}

# When an article happened, as listings sort and filter by it: index articles_when's expression, so SQLite uses it.
_WHEN = ARTICLE_WHEN.replace("published_at", "a.published_at").replace("first_seen_at", "a.first_seen_at")

_FIRST_FEED = (
    "(SELECT f.url FROM article_feeds af JOIN feeds f ON f.id = af.feed_id"
    " WHERE af.article_id = a.id ORDER BY af.first_seen_at, f.id LIMIT 1)"
)


def fts_query(text: str) -> str:
    """A safe FTS5 query: every word quoted, all required (so user punctuation is never FTS syntax)."""
    tokens = re.findall(r"[^\W_]+", text, re.UNICODE)
    return " ".join(f'"{t}"' for t in tokens)


def _verdict_is(alias: str, verdict: str) -> str:
    """The condition that a match (table alias) passes the verdict filter; its parameters are VERDICT_SETS[verdict]."""
    marks = ",".join("?" * len(VERDICT_SETS[verdict]))
    if verdict == "found":  # both terms of the OR can use index matches_verdict (verdict, status)
        return f"({alias}.verdict IN ({marks}) OR ({alias}.verdict = 'unrelated' AND {alias}.status = 'kept'))"
    return f"{alias}.verdict IN ({marks})"


def query_matches(
    db: sqlite_utils.Database,
    text: str | None = None,
    seed_id: int | None = None,
    verdict: str = "found",
    status: str = "new",
    since: str | None = None,
    min_score: float | None = None,
    include_duplicates: bool = False,
    limit: int | None = 50,
) -> list[dict[str, Any]]:
    """Matches (one row per article and seed) with the fields of DESIGN.md's query contract."""
    where, params = [], []
    verdicts = VERDICT_SETS[verdict]
    where.append(_verdict_is("m", verdict))
    params.extend(verdicts)
    if status != "all":
        where.append("m.status = ?")
        params.append(status)
    if seed_id is not None:
        where.append("m.seed_id = ?")
        params.append(seed_id)
    if since:
        where.append(f"{_WHEN} >= ?")
        params.append(since)
    if min_score is not None:
        where.append("m.score >= ?")
        params.append(min_score)
    if not include_duplicates:
        # Collapse a duplicate into its original, unless the original itself is not listed for this seed.
        where.append(
            f"(a.duplicate_of IS NULL OR NOT EXISTS (SELECT 1 FROM matches o WHERE o.article_id = a.duplicate_of"
            f" AND o.seed_id = m.seed_id AND {_verdict_is('o', verdict)}))"
        )
        params.extend(verdicts)
    if text:
        match = fts_query(text)
        if not match:
            return []
        # A filter, not a ranking: bm25 over every article holding a common word costs ~0.2 s at 100,000 articles.
        where.append("a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
        params.append(match)
    if "unrelated" in verdicts:
        # Most matches are unrelated: walk the articles newest first and stop at the first page that passes
        # (sorting every match, or every hit of a common word, costs 0.1-0.3 s at 100,000 articles).
        source = "articles a INDEXED BY articles_when JOIN matches m ON m.article_id = a.id"
    else:
        # Related and copy matches are a few among all: start from them, whatever ANALYZE makes of the
        # full-text subquery (with its statistics SQLite would start from the words' hits).
        source = "matches m INDEXED BY matches_verdict JOIN articles a ON a.id = m.article_id"
    sql = (
        "SELECT a.id, a.url, a.link, a.title, a.published_at, a.first_seen_at, "
        f"{_FIRST_FEED} AS feed_url, m.seed_id, s.name AS seed, m.score, m.verdict, m.status, m.status_at, m.note, a.duplicate_of "
        f"FROM {source} JOIN seeds s ON s.id = m.seed_id "
        f"WHERE {' AND '.join(where)} ORDER BY {_WHEN} DESC, m.score DESC, a.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return list(db.query(sql, params))


def article_detail(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    """One article with its matches (and their explanations), sources and duplicates."""
    rows = list(db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
    if not rows:
        return None
    article = rows[0]
    article["matches"] = [
        {**m, "explain": json.loads(m["explain"] or "{}")}
        for m in db.query(
            "SELECT s.name AS seed, s.title AS seed_title, m.score, m.verdict, m.copy_score, m.base, m.explain, m.status,"
            " m.status_at, m.note, m.scored_at FROM matches m JOIN seeds s ON s.id = m.seed_id"
            " WHERE m.article_id = ? ORDER BY m.score DESC",
            [article_id],
        )
    ]
    article["sources"] = list(
        db.query(
            "SELECT f.id AS feed_id, f.url AS feed_url, f.title AS feed_title, af.guid, af.first_seen_at"
            " FROM article_feeds af JOIN feeds f ON f.id = af.feed_id WHERE af.article_id = ? ORDER BY af.first_seen_at",
            [article_id],
        )
    )
    article["duplicates"] = list(
        db.query(
            "SELECT id, url, title, first_seen_at, duplicate_score FROM articles WHERE duplicate_of = ? ORDER BY id",
            [article_id],
        )
    )
    if article["duplicate_of"]:
        original = list(db.query("SELECT id, url, title FROM articles WHERE id = ?", [article["duplicate_of"]]))
        article["original"] = original[0] if original else None
    return article


def existing_article_ids(db: sqlite_utils.Database, ids: list[int]) -> set[int]:
    marks = ",".join("?" * len(ids))
    return {r[0] for r in db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", ids)}


def mark(db: sqlite_utils.Database, article_ids: list[int], status: str, note: str | None = None, seed_id: int | None = None) -> int:
    """Set the review status of these articles' matches (for one seed, or all); returns rows changed."""
    marks = ",".join("?" * len(article_ids))
    sql = f"UPDATE matches SET status = ?, status_at = ?, note = coalesce(?, note) WHERE article_id IN ({marks})"
    params: list[Any] = [status, iso(), note, *article_ids]
    if seed_id is not None:
        sql += " AND seed_id = ?"
        params.append(seed_id)
    with transaction(db):
        return db.execute(sql, params).rowcount


def stats(db: sqlite_utils.Database) -> dict[str, Any]:
    """Counts by seed, verdict and review status (of what `query` finds by default); article and feed totals."""
    by_seed: dict[str, dict[str, int]] = {}
    for r in db.query(
        "SELECT s.name, m.verdict, m.status, count(*) AS n FROM matches m JOIN seeds s ON s.id = m.seed_id"
        " GROUP BY s.name, m.verdict, m.status ORDER BY s.name"
    ):
        seed = by_seed.setdefault(r["name"], {})
        seed[r["verdict"]] = seed.get(r["verdict"], 0) + r["n"]
        if r["verdict"] != "unrelated" or r["status"] == "kept":  # what `query` finds: related, copies, and all kept
            seed[r["status"]] = seed.get(r["status"], 0) + r["n"]
    for r in db.query("SELECT name FROM seeds"):
        by_seed.setdefault(r["name"], {})
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731 - a local shorthand
    return {
        "articles": one("SELECT count(*) FROM articles"),
        "duplicates": one("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL"),
        "feeds": {r["status"]: r["n"] for r in db.query("SELECT status, count(*) AS n FROM feeds GROUP BY status")},
        "seeds": by_seed,
        "last_poll": one("SELECT max(last_checked_at) FROM feeds"),
    }


def optimize(db: sqlite_utils.Database) -> None:
    """Merge the full-text index's segments and let SQLite refresh its planner statistics."""
    with transaction(db):
        db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
    db.execute("PRAGMA optimize")
