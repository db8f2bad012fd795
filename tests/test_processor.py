"""process_entries on a real store: one article per URL, copies of seeds, duplicates and their originals."""

from __future__ import annotations

import json

import pytest

from ingest.config import MatchConfig
from ingest.manage import remove_seed, save_seed, sync_folder
from ingest.normalise import normalise_entries
from ingest.parser import RawEntry
from ingest.processor import Matcher, process_entries, rescore
from ingest.seeds import load_seed_file, parse_seed
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


def test_an_article_another_seed_claims_counts_half_for_this_one(fresh_db):
    alone = _aceh_store(fresh_db)
    untouched = {url: _rows(fresh_db, url)["aceh"] for url, _, _ in _background()}
    _, change, _ = save_seed(fresh_db, _seed("haiti", HAITI))
    assert change == "added"
    found = _rows(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "related" and found["haiti"]["score"] > alone["score"] / 0.8
    aceh = found["aceh"]
    assert aceh["verdict"] == "unrelated"
    assert aceh["explain"]["claimed_by"] == {"seed": _seed_id(fresh_db, "haiti"), "name": "haiti", "score": found["haiti"]["score"], "ratio": 0.8, "factor": 0.5}
    assert aceh["explain"]["before_claim"] == alone["score"]
    assert aceh["score"] == pytest.approx(alone["score"] * 0.5, abs=1e-4)
    # Articles the new seed does not call its own keep their aceh judgement as it was stored.
    assert {url: _rows(fresh_db, url)["aceh"] for url in untouched} == untouched


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
    assert found["haiti"]["verdict"] == "copy" and "claimed_by" not in found["haiti"]["explain"]
    assert found["aceh"]["explain"]["claimed_by"]["name"] == "haiti"


def test_rescoring_one_seed_still_weighs_the_others_claims(fresh_db):
    _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    before = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    rescore(fresh_db, MatchConfig(), [_seed_id(fresh_db, "aceh")])
    after = _rows(fresh_db, HAITI_REPORT[0])["aceh"]
    assert {k: after[k] for k in ("score", "verdict", "explain")} == {k: before[k] for k in ("score", "verdict", "explain")}


def test_claim_settings_out_of_range_are_refused():
    for bad in ({"claim_ratio": 0}, {"claim_ratio": 1.5}, {"claimed_factor": -0.1}, {"claimed_factor": 2}):
        with pytest.raises(ValueError, match="claim_ratio must be in"):
            MatchConfig(**bad)
