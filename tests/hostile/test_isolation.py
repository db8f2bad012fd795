"""One feed's bug never ends the poll: whatever parsing or normalising one feed raises becomes its recorded error.

The hostile cases above no longer crash the parser, so these tests make it crash on purpose, on the in-process
path and on the parser-pool path (`extract`), and check that the other feed of the same poll is stored.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import feedparser
import pytest

import ingest.poll as poll_module
from ingest.localserver import Response
from ingest.poll import ParserPool, Poller, poll_feeds
from store import feeds as store_feeds
from tests.hostile.conftest import HOSTILE_CONFIG, articles_of, assert_plain_words
from tests.hostile.farm import good_feed, good_urls


def _two_feeds(db, server) -> tuple[dict, dict]:
    server.route("/bad.xml", Response(good_feed("bad")))
    server.route("/good.xml", Response(good_feed("good")))
    bad_id, _ = store_feeds.add_feed(db, server.url("/bad.xml"))
    good_id, _ = store_feeds.add_feed(db, server.url("/good.xml"))
    return store_feeds.find_feed(db, bad_id), store_feeds.find_feed(db, good_id)


def _assert_isolated(db, bad: dict, good: dict, error: str) -> None:
    bad_row, good_row = store_feeds.find_feed(db, bad["id"]), store_feeds.find_feed(db, good["id"])
    assert good_row["status"] == "ok" and good_row["last_error"] is None, good_row
    assert {a["url"] for a in articles_of(db.conn, good["id"])} == good_urls("good")
    assert bad_row["status"] == "error" and bad_row["next_check_at"], bad_row
    assert_plain_words(bad_row["last_error"])
    assert bad_row["last_error"] == error
    assert articles_of(db.conn, bad["id"]) == []


def test_parser_crash_is_the_feeds_error_in_process(fresh_db, server, monkeypatch: pytest.MonkeyPatch) -> None:
    bad, good = _two_feeds(fresh_db, server)
    real = feedparser.parse

    def parse(stream, **kw):
        if "bad" in kw.get("response_headers", {}).get("content-location", ""):
            "\ud800".encode("utf-8")  # what feedparser's loose parser raised on &#xD800;
        return real(stream, **kw)

    monkeypatch.setattr(feedparser, "parse", parse)
    summary = poll_feeds(fresh_db, [bad, good], HOSTILE_CONFIG)
    assert (summary.ok, summary.failed) == (1, 1)
    _assert_isolated(fresh_db, bad, good, "not a feed: the parser failed on malformed XML (UnicodeEncodeError)")


def test_normaliser_crash_is_the_feeds_error_in_process(fresh_db, server, monkeypatch: pytest.MonkeyPatch) -> None:
    bad, good = _two_feeds(fresh_db, server)
    real = poll_module.normalise_entries

    def normalise(entries, url, *args):
        if "bad" in url:
            raise RuntimeError("a bug")
        return real(entries, url, *args)

    monkeypatch.setattr(poll_module, "normalise_entries", normalise)
    summary = poll_feeds(fresh_db, [bad, good], HOSTILE_CONFIG)
    assert (summary.ok, summary.failed) == (1, 1)
    _assert_isolated(fresh_db, bad, good, "seedwatch could not process this feed (internal RuntimeError; see the log)")


def test_crash_in_a_parser_process_is_the_feeds_error(fresh_db, server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pool path: Poller sends extract() to its executor. A thread pool stands in for the process pool so
    # that the patched extract() is the one that runs; what comes back (an exception) is the same.
    bad, good = _two_feeds(fresh_db, server)
    real = poll_module.extract

    def extract(content, headers, url, *args):
        if "bad" in url:
            raise ValueError("a bug in a parser process")
        return real(content, headers, url, *args)

    monkeypatch.setattr(poll_module, "extract", extract)
    poller = Poller(fresh_db, replace(HOSTILE_CONFIG, parse_inline_bytes=0))  # every body to the parser pool
    poller._parsers = ParserPool(1, start=ThreadPoolExecutor)
    try:
        summary = asyncio.run(poller.poll([bad, good]))
    finally:
        poller.close()
    assert (summary.ok, summary.failed) == (1, 1)
    _assert_isolated(fresh_db, bad, good, "seedwatch could not process this feed (internal ValueError; see the log)")
