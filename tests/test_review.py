"""The review queries of store/review.py on a store filled directly: order, filters, and the plan they use."""

from __future__ import annotations

import random

import pytest

from store import review

WORDS = ["drone", "tehran", "moscow", "pumpkin", "election", "harbour"]


@pytest.fixture
def filled(fresh_db):
    """600 articles over two seeds; ~3% related, ~2% kept; a tenth with no publication date; ties in date on purpose."""
    rng = random.Random(5)
    db = fresh_db
    for seed_id in (1, 2):
        db.execute(
            "INSERT INTO seeds (id, name, title, body, content_hash, added_at, updated_at)"
            " VALUES (?, ?, 't', 'b', 'h', '2026-01-01', '2026-01-01')",
            [seed_id, f"seed{seed_id}"],
        )
    for i in range(1, 601):
        day = f"2026-{rng.randint(1, 3):02d}-{rng.randint(1, 28):02d}T00:00:00Z"
        text = " ".join(rng.sample(WORDS, 3))
        db.execute(
            "INSERT INTO articles (id, url, title, content, published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            [i, f"https://example.org/{i}", f"title {i}", text, None if i % 10 == 0 else day, day],
        )
        for seed_id in (1, 2):
            verdict = "related" if rng.random() < 0.03 else "unrelated"
            status = "kept" if rng.random() < 0.02 else "new"
            db.execute(
                "INSERT INTO matches (article_id, seed_id, score, verdict, status, scored_at) VALUES (?, ?, ?, ?, ?, ?)",
                [i, seed_id, round(rng.random(), 3), verdict, status, day],
            )
    db.conn.commit()
    return db


def reference(db, word: str | None, verdict: str, limit: int) -> list[tuple[int, str]]:
    """The listing computed the slow, obvious way: every match, filtered and sorted in Python."""
    rows = db.execute(
        "SELECT a.id, s.name, m.score, m.verdict, coalesce(a.published_at, a.first_seen_at), a.content, m.status"
        " FROM matches m JOIN articles a ON a.id = m.article_id JOIN seeds s ON s.id = m.seed_id"
    ).fetchall()
    wanted = {"found": {"related", "copy"}, "all": {"related", "copy", "unrelated"}}.get(verdict, {verdict})
    # "found" is also what the reviewer kept, whatever the scorer's verdict
    kept = [r for r in rows if (r[3] in wanted or (verdict == "found" and r[6] == "kept")) and (word is None or word in r[5].split())]
    kept.sort(key=lambda r: (r[4], r[2], r[0]), reverse=True)
    return [(r[0], r[1]) for r in kept[:limit]]


@pytest.mark.parametrize("verdict", ["all", "unrelated", "related", "found"])
@pytest.mark.parametrize("word", [None, "drone", "pumpkin"])
def test_listing_is_newest_first_and_the_same_as_sorting_every_match(filled, verdict, word):
    rows = review.query_matches(filled, text=word, verdict=verdict, status="all", include_duplicates=True, limit=40)
    expected = reference(filled, word, verdict, 40)
    assert expected  # the fixture has rows for every combination
    assert [(r["id"], r["seed"]) for r in rows] == expected


def test_a_word_no_article_has_lists_nothing(filled):
    assert review.query_matches(filled, text="xyzzy", verdict="all", status="all") == []


@pytest.mark.parametrize(("verdict", "index"), [("all", "articles_when"), ("unrelated", "articles_when"),
                                                ("found", "matches_verdict"), ("related", "matches_verdict")])
def test_listings_start_from_the_index_that_stops_early(filled, monkeypatch, verdict, index):
    """Every match (mostly unrelated) is walked newest first; the few related ones are read by verdict."""
    plans = []
    original = filled.query

    def explain(sql, params=None):
        plans.append(" ".join(str(row[-1]) for row in filled.execute("EXPLAIN QUERY PLAN " + sql, params or [])))
        return original(sql, params)

    monkeypatch.setattr(filled, "query", explain)
    review.query_matches(filled, text="drone", verdict=verdict, status="all")
    assert len(plans) == 1
    assert f"INDEX {index}" in plans[0]
    if index == "articles_when":
        # the date order comes from the index (only ties are sorted), so no sort of every hit comes first
        assert "TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plans[0]
