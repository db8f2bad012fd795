"""Integration: real HTTP on 127.0.0.1, a real SQLite file, the whole poll pipeline."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from ingest.config import Config, FetchConfig
from ingest.errors import FetchError, ParseError
from ingest.fetcher import Fetcher
from ingest.localserver import Response
from ingest.poll import poll_feeds
from store import feeds as store_feeds
from tests.conftest import rss

ITEMS = [
    {"title": "Iran sends drones to Russia", "link": "https://news.example/a?utm_source=rss", "guid": "a",
     "description": "Tehran shipped Shahed drones to Moscow for strikes on Kyiv's grid."},
    {"title": "Markets rally", "link": "https://news.example/b", "guid": "b", "description": "Stocks rose on Tuesday."},
]
FEED = rss(ITEMS)


def fast_config(**fetch) -> Config:
    return Config(fetch=FetchConfig(**{"connect_timeout": 2, "read_timeout": 1.0, "total_timeout": 2.0, **fetch}), poll_deadline=4.0)


def add(db, server, path: str, response=None) -> dict:
    if response is not None:
        server.route(path, response)
    feed_id, _ = store_feeds.add_feed(db, server.url(path))
    return store_feeds.find_feed(db, feed_id)


def poll_one(db, feed_id: int, config: Config | None = None):
    summary = poll_feeds(db, [store_feeds.find_feed(db, feed_id)], config or fast_config())
    return summary.outcomes[0], store_feeds.find_feed(db, feed_id)


def seconds_until(iso_time: str) -> float:
    when = datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def test_new_entries_are_stored_once_with_canonical_urls(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "new-entries" and outcome.stats.new == 2
    urls = {r["url"] for r in fresh_db.query("SELECT url FROM articles")}
    assert urls == {"https://news.example/a", "https://news.example/b"}
    assert state["status"] == "ok" and state["error_count"] == 0 and state["last_success_at"]
    assert state["title"] == "Test feed" and state["entry_count"] == 2


def test_etag_gives_304_and_no_parse(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED, etag=True))
    poll_one(fresh_db, feed["id"])
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "not-modified"
    path, headers = server.requests[-1]
    assert headers.get("If-None-Match") == state["etag"]
    assert fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_a_poll_of_unchanged_feeds_keeps_its_connections_alive(fresh_db, server):
    feeds = [add(fresh_db, server, f"/feed{i}.xml", Response(rss([{**ITEMS[0], "guid": f"g{i}"}]), etag=True)) for i in range(8)]
    poll_feeds(fresh_db, feeds, fast_config())
    before = server.connections
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    assert [o.status for o in summary.outcomes] == ["not-modified"] * 8
    # A 304 has no body; the connection goes back to the pool, not closed with the response: at most one per
    # concurrent request (per_host_limit), not one per feed.
    assert server.connections - before <= FetchConfig().per_host_limit


def test_feeds_with_nothing_new_have_their_checks_stored_in_batches(fresh_db, server, monkeypatch):
    import ingest.poll

    feeds = [add(fresh_db, server, f"/feed{i}.xml", Response(rss([{**ITEMS[0], "guid": f"g{i}"}]), etag=i % 2 == 0)) for i in range(8)]
    poll_feeds(fresh_db, feeds, fast_config())
    old = {"last_checked_at": "2020-01-01T00:00:00Z", "next_check_at": "2020-01-01T00:00:00Z", "status": "error", "error_count": 3, "last_error": "HTTP 503"}
    for f in feeds:
        store_feeds.update_feed(fresh_db, f["id"], old)
    batches = []
    write = store_feeds.update_feeds
    monkeypatch.setattr(ingest.poll, "CHECKED_BATCH", 3)
    monkeypatch.setattr(store_feeds, "update_feeds", lambda db, states: (batches.append(len(states)), write(db, states)))
    monkeypatch.setattr(store_feeds, "update_feed", lambda *a: pytest.fail("a feed with nothing new was written alone"))
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    assert sorted(o.status for o in summary.outcomes) == ["not-modified"] * 4 + ["unchanged"] * 4
    assert batches == [3, 3, 2]
    for f in feeds:
        state = store_feeds.find_feed(fresh_db, f["id"])
        assert state["last_checked_at"] > old["last_checked_at"] and seconds_until(state["next_check_at"]) > 0
        assert (state["status"], state["error_count"], state["last_error"]) == ("ok", 0, None)
        assert state["etag"] == f["etag"] or f["etag"] is None


def test_a_stopped_poll_stores_the_checks_it_counted(fresh_db, server, monkeypatch):
    import ingest.poll
    from ingest.poll import Poller

    feeds = [add(fresh_db, server, f"/feed{i}.xml", Response(rss([{**ITEMS[0], "guid": f"g{i}"}]), etag=True)) for i in range(8)]
    poll_feeds(fresh_db, feeds, fast_config())
    for f in feeds:
        store_feeds.update_feed(fresh_db, f["id"], {"last_checked_at": "2020-01-01T00:00:00Z"})
    write = store_feeds.update_feeds

    def slow(db, states):
        time.sleep(0.3)  # the store thread is busy when the stop comes: the next batch waits for it
        write(db, states)

    monkeypatch.setattr(ingest.poll, "CHECKED_BATCH", 2)
    monkeypatch.setattr(store_feeds, "update_feeds", slow)
    poller = Poller(fresh_db, fast_config())
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 3:
            poller.stop.set()  # feeds still in flight are cancelled, one of them carrying a batch

    try:
        summary = asyncio.run(poller.poll([store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], progress))
    finally:
        poller.close()
    assert len(summary.outcomes) >= 3 and all(o.status == "not-modified" for o in summary.outcomes)
    for o in summary.outcomes:
        assert store_feeds.find_feed(fresh_db, o.feed_id)["last_checked_at"] > "2020-01-01T00:00:00Z"


def test_a_failed_write_of_checks_loses_only_those_times(fresh_db, server, monkeypatch, caplog):
    import sqlite3

    feeds = [add(fresh_db, server, f"/feed{i}.xml", Response(rss([{**ITEMS[0], "guid": f"g{i}"}]), etag=True)) for i in range(3)]
    poll_feeds(fresh_db, feeds, fast_config())
    before = {f["id"]: store_feeds.find_feed(fresh_db, f["id"]) for f in feeds}

    def disk_full(db, states):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_feeds, "update_feeds", disk_full)
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    assert [o.status for o in summary.outcomes] == ["not-modified"] * 3 and summary.failed == 0
    assert "states of 3 feeds checked with nothing new not stored: database or disk is full" in caplog.text
    assert {f["id"]: store_feeds.find_feed(fresh_db, f["id"]) for f in feeds} == before


def test_last_modified_is_sent_back(fresh_db, server):
    lm = "Tue, 01 Nov 2022 10:00:00 GMT"
    feed = add(fresh_db, server, "/feed.xml", Response(FEED, headers={"Content-Type": "application/rss+xml", "Last-Modified": lm}))
    poll_one(fresh_db, feed["id"])
    poll_one(fresh_db, feed["id"])
    assert server.requests[-1][1].get("If-Modified-Since") == lm


def test_same_body_without_validators_is_not_parsed_again(fresh_db, server, monkeypatch):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    poll_one(fresh_db, feed["id"])
    import ingest.poll

    def boom(*a, **k):
        raise AssertionError("parse_feed called for an unchanged body")

    monkeypatch.setattr(ingest.poll, "parse_feed", boom)
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "unchanged"
    assert state["status"] == "ok"


def test_changed_body_stores_only_new_entries(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    poll_one(fresh_db, feed["id"])
    server.route("/feed.xml", Response(rss([*ITEMS, {"title": "Third", "link": "https://news.example/c", "guid": "c", "description": "New."}])))
    outcome, _ = poll_one(fresh_db, feed["id"])
    assert outcome.stats.new == 1 and outcome.stats.known == 2


def test_same_article_in_two_feeds_is_stored_once_with_both_sources(fresh_db, server):
    a = add(fresh_db, server, "/one.xml", Response(FEED))
    other = rss([{**ITEMS[0], "guid": "other-guid", "link": "https://NEWS.example:443/a?fbclid=xyz"}])
    b = add(fresh_db, server, "/two.xml", Response(other))
    poll_one(fresh_db, a["id"])
    outcome, _ = poll_one(fresh_db, b["id"])
    assert outcome.stats.new == 0 and outcome.stats.also_in_other_feed == 1
    article_id = fresh_db.execute("SELECT id FROM articles WHERE url = 'https://news.example/a'").fetchone()[0]
    sources = fresh_db.execute("SELECT count(*) FROM article_feeds WHERE article_id = ?", [article_id]).fetchone()[0]
    assert sources == 2


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_moves_the_feed_after_two_polls(fresh_db, server, status):
    server.route("/new.xml", Response(FEED))
    feed = add(fresh_db, server, "/old.xml", Response(b"", status, {"Location": "/new.xml"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["url"].endswith("/old.xml") and state["redirect_streak"] == 1
    _, state = poll_one(fresh_db, feed["id"])
    assert state["url"] == server.url("/new.xml")
    assert state["previous_url"] == server.url("/old.xml")
    assert store_feeds.find_feed(fresh_db, server.url("/old.xml"))["id"] == feed["id"]


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirect_never_moves_the_feed(fresh_db, server, status):
    server.route("/new.xml", Response(FEED))
    feed = add(fresh_db, server, "/old.xml", Response(b"", status, {"Location": "/new.xml"}))
    for _ in range(3):
        outcome, state = poll_one(fresh_db, feed["id"])
    assert state["url"] == server.url("/old.xml") and state["status"] == "ok"
    assert fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_redirect_to_an_html_page_is_a_clear_error(fresh_db, server):
    server.route("/page.html", Response(b"<!doctype html><html><body>Hello</body></html>", headers={"Content-Type": "text/html"}))
    feed = add(fresh_db, server, "/feed.xml", Response(b"", 302, {"Location": "/page.html"}))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "error"
    assert state["status"] == "error" and "HTML" in state["last_error"]


def test_redirect_loop_is_reported(fresh_db, server):
    server.route("/a.xml", Response(b"", 302, {"Location": "/b.xml"}))
    feed = add(fresh_db, server, "/b.xml", Response(b"", 302, {"Location": "/a.xml"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert "loop" in state["last_error"]


def test_410_gone_disables_the_feed(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(b"gone", 410))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "gone" and state["status"] == "gone" and "410" in state["last_error"]
    assert store_feeds.due_feeds(fresh_db, "9999-12-31T00:00:00Z", include_all=True) == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(fresh_db, server, status):
    feed = add(fresh_db, server, "/feed.xml", Response(b"slow down", status, {"Retry-After": "7200"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["status"] == "error" and str(status) in state["last_error"]
    assert 7100 < seconds_until(state["next_check_at"]) <= 7200


def test_retry_after_is_capped_at_a_day(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(b"", 429, {"Retry-After": str(30 * 86400)}))
    _, state = poll_one(fresh_db, feed["id"])
    assert seconds_until(state["next_check_at"]) <= 86400


def test_server_errors_back_off_exponentially(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(b"oops", 500))
    waits = []
    for _ in range(4):
        _, state = poll_one(fresh_db, feed["id"])
        waits.append(seconds_until(state["next_check_at"]))
    assert state["error_count"] == 4 and "500" in state["last_error"]
    # Jitter draws each wait from [backoff/2, backoff]; doubling makes error 4 wait longer than error 1 can.
    assert waits[3] > waits[0]
    assert waits[3] <= 60 * 2**4


def test_success_after_errors_resets_health(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(b"oops", 500))
    poll_one(fresh_db, feed["id"])
    server.route("/feed.xml", Response(FEED))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["status"] == "ok" and state["error_count"] == 0 and state["last_error"] is None


def test_ttl_and_max_age_push_the_next_check(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED, headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=7200"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert seconds_until(state["next_check_at"]) > 7200 * 0.89


def drip(handler, content_type: str = "application/rss+xml", times: int = 30, every: float = 0.5) -> None:
    """A 200 whose body is a space every `every` seconds, `times` of them."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.end_headers()
    try:
        for _ in range(times):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(every)
    except OSError:
        pass


def slow_drip(handler) -> None:
    drip(handler)


def late(body: bytes, delay: float):
    """A route that answers with this feed after delay seconds."""
    def answer(handler) -> None:
        time.sleep(delay)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_slow_drip_is_cut_off_and_other_feeds_still_store(fresh_db, server):
    slow = add(fresh_db, server, "/slow.xml", slow_drip)
    good = add(fresh_db, server, "/good.xml", Response(FEED))
    started = time.monotonic()
    summary = poll_feeds(fresh_db, [slow, good], fast_config())
    assert time.monotonic() - started < 5
    assert summary.failed == 1 and summary.ok == 1 and summary.stats.new == 2
    state = store_feeds.find_feed(fresh_db, slow["id"])
    assert state["status"] == "error" and ("within" in state["last_error"] or "timed out" in state["last_error"])


def test_gzip_bomb_stops_at_the_limit(fresh_db, server):
    bomb = gzip.compress(b"<" + b"a" * (50 * 1024 * 1024))
    feed = add(fresh_db, server, "/bomb.xml", Response(bomb, headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}))
    _, state = poll_one(fresh_db, feed["id"], fast_config(max_body_bytes=1024 * 1024))
    assert state["status"] == "error" and "limit" in state["last_error"]


def test_gzip_body_is_inflated(fresh_db, server):
    feed = add(fresh_db, server, "/gz.xml", Response(gzip.compress(FEED), headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}))
    outcome, _ = poll_one(fresh_db, feed["id"])
    assert outcome.stats.new == 2
    assert "gzip" in server.requests[-1][1].get("Accept-Encoding", "")


def test_body_over_the_limit_with_content_length(fresh_db, server):
    feed = add(fresh_db, server, "/big.xml", Response(b"x" * (2 * 1024 * 1024)))
    _, state = poll_one(fresh_db, feed["id"], fast_config(max_body_bytes=1024 * 1024))
    assert "limit" in state["last_error"]


def endless(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()
    try:
        while True:
            handler.wfile.write(b"<a>" * 10000)
    except OSError:
        pass


def test_endless_body_without_length_stops_at_the_limit(fresh_db, server):
    feed = add(fresh_db, server, "/endless.xml", endless)
    _, state = poll_one(fresh_db, feed["id"], fast_config(max_body_bytes=1024 * 1024, total_timeout=10))
    assert state["status"] == "error" and "limit" in state["last_error"]


def test_user_agent_names_seedwatch(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    poll_one(fresh_db, feed["id"])
    assert server.requests[-1][1]["User-Agent"].startswith("seedwatch/")


def test_block_private_refuses_loopback(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    _, state = poll_one(fresh_db, feed["id"], fast_config(block_private=True))
    assert state["status"] == "error" and "non-public" in state["last_error"]
    assert server.hits("/feed.xml") == 0


def test_connection_refused_is_recorded(fresh_db):
    feed_id, _ = store_feeds.add_feed(fresh_db, "http://127.0.0.1:9/feed.xml")
    _, state = poll_one(fresh_db, feed_id)
    assert state["status"] == "error" and state["last_error"]


def test_two_entries_with_one_url_in_one_feed_are_one_article(fresh_db, server):
    body = rss([{**ITEMS[0], "guid": "first"}, {**ITEMS[0], "guid": "second", "link": "https://news.example/a?utm_medium=x"}])
    feed = add(fresh_db, server, "/feed.xml", Response(body))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert state["status"] == "ok" and outcome.stats.new == 1
    assert fresh_db.execute("SELECT count(*) FROM article_feeds").fetchone()[0] == 2


ARTICLE_PAGE = b"""<!doctype html><html><head><title>Iran drones</title></head><body>
<nav>Home | World | Sport</nav><article><h1>Iran sends drones to Russia</h1>
<p>Tehran shipped Shahed kamikaze drones to Moscow, Western officials said on Tuesday, and Russia has used them against Ukraine's energy grid.</p>
<p>The Iranian drones are launched in swarms at power plants and substations around Kyiv, cutting electricity to millions of Ukrainian civilians.</p>
<p>Iran denies supplying the weapons. Washington and Brussels answered with sanctions on the Iranian companies that build the Shahed drones.</p>
</article><footer>Copyright News Example</footer></body></html>"""


def test_full_text_fetches_promising_pages_once(fresh_db, server):
    from ingest.manage import save_seed
    from ingest.seeds import load_seed_file
    from tests.conftest import FOUNDING_SEED

    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    server.route("/articles/a.html", Response(ARTICLE_PAGE, headers={"Content-Type": "text/html"}))
    server.route("/articles/b.html", Response(b"<html><body><p>Stocks rose.</p></body></html>", headers={"Content-Type": "text/html"}))
    brief = [
        {"title": "Iran sends drones to Russia", "link": server.url("/articles/a.html"), "guid": "a",
         "description": "Tehran shipped Shahed drones to Moscow."},
        {"title": "Markets rally", "link": server.url("/articles/b.html"), "guid": "b", "description": "Stocks rose on Tuesday."},
    ]
    feed_id, _ = store_feeds.add_feed(fresh_db, server.url("/brief.xml"), full_text=True)
    server.route("/brief.xml", Response(rss(brief)))
    outcome, _ = poll_one(fresh_db, feed_id)
    assert outcome.stats.new == 2
    content = fresh_db.execute("SELECT content FROM articles WHERE url = ?", [server.url("/articles/a.html")]).fetchone()[0]
    assert "substations around Kyiv" in content and "Home | World" not in content
    assert server.hits("/articles/a.html") == 1
    assert server.hits("/articles/b.html") == 0  # an unrelated brief is not worth a fetch
    # The feed changes, the article stays: its page is never fetched again.
    server.route("/brief.xml", Response(rss(brief, title="Changed")))
    poll_one(fresh_db, feed_id)
    assert server.hits("/articles/a.html") == 1


def test_feeds_without_full_text_never_fetch_pages(fresh_db, server):
    server.route("/articles/a.html", Response(ARTICLE_PAGE, headers={"Content-Type": "text/html"}))
    feed = add(fresh_db, server, "/brief.xml", Response(rss([{"title": "Iran drones", "link": server.url("/articles/a.html"), "guid": "a"}])))
    poll_one(fresh_db, feed["id"])
    assert server.hits("/articles/a.html") == 0


def test_many_feeds_are_parsed_in_parser_processes(fresh_db, server):
    from ingest.poll import PARALLEL_MIN_FEEDS, Poller

    feeds = []
    for i in range(PARALLEL_MIN_FEEDS + 1):
        items = [{"title": f"Story {i}-{j} about drones", "link": f"https://news.example/{i}/{j}", "guid": f"{i}-{j}",
                  "description": f"Report number {i} {j} on Iranian drones over Kyiv and sanctions in Tehran."} for j in range(3)]
        feeds.append(add(fresh_db, server, f"/f{i}.xml", Response(rss(items))))
    poller = Poller(fresh_db, fast_config())
    try:
        summary = asyncio.run(poller.poll(feeds))
        assert poller._parsers is not None and poller._parsers._executor is not None  # parser processes were used
    finally:
        poller.close()
    assert summary.ok == len(feeds) and summary.stats.new == 3 * len(feeds)
    rows = fresh_db.execute("SELECT count(*), sum(index_keys > 0) FROM articles").fetchone()
    assert rows == (3 * len(feeds), 3 * len(feeds))


def allocate(megabytes: int) -> int:
    """Run in a parser process: hold megabytes of memory for a moment."""
    return len(bytearray(megabytes * 1024 * 1024))


def test_parser_processes_are_capped_in_memory():
    from ingest.poll import ParserPool, parser_processes

    async def run(cap_mb: int, want_mb: int):
        pool = ParserPool(1, parser_processes(cap_mb))
        try:
            return await pool.run(time.monotonic() + 30, allocate, want_mb)
        finally:
            pool.close()

    assert asyncio.run(run(512, 64)) == 64 * 1024 * 1024
    with pytest.raises(MemoryError):
        asyncio.run(run(128, 256))


def test_parser_processes_start_with_the_parsers_loaded_and_at_a_lower_priority():
    from ingest.extract import NICE
    from ingest.poll import ParserPool, parser_processes
    from tests import parser_probe

    async def run():
        pool = ParserPool(2, parser_processes(512))
        try:
            return [await pool.run(time.monotonic() + 30, parser_probe.state) for _ in range(2)]
        finally:
            pool.close()

    here = os.nice(0)
    for state in asyncio.run(run()):
        # Forked from a server that imported the parsing stages once; the HTTP client and the store's
        # library (~0.2 s of imports) stay in the main process.
        assert state["loaded"] == ["feedparser", "ingest.parser", "ingest.processor"]
        assert state["nice"] == min(19, here + NICE) > here  # below the store thread, which is the critical path


def test_ctrl_c_ends_a_parser_process_without_a_traceback(capfd):
    import signal

    from ingest.extract import _alive
    from ingest.poll import ParserPool, parser_processes

    async def run():
        pool = ParserPool(1, parser_processes(512))
        try:
            worker = await pool.run(time.monotonic() + 30, os.getpid)
            # As a terminal's Ctrl-C does, to every process of the group. (A test run in the background may
            # have inherited SIGINT ignored, so that a parser process without its own handler lives on.)
            os.kill(worker, signal.SIGINT)
            deadline = time.monotonic() + 5
            while _alive(worker) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return _alive(worker)
        finally:
            pool.close()

    assert asyncio.run(run()) is False
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_the_seedwatch_script_imports_nothing_a_parser_process_does_not_need():
    # A parser process started from the `seedwatch` script runs the script again (CPython 3.11 does so for
    # a __main__ given by path), and the script imports the module its entry point is in.
    probe = "import ingest.__main__; from tests import parser_probe; print(parser_probe.state()['loaded'])"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == "[]"


def test_a_parse_that_runs_out_of_memory_is_a_parse_error(monkeypatch):
    import ingest.parser as parser_module

    def greedy(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(feedparser, "parse", greedy)
    with pytest.raises(ParseError, match="needs more memory than a parser may use"):
        parser_module.parse_feed(rss([{"title": "t", "link": "https://x.example/1"}]), {}, "https://x.example/feed")


def test_fetched_feeds_are_admitted_by_count_and_by_bytes():
    from ingest.poll import InFlight

    seen: list[tuple[int, ...]] = []  # who was inside each time someone entered

    async def scenario() -> None:
        gate = InFlight(feeds=2, budget=100)
        inside: list[int] = []

        async def feed(size: int) -> None:
            async with gate.admit(size):
                inside.append(size)
                seen.append(tuple(inside))
                await asyncio.sleep(0.01)
                inside.remove(size)

        await asyncio.gather(*(feed(size) for size in [60, 60, 30, 30, 30, 500, 10, 90]))

    asyncio.run(scenario())
    assert len(seen) == 8
    assert all(len(group) <= 2 for group in seen)  # at most 2 feeds at once
    assert all(sum(group) <= 100 or group == (500,) for group in seen)  # 100 bytes at most; a bigger body alone
    assert (500,) in seen


def stored_document_frequencies(db) -> tuple[dict[str, int], int]:
    """Document frequencies counted afresh from the stored articles, the way a poll counts them."""
    from collections import Counter

    from ingest.processor import features_of
    from ingest.text import article_text

    df: Counter[str] = Counter()
    rows = list(db.query("SELECT title, summary, content FROM articles"))
    for row in rows:
        df.update(features_of(row["title"] or "", 5, article_text(None, row["summary"], row["content"])).counts.keys())
    return dict(df), len(rows)


def test_a_polls_page_cache_grows_with_the_store_within_its_bounds(fresh_db, server, monkeypatch):
    import ingest.poll
    import store.db

    assert store.db.fit_page_cache(fresh_db) == store.db.CACHE_MIN_KIB  # a small store keeps SQLite's default
    fresh_db.execute("CREATE TABLE ballast (b BLOB)")
    fresh_db.conn.executemany("INSERT INTO ballast VALUES (zeroblob(1048576))", [()] * 48)
    fitted = []

    def fit(db):
        fitted.append(store.db.fit_page_cache(db))
        fitted.append(-db.execute("PRAGMA cache_size").fetchone()[0])
        return fitted[-2]

    monkeypatch.setattr(ingest.poll, "fit_page_cache", fit)
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    poll_one(fresh_db, feed["id"])
    assert fitted and all(48 * 1024 // 16 <= kib <= 49 * 1024 // 16 for kib in fitted), fitted  # 1/16 of ~48 MiB
    # The poll is over: its connection's cache is back to the default size.
    assert -fresh_db.execute("PRAGMA cache_size").fetchone()[0] == store.db.CACHE_MIN_KIB
    monkeypatch.setattr(store.db, "CACHE_MAX_KIB", 2500)
    assert store.db.fit_page_cache(fresh_db) == 2500


def test_a_poll_checkpoints_its_wal_rarely_and_then_as_sqlite_does(fresh_db, server, monkeypatch):
    import store.db

    assert fresh_db.execute("PRAGMA journal_size_limit").fetchone()[0] == store.db.WAL_KEEP_BYTES
    assert fresh_db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == store.db.DEFAULT_CHECKPOINT_PAGES
    during = []
    commit = store_feeds.update_feed_in_tx

    def spy(db, feed_id, changes):
        during.append(db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        commit(db, feed_id, changes)

    monkeypatch.setattr(store_feeds, "update_feed_in_tx", spy)
    feed = add(fresh_db, server, "/feed.xml", Response(FEED))
    poll_one(fresh_db, feed["id"])
    assert during == [store.db.POLL_CHECKPOINT_PAGES]
    assert fresh_db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == store.db.DEFAULT_CHECKPOINT_PAGES


@pytest.mark.parametrize("write_every", [0.0, 3600.0], ids=["every-feed", "at-the-end"])
def test_document_frequencies_count_every_committed_article_once(fresh_db, server, monkeypatch, write_every):
    """Written every DF_WRITE_SECONDS and at the poll's end: a feed whose transaction fails counts for nothing,
    the feeds committed before it still count, and a later poll adds to the totals."""
    import sqlite3

    from ingest import poll as poll_module
    from store import articles as store_articles

    monkeypatch.setattr(poll_module, "DF_WRITE_SECONDS", write_every)
    feeds = []
    for i in range(10):
        items = [{"title": f"Story {i}-{j} on grid strikes", "link": f"https://news.example/{i}/{j}", "guid": f"{i}-{j}",
                  "description": f"Report {i} {j}: drones word{i} term{j} over Kyiv, sanctions in Tehran."} for j in range(3)]
        feeds.append(add(fresh_db, server, f"/f{i}.xml", Response(rss(items))))
    failing = feeds[4]["id"]
    real_update = store_feeds.update_feed_in_tx

    def update(db, feed_id, state):
        if feed_id == failing:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return real_update(db, feed_id, state)

    monkeypatch.setattr(store_feeds, "update_feed_in_tx", update)
    summary = poll_feeds(fresh_db, feeds, fast_config())
    assert summary.failed == 1 and summary.stats.new == 27
    assert store_articles.load_df(fresh_db) == stored_document_frequencies(fresh_db)

    monkeypatch.setattr(store_feeds, "update_feed_in_tx", real_update)
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, failing)], fast_config())
    assert summary.stats.new == 3
    df, docs = store_articles.load_df(fresh_db)
    assert docs == 30 and (df, docs) == stored_document_frequencies(fresh_db)
    assert df["word4"] == 3 and df["kyiv"] == 30



def test_document_frequencies_are_kept_while_the_store_stays_locked(fresh_db, server, monkeypatch):
    """The write lock held past its wait (StoreError) when the poll ends: the poll still reports, the counts are
    kept, and close() writes them."""
    from ingest import poll as poll_module
    from store import articles as store_articles
    from store.db import StoreError

    monkeypatch.setattr(poll_module, "DF_WRITE_SECONDS", 3600.0)
    feed = add(fresh_db, server, "/f.xml", Response(FEED))
    locked = False
    real_transaction = poll_module.transaction

    def transaction(db):
        if locked:
            raise StoreError("database stayed locked by another writer for too long")
        return real_transaction(db)

    monkeypatch.setattr(poll_module, "transaction", transaction)
    poller = poll_module.Poller(fresh_db, fast_config())
    real_commit = poller._commit

    def commit_then_lock(*args):
        nonlocal locked
        outcome = real_commit(*args)
        locked = True  # another writer takes the lock once the feed has committed
        return outcome

    poller._commit = commit_then_lock
    try:
        summary = asyncio.run(poller.poll([feed]))
        assert summary.stats.new == 2 and poller._df_docs == 2
        assert store_articles.load_df(fresh_db)[1] == 0
        locked = False
    finally:
        poller.close()
    assert store_articles.load_df(fresh_db)[1] == 2


def test_a_proxy_in_the_environment_is_used(server, monkeypatch):
    # The proxy is the local server: it receives the absolute URL and answers by its path; feeds.invalid
    # cannot be resolved, so a fetch that succeeds went through the proxy.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):  # a lowercase one would win
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url())
    server.route("/feed.xml", Response(FEED))

    async def fetch():
        async with Fetcher(fast_config().fetch) as fetcher:
            return await fetcher.get("http://feeds.invalid/feed.xml")

    result = asyncio.run(fetch())
    assert result.status == 200 and result.content == FEED
    assert server.requests[-1][0] == "/feed.xml"


@pytest.mark.parametrize("extra", [b"Content-Length: 5\r\n\r\nHELLO", b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"], ids=["length", "chunked"])
def test_a_304_that_sends_a_body_does_not_spoil_the_next_request_to_its_host(server, extra):
    def not_modified_with_a_body(handler):
        handler.wfile.write(b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n' + extra)
        handler.wfile.flush()

    server.route("/a.xml", not_modified_with_a_body)
    server.route("/b.xml", Response(FEED))

    async def fetch():
        async with Fetcher(fast_config(per_host_limit=1).fetch) as fetcher:
            first = await fetcher.get(server.url("/a.xml"), etag='"x"')
            return first, await fetcher.get(server.url("/b.xml"))

    first, second = asyncio.run(fetch())
    assert first.status == 304 and first.not_modified
    assert second.status == 200 and second.content == FEED


def test_https_without_a_ca_bundle_is_each_https_feeds_error_in_plain_words(server, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    server.route("/feed.xml", Response(FEED))

    async def fetch():
        async with Fetcher(fast_config().fetch) as fetcher:  # built without loading certificates
            with pytest.raises(FetchError) as info:
                await fetcher.get(f"https://127.0.0.1:{server.port}/feed.xml")
            return info.value, await fetcher.get(server.url("/feed.xml"))

    error, plain = asyncio.run(fetch())
    assert str(error).startswith("cannot load the CA certificates for https (FileNotFoundError")
    assert plain.content == FEED  # plain http feeds go on


def test_a_feed_whose_transaction_rolls_back_drops_the_polls_matcher(fresh_db, server, monkeypatch):
    """The Matcher's memory of the store (full index keys, texts, the articles it stored) may hold what the
    rolled-back transaction wrote: it is dropped with it and built again from the store."""
    import sqlite3

    from ingest import poll as poll_module

    feed = add(fresh_db, server, "/f.xml", Response(FEED))

    def update(db, feed_id, state):
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(store_feeds, "update_feed_in_tx", update)
    poller = poll_module.Poller(fresh_db, fast_config())
    built = []
    real_new_matcher = poller._new_matcher
    poller._new_matcher = lambda: built.append(real_new_matcher()) or built[-1]
    try:
        summary = asyncio.run(poller.poll([feed]))
        assert summary.failed == 1 and len(built) == 1
        assert built[0].full_keys is not None and poller._matcher is None
    finally:
        poller.close()
    assert fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0


def test_a_304_keeps_the_feeds_own_ttl(fresh_db, server):
    """A feed's <ttl> (12 h) is in its body, which a 304 does not send: a max-age=0 on the 304 must not undo it."""
    body = rss(ITEMS, extra="<ttl>720</ttl>")
    feed = add(fresh_db, server, "/feed.xml", Response(body, headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=0"}, etag=True))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["ttl_seconds"] == 720 * 60
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "not-modified"
    assert state["ttl_seconds"] == 720 * 60
    assert seconds_until(state["next_check_at"]) > 720 * 60 * 0.99


def test_a_longer_max_age_on_a_304_pushes_the_next_check(fresh_db, server):
    feed = add(fresh_db, server, "/feed.xml", Response(FEED, etag=True))
    poll_one(fresh_db, feed["id"])
    server.route("/feed.xml", Response(FEED, headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=7200"}, etag=True))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "not-modified" and state["ttl_seconds"] == 7200


def test_retry_after_on_other_errors_is_not_obeyed(fresh_db, server):
    """DESIGN: 429/503 honour Retry-After; a 500 that sends one backs off as any error does (2-4 min at first)."""
    feed = add(fresh_db, server, "/feed.xml", Response(b"oops", 500, {"Retry-After": "86400"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["status"] == "error" and "500" in state["last_error"]
    assert seconds_until(state["next_check_at"]) <= 2 * 60


def test_a_retry_after_float_cannot_read_is_ignored(fresh_db, server):
    """"²" passes str.isdigit(); the 410 it comes with must still disable the feed, not end in an internal error."""
    feed = add(fresh_db, server, "/feed.xml", Response(b"gone", 410, {"Retry-After": "\u00b2"}))
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "gone" and state["status"] == "gone"


def test_a_store_locked_too_long_fails_each_feed_not_the_poll(fresh_db, db_path, server, monkeypatch):
    """Another writer holds the lock past transaction()'s retries (StoreError): each feed is an error of its
    own, the poll returns, and the feeds store normally once the lock is let go."""
    import sqlite3
    import types

    import store.db

    monkeypatch.setattr(store.db, "time", types.SimpleNamespace(sleep=lambda seconds: None))  # transaction()'s retry waits
    feeds = [add(fresh_db, server, f"/g{i}.xml", Response(FEED)) for i in range(3)]
    feeds.append(add(fresh_db, server, "/bad.xml", Response(b"oops", 500)))
    fresh_db.conn.execute("PRAGMA busy_timeout = 1")
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    finally:
        other.execute("ROLLBACK")
        other.close()
    errors = {o.feed_id: (o.status, o.error) for o in summary.outcomes}
    assert errors == {**{f["id"]: ("error", "store failed: database stayed locked by another writer for too long") for f in feeds[:3]},
                      feeds[3]["id"]: ("error", "HTTP 500")}
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds[:3]], fast_config())
    assert [o.status for o in summary.outcomes] == ["new-entries"] * 3


def test_waiting_for_a_connection_slot_is_not_charged_to_the_total_timeout(server):
    """Six feeds of one host that each answer in 0.8 s, two at a time (the per-host limit), with a 1.5 s total
    timeout: the last two wait 1.6 s for a slot, yet each answers well within 1.5 s of getting one."""
    for i in range(6):
        server.route(f"/f{i}.xml", late(FEED, 0.8))

    async def fetch():
        async with Fetcher(fast_config(per_host_limit=2, total_timeout=1.5).fetch) as fetcher:
            return await asyncio.gather(*(fetcher.get(server.url(f"/f{i}.xml")) for i in range(6)), return_exceptions=True)

    results = asyncio.run(fetch())
    assert [getattr(r, "content", r) for r in results] == [FEED] * 6


def test_the_total_timeout_still_cuts_a_slow_server_that_holds_its_slot(server):
    def stalls(handler):
        time.sleep(3)

    server.route("/stall.xml", stalls)

    async def fetch():
        async with Fetcher(fast_config(total_timeout=1.0, read_timeout=5.0).fetch) as fetcher:
            await fetcher.get(server.url("/stall.xml"))

    with pytest.raises(FetchError, match=r"^no complete response within 1 s$"):  # not the server's hang-up at 3 s
        asyncio.run(fetch())


def test_a_failed_poll_breaks_a_permanent_redirect_streak(fresh_db, server):
    """DESIGN: a 301 seen on consecutive polls moves the feed; 301, a 500, 301 is not that."""
    server.route("/new.xml", Response(FEED))
    feed = add(fresh_db, server, "/old.xml", Response(b"", 301, {"Location": "/new.xml"}))
    poll_one(fresh_db, feed["id"])
    server.route("/old.xml", Response(b"oops", 500))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["redirect_streak"] == 0
    server.route("/old.xml", Response(b"", 301, {"Location": "/new.xml"}))
    _, state = poll_one(fresh_db, feed["id"])
    assert state["url"] == server.url("/old.xml") and state["redirect_streak"] == 1


def test_feeds_that_move_to_one_url_in_one_poll_do_not_clash(fresh_db, server):
    """Four feeds 301 to one URL; on the second poll each decides to move before any has stored its move.
    One moves, the others keep their URL and point at the target, and none loses its poll."""
    server.route("/new.xml", Response(FEED))
    feeds = [add(fresh_db, server, f"/{name}.xml", Response(b"", 301, {"Location": "/new.xml"})) for name in "abcd"]
    poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    server.route("/new.xml", Response(rss(ITEMS + [{"title": "More", "link": "https://news.example/c", "guid": "c", "description": "More."}])))
    summary = poll_feeds(fresh_db, [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds], fast_config())
    assert [o.error for o in summary.outcomes] == [None] * 4
    states = [store_feeds.find_feed(fresh_db, f["id"]) for f in feeds]
    moved = [s for s in states if s["url"] == server.url("/new.xml")]
    assert len(moved) == 1
    assert all(s["redirect_target"] == server.url("/new.xml") for s in states if s not in moved)


def test_a_move_to_a_url_added_as_a_feed_meanwhile_does_not_fail_the_feed(fresh_db, db_path, server, monkeypatch):
    """The target is added as a feed (`feeds add` in another process) after the poll decided to move there
    and before it stores: the feed stores its entries and stays where it was, pointing at the target."""
    import ingest.poll

    from store.db import open_db

    server.route("/new.xml", Response(FEED))
    feed = add(fresh_db, server, "/old.xml", Response(b"", 301, {"Location": "/new.xml"}))
    poll_one(fresh_db, feed["id"])
    server.route("/new.xml", Response(rss(ITEMS + [{"title": "More", "link": "https://news.example/c", "guid": "c", "description": "More."}])))
    prepare = ingest.poll.Poller._prepare

    def prepare_then_add_the_target(self, *args, **kwargs):
        prepared = prepare(self, *args, **kwargs)
        assert prepared.state["url"] == server.url("/new.xml")  # the poll decided to move
        other = open_db(db_path)
        store_feeds.add_feed(other, server.url("/new.xml"))
        other.conn.close()
        return prepared

    monkeypatch.setattr(ingest.poll.Poller, "_prepare", prepare_then_add_the_target)
    outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "new-entries" and outcome.error is None
    assert state["url"] == server.url("/old.xml") and state["redirect_target"] == server.url("/new.xml")
    assert fresh_db.execute("SELECT count(*) FROM articles").fetchone()[0] == 3


def test_full_text_pages_wait_only_for_what_is_left_of_the_feeds_deadline(fresh_db, server):
    """The feed answers after 1.5 s of a 2 s deadline and its article page drips for 6 s: the poll ends by the
    deadline, with the brief text stored, instead of giving the pages a whole deadline of their own."""
    from ingest.manage import save_seed
    from ingest.seeds import load_seed_file
    from tests.conftest import FOUNDING_SEED

    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    brief = [{"title": "Iran sends drones to Russia", "link": server.url("/articles/a.html"), "guid": "a",
              "description": "Tehran shipped Shahed drones to Moscow."}]
    server.route("/articles/a.html", lambda handler: drip(handler, "text/html", times=20, every=0.3))
    feed_id, _ = store_feeds.add_feed(fresh_db, server.url("/brief.xml"), full_text=True)
    server.route("/brief.xml", late(rss(brief), 1.5))
    config = Config(fetch=FetchConfig(connect_timeout=2, read_timeout=2.0, total_timeout=6.0), poll_deadline=2.0)
    started = time.monotonic()
    outcome, _ = poll_one(fresh_db, feed_id, config)
    elapsed = time.monotonic() - started
    assert server.hits("/articles/a.html") == 1 and outcome.stats.new == 1
    assert elapsed < 3.0, f"the poll took {elapsed:.1f} s"  # a fresh 2 s for the pages would end past 3.5 s
    assert fresh_db.execute("SELECT summary FROM articles").fetchone()[0] == "Tehran shipped Shahed drones to Moscow."


def test_a_304_with_new_validators_replaces_the_stored_ones(fresh_db, server):
    """The server rotates its ETag and says so on the 304: the next request sends the new one."""
    seen = []

    def rotating(handler):
        sent = handler.headers.get("If-None-Match")
        seen.append(sent)
        if sent is None:
            handler.send_response(200)
            handler.send_header("ETag", '"v1"')
            handler.send_header("Content-Length", str(len(FEED)))
            handler.end_headers()
            handler.wfile.write(FEED)
            return
        handler.send_response(304)
        handler.send_header("ETag", '"v2"')
        handler.send_header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    feed = add(fresh_db, server, "/feed.xml", rotating)
    for _ in range(3):
        outcome, state = poll_one(fresh_db, feed["id"])
    assert outcome.status == "not-modified"
    assert seen == [None, '"v1"', '"v2"']
    assert state["etag"] == '"v2"' and state["last_modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"
