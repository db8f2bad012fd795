"""--block-private: feeds, redirect hops and full-text fetches to non-public addresses are refused after DNS.

Only loopback is ever contacted. Where a test needs one hop to count as public (to see the next hop refused),
it wraps ingest.fetcher.check_public so that URLs under /public/ pass and every other URL gets the real check;
the server stays reachable, so a refusal can only come from the check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

import ingest.fetcher
from ingest.config import Config, FetchConfig
from ingest.errors import BlockedAddress
from ingest.fetcher import check_public
from ingest.localserver import Response
from ingest.poll import poll_feeds
from store import feeds as store_feeds
from tests.conftest import rss
from tests.hostile.conftest import HOSTILE_CONFIG, assert_plain_words
from tests.hostile.farm import good_feed, item

BLOCKING = dataclasses.replace(HOSTILE_CONFIG, fetch=dataclasses.replace(HOSTILE_CONFIG.fetch, block_private=True))


@pytest.fixture
def public_prefix(monkeypatch):
    """Let URLs whose path starts with /public/ pass the check; everything else gets the real one."""
    real = ingest.fetcher.check_public
    checked: list[str] = []

    async def check(url: str) -> None:
        checked.append(url)
        if "/public/" in url:
            return
        await real(url)

    monkeypatch.setattr(ingest.fetcher, "check_public", check)
    return checked


def poll(db, url: str, config: Config = BLOCKING, **kw) -> dict:
    feed_id, _ = store_feeds.add_feed(db, url, **kw)
    poll_feeds(db, [store_feeds.find_feed(db, feed_id)], config)
    return store_feeds.find_feed(db, feed_id)


def test_block_private_is_off_by_default(fresh_db, server):
    assert FetchConfig().block_private is False and Config().fetch.block_private is False
    server.route("/feed.xml", Response(good_feed("default")))
    state = poll(fresh_db, server.url("/feed.xml"), Config())
    assert state["status"] == "ok" and server.hits("/feed.xml") == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_loopback_feed_is_refused_however_it_is_spelled(fresh_db, server, host):
    server.route("/feed.xml", Response(good_feed("loop")))
    state = poll(fresh_db, f"http://{host}:{server.port}/feed.xml")
    assert state["status"] == "error" and "non-public" in state["last_error"], state["last_error"]
    assert_plain_words(state["last_error"])
    assert server.hits("/feed.xml") == 0


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
     "::1", "fc00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
)
def test_private_and_link_local_addresses_are_refused_by_the_check(address):
    # The check alone (numeric hosts resolve without any traffic): nothing is ever sent to these.
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(BlockedAddress, match="non-public"):
        asyncio.run(check_public(f"http://{host}/feed.xml"))


def test_a_public_address_passes_the_check():
    asyncio.run(check_public("http://93.184.216.34/feed.xml"))  # resolved as a number; nothing is sent


def test_redirect_hop_to_loopback_is_refused(fresh_db, server, public_prefix):
    server.route("/public/feed.xml", Response(b"", 302, {"Location": "/public/hop.xml"}))
    server.route("/public/hop.xml", Response(b"", 301, {"Location": server.url("/private/feed.xml")}))
    server.route("/private/feed.xml", Response(good_feed("private")))
    state = poll(fresh_db, server.url("/public/feed.xml"))
    assert server.hits("/public/feed.xml") == 1 and server.hits("/public/hop.xml") == 1
    assert server.hits("/private/feed.xml") == 0
    assert state["status"] == "error" and "non-public" in state["last_error"], state["last_error"]
    assert server.url("/private/feed.xml") in public_prefix  # the hop itself was checked


def test_full_text_fetch_to_loopback_is_refused(fresh_db, server, public_prefix):
    from ingest.manage import save_seed
    from ingest.seeds import load_seed_file
    from tests.conftest import FOUNDING_SEED
    from tests.test_fetch_poll import ARTICLE_PAGE

    save_seed(fresh_db, load_seed_file(FOUNDING_SEED))
    server.route("/private/a.html", Response(ARTICLE_PAGE, headers={"Content-Type": "text/html"}))
    brief = [{"title": "Iran sends drones to Russia", "link": server.url("/private/a.html"), "guid": "a",
              "description": "Tehran shipped Shahed drones to Moscow."}]
    server.route("/public/brief.xml", Response(rss(brief)))
    state = poll(fresh_db, server.url("/public/brief.xml"), full_text=True)
    assert state["status"] == "ok"
    assert server.url("/private/a.html") in public_prefix  # the page was a candidate, and was checked
    assert server.hits("/private/a.html") == 0
    content = fresh_db.execute("SELECT content FROM articles").fetchone()[0]
    assert "substations around Kyiv" not in (content or "")

    # Control: the same poll without --block-private fetches the page (so the refusal above was the check's).
    server.route("/public/brief2.xml", Response(rss([{**brief[0], "guid": "b", "link": server.url("/private/a.html?x=2")}])))
    poll(fresh_db, server.url("/public/brief2.xml"), HOSTILE_CONFIG, full_text=True)
    assert server.hits("/private/a.html") == 1


def test_cli_flag_refuses_loopback_feeds_in_poll(run_cli, server, db_path):
    server.route("/feed.xml", Response(good_feed("cli")))
    assert run_cli("feeds", "add", "--no-check", server.url("/feed.xml")).exit_code == 0
    result = run_cli("--block-private", "poll", "--all")
    assert result.exit_code == 0, result.output  # a failed feed does not fail the poll
    assert server.hits("/feed.xml") == 0
    listed = json.loads(run_cli("feeds", "list", "--format", "json").output)
    assert listed[0]["status"] == "error" and "non-public" in listed[0]["last_error"]
    # Without the flag the same feed polls fine.
    assert run_cli("poll", "--all").exit_code == 0
    assert json.loads(run_cli("feeds", "list", "--format", "json").output)[0]["status"] == "ok"


def test_cli_flag_from_the_environment_refuses_feeds_add(run_cli, server, monkeypatch):
    server.route("/feed.xml", Response(good_feed("env")))
    monkeypatch.setenv("SEEDWATCH_BLOCK_PRIVATE", "1")
    result = run_cli("feeds", "add", server.url("/feed.xml"))
    assert result.exit_code == 1 and "non-public" in result.output, result.output
    assert server.hits("/feed.xml") == 0


def test_cli_flag_refuses_a_seed_url_on_loopback(run_cli, server):
    server.route("/article.html", Response(b"<html><body><article><p>" + b"Words of an article. " * 50 + b"</p></article></body></html>",
                                           headers={"Content-Type": "text/html"}))
    result = run_cli("--block-private", "seeds", "add", server.url("/article.html"))
    assert result.exit_code != 0 and "non-public" in result.output, result.output
    assert server.hits("/article.html") == 0


def test_every_hop_of_a_public_chain_is_checked(fresh_db, server, public_prefix):
    server.route("/public/a.xml", Response(b"", 302, {"Location": "/public/b.xml"}))
    server.route("/public/b.xml", Response(b"", 307, {"Location": "/public/c.xml"}))
    server.route("/public/c.xml", Response(rss([item(1, "chain")])))
    state = poll(fresh_db, server.url("/public/a.xml"))
    assert state["status"] == "ok"
    assert public_prefix == [server.url(p) for p in ("/public/a.xml", "/public/b.xml", "/public/c.xml")]
