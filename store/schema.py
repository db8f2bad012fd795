"""The schema and its forward migrations; PRAGMA user_version records how far a file has come."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils


# When an article happened: the expression of index articles_when, which store.review sorts and filters by.
ARTICLE_WHEN = "coalesce(published_at, first_seen_at)"

SCHEMA_V1 = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT,
    site_url TEXT,
    interval_seconds INTEGER,          -- NULL: the default interval
    full_text INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new', -- new, ok, error, gone, disabled
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    ttl_seconds INTEGER,               -- the feed's own <ttl> or Cache-Control max-age
    added_at TEXT NOT NULL,
    last_checked_at TEXT,
    last_success_at TEXT,
    next_check_at TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    redirect_target TEXT,              -- a permanent redirect seen on the last poll
    redirect_streak INTEGER NOT NULL DEFAULT 0,
    previous_url TEXT,                 -- the URL before a permanent redirect moved the feed
    entry_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX feeds_due ON feeds(status, next_check_at);

CREATE TABLE seeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    url TEXT,
    body TEXT NOT NULL,
    threshold REAL,                    -- NULL: the default threshold
    keywords TEXT NOT NULL DEFAULT '[]',
    source TEXT,                       -- the file or URL it was loaded from
    content_hash TEXT NOT NULL,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,          -- canonical URL: the identity across feeds
    link TEXT,
    guid TEXT,
    title TEXT,
    summary TEXT,
    content TEXT,
    content_html TEXT,
    author TEXT,
    published_at TEXT,
    updated_at TEXT,
    first_seen_at TEXT NOT NULL,
    language TEXT,
    duplicate_of INTEGER REFERENCES articles(id),
    duplicate_score REAL,
    shingle_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX articles_first_seen ON articles(first_seen_at);
CREATE INDEX articles_duplicate_of ON articles(duplicate_of);

CREATE TABLE article_feeds (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    guid TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, guid)
) WITHOUT ROWID;
CREATE INDEX article_feeds_article ON article_feeds(article_id);

CREATE TABLE matches (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    seed_id INTEGER NOT NULL REFERENCES seeds(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    verdict TEXT NOT NULL,             -- copy, related, unrelated
    copy_score REAL NOT NULL DEFAULT 0,
    explain TEXT,                      -- JSON: top shared terms and the copy evidence
    status TEXT NOT NULL DEFAULT 'new', -- new, kept, dismissed
    status_at TEXT,
    note TEXT,
    scored_at TEXT NOT NULL,
    PRIMARY KEY (article_id, seed_id)
);
CREATE INDEX matches_listing ON matches(seed_id, verdict, status);
CREATE INDEX matches_verdict ON matches(verdict, status);

-- Sampled shingle hashes (1 in SAMPLE_MOD), the index behind near-duplicate lookups.
CREATE TABLE shingles (
    hash INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    PRIMARY KEY (hash, article_id)
) WITHOUT ROWID;

-- Document frequencies learned from the store, for TF-IDF.
CREATE TABLE term_df (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

-- Full-text search over articles, kept in step by triggers (the layout sqlite-utils and Datasette expect).
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, content, content=articles, content_rowid=id, tokenize='porter unicode61'
);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, summary, content) VALUES (new.id, new.title, new.summary, new.content);
END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
END;
CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
    INSERT INTO articles_fts (rowid, title, summary, content) VALUES (new.id, new.title, new.summary, new.content);
END;
"""


def _v1(db: sqlite_utils.Database) -> None:
    run_script(db, SCHEMA_V1)


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run a SQL script statement by statement inside the caller's transaction (executescript would commit)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement: {buffer[:80]}")


def _v2(db: sqlite_utils.Database) -> None:
    """Index keys per article (for containment estimates); the shingle hash changed, so old keys go."""
    db.execute("ALTER TABLE articles ADD COLUMN index_keys INTEGER NOT NULL DEFAULT 0")
    db.execute("DELETE FROM shingles")


SEEDS_VERSION = """
CREATE TRIGGER seeds_version_ai AFTER INSERT ON seeds BEGIN
    INSERT INTO meta (key, value) VALUES ('seeds_version', 1)
    ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER seeds_version_au AFTER UPDATE OF title, body, threshold, keywords ON seeds
WHEN old.title IS NOT new.title OR old.body IS NOT new.body OR old.threshold IS NOT new.threshold
    OR old.keywords IS NOT new.keywords BEGIN
    INSERT INTO meta (key, value) VALUES ('seeds_version', 1)
    ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER seeds_version_ad AFTER DELETE ON seeds BEGIN
    INSERT INTO meta (key, value) VALUES ('seeds_version', 1)
    ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
"""


def _v3(db: sqlite_utils.Database) -> None:
    """Resumable seed scoring (a cursor per seed) and a seeds version that writers of matches check."""
    # scoring_after: NULL when the seed is judged on every stored article; else articles with a greater id
    # still wait to be (re)scored against it. scoring_at: when that scoring last committed a batch.
    db.execute("ALTER TABLE seeds ADD COLUMN scoring_after INTEGER")
    db.execute("ALTER TABLE seeds ADD COLUMN scoring_at TEXT")
    run_script(db, SEEDS_VERSION)
    # A store from before v3 may hold a seed whose scoring was cut short: resume it at its first gap.
    db.execute(
        "UPDATE seeds SET scoring_after = (SELECT min(a.id) - 1 FROM articles a WHERE NOT EXISTS"
        " (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.seed_id = seeds.id))"
    )


def _v4(db: sqlite_utils.Database) -> None:
    """Articles in listing order (newest first), so a text search stops at its first page of hits."""
    db.execute(f"CREATE INDEX articles_when ON articles({ARTICLE_WHEN})")


def _v5(db: sqlite_utils.Database) -> None:
    """Seeds are judged together (a seed may claim another's articles): judge every stored article again once."""
    db.execute("UPDATE seeds SET scoring_after = 0 WHERE (SELECT count(*) FROM seeds) > 1")


def _v6(db: sqlite_utils.Database) -> None:
    """Seeds learn from their best matches: the articles (feedback), and each match's score against the seed's text alone (base).

    A change of a seed's feedback is a change of the seed (the seeds version). Stored matches have no
    base yet: every seed is scored again once.
    """
    db.execute("ALTER TABLE seeds ADD COLUMN feedback TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE matches ADD COLUMN base REAL")
    db.execute("CREATE INDEX matches_base ON matches(seed_id, base)")
    db.execute("DROP TRIGGER seeds_version_au")
    run_script(db, SEEDS_VERSION_AU_V6)
    db.execute("UPDATE seeds SET scoring_after = 0 WHERE EXISTS (SELECT 1 FROM matches)")


SEEDS_VERSION_AU_V6 = """
CREATE TRIGGER seeds_version_au AFTER UPDATE OF title, body, threshold, keywords, feedback ON seeds
WHEN old.title IS NOT new.title OR old.body IS NOT new.body OR old.threshold IS NOT new.threshold
    OR old.keywords IS NOT new.keywords OR old.feedback IS NOT new.feedback BEGIN
    INSERT INTO meta (key, value) VALUES ('seeds_version', 1)
    ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
"""


def _v7(db: sqlite_utils.Database) -> None:
    """When each seed's best matches last changed (learning's pace)."""
    db.execute("ALTER TABLE seeds ADD COLUMN learned_at TEXT")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]


def version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


class NewerSchema(Exception):
    """The store was written by a newer seedwatch: its schema version is one this code does not know."""


def refuse_newer(current: int) -> None:
    """Raise NewerSchema if a store's schema version is beyond this code's migrations."""
    if current > len(MIGRATIONS):
        raise NewerSchema(f"its schema version {current} is newer than this seedwatch's ({len(MIGRATIONS)}): upgrade seedwatch")


def migrate(db: sqlite_utils.Database, transaction: Callable[[sqlite_utils.Database], Any]) -> int:
    """Apply every migration the file has not seen yet, each in its own transaction."""
    current = version(db)
    refuse_newer(current)
    for number in range(current, len(MIGRATIONS)):
        with transaction(db):
            if version(db) != number:  # another process migrated while we waited for the lock
                continue
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
    return len(MIGRATIONS)
