"""process_entries on a real store: one article per URL, copies of seeds, duplicates and their originals."""

from __future__ import annotations

from ingest.config import MatchConfig
from ingest.manage import save_seed
from ingest.normalise import normalise_entries
from ingest.parser import RawEntry
from ingest.processor import Matcher, process_entries
from ingest.seeds import load_seed_file
from store import feeds as store_feeds
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
