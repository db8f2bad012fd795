"""The hostile suite's runner: one hostile feed and one good feed in the same poll, with small limits.

Every case ends with the same checks: the poll finished within its deadline, the process's peak RSS during the
poll stayed under 300 MB, the good feed was stored normally, nothing from /etc/passwd reached the store, and the
hostile feed shows in `feeds list --format json` either with its error in plain words or stored normally.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.config import Config, FetchConfig
from ingest.localserver import LocalServer, Response
from ingest.poll import PollSummary, poll_feeds
from store import feeds as store_feeds
from tests.conftest import Runner
from tests.hostile.farm import CASES, MIB, PASSWD_MARKERS, Farm, good_feed, good_urls

# Small limits keep the suite fast: 1 MiB bodies, 2 s for a whole response, 3 s for a feed's poll.
HOSTILE_CONFIG = Config(
    fetch=FetchConfig(connect_timeout=2.0, read_timeout=1.5, total_timeout=2.0, max_body_bytes=1 * MIB),
    poll_deadline=3.0,
)
# Cases that need a feed bigger than 1 MiB get the default body limit and the default poll deadline.
BIG_CONFIG = Config(fetch=FetchConfig(connect_timeout=2.0, read_timeout=5.0, total_timeout=10.0), poll_deadline=60.0)
MAX_RSS_MB = 300


def rss_mb(field: str = "VmRSS") -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs), so the next peak is this poll's."""
    Path("/proc/self/clear_refs").write_text("5")


def assert_plain_words(message: str | None) -> None:
    """An error a person can read: one short line of words, no traceback, no Python repr."""
    assert message, "no error recorded"
    assert "\n" not in message and len(message) <= 300, message
    assert "Traceback" not in message and " object at 0x" not in message, message
    assert re.search(r"[A-Za-z]{3,}[ -][A-Za-z]{2,}", message), message


def articles_of(conn, feed_id: int) -> list[dict]:
    """The articles a feed brought, as dicts (works on sqlite3 and sqlite-utils connections)."""
    cur = conn.execute(
        "SELECT a.*, af.guid AS feed_guid FROM articles a JOIN article_feeds af ON af.article_id = a.id WHERE af.feed_id = ? ORDER BY a.id",
        [feed_id],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def assert_no_secret(db_path: Path) -> None:
    for suffix in ("", "-wal"):
        p = Path(str(db_path) + suffix)
        if p.exists():
            data = p.read_bytes()
            for marker in PASSWD_MARKERS:
                assert marker not in data, f"{marker!r} from /etc/passwd is in {p.name}"


@dataclass
class Result:
    name: str
    state: dict  # the hostile feed's row after the poll
    listed: dict  # its entry in `feeds list --format json`
    articles: list[dict]
    summary: PollSummary
    elapsed: float
    peak_mb: float

    @property
    def error(self) -> str:
        return self.state["last_error"] or ""


class Hostile:
    def __init__(self, db, db_path: Path, server: LocalServer, farm: Farm):
        self.db, self.db_path, self.server, self.farm = db, db_path, server, farm

    def run(self, name: str, config: Config | None = None) -> Result:
        case = CASES[name]
        config = config or (BIG_CONFIG if case.big else HOSTILE_CONFIG)
        running = self.farm.start(name)
        hostile_id, _ = store_feeds.add_feed(self.db, running.url)
        self.server.route(f"/good-{name}.xml", Response(good_feed(f"good-{name}")))
        good_id, _ = store_feeds.add_feed(self.db, self.server.url(f"/good-{name}.xml"))
        feeds = [store_feeds.find_feed(self.db, hostile_id), store_feeds.find_feed(self.db, good_id)]

        before = rss_mb()
        reset_peak_rss()
        started = time.monotonic()
        summary = poll_feeds(self.db, feeds, config)
        elapsed = time.monotonic() - started
        peak = rss_mb("VmHWM")

        # Bounded: the poll ended within its deadline, memory stayed bounded.
        assert elapsed < config.poll_deadline, f"{name}: the poll took {elapsed:.1f} s (deadline {config.poll_deadline:g} s)"
        assert peak < MAX_RSS_MB, f"{name}: peak RSS {peak:.0f} MB during the poll (before: {before:.0f} MB)"
        # The other feed in the same poll was stored normally.
        assert summary.feeds == 2 and len(summary.outcomes) == 2, summary
        good = store_feeds.find_feed(self.db, good_id)
        assert good["status"] == "ok" and good["last_error"] is None, good
        assert {a["url"] for a in articles_of(self.db.conn, good_id)} == good_urls(f"good-{name}")
        assert_no_secret(self.db_path)

        listed = {f["id"]: f for f in json.loads(Runner(self.db_path)("feeds", "list", "--format", "json").output)}[hostile_id]
        state = store_feeds.find_feed(self.db, hostile_id)
        articles = articles_of(self.db.conn, hostile_id)
        if case.either and state["status"] == "error":
            assert listed["status"] == "error" and listed["last_error"] == state["last_error"]
            assert_plain_words(listed["last_error"])
            assert articles == [], "an error, yet entries were stored"
            return Result(name, state, listed, articles, summary, elapsed, peak)
        if case.error:
            assert state["status"] == "error" and listed["status"] == "error", (state["status"], state["last_error"])
            assert listed["last_error"] == state["last_error"]
            assert_plain_words(listed["last_error"])
            assert re.search(case.error, listed["last_error"]), f"{name}: {listed['last_error']!r} !~ {case.error!r}"
            assert listed["error_count"] == 1 and listed["next_check_at"], listed
        else:
            assert state["status"] == "ok" and listed["status"] == "ok", (state["status"], state["last_error"])
            assert listed["last_error"] is None and listed["last_success_at"], listed
        if case.check:
            case.check(articles, running.ctx)
        return Result(name, state, listed, articles, summary, elapsed, peak)


@pytest.fixture
def farm(tmp_path_factory) -> Iterator[Farm]:
    f = Farm(limit=HOSTILE_CONFIG.fetch.max_body_bytes, cert_dir=tmp_path_factory.getbasetemp())
    yield f
    f.close()


@pytest.fixture
def hostile(fresh_db, db_path, server, farm) -> Hostile:
    return Hostile(fresh_db, db_path, server, farm)
