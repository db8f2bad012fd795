"""process_entries on a real store: one article per URL, copies of seeds, duplicates and their originals."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ingest.config import Config, MatchConfig
from ingest.dedupe import MAX_POSTINGS, FullKeys, look_up
from ingest.manage import remove_seed, save_seed, sync_folder
from ingest.normalise import normalise_entries
from ingest.parser import RawEntry
from ingest.processor import Judgement, Matcher, SeedModel, process_entries, rescore
from ingest.seeds import load_seed_file, parse_seed
from store import articles as store_articles
from store import feeds as store_feeds
from store import seeds as store_seeds
from store.db import open_db, transaction
from tests.conftest import FOUNDING_SEED

WIRE = (
    "Russia launched a fresh wave of Iranian-made Shahed drones at energy infrastructure around Kyiv overnight, "
    "damaging substations and leaving hundreds of thousands of households without power, officials said. "
    "Kyiv says Moscow has bought thousands of the cheap drones from Tehran and uses them with cruise missiles "
    "to cripple the power system before winter. Iran denies sending weapons to Russia for use in Ukraine. "
    "Western governments answered with sanctions on Iranian drone makers and promised more air defence."
)
OTHER = [
    ("Markets rally as central bank holds rates", "Stocks rose after the central bank kept interest rates unchanged and bond yields fell."),
    ("Storm floods coastal towns", "Heavy rain flooded streets in coastal towns and emergency crews evacuated residents overnight."),
    ("Football club appoints new manager", "The club named a new manager after a poor run of results left it near the bottom of the table."),
    ("Drone deliveries tested in rural areas", "A retailer tested parcel deliveries by drone to farms, saying the trial cut delivery times."),
]


def _entries(feed_url: str, items: list[tuple[str, str, str]]) -> list:
    raws = [RawEntry(guid=link, link=link, title=title, content_html=f"<p>{body}</p>") for link, title, body in items]
    return normalise_entries(raws, feed_url)


def _store(db, feed_url: str, items: list[tuple[str, str, str]]):
    feed_id, _ = store_feeds.add_feed(db, feed_url)
    matcher = Matcher(db, MatchConfig())
    with transaction(db):
        return process_entries(db, matcher, feed_id, _entries(feed_url, items))


def _match(db, url: str) -> dict:
    """The (only) seed's match of the article at this canonical URL, with its duplicate_of."""
    sql = "SELECT a.id, a.duplicate_of, m.score, m.verdict FROM matches m JOIN articles a ON a.id = m.article_id WHERE a.url = ?"
    return next(db.query(sql, [url]))


def test_same_url_in_two_feeds_is_one_article(fresh_db):
    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    _store(fresh_db, "https://a.example/feed", [("https://wire.example/story?utm_source=a", "Drones hit Kyiv", WIRE)])
    stats = _store(fresh_db, "https://b.example/feed", [("https://wire.example/story?utm_source=b", "Drones hit Kyiv", WIRE)])
    assert stats.new == 0 and stats.also_in_other_feed == 1
    assert fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    assert fresh_db.execute("SELECT count(*) FROM article_feeds").fetchone()[0] == 2


def test_duplicate_points_at_its_original_and_the_original_is_judged_again(fresh_db):
    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    # The original is judged when the store knows one document; its duplicate arrives with four more.
    _store(fresh_db, "https://a.example/feed", [("https://a.example/kyiv-drones", "Drones hit Kyiv's grid", WIRE)])
    first = _match(fresh_db, "https://a.example/kyiv-drones")
    others = [(f"https://b.example/{i}", title, body) for i, (title, body) in enumerate(OTHER)]
    _store(fresh_db, "https://b.example/feed", [*others, ("https://b.example/kyiv-drones", "Drones hit Kyiv's grid", WIRE)])
    original, duplicate = _match(fresh_db, "https://a.example/kyiv-drones"), _match(fresh_db, "https://b.example/kyiv-drones")
    assert duplicate["duplicate_of"] == original["id"] and original["duplicate_of"] is None
    assert first["score"] != duplicate["score"]  # the document frequencies changed in between ...
    assert original["score"] == duplicate["score"] and original["verdict"] == duplicate["verdict"]  # ... and both say the same


def test_copy_of_the_seed_is_a_copy_not_a_duplicate(fresh_db):
    seed = load_seed_file(FOUNDING_SEED)
    save_seed(fresh_db, seed)
    scraped = "World\n" + seed.body + "\nSource link\nShare this: Facebook Twitter"
    _store(fresh_db, "https://scraper.example/feed", [("https://scraper.example/copy", seed.title, scraped.replace("\n", "</p><p>"))])
    row = _match(fresh_db, "https://scraper.example/copy")
    assert row["verdict"] == "copy" and row["duplicate_of"] is None


# Two stories of the same kind share their topic words; the article is the second one's.
ACEH = (
    "Strong earthquake shakes Aceh province in Indonesia",
    "A magnitude 6.1 earthquake struck Aceh province on Sumatra on Tuesday, killing at least 12 people in Bener Meriah "
    "and Central Aceh. Indonesia's disaster agency said houses and mosques collapsed in the highland districts and "
    "landslides cut roads to Takengon. Rescuers searched the rubble for survivors as aftershocks rattled the region. "
    "The quake was shallow, the USGS said.",
)
HAITI = (
    "Massive earthquake devastates Haiti's capital Port-au-Prince",
    "A magnitude 7.0 earthquake struck Haiti on Tuesday, flattening buildings in Port-au-Prince and killing thousands "
    "of people. The presidential palace and the cathedral collapsed, and hospitals were overwhelmed. President Rene "
    "Preval said the toll could be very high. Rescuers searched the rubble for survivors as aftershocks rattled the "
    "region. The quake was shallow, the USGS said.",
)
HAITI_REPORT = (
    "https://news.example/haiti-rescue",
    "Haiti earthquake: rescuers dig for survivors in Port-au-Prince",
    "Rescuers in Port-au-Prince dug through the rubble of collapsed buildings for survivors of Tuesday's magnitude 7.0 "
    "earthquake, as aftershocks rattled Haiti. Preval said the presidential palace was destroyed. Aid agencies said the "
    "quake was the worst to strike the region in two centuries, and the USGS said it was shallow.",
)


def _seed(name: str, story: tuple[str, str], threshold: float | None = None, keywords: list[str] | None = None):
    doc = parse_seed(f"{story[0]}\n\n{story[1]}\n".encode(), f"{name}.txt")
    doc.threshold = threshold
    doc.keywords = keywords or []
    return doc


def _rows(db, url: str) -> dict[str, dict]:
    """Every stored match of the article at this URL, by seed name, with its explain parsed."""
    sql = (
        "SELECT s.name, m.* FROM matches m JOIN seeds s ON s.id = m.seed_id"
        " JOIN articles a ON a.id = m.article_id WHERE a.url = ?"
    )
    return {r["name"]: {**r, "explain": json.loads(r["explain"])} for r in db.query(sql, [url])}


def _background() -> list[tuple[str, str, str]]:
    return [(f"https://b.example/{i}", title, body) for i, (title, body) in enumerate(OTHER)]


def _aceh_store(db) -> dict:
    """A store following the Aceh quake that holds a report of the Haiti quake; the report's Aceh judgement."""
    save_seed(db, _seed("aceh", ACEH))
    _store(db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    alone = _rows(db, HAITI_REPORT[0])["aceh"]
    assert alone["verdict"] == "related" and "claimed_by" not in alone["explain"]  # quake words alone make it related
    return alone


def _seed_id(db, name: str) -> int:
    return store_seeds.get_seed(db, name)["id"]


def test_an_article_another_seed_claims_counts_half_for_this_one(fresh_db, monkeypatch):
    alone = _aceh_store(fresh_db)
    untouched = {url: _rows(fresh_db, url)["aceh"] for url, _, _ in _background()}
    written: list[tuple[int, int]] = []
    real_upsert = store_articles.upsert_match_tx

    def recording(db, article_id, seed_id, *args):
        written.append((article_id, seed_id))
        return real_upsert(db, article_id, seed_id, *args)

    monkeypatch.setattr(store_articles, "upsert_match_tx", recording)
    # Without feedback, which would score the store again for haiti once it learned from the report: the
    # rows one pass of scoring writes are what this counts.
    _, change, _ = save_seed(fresh_db, _seed("haiti", HAITI), Config(match=MatchConfig(feedback_count=0)))
    assert change == "added"
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "related" and found["haiti"]["score"] > alone["score"] / 0.8
    aceh = found["aceh"]
    assert aceh["verdict"] == "unrelated"
    assert aceh["explain"]["claimed_by"] == {"seed": _seed_id(fresh_db, "haiti"), "name": "haiti", "score": found["haiti"]["score"], "ratio": 0.8, "factor": 0.5}
    assert aceh["explain"]["before_claim"] == alone["score"]
    assert aceh["score"] == pytest.approx(alone["score"] * 0.5, abs=1e-4)
    # Articles the new seed does not call its own keep their aceh judgement as it was stored: only the
    # report's is written again.
    assert {url: _rows(fresh_db, url)["aceh"] for url in untouched} == untouched
    aceh_id, report_id = _seed_id(fresh_db, "aceh"), found["aceh"]["article_id"]
    assert [pair for pair in written if pair[1] == aceh_id] == [(report_id, aceh_id)]
    assert len(written) == len(OTHER) + 2  # every article for haiti, the report for aceh


def _interrupted_add(db, doc) -> None:
    """`seeds add` cut short (Ctrl-C, kill -9) before scoring any stored article: the seed stays pending."""
    store_seeds.upsert_seed(db, doc.name, doc.title, doc.body, doc.content_hash, doc.url, doc.threshold, doc.keywords, doc.source)


def test_no_claim_outlives_the_seed_that_made_it_whatever_the_order_of_scoring(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH, threshold=0.9))
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    assert {r["verdict"] for r in _rows(fresh_db, HAITI_REPORT[0]).values()} == {"unrelated"}
    _interrupted_add(fresh_db, _seed("haiti", HAITI, threshold=0.5))  # haiti now calls the report its own ...
    _interrupted_add(fresh_db, _seed("aceh", ACEH))
    rescore(fresh_db, MatchConfig(), [_seed_id(fresh_db, "aceh")])  # ... and aceh is scored first
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["aceh"]["explain"]["claimed_by"]["name"] == "haiti"
    assert found["haiti"]["verdict"] == "related"  # the claiming seed's row says so beside the claimed one
    assert remove_seed(fresh_db, _seed_id(fresh_db, "haiti")) >= 1
    back = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert back["verdict"] == "related" and "claimed_by" not in back["explain"]


def _claims_beside_their_owners(db) -> list[tuple[int, str, str]]:
    """(article, claimed seed, claiming seed) for every claimed row, and whether the claimer's stored row owns the article."""
    rows = [(r["article_id"], r["name"], json.loads(r["explain"]).get("claimed_by"))
            for r in db.query("SELECT m.article_id, s.name, m.explain FROM matches m JOIN seeds s ON s.id = m.seed_id")]
    verdicts = {(r["article_id"], r["seed_id"]): r["verdict"] for r in db.query("SELECT article_id, seed_id, verdict FROM matches")}
    return [(a, name, by["name"], verdicts.get((a, by["seed"])) != "unrelated") for a, name, by in rows if by]


def test_a_seed_whose_cursor_another_run_moved_back_still_writes_the_claims_it_makes(fresh_db, monkeypatch):
    # Two seeds pending past the first article; while a rescore judges its batch with both, another run
    # starts haiti over (its cursor goes back to 0), so this batch writes aceh's rows only. haiti calls the
    # report its own in that judgement: the batch must write haiti's row too, or aceh's row is claimed by
    # a seed whose stored row says unrelated, and no removal or rescore of haiti would find that claim.
    save_seed(fresh_db, _seed("aceh", ACEH, threshold=0.9))
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    _interrupted_add(fresh_db, _seed("haiti", HAITI, threshold=0.5))
    _interrupted_add(fresh_db, _seed("aceh", ACEH))
    fresh_db.execute("UPDATE seeds SET scoring_after = 1")
    haiti = _seed_id(fresh_db, "haiti")
    batches = []
    real_after = store_articles.articles_after

    def after_then_restart_haiti(db, after, limit=500):
        rows = real_after(db, after, limit)
        if not batches:
            store_seeds.start_scoring(db, [haiti])
        batches.append(after)
        return rows

    monkeypatch.setattr(store_articles, "articles_after", after_then_restart_haiti)
    rescore(fresh_db, MatchConfig(), restart=False, stop=lambda: bool(batches))  # one batch, then cut short
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["aceh"]["explain"]["claimed_by"]["name"] == "haiti"
    assert found["haiti"]["verdict"] == "related"
    assert store_seeds.scoring_pending(fresh_db)[haiti][0] == 0  # haiti still to be scored from the start
    assert [claim for claim in _claims_beside_their_owners(fresh_db) if not claim[3]] == []
    remove_seed(fresh_db, haiti)
    back = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert back["verdict"] == "related" and "claimed_by" not in back["explain"]


def test_a_claim_is_given_back_when_the_claiming_seed_stops_calling_the_article_its_own(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH, threshold=0.9))
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    _interrupted_add(fresh_db, _seed("haiti", HAITI, threshold=0.5))
    _interrupted_add(fresh_db, _seed("aceh", ACEH, threshold=0.16))
    rescore(fresh_db, MatchConfig(), [_seed_id(fresh_db, "aceh")])
    assert _rows(fresh_db, HAITI_REPORT[0])["aceh"]["explain"]["claimed_by"]["name"] == "haiti"
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))  # haiti gives the report up
    back = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert back["verdict"] == "related" and "claimed_by" not in back["explain"]


def _judgement(seed_id: int, must: list[str], verdict: str, score: float, missing: list[str] | None = None):
    seed = SeedModel(seed_id, f"s{seed_id}", 0.17, must, [], Counter(), Counter(), [], set())
    return Judgement(seed, score, verdict, 0.0, {"missing_keywords": missing} if missing else {})


def test_claims_spare_copies_and_seeds_whose_must_keywords_appear_and_need_a_seed_calling_the_article_its_own(fresh_db):
    matcher = Matcher(fresh_db, MatchConfig())
    top = _judgement(1, [], "related", 0.6)
    copy = _judgement(2, [], "copy", 0.3)
    kept = _judgement(3, ["quake"], "related", 0.3)
    lacking = _judgement(4, ["quake"], "unrelated", 0.3, missing=["quake"])
    close = _judgement(5, [], "related", 0.5)
    far = _judgement(6, [], "related", 0.3)
    out = [top, copy, kept, lacking, close, far]
    matcher._claim(out, [j.score for j in out])
    assert [("claimed_by" in j.explain, round(j.score, 3), j.verdict) for j in out] == [
        (False, 0.6, "related"),  # the top seed is never claimed
        (False, 0.3, "copy"),  # a copy stays a copy at its score
        (False, 0.3, "related"),  # its +must keyword appears: the user said it is theirs
        (True, 0.15, "unrelated"),
        (False, 0.5, "related"),  # 0.5 is not under 0.8 x 0.6
        (True, 0.15, "unrelated"),
    ]
    assert far.explain["claimed_by"]["seed"] == 1
    nobody = [_judgement(1, [], "unrelated", 0.6), _judgement(2, [], "related", 0.2)]
    matcher._claim(nobody, [j.score for j in nobody])
    assert not any("claimed_by" in j.explain for j in nobody)  # only a seed calling the article its own claims


def test_seeds_of_the_same_kind_tell_their_articles_apart_as_they_arrive(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH))
    save_seed(fresh_db, _seed("haiti", HAITI))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "related" and "claimed_by" not in found["haiti"]["explain"]
    assert found["aceh"]["verdict"] == "unrelated" and found["aceh"]["explain"]["claimed_by"]["name"] == "haiti"


def test_seeds_synced_together_claim_as_seeds_added_one_by_one(fresh_db, tmp_path):
    _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    one_by_one = {name: (r["score"], r["verdict"]) for name, r in _rows(fresh_db, HAITI_REPORT[0]).items()}
    other = open_db(tmp_path / "other.db")
    _store(other, "https://news.example/feed", [*_background(), HAITI_REPORT])
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name, story in (("aceh", ACEH), ("haiti", HAITI)):
        (folder / f"{name}.txt").write_text(f"{story[0]}\n\n{story[1]}\n")
    assert sync_folder(other, folder).scored == len(OTHER) + 1
    assert {name: (r["score"], r["verdict"]) for name, r in _rows(other, HAITI_REPORT[0]).items()} == one_by_one
    assert _rows(other, HAITI_REPORT[0])["aceh"]["explain"]["claimed_by"]["name"] == "haiti"


def test_removing_the_claiming_seed_gives_the_article_back(fresh_db):
    alone = _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    own = fresh_db.execute("SELECT count(*) FROM matches WHERE seed_id = ? AND verdict != 'unrelated'", [_seed_id(fresh_db, "haiti")]).fetchone()[0]
    assert own >= 1
    assert remove_seed(fresh_db, _seed_id(fresh_db, "haiti")) == own
    assert store_seeds.scoring_pending(fresh_db) == {}
    back = _rows(fresh_db, HAITI_REPORT[0])
    assert set(back) == {"aceh"}
    assert back["aceh"]["verdict"] == "related" and back["aceh"]["score"] == alone["score"] and "claimed_by" not in back["aceh"]["explain"]


def test_removing_a_seed_that_calls_nothing_its_own_judges_nothing_again(fresh_db):
    _aceh_store(fresh_db)
    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))  # a story none of these articles belongs to
    before = {url: _rows(fresh_db, url)["aceh"] for url, _, _ in [*_background(), HAITI_REPORT]}
    assert remove_seed(fresh_db, _seed_id(fresh_db, "russia-iran-sacred-alliance")) == 0
    assert {url: _rows(fresh_db, url)["aceh"] for url in before} == before


def test_a_seed_claims_only_articles_it_calls_related(fresh_db):
    alone = _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))  # scores the report highest, yet below its own line
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "unrelated" and found["haiti"]["score"] > alone["score"] / 0.8
    assert found["aceh"]["verdict"] == "related" and found["aceh"]["score"] == alone["score"]
    # Lowering the threshold makes haiti call the report its own: aceh's judgement of it is made again.
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.5))
    assert _rows(fresh_db, HAITI_REPORT[0])["aceh"]["verdict"] == "unrelated"
    # And raising it again gives the report back to aceh.
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))
    assert _rows(fresh_db, HAITI_REPORT[0])["aceh"]["score"] == alone["score"]


def test_a_claimed_article_well_above_the_threshold_stays_related(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH, threshold=0.05))
    save_seed(fresh_db, _seed("haiti", HAITI))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    aceh = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert "claimed_by" in aceh["explain"] and aceh["score"] >= 0.05 and aceh["verdict"] == "related"


def test_a_seed_whose_must_have_keywords_all_appear_is_never_claimed(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH, keywords=["+earthquake", "+rubble"]))
    save_seed(fresh_db, _seed("haiti", HAITI))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    aceh = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert "claimed_by" not in aceh["explain"] and aceh["verdict"] == "related"


def test_a_copy_of_a_seed_claims_the_article_from_the_others(fresh_db):
    save_seed(fresh_db, _seed("aceh", ACEH))
    save_seed(fresh_db, _seed("haiti", HAITI))
    copy = ("https://scraper.example/haiti", HAITI[0], "World\n" + HAITI[1] + "\nSource link")
    _store(fresh_db, "https://scraper.example/feed", [*_background(), copy])
    found = _rows(fresh_db, copy[0])
    assert found["haiti"]["verdict"] == "copy"
    assert found["aceh"]["explain"]["claimed_by"]["name"] == "haiti"


@pytest.mark.parametrize("threshold", [None, 0.9], ids=["aceh-calls-it-related-alone", "only-haiti-owns-it"])
def test_rescoring_one_seed_still_weighs_the_others_claims(fresh_db, threshold):
    save_seed(fresh_db, _seed("aceh", ACEH, threshold=threshold))
    save_seed(fresh_db, _seed("haiti", HAITI))
    _store(fresh_db, "https://news.example/feed", [*_background(), HAITI_REPORT])
    before = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert before["explain"]["claimed_by"]["name"] == "haiti"
    fresh_db.execute("UPDATE matches SET scored_at = 'before'")
    assert rescore(fresh_db, MatchConfig(), [_seed_id(fresh_db, "aceh")]).new == len(OTHER) + 1
    after = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert after["scored_at"] != "before"  # written again ...
    assert {k: after[k] for k in ("score", "verdict", "explain")} == {k: before[k] for k in ("score", "verdict", "explain")}  # ... the same


def _every_match(db) -> list[tuple]:
    return sorted(tuple(r) for r in db.execute("SELECT article_id, seed_id, score, verdict, copy_score, explain, base FROM matches"))


def _store_to_rescore(db) -> list[tuple]:
    """A store of two seeds and nine articles, rescored in this process: what every rescore must store."""
    save_seed(db, _seed("aceh", ACEH))
    save_seed(db, load_seed_file(FOUNDING_SEED))
    wire = [(f"https://w.example/{i}", f"Drone strikes on Kyiv, day {i}", WIRE.replace("overnight", f"overnight on day {i}")) for i in range(3)]
    _store(db, "https://news.example/feed", [*_background(), HAITI_REPORT, *wire, (ACEH_REPORT_URL, *ACEH)])
    rescore(db, MatchConfig(), batch=4)
    return _every_match(db)


ACEH_REPORT_URL = "https://news.example/aceh-report"


def test_a_rescore_of_a_large_store_computes_features_in_parser_processes_and_stores_the_same(fresh_db, monkeypatch):
    import ingest.processor

    alone = _store_to_rescore(fresh_db)
    asked = []
    submit = ingest.processor.StoredFeatures._submit
    monkeypatch.setattr(ingest.processor, "PARALLEL_RESCORE_MIN", 1)
    monkeypatch.setattr(ingest.processor.os, "cpu_count", lambda: 2)  # a one-core runner would compute them here
    monkeypatch.setattr(ingest.processor.StoredFeatures, "_submit", lambda self, rows: asked.append(f := submit(self, rows)) or f)
    fresh_db.execute("UPDATE matches SET score = 0, base = 0, explain = '{}'")
    assert rescore(fresh_db, MatchConfig(), batch=4).new == 9
    assert _every_match(fresh_db) == alone
    # Batches of 4, 4 and 1, each asked for as the one before is handed out (the first on its own); then the
    # read that finds the end asks for nothing.
    assert [f is not None for f in asked] == [True, True, True, False]


def test_a_rescore_tells_its_progress_batch_by_batch(fresh_db):
    _store_to_rescore(fresh_db)
    told = []
    assert rescore(fresh_db, MatchConfig(), batch=4, progress=lambda done, total: told.append((done, total))).new == 9
    assert told == [(0, 9), (4, 9), (8, 9), (9, 9)]
    told.clear()
    aceh = _seed_id(fresh_db, "aceh")
    store_seeds.start_scoring(fresh_db, [aceh])
    fresh_db.execute("UPDATE seeds SET scoring_after = 5 WHERE id = ?", [aceh])  # a run cut short after article 5
    assert rescore(fresh_db, MatchConfig(), [aceh], restart=False, batch=4, progress=lambda d, t: told.append((d, t))).new == 4
    assert told == [(0, 4), (4, 4)]  # what is left, not the whole store


def test_a_batch_judged_again_because_a_seed_changed_counts_once_in_the_progress(fresh_db, monkeypatch):
    _store_to_rescore(fresh_db)
    judge, changed = Matcher.judge, []

    def judge_while_a_seed_changes(self, *args, **kwargs):
        if not changed:  # another process edits a seed while the first batch is judged
            changed.append(1)
            fresh_db.execute("UPDATE meta SET value = value + 1 WHERE key = 'seeds_version'")
        return judge(self, *args, **kwargs)

    monkeypatch.setattr(Matcher, "judge", judge_while_a_seed_changes)
    told = []
    assert rescore(fresh_db, MatchConfig(), batch=4, progress=lambda done, total: told.append((done, total))).new == 9
    assert changed and told == [(0, 9), (4, 9), (8, 9), (9, 9)]


@pytest.mark.parametrize("failure", ["cannot-start", "dies"])
def test_a_rescore_goes_on_in_one_process_when_parser_processes_fail(fresh_db, monkeypatch, caplog, failure):
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    import ingest.poll
    import ingest.processor

    alone = _store_to_rescore(fresh_db)

    class Dying:
        def submit(self, *args):
            future: Future = Future()
            future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            return future

        def shutdown(self, **kw):
            pass

    def start(memory_mb):
        if failure == "cannot-start":
            raise OSError("[Errno 24] Too many open files")
        return lambda workers: Dying()

    monkeypatch.setattr(ingest.processor, "PARALLEL_RESCORE_MIN", 1)
    monkeypatch.setattr(ingest.processor.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(ingest.poll, "parser_processes", start)
    fresh_db.execute("UPDATE matches SET score = 0, base = 0, explain = '{}'")
    assert rescore(fresh_db, MatchConfig(), batch=4).new == 9
    assert _every_match(fresh_db) == alone
    error = "OSError: [Errno 24] Too many open files" if failure == "cannot-start" else "BrokenProcessPool: a child process terminated abruptly"
    assert f"scoring goes on in one process: parser processes failed ({error})" in caplog.text


@pytest.mark.parametrize("left, parse_in_processes, expected", [(9, True, True), (8, True, False), (9, False, False)])
def test_a_rescore_uses_parser_processes_only_for_enough_articles_left_and_when_allowed(fresh_db, monkeypatch, left, parse_in_processes, expected):
    import ingest.poll
    import ingest.processor

    _store_to_rescore(fresh_db)
    started = []
    monkeypatch.setattr(ingest.processor, "PARALLEL_RESCORE_MIN", 9)
    monkeypatch.setattr(ingest.processor.os, "cpu_count", lambda: 2)
    def start(memory_mb):
        started.append(memory_mb)

        def no_pool(workers):
            raise OSError("a stand-in: only whether processes were asked for counts, and with what settings")

        return no_pool

    monkeypatch.setattr(ingest.poll, "parser_processes", start)
    first = fresh_db.execute("SELECT min(id) - 1 FROM articles").fetchone()[0]
    source = ingest.processor.StoredFeatures(fresh_db, 5, 4, Config(parse_in_processes=parse_in_processes, parser_memory_mb=300))
    rows, features = source.after(first + 9 - left)
    assert len(rows) == len(features) == 4
    assert started == ([300] if expected else [])


def test_claim_settings_out_of_range_are_refused():
    for bad in ({"claim_ratio": 0}, {"claim_ratio": 1.5}, {"claimed_factor": -0.1}, {"claimed_factor": 2}):
        with pytest.raises(ValueError, match="claim_ratio must be in"):
            MatchConfig(**bad)


def _paragraphs(path) -> tuple[str, list[str]]:
    seed = load_seed_file(path)
    return seed.title, [p for p in seed.body.split("\n") if p.strip()]


def test_an_excerpt_from_the_middle_of_an_article_is_its_duplicate(fresh_db):
    """A re-post of two paragraphs from the middle (no title, no opening) is still found: the index samples
    shingles from the whole text, not only the opening, densely enough for ~130 words (1 in 8: 1 in 16
    finds a 100-word excerpt one time in six)."""
    title, paragraphs = _paragraphs(FOUNDING_SEED)
    _store(fresh_db, "https://a.example/feed", [("https://a.example/alliance", title, "</p><p>".join(paragraphs))])
    excerpt = "</p><p>".join(paragraphs[4:6])
    assert 120 <= len(excerpt.split()) <= 130
    _store(fresh_db, "https://b.example/feed", [*[(f"https://b.example/{i}", t, b) for i, (t, b) in enumerate(OTHER)],
                                                ("https://b.example/quoted", "What the analysts say", excerpt)])
    ids = dict(fresh_db.execute("SELECT url, id FROM articles").fetchall())
    duplicate_of = dict(fresh_db.execute("SELECT url, duplicate_of FROM articles").fetchall())
    assert duplicate_of["https://b.example/quoted"] == ids["https://a.example/alliance"]
    assert [duplicate_of[f"https://b.example/{i}"] for i in range(len(OTHER))] == [None] * len(OTHER)


def _index(db, postings: dict[int, list[int]]) -> None:
    """Articles 1..n, and these index keys pointing at them (as stored: no key over MAX_POSTINGS articles)."""
    with transaction(db):
        for i in range(1, 1 + max(a for ids in postings.values() for a in ids)):
            store_articles.insert_article_tx(db, {"url": f"https://x.example/{i}", "shingle_count": 0, "index_keys": 0})
        for key, ids in postings.items():
            for article_id in ids:
                store_articles.add_shingles_tx(db, article_id, [key])


def _reference_hits(db, keys: list[int]) -> tuple[dict[int, int], set[int]]:
    """What the index holds under these keys, counted in SQL: articles under two keys or more, and the full keys."""
    marks = ",".join("?" * len(keys))
    overlap = dict(db.execute(f"SELECT article_id, count(*) FROM shingles WHERE hash IN ({marks}) GROUP BY article_id HAVING count(*) >= 2", keys).fetchall())
    full = {r[0] for r in db.execute(f"SELECT hash FROM shingles WHERE hash IN ({marks}) GROUP BY hash HAVING count(*) >= ?", [*keys, MAX_POSTINGS])}
    return overlap, full


def test_look_up_answers_full_keys_from_memory_and_the_rest_from_the_index(fresh_db):
    # Key 10 is full (MAX_POSTINGS articles), 11 and 12 are not, 13 indexes nothing.
    _index(fresh_db, {10: list(range(1, MAX_POSTINGS + 1)), 11: [1, 2, 9], 12: [9], 14: [3]})
    keys = [10, 11, 12, 13]
    full = FullKeys()
    for _ in range(2):  # the first read fills `full`, the second uses it
        hits = look_up(fresh_db, keys, full)
        assert (dict(hits.overlap), hits.full) == _reference_hits(fresh_db, keys)
    assert dict(hits.overlap) == {1: 2, 2: 2, 9: 2} and hits.full == {10} and full.get(10) == list(range(1, MAX_POSTINGS + 1))
    assert full.get(11) is None  # a key that may still grow is read again each time
    fresh_db.execute("DELETE FROM shingles WHERE hash = 10")  # (never done by seedwatch) shows the memory answers
    assert look_up(fresh_db, keys, full).full == {10} and look_up(fresh_db, keys).full == set()
    with transaction(fresh_db):
        store_articles.add_shingles_tx(fresh_db, 3, [11])
    assert dict(look_up(fresh_db, [11, 14], full).overlap) == {3: 2}
