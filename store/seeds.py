"""Seeds: the articles that define the stories being followed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from .db import iso, transaction

if TYPE_CHECKING:
    import sqlite_utils


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
    """Insert or update a seed by name; returns (id, 'added' | 'updated' | 'unchanged').

    A new seed, or one whose text, threshold or keywords changed, is marked for scoring against every
    stored article in the same transaction, so the scoring survives a crash (see scoring_pending).
    """
    keywords_json = json.dumps(keywords or [])
    with transaction(db):
        row = get_seed(db, name)
        if row is None:
            cursor = db.execute(
                "INSERT INTO seeds (name, title, url, body, threshold, keywords, source, content_hash, added_at, updated_at,"
                " scoring_after, scoring_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                [name, title, url, body, threshold, keywords_json, source, content_hash, iso(), iso(), iso()],
            )
            return cursor.lastrowid, "added"
        rescore = row["content_hash"] != content_hash or row["threshold"] != threshold or row["keywords"] != keywords_json
        if not rescore and row["url"] == url:
            return row["id"], "unchanged"
        db.execute(
            "UPDATE seeds SET title = ?, url = ?, body = ?, threshold = ?, keywords = ?, source = ?, content_hash = ?,"
            " updated_at = ?, scoring_after = CASE WHEN ? THEN 0 ELSE scoring_after END,"
            " scoring_at = CASE WHEN ? THEN ? ELSE scoring_at END WHERE id = ?",
            [title, url, body, threshold, keywords_json, source, content_hash, iso(), rescore, rescore, iso(), row["id"]],
        )
        return row["id"], "updated"


def version(db: sqlite_utils.Database) -> int:
    """A number that changes whenever a seed is added, removed or changes what it scores (kept by triggers).

    Read inside a write transaction, it tells a writer of matches whether the seeds it judged with are
    still the stored ones.
    """
    row = db.execute("SELECT value FROM meta WHERE key = 'seeds_version'").fetchone()
    return int(row[0]) if row else 0


def scoring_pending(db: sqlite_utils.Database) -> dict[int, tuple[int, str | None]]:
    """Seeds whose scoring is unfinished: id -> (articles up to this id are done, when it last progressed)."""
    return {
        r[0]: (r[1], r[2])
        for r in db.execute("SELECT id, scoring_after, scoring_at FROM seeds WHERE scoring_after IS NOT NULL")
    }


def start_scoring(db: sqlite_utils.Database, seed_ids: list[int] | None = None) -> None:
    """Mark these seeds (all when None) for scoring against every stored article again, starting now."""
    with transaction(db):
        if seed_ids is None:
            db.execute("UPDATE seeds SET scoring_after = 0, scoring_at = ?", [iso()])
        else:
            db.conn.executemany("UPDATE seeds SET scoring_after = 0, scoring_at = ? WHERE id = ?", [(iso(), i) for i in seed_ids])


def advance_scoring_tx(db: sqlite_utils.Database, seed_id: int, through: int) -> None:
    """Record, inside the caller's transaction, that the seed is judged on every article up to id through."""
    db.execute(
        "UPDATE seeds SET scoring_after = ?, scoring_at = ? WHERE id = ? AND scoring_after < ?",
        [through, iso(), seed_id, through],
    )


def finish_scoring_tx(db: sqlite_utils.Database, seed_id: int) -> bool:
    """Mark the seed's scoring done if no stored article lies beyond its cursor (inside the caller's transaction)."""
    return db.execute(
        "UPDATE seeds SET scoring_after = NULL, scoring_at = ? WHERE id = ? AND scoring_after IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM articles WHERE id > seeds.scoring_after)",
        [iso(), seed_id],
    ).rowcount == 1


def feedback_candidates(db: sqlite_utils.Database, seed_id: int, count: int, threshold: float) -> list[int]:
    """The seed's best matches, best first: the articles kept for it, then those its text alone finds.

    "Its text alone finds": the match's base (its score against the seed's text, before keywords and
    claims) reaches the threshold, and no other seed's text scores the article higher. Base scores do
    not depend on what any seed learned, so what a seed learns from never picks its own successors, and
    an article feeds one seed only: the story it resembles most. Never a copy of the seed, a duplicate
    of another article, one missing the seed's must-have keywords, or a dismissed item.
    """
    if count <= 0:
        return []
    common = "JOIN articles a ON a.id = m.article_id WHERE m.seed_id = ? AND a.duplicate_of IS NULL AND m.verdict != 'copy'"
    kept = [r[0] for r in db.execute(  # the few kept: found by status (ordering by base would walk every match)
        f"SELECT m.article_id FROM matches m INDEXED BY matches_listing {common}"
        " AND m.verdict IN ('related', 'unrelated') AND m.status = 'kept' ORDER BY m.base DESC, m.article_id LIMIT ?",
        [seed_id, count],
    )]
    found = [r[0] for r in db.execute(
        f"SELECT m.article_id FROM matches m {common} AND m.base >= ? AND m.status = 'new'"
        " AND json_extract(m.explain, '$.missing_keywords') IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM matches o WHERE o.article_id = m.article_id AND o.seed_id != m.seed_id AND o.base > m.base)"
        " ORDER BY m.base DESC, m.article_id LIMIT ?",
        [seed_id, threshold, count],
    )]
    return (kept + found)[:count]


def update_feedback(
    db: sqlite_utils.Database,
    count: int,
    default_threshold: float,
    waits: Callable[[str | None, int], bool] | None = None,
) -> tuple[list[int], dict[int, str]]:
    """Set each seed's feedback to its feedback_candidates; a seed whose set changed is marked for scoring again.

    waits(learned_at, articles), given when the seed's set last changed and the articles stored, may
    leave a change for later. Never a seed's first or last best matches, nor a change that an article's
    review mark makes (kept, dismissed, or back to new). One transaction; returns the seeds that changed,
    and the seeds whose change waits with the time their set last changed.
    """
    changed: list[int] = []
    waiting: dict[int, str] = {}
    with transaction(db):
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0] if waits else 0
        rows = db.execute("SELECT id, feedback, threshold, learned_at FROM seeds ORDER BY id").fetchall()
        for seed_id, stored_json, threshold, learned_at in rows:
            best = feedback_candidates(db, seed_id, count, default_threshold if threshold is None else threshold)
            stored = json.loads(stored_json)
            if set(best) == set(stored):  # the same articles in another order: the same vectors
                continue
            if waits and best and stored and not _marked(db, seed_id, set(best) ^ set(stored)) and waits(learned_at, articles):
                waiting[seed_id] = learned_at
                continue
            now = iso()
            db.execute(
                "UPDATE seeds SET feedback = ?, scoring_after = 0, scoring_at = ?, learned_at = ? WHERE id = ?",
                [json.dumps(best), now, now, seed_id],
            )
            changed.append(seed_id)
    return changed, waiting


def _marked(db: sqlite_utils.Database, seed_id: int, article_ids: set[int]) -> bool:
    """Whether any of these articles has a review mark for the seed, or had one (its match was marked back to new)."""
    marks = ",".join("?" * len(article_ids))
    return db.execute(
        f"SELECT EXISTS (SELECT 1 FROM matches WHERE seed_id = ? AND article_id IN ({marks}) AND (status != 'new' OR status_at IS NOT NULL))",
        [seed_id, *article_ids],
    ).fetchone()[0] == 1


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


def remove_seed_tx(db: sqlite_utils.Database, seed_id: int) -> list[int]:
    """Remove a seed and its matches (articles stay) inside the caller's transaction.

    Returns the articles it called related or a copy: the caller judges them again for the other seeds in
    the same transaction, since the seed may have claimed them (ingest.manage.remove_seed does). The
    articles it resembled most may now be other seeds' best matches: the next learning applies that at
    once, whatever its pace.
    """
    own = [r[0] for r in db.execute("SELECT article_id FROM matches WHERE seed_id = ? AND verdict != 'unrelated'", [seed_id])]
    db.execute("DELETE FROM matches WHERE seed_id = ?", [seed_id])
    db.execute("DELETE FROM seeds WHERE id = ?", [seed_id])
    db.execute("UPDATE seeds SET learned_at = NULL")
    return own
