"""Seeds learn from their best matches (pseudo-relevance feedback): which articles, how scores change, when it stops."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from ingest.config import Config, MatchConfig
from ingest.learn import learn_from_best_matches
from ingest.manage import remove_seed, save_seed, sync_folder
from ingest.processor import Matcher
from store import review as store_review
from store import seeds as store_seeds
from tests.test_processor import ACEH, HAITI, HAITI_REPORT, _background, _rows, _seed, _seed_id, _store

# The Aceh quake as the wires told it after the seed: the coffee country of the Gayo highlands, which
# the seed never names. The last article names little else.
ACEH_REPORTS = [
    ("https://news.example/aceh-1", "Aceh earthquake toll rises as rescuers reach Gayo highland villages",
     "The toll of Tuesday's magnitude 6.1 earthquake in Aceh rose to 24 as rescuers reached villages in the Gayo "
     "highlands around Lake Lut Tawar. Coffee farmers in Bener Meriah said landslides buried their plantations "
     "and the road to Takengon stayed cut. Aftershocks rattled the region, Indonesia's disaster agency said."),
    ("https://news.example/aceh-2", "Gayo coffee harvest hit by Aceh quake",
     "Coffee cooperatives in the Gayo highlands of Aceh said Tuesday's earthquake destroyed drying sheds and "
     "processing mills around Takengon and Lake Lut Tawar, weeks before the harvest. Farmers in Central Aceh and "
     "Bener Meriah fear exports of Gayo arabica will fall."),
]
GAYO = ("https://trade.example/gayo", "Arabica buyers look beyond Gayo",
        "Specialty roasters said arabica from the Gayo highlands will be scarce this season after mills and drying "
        "sheds around Lake Lut Tawar and Takengon were destroyed, and cooperatives warned farmers face months "
        "without income.")


def _aceh_with_reports(db) -> None:
    save_seed(db, _seed("aceh", ACEH))
    _store(db, "https://news.example/feed", [*_background(), *ACEH_REPORTS, GAYO])


def _feedback(db, name: str) -> list[int]:
    return json.loads(store_seeds.get_seed(db, name)["feedback"])


def _id(db, url: str) -> int:
    return db.execute("SELECT id FROM articles WHERE url = ?", [url]).fetchone()[0]


def test_a_seed_learns_its_story_from_its_best_matches(fresh_db):
    _aceh_with_reports(fresh_db)
    before = {url: _rows(fresh_db, url)["aceh"] for url, _, _ in [*ACEH_REPORTS, GAYO, *_background()]}
    assert [before[url]["verdict"] for url, _, _ in ACEH_REPORTS] == ["related", "related"]
    assert before[GAYO[0]]["verdict"] == "unrelated"  # the seed's words alone do not reach it
    assert learn_from_best_matches(fresh_db) > 0
    reports = [_id(fresh_db, url) for url, _, _ in ACEH_REPORTS]
    assert _feedback(fresh_db, "aceh") == reports  # best first
    gayo = _rows(fresh_db, GAYO[0])["aceh"]
    assert gayo["verdict"] == "related" and gayo["score"] > before[GAYO[0]]["score"] + 0.1
    assert gayo["explain"]["feedback"] == reports
    assert gayo["base"] == before[GAYO[0]]["score"] == before[GAYO[0]]["base"]  # what the seed's text alone makes of it
    for url, _, _ in _background():
        assert _rows(fresh_db, url)["aceh"]["verdict"] == "unrelated"


def test_a_best_match_is_judged_without_itself(fresh_db):
    _aceh_with_reports(fresh_db)
    learn_from_best_matches(fresh_db)
    first, second = _feedback(fresh_db, "aceh")[:2]
    stored = _rows(fresh_db, ACEH_REPORTS[0][0])["aceh"]
    assert stored["explain"]["feedback"] == [i for i in _feedback(fresh_db, "aceh") if i != first]
    matcher = Matcher(fresh_db, MatchConfig())
    [seed] = matcher.seeds
    assert matcher.vectors_for(seed, first) != (seed.vector, seed.name_vector)
    assert matcher.vectors_for(seed, 10_000) == (seed.vector, seed.name_vector)  # any other article: every best match
    f = _features(fresh_db, first)
    [without_itself] = matcher.judge(f.counts, f.names, f.words, f.hashes, article_id=first)
    [with_itself] = matcher.judge(f.counts, f.names, f.words, f.hashes)
    assert without_itself.score == pytest.approx(stored["score"], abs=1e-4)
    assert with_itself.score > without_itself.score + 0.05  # it would vouch for itself


def _features(db, article_id: int):
    from ingest.processor import features_of
    from ingest.text import article_text

    row = db.execute("SELECT title, summary, content FROM articles WHERE id = ?", [article_id]).fetchone()
    return features_of(row[0], 5, article_text(None, row[1], row[2]))


def test_kept_items_come_first_and_dismissed_copies_and_duplicates_never(fresh_db):
    _aceh_with_reports(fresh_db)
    copy = ("https://scraper.example/aceh", ACEH[0], "World\n" + ACEH[1] + "\nSource link")
    duplicate = ("https://mirror.example/aceh-1", ACEH_REPORTS[0][1], "Home\n" + ACEH_REPORTS[0][2] + "\nRead more")
    _store(fresh_db, "https://scraper.example/feed", [copy, duplicate])
    assert _rows(fresh_db, copy[0])["aceh"]["verdict"] == "copy"
    assert fresh_db.execute("SELECT duplicate_of FROM articles WHERE url = ?", [duplicate[0]]).fetchone()[0] is not None
    first, second = (_id(fresh_db, url) for url, _, _ in ACEH_REPORTS)
    gayo = _id(fresh_db, GAYO[0])
    assert store_seeds.feedback_candidates(fresh_db, _seed_id(fresh_db, "aceh"), 5, 0.17) == [first, second]
    store_review.mark(fresh_db, [gayo], "kept")  # unrelated, but you kept it: it leads
    store_review.mark(fresh_db, [first], "dismissed")
    assert store_seeds.feedback_candidates(fresh_db, _seed_id(fresh_db, "aceh"), 5, 0.17) == [gayo, second]
    assert store_seeds.feedback_candidates(fresh_db, _seed_id(fresh_db, "aceh"), 1, 0.17) == [gayo]


def test_learning_settles_and_can_be_undone(fresh_db):
    _aceh_with_reports(fresh_db)
    before = {url: _rows(fresh_db, url)["aceh"]["score"] for url, _, _ in [*ACEH_REPORTS, GAYO]}
    assert learn_from_best_matches(fresh_db) > 0
    assert learn_from_best_matches(fresh_db) == 0  # nothing changed: nothing scored again
    off = Config(match=MatchConfig(feedback_count=0))
    assert learn_from_best_matches(fresh_db, off) > 0  # the feedback goes, the store is scored without it
    assert _feedback(fresh_db, "aceh") == []
    assert {url: _rows(fresh_db, url)["aceh"]["score"] for url in before} == before
    assert "feedback" not in _rows(fresh_db, GAYO[0])["aceh"]["explain"]
    assert learn_from_best_matches(fresh_db, Config(match=MatchConfig(feedback_weight=0))) == 0


def test_what_a_seed_learns_does_not_depend_on_the_order_feeds_arrive(fresh_db, tmp_path):
    from store.db import open_db

    feeds = {"a": [ACEH_REPORTS[0], *_background()[:2]], "b": [ACEH_REPORTS[1], GAYO, *_background()[2:]]}
    results = []
    for order in ("ab", "ba"):
        db = open_db(tmp_path / f"{order}.db")
        save_seed(db, _seed("aceh", ACEH))
        for name in order:
            _store(db, f"https://{name}.example/feed", feeds[name])
            learn_from_best_matches(db)
        urls = {i: u for i, u in db.execute("SELECT id, url FROM articles")}
        rows = {r["url"]: r for r in db.query("SELECT a.url, m.score, m.verdict FROM matches m JOIN articles a ON a.id = m.article_id")}
        results.append(([urls[i] for i in _feedback(db, "aceh")], rows))
        db.conn.close()
    (fb_ab, rows_ab), (fb_ba, rows_ba) = results
    assert fb_ab == fb_ba == [url for url, _, _ in ACEH_REPORTS]
    assert {u: r["verdict"] for u, r in rows_ab.items()} == {u: r["verdict"] for u, r in rows_ba.items()}
    assert all(rows_ab[u]["score"] == pytest.approx(rows_ba[u]["score"], abs=0.01) for u in rows_ab)


@pytest.mark.parametrize("then", ["relearn_after passes", "at once", "the clock was set back"])
def test_a_change_that_new_articles_make_waits_for_learnings_pace(fresh_db, then, caplog):
    """Learning scores the whole store again: after a poll it waits for the store to grow or time to pass."""
    paced = Config(match=MatchConfig(relearn_min_articles=5))
    save_seed(fresh_db, _seed("aceh", ACEH))
    _store(fresh_db, "https://a.example/feed", [*_background(), ACEH_REPORTS[0]])
    assert learn_from_best_matches(fresh_db, paced) > 0  # the first best matches: at once
    first = [_id(fresh_db, ACEH_REPORTS[0][0])]
    assert _feedback(fresh_db, "aceh") == first
    _store(fresh_db, "https://b.example/feed", [ACEH_REPORTS[1]])
    both = {*first, _id(fresh_db, ACEH_REPORTS[1][0])}
    assert set(store_seeds.feedback_candidates(fresh_db, _seed_id(fresh_db, "aceh"), 5, 0.17)) == both
    with caplog.at_level("INFO", logger="seedwatch"):
        assert learn_from_best_matches(fresh_db, paced) == 0
    learned_at = fresh_db.execute("SELECT learned_at FROM seeds").fetchone()[0]
    next_time = (datetime.strptime(learned_at, "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=1)).strftime("%H:%M")
    assert f"best matches changed for seeds {_seed_id(fresh_db, 'aceh')}; " in caplog.text and f"next from {next_time} UTC" in caplog.text
    assert _feedback(fresh_db, "aceh") == first
    if then == "at once":  # rescore, a seed added or edited
        assert learn_from_best_matches(fresh_db, paced, at_once=True) > 0
    else:
        when = "2020-01-01T00:00:00Z" if then == "relearn_after passes" else "2999-01-01T00:00:00Z"
        fresh_db.execute("UPDATE seeds SET learned_at = ?", [when])
        assert learn_from_best_matches(fresh_db, paced) > 0
    assert set(_feedback(fresh_db, "aceh")) == both


@pytest.mark.parametrize("how", ["seeds add", "seeds sync"])
def test_an_edited_seed_applies_waiting_changes_at_once_and_an_unchanged_one_does_not(fresh_db, tmp_path, how):
    paced = Config(match=MatchConfig(relearn_min_articles=0, relearn_after=10**6))
    folder = tmp_path / "seeds"
    folder.mkdir()

    def add(body: str) -> None:
        if how == "seeds add":
            save_seed(fresh_db, _seed("aceh", (ACEH[0], body)), paced)
        else:
            (folder / "aceh.txt").write_text(f"{ACEH[0]}\n\n{body}\n", encoding="utf-8")
            sync_folder(fresh_db, folder, paced)

    add(ACEH[1])
    _store(fresh_db, "https://a.example/feed", [*_background(), ACEH_REPORTS[0]])
    learn_from_best_matches(fresh_db, paced)
    first = _feedback(fresh_db, "aceh")
    _store(fresh_db, "https://b.example/feed", [ACEH_REPORTS[1]])
    assert learn_from_best_matches(fresh_db, paced) == 0  # waits
    add(ACEH[1])  # unchanged: the change still waits
    assert _feedback(fresh_db, "aceh") == first
    add(ACEH[1] + " Aftershocks rattled the region for days.")  # edited: at once
    assert set(_feedback(fresh_db, "aceh")) == {_id(fresh_db, url) for url, _, _ in ACEH_REPORTS}


def test_removing_a_seed_lets_the_others_take_its_articles_at_the_next_poll(fresh_db):
    paced = Config(match=MatchConfig(relearn_min_articles=0, relearn_after=10**6))
    save_seed(fresh_db, _seed("aceh", ACEH), paced)
    save_seed(fresh_db, _seed("haiti", HAITI), paced)
    _store(fresh_db, "https://news.example/feed", [*_background(), *ACEH_REPORTS, HAITI_REPORT])
    learn_from_best_matches(fresh_db, paced)
    haiti_report = _id(fresh_db, HAITI_REPORT[0])
    assert haiti_report not in _feedback(fresh_db, "aceh")  # its text resembles haiti's more
    remove_seed(fresh_db, _seed_id(fresh_db, "haiti"), paced)
    assert learn_from_best_matches(fresh_db, paced) > 0
    assert haiti_report in _feedback(fresh_db, "aceh")


def test_a_review_mark_changes_the_best_matches_at_the_next_poll_whatever_the_pace(fresh_db):
    paced = Config(match=MatchConfig(relearn_min_articles=0, relearn_after=10**6))
    _aceh_with_reports(fresh_db)
    learn_from_best_matches(fresh_db, paced)
    dismissed = _feedback(fresh_db, "aceh")[0]
    store_review.mark(fresh_db, [dismissed], "dismissed")
    assert learn_from_best_matches(fresh_db, paced) > 0
    assert dismissed not in _feedback(fresh_db, "aceh")
    store_review.mark(fresh_db, [dismissed], "new")  # undone: back among the best matches
    assert learn_from_best_matches(fresh_db, paced) > 0
    assert dismissed in _feedback(fresh_db, "aceh")


def test_a_small_store_learns_at_once(fresh_db):
    """Under relearn_min_articles, scoring the store again takes seconds: no pace."""
    paced = Config(match=MatchConfig(relearn_min_articles=1000, relearn_after=10**6))
    save_seed(fresh_db, _seed("aceh", ACEH))
    _store(fresh_db, "https://a.example/feed", [*_background(), ACEH_REPORTS[0]])
    learn_from_best_matches(fresh_db, paced)
    _store(fresh_db, "https://b.example/feed", [ACEH_REPORTS[1]])
    assert learn_from_best_matches(fresh_db, paced) > 0
    assert len(_feedback(fresh_db, "aceh")) == 2


def test_a_seed_added_to_a_store_learns_at_once_and_claims_see_what_it_learned(fresh_db):
    _aceh_with_reports(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    assert _feedback(fresh_db, "aceh") == [_id(fresh_db, url) for url, _, _ in ACEH_REPORTS]
    assert _rows(fresh_db, GAYO[0])["aceh"]["verdict"] == "related"
    assert learn_from_best_matches(fresh_db) == 0


@pytest.mark.parametrize("bad", [{"relearn_min_articles": -1}, {"relearn_after": -1}])
def test_learning_pace_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="relearn_after and relearn_min_articles"):
        MatchConfig(**bad)


def test_feedback_settings_out_of_range_are_refused():
    for bad in ({"feedback_count": -1}, {"feedback_weight": -0.5}):
        with pytest.raises(ValueError, match="feedback_count and feedback_weight must be >= 0"):
            MatchConfig(**bad)


def test_an_article_feeds_only_the_seed_whose_text_it_resembles_most(fresh_db):
    from tests.test_processor import HAITI_REPORT

    save_seed(fresh_db, _seed("aceh", ACEH))
    _store(fresh_db, "https://news.example/feed", [*_background(), *ACEH_REPORTS, HAITI_REPORT])
    report = _id(fresh_db, HAITI_REPORT[0])
    assert _rows(fresh_db, HAITI_REPORT[0])["aceh"]["base"] >= 0.17  # aceh's text alone finds the Haiti report ...
    learn_from_best_matches(fresh_db)
    assert report in _feedback(fresh_db, "aceh")  # ... and learns from it while it is the only quake seed
    save_seed(fresh_db, _seed("haiti", HAITI))  # haiti's text scores the report higher
    assert report not in _feedback(fresh_db, "aceh")
    assert report in _feedback(fresh_db, "haiti")
    assert _feedback(fresh_db, "aceh") == [_id(fresh_db, url) for url, _, _ in ACEH_REPORTS]


def test_an_article_missing_the_seeds_must_have_keywords_teaches_it_nothing(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH, keywords=["+landslides"]))
    _store(fresh_db, "https://news.example/feed", [*_background(), *ACEH_REPORTS, GAYO])
    assert _rows(fresh_db, ACEH_REPORTS[1][0])["aceh"]["explain"]["missing_keywords"] == ["landslide"]
    learn_from_best_matches(fresh_db)
    assert _feedback(fresh_db, "aceh") == [_id(fresh_db, ACEH_REPORTS[0][0])]


def test_which_brief_entries_get_their_page_fetched_does_not_depend_on_what_seeds_learned(fresh_db):
    # A page not fetched when its entry arrives never is: the choice must not depend on what was polled before.
    from ingest.processor import features_of
    from ingest.score import ENTITY_SHARE, dot
    from store import feeds as store_feeds
    from tests.test_processor import _entries

    _aceh_with_reports(fresh_db)
    learn_from_best_matches(fresh_db)
    brief = ("https://trade.example/gayo-brief", "Gayo arabica scarce", "Roasters expect little Gayo arabica from Lut Tawar mills.")
    feed_id, _ = store_feeds.add_feed(fresh_db, "https://trade.example/feed")
    entries = _entries("https://trade.example/feed", [brief])
    probe = Matcher(fresh_db, MatchConfig())
    [seed] = probe.seeds
    f = features_of(entries[0], 5)
    doc, names = probe.vocab.vector(f.counts), probe.vocab.vector(f.names)
    learned = (1 - ENTITY_SHARE) * dot(seed.vector, doc) + ENTITY_SHARE * dot(seed.name_vector, names)
    own = (1 - ENTITY_SHARE) * dot(seed.own[0], doc) + ENTITY_SHARE * dot(seed.own[1], names)
    assert learned > own + 0.02
    between = (learned + own) / 2 / seed.threshold  # a prefilter what it learned would pass and its text would not
    assert Matcher(fresh_db, MatchConfig(full_text_prefilter=between)).full_text_candidates(feed_id, entries) == []
    assert Matcher(fresh_db, MatchConfig(full_text_prefilter=own / seed.threshold * 0.99)).full_text_candidates(feed_id, entries) == entries


def test_learning_finishes_scoring_a_cut_short_run_left_pending_unless_it_is_under_way(fresh_db):
    _aceh_with_reports(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    articles = fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0]
    aceh, haiti = _seed_id(fresh_db, "aceh"), _seed_id(fresh_db, "haiti")
    # Both seeds' scoring was cut short before it stored anything: aceh's an hour ago (a `seeds add` stopped
    # with Ctrl-C), haiti's just now (another process may be scoring it).
    store_seeds.start_scoring(fresh_db, [aceh, haiti])
    fresh_db.execute("UPDATE seeds SET scoring_at = '2020-01-01T00:00:00Z' WHERE id = ?", [aceh])
    fresh_db.execute("DELETE FROM matches")
    assert learn_from_best_matches(fresh_db, Config()) == articles
    pending = store_seeds.scoring_pending(fresh_db)
    assert aceh not in pending and haiti in pending
    counts = dict(fresh_db.execute("SELECT seed_id, count(*) FROM matches GROUP BY seed_id").fetchall())
    assert counts[aceh] == articles
    # Of haiti, only the rows written beside the articles aceh calls its own (its claims may change there).
    own = {r[0] for r in fresh_db.execute("SELECT article_id FROM matches WHERE seed_id = ? AND verdict != 'unrelated'", [aceh])}
    haiti_rows = {r[0] for r in fresh_db.execute("SELECT article_id FROM matches WHERE seed_id = ?", [haiti])}
    assert haiti_rows <= own and len(haiti_rows) < articles
