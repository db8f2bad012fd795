"""process_entries on a real store: one article per URL, copies of seeds, duplicates and their originals."""

from __future__ import annotations

import json

import pytest

from ingest.config import MatchConfig
from ingest.manage import finish_seed_scoring, save_seed
from ingest.normalise import normalise_entries
from ingest.parser import RawEntry
from ingest.processor import Matcher, process_entries, rescore
from ingest.seeds import load_seed_file, parse_seed
from store import feeds as store_feeds
from store import seeds as store_seeds
from store.db import transaction
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


def _seed(name: str, story: tuple[str, str], threshold: float | None = None):
    doc = parse_seed(f"{story[0]}\n\n{story[1]}\n".encode(), f"{name}.txt")
    doc.threshold = threshold
    return doc


def _judgements(db, url: str) -> dict[str, dict]:
    sql = (
        "SELECT s.name, m.score, m.verdict, m.explain FROM matches m JOIN seeds s ON s.id = m.seed_id"
        " JOIN articles a ON a.id = m.article_id WHERE a.url = ?"
    )
    return {r["name"]: {**r, "explain": json.loads(r["explain"])} for r in db.query(sql, [url])}


def _aceh_store(db) -> dict:
    """A store following the Aceh quake that holds a report of the Haiti quake; the report's Aceh judgement."""
    save_seed(db, _seed("aceh", ACEH))
    _store(db, "https://news.example/feed", [*((f"https://b.example/{i}", t, b) for i, (t, b) in enumerate(OTHER)), HAITI_REPORT])
    alone = _judgements(db, HAITI_REPORT[0])["aceh"]
    assert alone["verdict"] == "related" and "claimed_by" not in alone["explain"]  # quake words alone make it related
    return alone


def test_an_article_another_seed_claims_counts_half_for_this_one(fresh_db):
    alone = _aceh_store(fresh_db)
    _, change, _ = save_seed(fresh_db, _seed("haiti", HAITI))
    assert change == "added"
    found = _judgements(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "related" and found["haiti"]["score"] > alone["score"] / 0.8
    aceh = found["aceh"]
    assert aceh["verdict"] == "unrelated"
    assert aceh["explain"]["claimed_by"] == {"seed": store_seeds.get_seed(fresh_db, "haiti")["id"], "name": "haiti", "score": found["haiti"]["score"]}
    assert aceh["explain"]["before_claim"] == alone["score"]
    assert aceh["score"] == pytest.approx(alone["score"] * 0.5, abs=1e-4)
    # The other articles were judged again for aceh too, and nothing else about them changed.
    assert store_seeds.scoring_pending(fresh_db) == {}


def test_removing_the_claiming_seed_gives_the_article_back(fresh_db):
    alone = _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    store_seeds.remove_seed(fresh_db, store_seeds.get_seed(fresh_db, "haiti")["id"])
    assert set(store_seeds.scoring_pending(fresh_db)) == {store_seeds.get_seed(fresh_db, "aceh")["id"]}
    assert finish_seed_scoring(fresh_db) == len(OTHER) + 1
    back = _judgements(fresh_db, HAITI_REPORT[0])["aceh"]
    assert back["verdict"] == "related" and back["score"] == alone["score"] and "claimed_by" not in back["explain"]


def test_removing_a_seed_that_claimed_nothing_rescores_nothing(fresh_db):
    _aceh_store(fresh_db)
    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    store_seeds.remove_seed(fresh_db, store_seeds.get_seed(fresh_db, "russia-iran-sacred-alliance")["id"])
    assert store_seeds.scoring_pending(fresh_db) == {}


def test_a_seed_claims_only_articles_it_calls_related(fresh_db):
    alone = _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.95))  # scores the report highest, yet below its own line
    found = _judgements(fresh_db, HAITI_REPORT[0])
    assert found["haiti"]["verdict"] == "unrelated" and found["haiti"]["score"] > alone["score"] / 0.8
    assert found["aceh"]["verdict"] == "related" and found["aceh"]["score"] == alone["score"]
    # Lowering the threshold changes what haiti claims: aceh's judgements are made again.
    save_seed(fresh_db, _seed("haiti", HAITI, threshold=0.5))
    assert _judgements(fresh_db, HAITI_REPORT[0])["aceh"]["verdict"] == "unrelated"


def test_rescoring_one_seed_still_weighs_the_others_claims(fresh_db):
    _aceh_store(fresh_db)
    save_seed(fresh_db, _seed("haiti", HAITI))
    before = _judgements(fresh_db, HAITI_REPORT[0])["aceh"]
    rescore(fresh_db, MatchConfig(), [store_seeds.get_seed(fresh_db, "aceh")["id"]])
    assert _judgements(fresh_db, HAITI_REPORT[0])["aceh"] == before
