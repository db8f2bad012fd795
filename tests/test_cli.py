"""The command line, end to end: every command through Click, against a real SQLite file and a local HTTP server.

Effects are checked through the CLI's own outputs (mostly its JSON formats), the way a user or a script sees them.
Failures must follow DESIGN.md's contract: exit 2 on misuse, 1 on failure, one "Error:" line on stderr, no traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ingest.cli import cli
from ingest.config import VERSION
from ingest.localserver import Response
from tests.conftest import DEMO_DATA, FOUNDING_SEED, REAL_OPML, REPO, Runner, rss

SEED = "russia-iran-sacred-alliance"
COPY_TITLE = "Moscow and Tehran cement a 'sacred alliance' against the West"
DUP_TITLE = "New wave of Shahed drone strikes hits Kyiv's energy grid"
DEMO_FEEDS = ["daily-courier.xml", "eurasia-monitor.xml", "tech-and-markets.xml", "world-wire.xml"]
DEMO_ARTICLES = 34  # demo_data/README.md: 34 items, one of them a two-feed duplicate
QUERY_FIELDS = {"id", "url", "title", "published_at", "first_seen_at", "feed_url", "seed", "score", "verdict", "status", "duplicate_of"}
QUERY_COLUMNS = QUERY_FIELDS | {"status_at", "note"}  # the contract's fields and the review's time and note
FEED_FIELDS = {"id", "url", "title", "status", "last_success_at", "error_count", "last_error", "next_check_at"}
ATOM = "{http://www.w3.org/2005/Atom}"
RUSSIA_OPML = REAL_OPML / "russia.opml"

ITEM = {
    "title": "Iran sends more Shahed drones to Russia",
    "link": "https://news.example/iran-drones",
    "guid": "news-1",
    "description": "Tehran shipped another batch of Shahed kamikaze drones to Moscow for strikes on Kyiv's energy grid.",
}


# ---------------------------------------------------------------- helpers


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.output
    return result


def fails(result: Result, code: int) -> str:
    """Assert the documented failure shape; return the one error line."""
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, f"expected exactly one 'Error:' line, got {errors!r}\n{result.output}"
    assert errors[0] in result.stderr.splitlines(), "the error line must go to stderr"
    assert not errors[0].startswith("Error: unexpected"), f"a known failure reported as an unexpected crash: {errors[0]}"
    return errors[0]


def as_json(result: Result):
    return json.loads(ok(result).stdout)


def feeds_json(run: Runner) -> list[dict]:
    return as_json(run("feeds", "list", "--format", "json"))


def seeds_json(run: Runner) -> list[dict]:
    return as_json(run("seeds", "list", "--format", "json"))


def query_json(run: Runner, *args: str) -> list[dict]:
    return as_json(run("query", *args, "--limit", "0", "--format", "json"))


def all_rows(run: Runner, *args: str) -> list[dict]:
    """Every match, whatever its verdict or status, duplicates included."""
    return query_json(run, "--verdict", "all", "--status", "all", "--include-duplicates", *args)


def stats_json(run: Runner) -> dict:
    return as_json(run("stats", "--format", "json"))


def article(run: Runner, article_id: int) -> dict:
    return as_json(run("show", str(article_id), "--format", "json"))


def article_text(run: Runner, article_id: int) -> str:
    a = article(run, article_id)
    return " ".join(a.get(k) or "" for k in ("title", "summary", "content")).lower()


def summary_line(result: Result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("polled")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def demo_urls(server) -> list[str]:
    return [server.url(f"/{name}") for name in DEMO_FEEDS]


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@pytest.fixture
def store(run_cli: Runner, demo_server):
    """The founding seed, the four demo feeds, one poll: the demo's store, built through the CLI."""
    ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    ok(run_cli("poll"))
    return run_cli


SECOND_SEED = (
    "Iran ships Shahed drones to Russia\n\nIran has shipped Shahed kamikaze drones to Russia, which uses them in strikes"
    " on Kyiv's energy grid. Moscow and Tehran deepen their military alliance against the West, with drone factories"
    " and sanctions.\n"
)


@pytest.fixture
def two_seeds(store, tmp_path) -> tuple[Runner, int]:
    """The demo store and a second seed on the same story; an article related to both seeds, its id."""
    (tmp_path / "drones.txt").write_text(SECOND_SEED)
    ok(store("seeds", "add", str(tmp_path / "drones.txt"), "--name", "drones"))
    by_id: dict[int, set[str]] = {}
    for r in query_json(store):
        by_id.setdefault(r["id"], set()).add(r["seed"])
    shared = [i for i, seeds in by_id.items() if seeds == {SEED, "drones"}]
    assert shared, by_id
    return store, shared[0]


def statuses(run: Runner, article_id: int) -> dict[str, str]:
    """Each seed's review status of one article."""
    return {r["seed"]: r["status"] for r in all_rows(run) if r["id"] == article_id}


def copy_id(run: Runner) -> int:
    rows = query_json(run, "--verdict", "copy")
    assert len(rows) == 1, rows
    return rows[0]["id"]


def dup_pair(run: Runner) -> tuple[dict, dict]:
    """(original, duplicate) rows of the two-feed duplicate."""
    rows = [r for r in all_rows(run) if r["title"] == DUP_TITLE]
    assert len(rows) == 2, rows
    dups = [r for r in rows if r["duplicate_of"] is not None]
    assert len(dups) == 1, rows
    dup = dups[0]
    original = next(r for r in rows if r is not dup)
    return original, dup


# ---------------------------------------------------------------- help and version


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


ALL_COMMANDS = _command_paths(cli)


def test_every_documented_command_exists():
    expected = {
        ("seeds",), ("seeds", "add"), ("seeds", "list"), ("seeds", "remove"), ("seeds", "sync"),
        ("feeds",), ("feeds", "add"), ("feeds", "import"), ("feeds", "export"), ("feeds", "list"), ("feeds", "remove"),
        ("poll",), ("run",), ("query",), ("show",), ("mark",), ("review",), ("export",), ("stats",), ("demo",), ("rescore",),
    }
    assert expected <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "seedwatch")
def test_help_has_an_example(run_cli, path):
    result = ok(run_cli(*path, "--help"))
    assert "Usage:" in result.stdout
    assert "Example:" in result.stdout, f"`seedwatch {' '.join(path)} --help` shows no example"
    # each example command stands on its own line(s) as written, never folded into a paragraph
    example = result.stdout.split("Example:", 1)[1].split("\nOptions:", 1)[0]
    lines = [line.strip() for line in example.strip().splitlines()]
    assert lines and all(line.startswith("seedwatch ") for line in lines), lines


def test_short_help_option(run_cli):
    assert "Example:" in ok(run_cli("query", "-h")).stdout


def test_version_matches_the_package(run_cli):
    result = ok(CliRunner().invoke(cli, ["--version"]))
    assert result.stdout.strip() == f"seedwatch, version {VERSION}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == VERSION


# ---------------------------------------------------------------- seeds


def test_seeds_add_file_stores_the_seed(run_cli):
    result = ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    assert result.stdout.startswith(f"added seed {SEED}:")
    seeds = seeds_json(run_cli)
    assert [s["name"] for s in seeds] == [SEED]
    # the leading section label ("Asia") is not the title; the headline is
    assert "Moscow and Tehran cement" in seeds[0]["title"]
    assert seeds[0]["title"] != "Asia"
    assert seeds[0]["threshold"] is None


def test_seeds_add_with_name(run_cli):
    ok(run_cli("seeds", "add", str(FOUNDING_SEED), "--name", "My Story"))
    assert [s["name"] for s in seeds_json(run_cli)] == ["my-story"]


def test_seeds_add_with_threshold_changes_verdicts(store):
    assert query_json(store, "--verdict", "related"), "the demo store has related articles at the default threshold"
    result = ok(store("seeds", "add", str(FOUNDING_SEED), "--threshold", "0.9"))
    assert result.stdout.startswith(f"updated seed {SEED}")
    assert seeds_json(store)[0]["threshold"] == 0.9
    assert query_json(store, "--verdict", "related") == []
    assert [r["title"] for r in query_json(store, "--verdict", "copy")] == [COPY_TITLE]  # a copy stays a copy


def test_seeds_add_with_keywords_requires_must_have_words(store):
    assert query_json(store, "--verdict", "related")
    ok(store("seeds", "add", str(FOUNDING_SEED), "--keywords", "+zzqxnotaword, drone"))
    # no article contains the must-have word, so nothing is related any more
    assert query_json(store, "--verdict", "related") == []
    seed = seeds_json(store)[0]
    assert "+zzqxnotaword" in seed["keywords"] and "drone" in seed["keywords"]


def test_seeds_list_json_gives_keywords_as_a_list(run_cli):
    ok(run_cli("seeds", "add", str(FOUNDING_SEED), "--keywords", "+iran,drone"))
    assert seeds_json(run_cli)[0]["keywords"] == ["+iran", "drone"]


def test_seeds_add_unchanged_says_unchanged(run_cli):
    ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    before = seeds_json(run_cli)
    result = ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    assert result.stdout.startswith(f"unchanged seed {SEED}")
    assert seeds_json(run_cli) == before


def test_seeds_add_changed_file_updates(run_cli, tmp_path):
    seed = tmp_path / "story.txt"
    seed.write_text(FOUNDING_SEED.read_text(encoding="utf-8"), encoding="utf-8")
    ok(run_cli("seeds", "add", str(seed)))
    seed.write_text(seed.read_text(encoding="utf-8") + "\nA new closing paragraph about Shahed drones and sanctions.\n", encoding="utf-8")
    assert ok(run_cli("seeds", "add", str(seed))).stdout.startswith("updated seed story")
    assert len(seeds_json(run_cli)) == 1


def test_seeds_add_after_poll_scores_stored_articles(run_cli, demo_server):
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    ok(run_cli("poll"))
    assert all_rows(run_cli) == []  # articles, but no seed yet: no matches
    assert stats_json(run_cli)["articles"] == DEMO_ARTICLES
    result = ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    assert f"scored {DEMO_ARTICLES} stored articles" in result.stdout
    rows = all_rows(run_cli)
    assert len(rows) == DEMO_ARTICLES
    assert {r["seed"] for r in rows} == {SEED}
    assert [r["title"] for r in rows if r["verdict"] == "copy"] == [COPY_TITLE]


def test_seeds_add_from_an_article_url(run_cli, server):
    body = FOUNDING_SEED.read_text(encoding="utf-8").split("\n\n", 2)[2]
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p.strip())
    page = (
        "<html><head><title>Moscow and Tehran cement a sacred alliance against the West</title></head><body>"
        f"<nav>Home | World</nav><article><h1>Moscow and Tehran cement a sacred alliance against the West</h1>{paragraphs}</article>"
        "</body></html>"
    ).encode()
    server.route("/article.html", Response(page, headers={"Content-Type": "text/html; charset=utf-8"}))
    ok(run_cli("seeds", "add", server.url("/article.html"), "--name", "from-url"))
    seeds = seeds_json(run_cli)
    assert [s["name"] for s in seeds] == ["from-url"]
    assert seeds[0]["source"] == server.url("/article.html")


def test_seeds_list_table_and_empty(fresh_db, run_cli):
    assert "No seeds yet" in ok(run_cli("seeds", "list")).stdout
    assert ok(run_cli("seeds", "list", "--format", "json")).stdout.strip() == "[]"
    ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    lines = ok(run_cli("seeds", "list")).stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "name"]
    assert any(SEED in line for line in lines[2:])


def test_seeds_list_json_counts(store):
    seed = seeds_json(store)[0]
    assert seed["name"] == SEED
    assert seed["copies"] == 1
    assert seed["related"] == len(query_json(store, "--verdict", "related", "--status", "all", "--include-duplicates"))


def test_seeds_remove_drops_matches_not_articles(store):
    result = ok(store("seeds", "remove", SEED))
    assert SEED in result.stdout
    assert seeds_json(store) == []
    assert all_rows(store) == []
    assert stats_json(store)["articles"] == DEMO_ARTICLES


def test_seeds_remove_unknown(run_cli):
    ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    fails(run_cli("seeds", "remove", "no-such-seed"), 2)
    assert len(seeds_json(run_cli)) == 1


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy(FOUNDING_SEED, folder / "founding.txt")
    (folder / "feeds.txt").write_text(
        "# starter feeds\nhttps://a.example/rss\n\nhttps://b.example/feed.xml  # a comment\n", encoding="utf-8"
    )
    (folder / "feeds.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="World"><outline text="C" xmlUrl="https://c.example/rss"/></outline>'
        '<outline text="A" xmlUrl="https://a.example/rss"/></body></opml>',
        encoding="utf-8",
    )
    return folder


BODY_OF_ANOTHER_STORY = (
    "A magnitude 6.2 earthquake struck Aceh province in Indonesia on Tuesday, destroying homes in the Gayo "
    "highlands and cutting roads to the coffee farms around Takengon, officials said."
)
SYNC_FEEDS = {"https://a.example/rss", "https://b.example/feed.xml", "https://c.example/rss"}


def test_seeds_sync_is_idempotent(db_path, seeds_dir):
    run = Runner(db_path, seeds_dir)
    first = ok(run("seeds", "sync"))
    assert "1 seeds (1 added or updated)" in first.stdout and "3 feeds added" in first.stdout
    assert [s["name"] for s in seeds_json(run)] == ["founding"]
    assert {f["url"] for f in feeds_json(run)} == SYNC_FEEDS
    second = ok(run("seeds", "sync"))
    assert "0 added or updated" in second.stdout and "0 feeds added" in second.stdout
    assert len(seeds_json(run)) == 1
    assert {f["url"] for f in feeds_json(run)} == SYNC_FEEDS
    assert len(feeds_json(run)) == 3


def test_seeds_sync_broken_seed_warns_and_the_rest_syncs(db_path, seeds_dir):
    (seeds_dir / "broken.txt").write_bytes(b"")
    (seeds_dir / "binary.md").write_bytes(b"\x00\x01\x02 not text at all \x00" * 10)
    result = ok(Runner(db_path, seeds_dir)("seeds", "sync"))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("broken.txt" in w for w in warnings) and any("binary.md" in w for w in warnings)
    assert "Error:" not in result.output
    run = Runner(db_path, seeds_dir)
    assert [s["name"] for s in seeds_json(run)] == ["founding"]
    assert {f["url"] for f in feeds_json(run)} == SYNC_FEEDS


def test_seeds_sync_an_unreadable_seed_is_named_and_the_rest_syncs(db_path, seeds_dir):
    """A seed that cannot be read (here an I/O error; in life no permission, or gone while an editor saves it)."""
    (seeds_dir / "a-broken.txt").symlink_to("/proc/self/mem")  # reading it from offset 0 fails with EIO
    result = ok(Runner(db_path, seeds_dir)("seeds", "sync"))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: seed {seeds_dir / 'a-broken.txt'} cannot be read: Input/output error"]
    run = Runner(db_path, seeds_dir)
    assert [s["name"] for s in seeds_json(run)] == ["founding"]
    assert {f["url"] for f in feeds_json(run)} == SYNC_FEEDS


def test_seeds_sync_two_files_of_one_name_keep_the_first_and_say_so(db_path, seeds_dir):
    """'Founding.md' slugs to the name of 'founding.txt': syncing both overwrote one with the other each time.
    The first in file-name order ('F' before 'f') is the seed."""
    (seeds_dir / "Founding.md").write_text(f"# Another story\n\n{BODY_OF_ANOTHER_STORY}\n", encoding="utf-8")
    run = Runner(db_path, seeds_dir)
    first = ok(run("seeds", "sync"))
    warnings = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: seed {seeds_dir / 'founding.txt'} is named 'founding', as {seeds_dir / 'Founding.md'} is; "
                        "skipped (rename the file or give it a 'name:' in its front matter)"]
    seeds = seeds_json(run)
    assert [(s["name"], s["title"]) for s in seeds] == [("founding", "Another story")]
    assert "0 added or updated" in ok(run("seeds", "sync")).stdout


def test_seeds_sync_leaves_hidden_files_alone(db_path, seeds_dir):
    """macOS's ._founding.txt (its metadata, binary) and other dot-files are not seeds, nor worth a warning."""
    (seeds_dir / "._founding.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " * 8)
    (seeds_dir / ".draft.md").write_text(f"# A draft\n\n{BODY_OF_ANOTHER_STORY}\n", encoding="utf-8")
    result = ok(Runner(db_path, seeds_dir)("seeds", "sync"))
    assert "warning:" not in result.stderr
    assert [s["name"] for s in seeds_json(Runner(db_path, seeds_dir))] == ["founding"]


def test_seeds_sync_front_matter_errors_name_their_file(db_path, seeds_dir):
    (seeds_dir / "open.md").write_text(f"---\ntitle: Never closed\n\n{BODY_OF_ANOTHER_STORY}\n", encoding="utf-8")
    result = ok(Runner(db_path, seeds_dir)("seeds", "sync"))
    assert f"warning: seed {seeds_dir / 'open.md'}: front matter opens with '---' but never closes" in result.stderr.splitlines()


def test_seeds_sync_missing_folder(db_path, tmp_path):
    fails(Runner(db_path, tmp_path / "nope")("seeds", "sync"), 2)


@pytest.mark.parametrize("case", ["missing", "empty", "pdf", "folder", "too-short"])
def test_seeds_add_misuse(fresh_db, run_cli, tmp_path, case):
    if case == "missing":
        path = tmp_path / "missing.txt"
    elif case == "empty":
        path = tmp_path / "empty.txt"
        path.write_text("")
    elif case == "pdf":
        path = tmp_path / "story.pdf"
        path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + FOUNDING_SEED.read_bytes())
    elif case == "folder":
        path = tmp_path / "folder.txt"
        path.mkdir()
    else:
        path = tmp_path / "short.txt"
        path.write_text("Drones.\n")
    fails(run_cli("seeds", "add", str(path)), 2)
    assert seeds_json(run_cli) == []


def test_seeds_add_threshold_out_of_range(fresh_db, run_cli):
    fails(run_cli("seeds", "add", str(FOUNDING_SEED), "--threshold", "1.5"), 2)
    assert seeds_json(run_cli) == []


# ---------------------------------------------------------------- feeds


def test_feeds_add_feed_url(run_cli, server):
    server.route("/feed.xml", Response(rss([ITEM], title="Local news")))
    result = ok(run_cli("feeds", "add", server.url("/feed.xml")))
    assert result.stdout.startswith("added feed 1:")
    feeds = feeds_json(run_cli)
    assert [(f["url"], f["title"]) for f in feeds] == [(server.url("/feed.xml"), "Local news")]
    again = ok(run_cli("feeds", "add", server.url("/feed.xml")))
    assert again.stdout.startswith("already have feed 1")
    assert len(feeds_json(run_cli)) == 1


def test_feeds_add_html_page_discovers_its_feed(run_cli, server):
    server.route("/feed.xml", Response(rss([ITEM])))
    page = (
        b'<!doctype html><html><head><title>News</title>'
        b'<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">'
        b"</head><body><p>Front page</p></body></html>"
    )
    server.route("/", Response(page, headers={"Content-Type": "text/html; charset=utf-8"}))
    result = ok(run_cli("feeds", "add", server.url("/")))
    assert "discovered from" in result.stdout
    assert [f["url"] for f in feeds_json(run_cli)] == [server.url("/feed.xml")]


@pytest.mark.parametrize("url", ["not-a-url", "ftp://x", "http://", "javascript:alert(1)"])
def test_feeds_add_bad_url(fresh_db, run_cli, url):
    fails(run_cli("feeds", "add", url), 2)
    assert feeds_json(run_cli) == []


def test_feeds_add_404(fresh_db, run_cli, server):
    error = fails(run_cli("feeds", "add", server.url("/missing.xml")), 1)
    assert "404" in error
    assert feeds_json(run_cli) == []


def test_feeds_add_page_without_a_feed(fresh_db, run_cli, server):
    server.route("/page.html", Response(b"<html><body><p>No feed here</p></body></html>", headers={"Content-Type": "text/html"}))
    fails(run_cli("feeds", "add", server.url("/page.html")), 1)
    assert feeds_json(run_cli) == []


def test_feeds_add_one_good_one_bad(run_cli, server):
    server.route("/feed.xml", Response(rss([ITEM])))
    result = run_cli("feeds", "add", server.url("/feed.xml"), server.url("/missing.xml"))
    fails(result, 1)
    assert [f["url"] for f in feeds_json(run_cli)] == [server.url("/feed.xml")]


def test_feeds_add_interval_is_used_for_the_next_check(run_cli, server):
    server.route("/fast.xml", Response(rss([ITEM])))
    server.route("/slow.xml", Response(rss([{**ITEM, "guid": "news-2", "link": "https://news.example/other"}])))
    ok(run_cli("feeds", "add", server.url("/fast.xml"), "--interval", "15m"))
    ok(run_cli("feeds", "add", server.url("/slow.xml")))
    ok(run_cli("poll"))
    gaps = {
        f["url"]: (parse_iso(f["next_check_at"]) - parse_iso(f["last_success_at"])).total_seconds() for f in feeds_json(run_cli)
    }
    assert 800 <= gaps[server.url("/fast.xml")] <= 1000, gaps  # 900 s +- 10 % jitter
    assert 1600 <= gaps[server.url("/slow.xml")] <= 2000, gaps  # the 30 min default


@pytest.mark.parametrize("interval", ["bogus", "15x", "-5m", "1.5h"])
def test_feeds_add_bad_interval(fresh_db, run_cli, server, interval):
    server.route("/feed.xml", Response(rss([ITEM])))
    fails(run_cli("feeds", "add", server.url("/feed.xml"), "--interval", interval), 2)
    assert feeds_json(run_cli) == []


@pytest.mark.parametrize("interval", ["0", "0m", "1s", "59s"])
def test_feeds_add_interval_below_the_minimum_is_misuse(fresh_db, run_cli, interval):
    """Not stored as 0 (the 30 min default) nor clamped to the minimum without a word."""
    error = fails(run_cli("feeds", "add", "--no-check", "https://news.example/feed.xml", "--interval", interval), 2)
    assert "--interval must be at least 1m" in error and repr(interval) in error
    assert feeds_json(run_cli) == []


def test_feeds_add_interval_at_the_minimum(run_cli, db_path):
    ok(run_cli("feeds", "add", "--no-check", "https://news.example/feed.xml", "--interval", "60s"))
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT interval_seconds FROM feeds").fetchall() == [(60,)]
    finally:
        conn.close()


def _opml_urls(path: Path) -> set[str]:
    return set(re.findall(r'xmlUrl="([^"]+)"', path.read_text(encoding="utf-8")))


def test_feeds_import_real_malformed_opml(run_cli):
    expected = _opml_urls(RUSSIA_OPML)
    assert len(expected) > 5
    with pytest.raises(ET.ParseError):
        ET.parse(RUSSIA_OPML)  # the file really is not well-formed XML
    result = ok(run_cli("feeds", "import", str(RUSSIA_OPML)))
    assert f"{len(expected)} feeds added, 0 already known" in result.stdout
    assert {f["url"] for f in feeds_json(run_cli)} == expected
    again = ok(run_cli("feeds", "import", str(RUSSIA_OPML)))
    assert f"0 feeds added, {len(expected)} already known" in again.stdout
    assert len(feeds_json(run_cli)) == len(expected)


@pytest.mark.parametrize(
    "content",
    [
        b"this is just some random text, not OPML at all\n",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
        b"\x89PNG\r\n\x1a\n\x00\x00garbage",
        b"",
    ],
    ids=["text", "rss", "binary", "empty"],
)
def test_feeds_import_not_opml(fresh_db, run_cli, tmp_path, content):
    path = tmp_path / "subs.opml"
    path.write_bytes(content)
    fails(run_cli("feeds", "import", str(path)), 2)
    assert feeds_json(run_cli) == []


def test_feeds_import_missing_file(run_cli, tmp_path):
    fails(run_cli("feeds", "import", str(tmp_path / "nope.opml")), 2)


def test_feeds_export_is_valid_opml(store, demo_server, tmp_path):
    result = ok(store("feeds", "export"))
    root = ET.fromstring(result.stdout.encode())
    assert root.tag == "opml"
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    assert urls == set(demo_urls(demo_server))
    out = tmp_path / "out.opml"
    written = ok(store("feeds", "export", "-o", str(out)))
    assert "<opml" not in written.stdout
    assert {o.get("xmlUrl") for o in ET.parse(out).getroot().iter("outline")} == urls
    # and it round-trips into a fresh store
    other = Runner(tmp_path / "other.db")
    ok(other("feeds", "import", str(out)))
    assert {f["url"] for f in feeds_json(other)} == urls


def test_feeds_list_health_before_and_after_poll(run_cli, demo_server):
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    before = feeds_json(run_cli)
    assert len(before) == 4
    for f in before:
        assert FEED_FIELDS <= set(f), f
        assert f["status"] == "new" and f["last_success_at"] is None and f["error_count"] == 0
    ok(run_cli("poll"))
    now = datetime.now(timezone.utc)
    for f in feeds_json(run_cli):
        assert f["status"] == "ok", f
        assert f["error_count"] == 0 and f["last_error"] is None
        assert abs((parse_iso(f["last_success_at"]) - now).total_seconds()) < 120
        assert parse_iso(f["next_check_at"]) > now
    table = ok(run_cli("feeds", "list")).stdout
    assert "status" in table.splitlines()[0]
    assert table.count(" ok ") == 4


def test_feeds_list_empty(fresh_db, run_cli):
    assert "No feeds yet" in ok(run_cli("feeds", "list")).stdout
    assert feeds_json(run_cli) == []


def test_feeds_list_shows_a_failing_feed(run_cli, server):
    server.route("/broken.xml", Response(b"internal error", 500, {"Content-Type": "text/plain"}))
    ok(run_cli("feeds", "add", "--no-check", server.url("/broken.xml")))
    ok(run_cli("poll"))
    [feed] = feeds_json(run_cli)
    assert feed["status"] == "error"
    assert feed["error_count"] == 1
    assert "500" in feed["last_error"]
    assert feed["last_success_at"] is None
    assert parse_iso(feed["next_check_at"]) > datetime.now(timezone.utc)
    assert "error" in ok(run_cli("feeds", "list")).stdout


def test_feeds_remove_by_id_and_by_url(run_cli, demo_server):
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    feeds = feeds_json(run_cli)
    first, second = feeds[0], feeds[1]
    ok(run_cli("feeds", "remove", str(first["id"])))
    ok(run_cli("feeds", "remove", second["url"]))
    left = {f["url"] for f in feeds_json(run_cli)}
    assert left == set(demo_urls(demo_server)) - {first["url"], second["url"]}


def test_feeds_remove_unknown(run_cli, demo_server):
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    fails(run_cli("feeds", "remove", "999"), 2)
    fails(run_cli("feeds", "remove", "https://unknown.example/rss"), 2)
    assert len(feeds_json(run_cli)) == 4


def test_feeds_remove_keeps_articles(store, demo_server):
    ok(store("feeds", "remove", demo_server.url("/daily-courier.xml")))
    assert stats_json(store)["articles"] == DEMO_ARTICLES


# ---------------------------------------------------------------- poll


def test_poll_summary_and_stored_articles(run_cli, demo_server):
    ok(run_cli("seeds", "add", str(FOUNDING_SEED)))
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    line = summary_line(ok(run_cli("poll")))
    assert line.startswith("polled 4 feeds")
    assert "0 failed" in line and f"{DEMO_ARTICLES} new articles" in line
    assert stats_json(run_cli)["articles"] == DEMO_ARTICLES


def test_poll_only_due_feeds_then_all(store, demo_server):
    hits = {name: demo_server.hits(f"/{name}") for name in DEMO_FEEDS}
    again = ok(store("poll"))
    assert "nothing to poll" in again.stdout  # every feed was just polled
    assert {name: demo_server.hits(f"/{name}") for name in DEMO_FEEDS} == hits
    line = summary_line(ok(store("poll", "--all")))
    assert line.startswith("polled 4 feeds") and "0 new articles" in line
    assert all(demo_server.hits(f"/{name}") == hits[name] + 1 for name in DEMO_FEEDS)
    assert stats_json(store)["articles"] == DEMO_ARTICLES


def test_poll_one_feed_by_url_and_by_id(store, demo_server):
    hits = {name: demo_server.hits(f"/{name}") for name in DEMO_FEEDS}
    line = summary_line(ok(store("poll", "--feed", demo_server.url("/world-wire.xml"))))
    assert line.startswith("polled 1 feeds")
    feed_id = next(f["id"] for f in feeds_json(store) if f["url"].endswith("/tech-and-markets.xml"))
    assert summary_line(ok(store("poll", "--feed", str(feed_id)))).startswith("polled 1 feeds")
    after = {name: demo_server.hits(f"/{name}") for name in DEMO_FEEDS}
    assert after == {**hits, "world-wire.xml": hits["world-wire.xml"] + 1, "tech-and-markets.xml": hits["tech-and-markets.xml"] + 1}


def test_poll_unknown_feed(store, demo_server):
    hits = sum(demo_server.hits(f"/{name}") for name in DEMO_FEEDS)
    fails(store("poll", "--feed", "https://unknown.example/rss"), 2)
    fails(store("poll", "--feed", "999"), 2)
    assert sum(demo_server.hits(f"/{name}") for name in DEMO_FEEDS) == hits


def test_poll_with_a_failing_feed_still_exits_0(run_cli, demo_server):
    demo_server.route("/broken.xml", Response(b"oops", 500, {"Content-Type": "text/plain"}))
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    ok(run_cli("feeds", "add", "--no-check", demo_server.url("/broken.xml")))
    result = ok(run_cli("poll"))
    line = summary_line(result)
    assert line.startswith("polled 5 feeds")
    assert "4 ok" in line and "1 failed" in line
    assert "Error:" not in result.output
    statuses = {f["url"].rsplit("/", 1)[-1]: f["status"] for f in feeds_json(run_cli)}
    assert statuses == {**{name: "ok" for name in DEMO_FEEDS}, "broken.xml": "error"}
    assert stats_json(run_cli)["articles"] == DEMO_ARTICLES


def test_poll_with_no_feeds(run_cli):
    assert "nothing to poll" in ok(run_cli("poll")).stdout


def test_quiet_poll_prints_nothing(run_cli, demo_server):
    ok(run_cli("feeds", "add", *demo_urls(demo_server)))
    result = ok(run_cli("-q", "poll"))
    assert result.stdout == ""
    assert stats_json(run_cli)["articles"] == DEMO_ARTICLES


# ---------------------------------------------------------------- query


def test_query_default_lists_new_related_and_copies_newest_first(store):
    rows = query_json(store)
    assert rows
    assert {r["verdict"] for r in rows} <= {"related", "copy"}
    assert "related" in {r["verdict"] for r in rows}
    assert {r["status"] for r in rows} == {"new"}
    # A duplicate is collapsed into its original; it is listed only when the original is not.
    listed = {r["id"] for r in rows}
    assert all(r["duplicate_of"] not in listed for r in rows if r["duplicate_of"] is not None)
    assert COPY_TITLE in {r["title"] for r in rows}
    published = [r["published_at"] for r in rows]
    assert published == sorted(published, reverse=True)
    table = ok(store("query")).stdout
    assert COPY_TITLE in table
    assert "giant pumpkin" not in table  # unrelated local news is not listed by default
    assert len(table.splitlines()) == len(rows) + 2  # header, rule, one line per row


def test_query_json_fields(store):
    rows = all_rows(store)
    assert len(rows) == DEMO_ARTICLES
    for r in rows:
        assert QUERY_FIELDS <= set(r), r
        assert isinstance(r["id"], int)
        assert r["seed"] == SEED
        assert 0.0 <= r["score"] <= 1.0
        assert r["verdict"] in {"related", "copy", "unrelated"}
        assert r["status"] == "new"
        assert r["feed_url"] in {f["url"] for f in feeds_json(store)}
        assert r["url"].startswith("https://") and "utm_" not in r["url"]
        parse_iso(r["first_seen_at"])
        parse_iso(r["published_at"])


def test_query_jsonl_one_object_per_line(store):
    expected = query_json(store)
    result = ok(store("query", "--limit", "0", "--format", "jsonl"))
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected)
    assert [json.loads(line) for line in lines] == expected


def test_query_csv_has_a_header(store):
    expected = query_json(store)
    result = ok(store("query", "--limit", "0", "--format", "csv"))
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames is not None and set(reader.fieldnames) == QUERY_COLUMNS
    rows = list(reader)
    assert [int(r["id"]) for r in rows] == [r["id"] for r in expected]
    assert [r["title"] for r in rows] == [r["title"] for r in expected]


def test_query_full_text(store):
    everything = all_rows(store)
    matching = {r["id"] for r in everything if "shahed" in article_text(store, r["id"])}
    assert 0 < len(matching) < len(everything)
    rows = query_json(store, "Shahed", "--verdict", "all", "--status", "all", "--include-duplicates")
    assert {r["id"] for r in rows} == matching
    assert query_json(store, "xyzzyplugh", "--verdict", "all", "--status", "all") == []


@pytest.mark.parametrize("text", ['drone" OR (', '"', "NEAR(drone", "drone*", "AND", "'; DROP TABLE articles; --", "^", "title:drone"])
def test_query_fts_hostile_input_does_not_crash(store, text):
    result = ok(store("query", text, "--verdict", "all", "--status", "all", "--limit", "0", "--format", "json"))
    assert "Error:" not in result.output
    rows = json.loads(result.stdout)
    # punctuation is never query syntax: the words typed are searched for, and nothing else happens
    words = " ".join(re.findall(r"[^\W_]+", text))
    expected = query_json(store, words, "--verdict", "all", "--status", "all") if words else []
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert stats_json(store)["articles"] == DEMO_ARTICLES


def test_query_fts_hostile_input_still_finds_words(store):
    rows = query_json(store, 'drone" (', "--verdict", "all", "--status", "all")
    plain = query_json(store, "drone", "--verdict", "all", "--status", "all")
    assert plain and {r["id"] for r in rows} == {r["id"] for r in plain}
    assert all("drone" in article_text(store, r["id"]) for r in rows)


def test_query_verdict_copy_finds_the_seed_copy(store, demo_server):
    rows = query_json(store, "--verdict", "copy")
    assert len(rows) == 1
    copy = rows[0]
    assert copy["title"] == COPY_TITLE
    assert copy["feed_url"] == demo_server.url("/daily-courier.xml")
    assert copy["verdict"] == "copy" and copy["seed"] == SEED
    assert copy["score"] > 0.8


def test_query_verdict_filters(store):
    everything = all_rows(store)
    for verdict in ("related", "copy", "unrelated"):
        rows = query_json(store, "--verdict", verdict, "--status", "all", "--include-duplicates")
        assert {r["id"] for r in rows} == {r["id"] for r in everything if r["verdict"] == verdict}
    found = query_json(store, "--verdict", "found", "--status", "all", "--include-duplicates")
    assert {r["id"] for r in found} == {r["id"] for r in everything if r["verdict"] in ("related", "copy")}


def test_query_duplicates_collapsed_unless_asked(store, demo_server):
    original, dup = dup_pair(store)
    assert dup["duplicate_of"] == original["id"]
    assert original["duplicate_of"] is None
    assert {original["feed_url"], dup["feed_url"]} == {demo_server.url("/world-wire.xml"), demo_server.url("/eurasia-monitor.xml")}
    collapsed = [r for r in query_json(store, "--verdict", "all", "--status", "all") if r["title"] == DUP_TITLE]
    assert [r["id"] for r in collapsed] == [original["id"]]
    assert len(query_json(store, "--verdict", "all", "--status", "all")) == DEMO_ARTICLES - 1


def test_query_since(store, demo_server):
    fresh = datetime.now(timezone.utc) - timedelta(hours=2)
    item = {**ITEM, "link": "https://news.example/fresh", "guid": "fresh-1", "pubDate": format_datetime(fresh, usegmt=True)}
    old = {
        "title": "Old drone story",
        "link": "https://news.example/old",
        "guid": "old-1",
        "description": "Back in 2022, Ukraine's air defence shot down dozens of Iranian-made drones over the capital.",
        "pubDate": "Thu, 27 Oct 2022 14:20:00 GMT",
    }
    demo_server.route("/fresh.xml", Response(rss([item, old])))
    ok(store("feeds", "add", demo_server.url("/fresh.xml")))
    ok(store("poll", "--feed", demo_server.url("/fresh.xml")))
    everything = query_json(store, "--verdict", "all", "--status", "all")
    assert len(everything) == DEMO_ARTICLES - 1 + 2
    recent = query_json(store, "--verdict", "all", "--status", "all", "--since", "1d")
    assert [r["url"] for r in recent] == ["https://news.example/fresh"]
    assert [r["url"] for r in query_json(store, "--verdict", "all", "--status", "all", "--since", "3h")] == ["https://news.example/fresh"]
    assert query_json(store, "--verdict", "all", "--status", "all", "--since", "1h") == []
    # a bare number means days
    assert [r["url"] for r in query_json(store, "--verdict", "all", "--status", "all", "--since", "1")] == ["https://news.example/fresh"]
    assert len(query_json(store, "--verdict", "all", "--status", "all", "--since", "100000d")) == len(everything)


@pytest.mark.parametrize("since", ["bogus", "7y", "-1d", "d"])
def test_query_since_bogus(run_cli, since):
    assert "--since" in fails(run_cli("query", "--since", since), 2)


def test_query_min_score(store):
    everything = all_rows(store)
    rows = query_json(store, "--verdict", "all", "--status", "all", "--include-duplicates", "--min-score", "0.5")
    assert {r["id"] for r in rows} == {r["id"] for r in everything if r["score"] >= 0.5}
    assert COPY_TITLE in {r["title"] for r in rows}
    assert 0 < len(rows) < len(everything)
    fails(store("query", "--min-score", "2"), 2)


def test_query_seed_filter(store):
    ok(store("seeds", "add", str(FOUNDING_SEED), "--name", "second"))
    assert {r["seed"] for r in all_rows(store)} == {SEED, "second"}
    assert {r["seed"] for r in all_rows(store, "--seed", "second")} == {"second"}
    assert len(all_rows(store, "--seed", SEED)) == DEMO_ARTICLES


def test_query_unknown_seed(store):
    fails(store("query", "--seed", "no-such-seed"), 2)


def test_query_limit(store):
    everything = query_json(store, "--verdict", "all", "--status", "all")
    limited = as_json(store("query", "--verdict", "all", "--status", "all", "--limit", "3", "--format", "json"))
    assert limited == everything[:3]
    default = as_json(store("query", "--verdict", "all", "--status", "all", "--format", "json"))
    assert len(default) == min(50, len(everything))
    fails(store("query", "--limit", "-1"), 2)


def test_query_empty_store(fresh_db, run_cli):
    assert "no matches" in ok(run_cli("query")).stdout
    assert query_json(run_cli) == []


# ---------------------------------------------------------------- show


def test_show_related_article(store):
    row = max(query_json(store, "--verdict", "related"), key=lambda r: r["score"])
    text = ok(store("show", str(row["id"]))).stdout
    assert text.startswith(f"#{row['id']}")
    assert row["title"] in text
    assert f"seed {SEED}: related, score {row['score']:.3f}" in text
    assert "top shared terms:" in text and "shared names and figures:" in text
    assert "sources (1):" in text and row["feed_url"] in text


def test_show_says_how_the_score_was_made(store):
    row = max(query_json(store, "--verdict", "related"), key=lambda r: r["score"])
    text = ok(store("show", str(row["id"]))).stdout
    m = re.search(r"score: (?:\()?0\.7 x words (0\.\d+) \+ 0\.3 x names (0\.\d+)(?:\) x short-text lift (\d\.\d+))?", text)
    assert m, text
    words, names, lift = float(m.group(1)), float(m.group(2)), float(m.group(3) or 1)
    assert (0.7 * words + 0.3 * names) * lift == pytest.approx(row["score"], abs=0.002)


def _aceh_store_with_a_haiti_report(run_cli, server, tmp_path) -> dict:
    """A store following the Aceh quake (haiti.txt written, not added) that holds a Haiti report; the report's row."""
    from tests.test_processor import ACEH, HAITI, HAITI_REPORT, OTHER

    for name, (title, body) in (("aceh", ACEH), ("haiti", HAITI)):
        (tmp_path / f"{name}.txt").write_text(f"{title}\n\n{body}\n")
    items = [{"title": t, "link": f"https://b.example/{i}", "description": b} for i, (t, b) in enumerate(OTHER)]
    items.append({"title": HAITI_REPORT[1], "link": HAITI_REPORT[0], "description": HAITI_REPORT[2]})
    server.route("/feed.xml", Response(rss(items)))
    ok(run_cli("seeds", "add", str(tmp_path / "aceh.txt")))
    ok(run_cli("feeds", "add", server.url("/feed.xml")))
    ok(run_cli("poll"))
    [report] = [r for r in all_rows(run_cli) if r["url"] == HAITI_REPORT[0]]
    return report


def test_show_and_seeds_remove_when_another_seed_claims_the_article(run_cli, server, tmp_path):
    from tests.test_processor import HAITI_REPORT

    report = _aceh_store_with_a_haiti_report(run_cli, server, tmp_path)
    assert report["verdict"] == "related"
    ok(run_cli("seeds", "add", str(tmp_path / "haiti.txt")))
    text = ok(run_cli("show", str(report["id"]))).stdout
    m = re.search(
        r"seed aceh: unrelated, score (0\.\d+).*\n(?:  .*\n)*?  score: \(.*\) x 0\.5, claimed\n(?:  .*\n)*?"
        r"  claimed by seed haiti, which calls the article its own: (0\.\d+) to this seed's (0\.\d+) before keywords"
        r" \(over 1/0\.8 x\), so this score counts x 0\.5",
        text,
    )
    assert m, text
    assert float(m.group(1)) == pytest.approx(report["score"] / 2, abs=0.001) and float(m.group(3)) == pytest.approx(report["score"], abs=0.001)
    assert f"seed haiti: related, score {m.group(2)}" in text
    assert "removed seed haiti (1 of its articles judged again for the other seeds)" in ok(run_cli("seeds", "remove", "haiti")).stdout
    assert "claimed by" not in ok(run_cli("show", str(report["id"]))).stdout
    [back] = [r for r in all_rows(run_cli) if r["url"] == HAITI_REPORT[0]]
    assert back["verdict"] == "related" and back["score"] == report["score"]


def test_an_item_you_kept_stays_found_when_another_seed_claims_it(run_cli, server, tmp_path):
    # Kept, then judged unrelated (a seed added later claims it): the reviewer's word keeps it in the
    # default listing of kept items and in the export, while --verdict related shows the scorer's view.
    from tests.test_processor import HAITI_REPORT

    report = _aceh_store_with_a_haiti_report(run_cli, server, tmp_path)
    ok(run_cli("mark", str(report["id"]), "--kept"))
    ok(run_cli("seeds", "add", str(tmp_path / "haiti.txt")))
    aceh = [r for r in all_rows(run_cli, "--seed", "aceh") if r["url"] == HAITI_REPORT[0]]
    assert [(r["verdict"], r["status"]) for r in aceh] == [("unrelated", "kept")]
    assert [(r["id"], r["seed"]) for r in query_json(run_cli, "--status", "kept")] == [(report["id"], "aceh")]
    assert query_json(run_cli, "--status", "kept", "--verdict", "related", "--seed", "aceh") == []
    exported = as_json(run_cli("export", "--format", "json", "--seed", "aceh"))
    assert [(r["id"], r["status"]) for r in exported] == [(report["id"], "kept")]


def test_show_copy(store, demo_server):
    text = ok(store("show", str(copy_id(store)))).stdout
    assert COPY_TITLE in text
    assert re.search(rf"seed {SEED}: copy, score 0\.\d+", text), text
    assert "top shared terms:" in text
    assert demo_server.url("/daily-courier.xml") in text


def test_show_duplicate_names_its_original(store):
    original, dup = dup_pair(store)
    text = ok(store("show", str(dup["id"]))).stdout
    assert f"duplicate of #{original['id']}" in text
    orig_text = ok(store("show", str(original["id"]))).stdout
    assert "duplicates (1):" in orig_text and f"#{dup['id']}" in orig_text


def test_show_json(store, demo_server):
    cid = copy_id(store)
    a = article(store, cid)
    assert a["id"] == cid and a["title"] == COPY_TITLE
    [match] = a["matches"]
    assert match["seed"] == SEED and match["verdict"] == "copy" and 0.8 < match["score"] <= 1.0
    assert [s["feed_url"] for s in a["sources"]] == [demo_server.url("/daily-courier.xml")]
    assert a["duplicate_of"] is None and a["duplicates"] == []


@pytest.mark.parametrize("ref", ["999999", "0"])
def test_show_unknown(store, ref):
    fails(store("show", ref), 2)


def test_show_not_a_number(store):
    fails(store("show", "abc"), 2)


# ---------------------------------------------------------------- mark and review


def test_mark_kept_and_dismissed_with_note(store):
    rows = query_json(store)
    keep, dismiss = rows[0]["id"], rows[1]["id"]
    result = ok(store("mark", str(keep), "--kept", "--note", "good background"))
    assert "kept" in result.stdout
    ok(store("mark", str(dismiss), "--dismissed", "--note", "off topic"))
    assert [r["id"] for r in query_json(store, "--status", "kept")] == [keep]
    assert [r["id"] for r in query_json(store, "--status", "dismissed")] == [dismiss]
    assert {keep, dismiss}.isdisjoint(r["id"] for r in query_json(store))  # out of the review queue
    assert article(store, keep)["matches"][0]["note"] == "good background"
    assert article(store, dismiss)["matches"][0]["note"] == "off topic"
    assert "note: good background" in ok(store("show", str(keep))).stdout
    ok(store("mark", str(keep), "--new"))
    assert query_json(store, "--status", "kept") == []


def test_mark_several(store):
    ids = [r["id"] for r in query_json(store)][:3]
    ok(store("mark", *map(str, ids), "--kept"))
    assert sorted(r["id"] for r in query_json(store, "--status", "kept")) == sorted(ids)


def test_mark_without_a_status(store):
    rid = query_json(store)[0]["id"]
    fails(store("mark", str(rid)), 2)
    fails(store("mark", str(rid), "--note", "just a note"), 2)
    assert {r["status"] for r in all_rows(store)} == {"new"}


@pytest.mark.parametrize("flags", [("--kept", "--dismissed"), ("--dismissed", "--kept"), ("--kept", "--new"), ("--kept", "--dismissed", "--new")])
def test_mark_conflicting_statuses(store, flags):
    rid = query_json(store)[0]["id"]
    line = fails(store("mark", str(rid), *flags), 2)
    assert "conflicting options" in line and all(f in line for f in flags), line
    assert {r["status"] for r in all_rows(store)} == {"new"}


@pytest.mark.parametrize("ref", ["99999999999999999999", "9223372036854775808", "-1"])
def test_article_id_beyond_sqlite_integers_is_misuse(store, ref):
    assert f"'{ref}' is not an article id" in fails(store("show", "--", ref), 2)
    assert f"'{ref}' is not an article id" in fails(store("mark", "--kept", "--", ref), 2)
    assert {r["status"] for r in all_rows(store)} == {"new"}


def test_mark_unknown_id_changes_nothing(store):
    rid = query_json(store)[0]["id"]
    fails(store("mark", "999999", "--kept"), 2)
    fails(store("mark", str(rid), "999999", "--kept"), 2)
    assert query_json(store, "--status", "kept") == []


def test_review_keep_dismiss_quit(store):
    queue = [r["id"] for r in query_json(store)]
    assert len(queue) >= 3
    result = ok(store("review", input="k\nd\nq\n"))
    assert "reviewed 2 items" in result.stdout
    assert f"[1/{len(queue)}] #{queue[0]}" in result.stdout
    assert [r["id"] for r in query_json(store, "--status", "kept")] == [queue[0]]
    assert [r["id"] for r in query_json(store, "--status", "dismissed")] == [queue[1]]
    assert [r["id"] for r in query_json(store)] == queue[2:]


def test_review_skip_leaves_items_new(store):
    queue = [r["id"] for r in query_json(store)]
    ok(store("review", input="s\nk\nq\n"))
    assert [r["id"] for r in query_json(store, "--status", "kept")] == [queue[1]]
    assert queue[0] in {r["id"] for r in query_json(store)}


def test_review_marks_only_the_match_on_screen(two_seeds):
    run, shared = two_seeds
    queue = [(r["id"], r["seed"]) for r in query_json(run)]
    first = min(queue.index((shared, SEED)), queue.index((shared, "drones")))
    shown = queue[first][1]
    other = "drones" if shown == SEED else SEED
    result = ok(run("review", input="s\n" * first + "k\nq\n"))
    assert statuses(run, shared) == {shown: "kept", other: "new"}
    assert f"seed {shown}: [k]eep" in result.stdout  # the prompt names the match it marks
    assert (shared, other) in {(r["id"], r["seed"]) for r in query_json(run)}  # still in the review queue


def test_review_nothing_to_do(run_cli):
    assert "nothing to review" in ok(run_cli("review")).stdout


def test_review_unknown_seed(store):
    fails(store("review", "--seed", "no-such-seed"), 2)


# ---------------------------------------------------------------- export


def test_export_atom(store):
    found = query_json(store, "--status", "all")
    result = ok(store("export", "--format", "atom"))
    root = ET.fromstring(result.stdout.encode())
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}title") is not None and root.find(f"{ATOM}id") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == len(found) > 0
    assert {e.findtext(f"{ATOM}title") for e in entries} == {r["title"] for r in found}
    for e in entries:
        assert e.find(f"{ATOM}link").get("href").startswith("https://")
        parse_iso(e.findtext(f"{ATOM}updated"))


def test_export_atom_for_one_seed_to_a_file(store, tmp_path):
    out = tmp_path / "related.xml"
    result = ok(store("export", "--format", "atom", "--seed", SEED, "-o", str(out)))
    assert "<feed" not in result.stdout
    root = ET.parse(out).getroot()
    assert root.tag == f"{ATOM}feed"
    assert SEED in root.findtext(f"{ATOM}id")
    assert len(root.findall(f"{ATOM}entry")) == len(query_json(store, "--status", "all"))


def test_export_csv_and_json(store, tmp_path):
    found = query_json(store, "--status", "all")
    data = as_json(store("export", "--format", "json"))
    assert [r["id"] for r in data] == [r["id"] for r in found]
    assert all(QUERY_FIELDS <= set(r) for r in data)
    out = tmp_path / "export.csv"
    ok(store("export", "--format", "csv", "-o", str(out)))
    reader = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))
    assert set(reader.fieldnames or []) == QUERY_COLUMNS
    assert [int(r["id"]) for r in reader] == [r["id"] for r in found]


def test_export_carries_the_review_note_and_time(store, tmp_path):
    rid = query_json(store)[0]["id"]
    note = 'background, "quoted" <b>&'
    ok(store("mark", str(rid), "--kept", "--note", note))
    [row] = [r for r in as_json(store("export", "--format", "json")) if r["id"] == rid]
    assert row["note"] == note and row["status"] == "kept"
    parse_iso(row["status_at"])
    out = tmp_path / "export.csv"
    ok(store("export", "--format", "csv", "-o", str(out)))
    [line] = [r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))) if int(r["id"]) == rid]
    assert line["note"] == note and line["status_at"] == row["status_at"]
    others = [r for r in as_json(store("export", "--format", "json")) if r["id"] != rid]
    assert others and all(r["note"] is None and r["status_at"] is None for r in others)
    root = ET.fromstring(ok(store("export", "--format", "atom")).stdout.encode())
    summaries = [e.findtext(f"{ATOM}summary") for e in root.findall(f"{ATOM}entry")]
    assert sum(f"note: {note}" in s for s in summaries) == 1, summaries


def test_export_atom_one_entry_per_match_with_its_own_id(two_seeds):
    run, shared = two_seeds
    exports = [ET.fromstring(ok(run("export", "--format", "atom")).stdout.encode()) for _ in range(2)]
    for root in exports:
        assert root.findtext(f"{ATOM}author/{ATOM}name") == "seedwatch"
        ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
        assert len(ids) == len(set(ids)) == len(query_json(run, "--status", "all")), ids
        assert all(ids)
    assert [e.findtext(f"{ATOM}id") for e in exports[0].iter(f"{ATOM}entry")] == [e.findtext(f"{ATOM}id") for e in exports[1].iter(f"{ATOM}entry")]
    title = next(r["title"] for r in query_json(run) if r["id"] == shared)
    entries = [e for e in exports[0].iter(f"{ATOM}entry") if e.findtext(f"{ATOM}title") == title]
    assert len(entries) == 2 and len({e.findtext(f"{ATOM}id") for e in entries}) == 2


def test_export_leaves_dismissed_out(store):
    found = query_json(store, "--status", "all")
    gone, kept = found[0]["id"], found[1]["id"]
    ok(store("mark", str(gone), "--dismissed"))
    ok(store("mark", str(kept), "--kept"))
    ids = [r["id"] for r in as_json(store("export", "--format", "json"))]
    assert gone not in ids and kept in ids
    assert len(ids) == len(found) - 1
    atom = ET.fromstring(ok(store("export", "--format", "atom")).stdout.encode())
    assert found[0]["title"] not in {e.findtext(f"{ATOM}title") for e in atom.findall(f"{ATOM}entry")}
    dismissed = [r["id"] for r in as_json(store("export", "--format", "json", "--status", "dismissed"))]
    assert dismissed == [gone]


def test_export_misuse(store):
    fails(store("export"), 2)  # --format is required
    fails(store("export", "--format", "pdf"), 2)
    fails(store("export", "--format", "atom", "--seed", "no-such-seed"), 2)


# ---------------------------------------------------------------- stats and rescore


def test_stats(store):
    s = stats_json(store)
    assert s["articles"] == DEMO_ARTICLES
    assert s["duplicates"] == 1
    assert s["feeds"] == {"ok": 4}
    counts = s["seeds"][SEED]
    assert counts["copy"] == 1
    assert counts["related"] == len(query_json(store, "--verdict", "related", "--status", "all", "--include-duplicates"))
    assert counts["related"] + counts["copy"] + counts["unrelated"] == DEMO_ARTICLES
    parse_iso(s["last_poll"])
    text = ok(store("stats")).stdout.splitlines()
    assert text[0] == f"articles: {DEMO_ARTICLES} (1 duplicates)"
    assert text[1].startswith("feeds: 4 ok")
    assert any(line.startswith(f"seed {SEED}: {counts['related']} related, 1 copies") for line in text)


def test_stats_empty_store(fresh_db, run_cli):
    s = stats_json(run_cli)
    assert s["articles"] == 0 and s["seeds"] == {} and s["feeds"] == {}
    assert "last poll never" in ok(run_cli("stats")).stdout


def test_rescore_keeps_review_decisions(store):
    keep = query_json(store)[0]["id"]
    ok(store("mark", str(keep), "--kept", "--note", "keep me"))
    line = ok(store("rescore")).stdout.strip()
    # Keeping an item makes it the seed's first best match: if that changes them, the store is scored again.
    m = re.fullmatch(r"rescored (\d+) articles(?:, \d+ again as the seeds learned from their best matches)?: (\d+) related, (\d+) copies", line)
    assert m, line
    assert int(m.group(1)) == DEMO_ARTICLES
    assert int(m.group(2)) == len(query_json(store, "--verdict", "related", "--status", "all", "--include-duplicates"))
    assert int(m.group(3)) == 1
    assert [r["id"] for r in query_json(store, "--status", "kept")] == [keep]
    assert article(store, keep)["matches"][0]["note"] == "keep me"


def test_rescore_one_seed(store):
    ok(store("seeds", "add", str(FOUNDING_SEED), "--name", "second", "--threshold", "0.9"))
    line = ok(store("rescore", "--seed", "second")).stdout
    assert line.startswith(f"rescored {DEMO_ARTICLES} articles: 0 related, 1 copies")
    assert len(all_rows(store, "--seed", SEED)) == DEMO_ARTICLES


def test_scoring_the_store_shows_progress_on_a_terminal(store, monkeypatch):
    import ingest.cli

    assert "scoring stored articles" not in ok(store("rescore")).stderr  # not a terminal: no bar
    monkeypatch.setattr(ingest.cli, "_is_terminal", lambda: True)
    assert "scoring stored articles" in ok(store("rescore")).stderr
    assert "scoring stored articles" in ok(store("seeds", "add", str(FOUNDING_SEED), "--name", "second")).stderr
    assert "scoring stored articles" not in ok(store("-q", "rescore")).stderr


def test_rescore_applies_a_change_of_best_matches_that_waits_for_learnings_pace(store, db_path, monkeypatch):
    import ingest.learn
    from store.db import open_db

    monkeypatch.setattr(ingest.learn, "_pace", lambda match: lambda learned_at, articles: True)  # a large store, learned just now
    db = open_db(db_path)
    assert json.loads(db.execute("SELECT feedback FROM seeds").fetchone()[0])
    db.execute("UPDATE seeds SET feedback = '[999999]'")  # stored best matches that are no longer the best
    ok(store("poll", "--all"))
    assert db.execute("SELECT feedback FROM seeds").fetchone()[0] == "[999999]"  # the change waits
    ok(store("rescore"))
    from store import seeds as store_seeds

    seed_id, now = db.execute("SELECT id, feedback FROM seeds").fetchone()
    assert set(json.loads(now)) == set(store_seeds.feedback_candidates(db, seed_id, 5, 0.17)) and 999999 not in json.loads(now)
    db.conn.close()


def test_rescore_unknown_seed(store):
    fails(store("rescore", "--seed", "no-such-seed"), 2)


# ---------------------------------------------------------------- demo


def test_demo(tmp_path):
    folder = tmp_path / "demo"
    result = ok(Runner(tmp_path / "unused.db")("demo", "--keep", str(folder)))
    out = result.stdout
    assert re.search(rf"^Related to {SEED} \(\d+, duplicates collapsed\):", out, re.MULTILINE)
    assert re.search(rf"^\s+#\d+\s+copy\s+{re.escape(COPY_TITLE)}", out, re.MULTILINE)
    assert re.search(rf"^\s+#\d+ \(world-wire\.xml\) is a duplicate of #\d+ \(eurasia-monitor\.xml\): {re.escape(DUP_TITLE)}", out, re.MULTILINE) or re.search(
        rf"^\s+#\d+ \(eurasia-monitor\.xml\) is a duplicate of #\d+ \(world-wire\.xml\): {re.escape(DUP_TITLE)}", out, re.MULTILINE
    ), out
    assert "4 of 4 feeds answered 304" in out
    kept = Runner(folder / "demo.db")
    assert [r["title"] for r in query_json(kept, "--verdict", "copy")] == [COPY_TITLE]
    assert stats_json(kept)["articles"] == DEMO_ARTICLES
    assert not (tmp_path / "unused.db").exists()


# ---------------------------------------------------------------- global options


READ_COMMANDS = [
    ["query"], ["query", "drones", "--format", "json"], ["show", "1"], ["stats"], ["export", "--format", "json"],
    ["seeds", "list"], ["feeds", "list"], ["feeds", "export"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_missing_store_is_misuse_and_creates_nothing(tmp_path, command):
    """A mistyped --db is not an empty store: exit 2 naming the path, and no file left behind."""
    path = tmp_path / "typo.db"
    error = fails(Runner(path)(*command), 2)
    assert error == f"Error: no store at {path} (seedwatch creates it when you add a seed or a feed, or poll)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["feeds", "export"], ["export", "--format", "csv"]], ids=" ".join)
def test_an_export_that_fails_leaves_no_output_file(tmp_path, command):
    out = tmp_path / "out.txt"
    fails(Runner(tmp_path / "typo.db")(*command, "-o", str(out)), 2)
    assert list(tmp_path.iterdir()) == []


def test_an_export_to_a_path_that_cannot_be_written_is_one_clear_line(store, tmp_path):
    out = tmp_path / "missing-folder" / "out.csv"
    assert fails(store("export", "--format", "csv", "-o", str(out)), 1) == f"Error: cannot write {out}: No such file or directory"


def test_a_write_command_creates_the_store_that_read_commands_then_read(tmp_path):
    path = tmp_path / "new.db"
    ok(Runner(path)("feeds", "add", "--no-check", "https://news.example/feed.xml"))
    assert path.is_file()
    assert "no matches" in ok(Runner(path)("query")).stdout


def test_db_in_a_missing_folder(tmp_path):
    folder = tmp_path / "no" / "such"
    fails(Runner(folder / "seedwatch.db")("stats"), 1)
    assert not folder.exists()


@pytest.mark.parametrize("command", [["stats"], ["query"], ["seeds", "add", str(FOUNDING_SEED)], ["feeds", "list"]])
def test_db_that_is_not_sqlite(tmp_path, command):
    path = tmp_path / "garbage.db"
    garbage = b"this is not a database\x00\xff" * 200
    path.write_bytes(garbage)
    error = fails(Runner(path)(*command), 1)
    assert str(path) in error
    assert path.read_bytes() == garbage  # left as it was


# The silent ones first: they log nothing, so they do not import logging either.
@pytest.mark.parametrize("command", [["stats"], ["query"], ["seeds", "add", str(FOUNDING_SEED)]])
def test_db_from_a_newer_seedwatch(db_path, command):
    from store.db import open_db

    db = open_db(db_path)
    db.execute("PRAGMA user_version = 999")
    db.conn.close()
    error = fails(Runner(db_path)(*command), 1)
    assert str(db_path) in error and "newer than this seedwatch" in error


READING_COMMANDS = [["query"], ["query", "drone", "--seed", SEED], ["show", "1"], ["stats"], ["export", "--format", "csv"],
                    ["feeds", "list"], ["seeds", "list"], ["feeds", "export"]]


def test_reading_commands_do_not_import_sqlite_utils(store, db_path):
    """query, show, stats, lists and exports read through sqlite3 alone: importing sqlite-utils is ~half their start-up."""
    script = (
        "import sys\n"
        "from ingest.cli import SILENT_COMMANDS, cli\n"
        f"for args in {READING_COMMANDS!r}:\n"
        f"    try: cli.main(['--db', {str(db_path)!r}, *args], prog_name='seedwatch')\n"
        "    except SystemExit as exc: assert exc.code in (0, None), (args, exc.code)\n"
        "    assert 'sqlite_utils' not in sys.modules, args\n"
        "    assert 'logging' not in sys.modules or args[0] not in SILENT_COMMANDS, args\n"
        "print('all read')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("all read")
    control = subprocess.run(  # the check sees the import where there is one
        [sys.executable, "-c", script.replace("for args in", "import sqlite_utils\nfor args in")], capture_output=True, text=True, timeout=120
    )
    assert control.returncode == 1 and "AssertionError: ['query']" in control.stderr


def test_a_command_that_looks_up_a_seed_then_writes(store, monkeypatch):
    """review --seed reads the seed through a Reader, then writes through open_db's connection."""
    import ingest.cli

    real, readers = ingest.cli.open_reader, []
    monkeypatch.setattr(ingest.cli, "open_reader", lambda path: readers.append(real(path)) or readers[-1])
    assert "reviewed 1 items" in ok(store("review", "--seed", SEED, input="k\nq\n")).stdout
    assert len(readers) == 1 and isinstance(readers[0], ingest.cli.Reader)
    assert len(query_json(store, "--status", "kept", "--seed", SEED)) == 1


class _FakeDaemon:
    """Stands in for ingest.daemon.Daemon: records what it was given and returns at once."""

    started: list[Path] = []

    def __init__(self, db_path: str, seeds_dir: Path, config, tick: float):
        self.started.append(seeds_dir)

    def run(self) -> int:
        return 0


def test_run_refuses_a_seeds_folder_that_does_not_exist(tmp_path, monkeypatch):
    import ingest.daemon

    monkeypatch.setattr(ingest.daemon, "Daemon", _FakeDaemon)
    monkeypatch.setattr(_FakeDaemon, "started", [])
    missing = tmp_path / "no-such-seeds"
    error = fails(Runner(tmp_path / "seedwatch.db", missing)("run", "--tick", "1"), 2)
    assert error == f"Error: seeds folder {missing} does not exist"
    assert _FakeDaemon.started == []  # refused before any daemon starts
    assert list(tmp_path.iterdir()) == []


def test_run_without_the_default_seeds_folder_still_starts(tmp_path, monkeypatch):
    """The default seeds/ may not exist yet (the daemon warns, and syncs it when it appears); `make run` names it."""
    import ingest.daemon

    monkeypatch.setattr(ingest.daemon, "Daemon", _FakeDaemon)
    monkeypatch.setattr(_FakeDaemon, "started", [])
    monkeypatch.chdir(tmp_path)
    ok(Runner(tmp_path / "seedwatch.db")("-q", "run"))
    ok(Runner(tmp_path / "seedwatch.db", Path("seeds"))("-q", "run"))  # as the Makefile types it
    assert _FakeDaemon.started == [Path("seeds"), Path("seeds")]


def test_db_from_the_environment(tmp_path):
    path = tmp_path / "env.db"
    result = CliRunner().invoke(cli, ["seeds", "add", str(FOUNDING_SEED)], env={"SEEDWATCH_DB": str(path)}, catch_exceptions=False)
    ok(result)
    assert path.exists()
    assert [s["name"] for s in seeds_json(Runner(path))] == [SEED]


def test_unknown_command(run_cli):
    fails(run_cli("frobnicate"), 2)


def test_demo_data_is_what_the_tests_expect():
    assert sorted(p.name for p in DEMO_DATA.glob("*.xml")) == DEMO_FEEDS


def test_poll_teaches_the_seed_its_best_matches_and_show_says_so(store):
    found = query_json(store, "--verdict", "related")
    assert found
    text = ok(store("show", str(found[-1]["id"]))).stdout
    m = re.search(rf"seed {SEED}: related, score (0\.\d+).*\n(?:  .*\n)*?  learned from: the seed's text and its best matches ((?:#\d+(?:, )?)+); "
                  r"against the seed's text alone it scores (0\.\d+)", text)
    assert m, text
    best = [int(i) for i in re.findall(r"#(\d+)", m.group(2))]
    related = {r["id"] for r in all_rows(store, "--verdict", "related")}
    assert best and set(best) <= related and found[-1]["id"] not in best


def test_an_item_you_keep_teaches_the_seed(store):
    kept = query_json(store, "--verdict", "unrelated")[0]["id"]
    ok(store("mark", str(kept), "--kept"))
    line = ok(store("rescore")).stdout.strip()
    assert re.fullmatch(r"rescored \d+ articles, \d+ again as the seeds learned from their best matches: \d+ related, \d+ copies", line), line
    other = query_json(store, "--verdict", "related")[0]["id"]
    assert re.search(rf"learned from: the seed's text and its best matches #{kept}(,|;)", ok(store("show", str(other))).stdout)


@pytest.mark.parametrize("args", [
    ["export"], ["show", "abc"], ["show", "0"], ["query", "--min-score", "2"], ["--bogus"], ["feeds", "bogus"],
    ["query", "--verdict", "nope"], ["mark", "1", "x", "--kept"],
], ids=" ".join)
def test_clicks_own_usage_errors_are_one_line(run_cli, args):
    """DESIGN: a wrong CLI argument gets one clear line and a non-zero exit; Click's usage block is folded into it."""
    result = run_cli(*args)
    line = fails(result, 2)
    assert result.stderr.splitlines() == [line] and result.stdout == ""
    assert line.endswith("--help')"), line


def test_a_group_called_bare_still_shows_its_help(run_cli):
    result = run_cli("feeds")
    assert "Usage:" in result.output and "Commands:" in result.output and "Error:" not in result.output


def test_stats_counts_an_unrelated_item_that_was_kept(store):
    """`query` lists a kept item whatever its verdict; stats counts it among the kept too."""
    unrelated = [r for r in all_rows(store) if r["verdict"] == "unrelated" and r["duplicate_of"] is None][0]
    before = stats_json(store)["seeds"][SEED].get("kept", 0)
    ok(store("mark", str(unrelated["id"]), "--kept"))
    assert stats_json(store)["seeds"][SEED].get("kept", 0) == before + 1
