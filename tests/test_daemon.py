"""The daemon as a process: real scheduler, real HTTP on 127.0.0.1, a real SQLite file, SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FOUNDING_SEED

SEEDWATCH = [sys.executable, "-m", "ingest"]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll predicate until it is truthy (the daemon works on its own clock; we only watch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def count(db: Path, sql: str, params=()) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # schema not created yet
    finally:
        conn.close()


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SEEDWATCH, "--db", str(db), *args], capture_output=True, text=True, timeout=60)


def test_daemon_polls_picks_up_new_feeds_and_stops_cleanly(tmp_path, demo_server):
    db = tmp_path / "seedwatch.db"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / FOUNDING_SEED.name).write_bytes(FOUNDING_SEED.read_bytes())
    (seeds / "feeds.txt").write_text(f"# starter feeds\n{demo_server.url('/world-wire.xml')}\n")

    proc = subprocess.Popen(
        [*SEEDWATCH, "--db", str(db), "--seeds-dir", str(seeds), "run", "--tick", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # The seeds folder is synced at start and its feed polled.
        wait_for(lambda: count(db, "SELECT count(*) FROM articles") >= 8, what="articles from the starter feed")
        assert count(db, "SELECT count(*) FROM seeds") == 1
        # After the poll, the seed learns from its best matches, and the store is scored with them.
        wait_for(lambda: count(db, "SELECT count(*) FROM seeds WHERE feedback != '[]' AND scoring_after IS NULL") == 1,
                 what="the seed to learn from its best matches")
        assert count(db, "SELECT count(*) FROM matches WHERE explain LIKE '%\"feedback\"%'") > 0

        # A feed added from the CLI while the daemon runs is polled at a later tick, with no restart.
        added = cli(db, "feeds", "add", demo_server.url("/daily-courier.xml"))
        assert added.returncode == 0, added.stderr
        wait_for(lambda: demo_server.hits("/daily-courier.xml") >= 2, what="the new feed to be polled")  # 1 = the add's check
        wait_for(lambda: count(db, "SELECT count(*) FROM matches WHERE verdict = 'copy'") == 1, what="the seed copy")

        # The CLI can mark and query while the daemon writes.
        marked = cli(db, "mark", "1", "--kept")
        assert marked.returncode == 0, marked.stderr
        queried = cli(db, "query", "--status", "all", "--verdict", "all", "--format", "json")
        assert queried.returncode == 0 and '"id"' in queried.stdout

        # A seed dropped into the folder is loaded without a restart.
        (seeds / "second.md").write_text("---\ntitle: Iran drones for Russia\n---\nIranian Shahed drones strike the Ukrainian grid for Russia.\n")
        wait_for(lambda: count(db, "SELECT count(*) FROM seeds") == 2, what="the second seed")

        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "stopped" in output
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 17
    assert conn.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)").fetchone()[0] == 0


def test_sigint_while_idle_exits_zero(tmp_path):
    db = tmp_path / "seedwatch.db"
    proc = subprocess.Popen(
        [*SEEDWATCH, "--db", str(db), "--seeds-dir", str(tmp_path), "run", "--tick", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in proc.stdout:  # readiness: the daemon says when its scheduler runs
        if "daemon started" in line:
            break
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output


def test_run_with_an_unusable_db_fails_with_one_line(tmp_path):
    result = cli(tmp_path / "missing" / "x.db", "run", "--tick", "1")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error:") and "Traceback" not in result.stderr
    assert os.path.exists(tmp_path / "missing") is False


def test_a_seeds_sync_that_failed_is_tried_again_at_the_next_tick(db_path, tmp_path, monkeypatch):
    """The folder's signature is kept only once a sync went through: a store error is not waited out until the
    user happens to touch a file."""
    import ingest.daemon
    from ingest.config import Config
    from ingest.errors import SeedwatchError
    from ingest.manage import SyncReport

    monkeypatch.setattr(ingest.daemon.signal, "signal", lambda *args: None)  # the test process keeps its handlers
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "feeds.txt").write_text("https://a.example/rss\n", encoding="utf-8")
    calls = []

    def sync(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise SeedwatchError("the store is locked")
        return SyncReport()

    monkeypatch.setattr(ingest.daemon, "sync_folder", sync)
    daemon = ingest.daemon.Daemon(str(db_path), folder, Config(), tick=1)
    try:
        for _ in range(3):
            daemon._sync_if_changed()
    finally:
        daemon.close()
    assert len(calls) == 2  # failed, tried again and went through, then nothing changed


def started(proc: subprocess.Popen) -> bool:
    """Read the daemon's log until it says it started (False if it ends first)."""
    for line in proc.stdout:
        if "seedwatch daemon started" in line:
            return True
    return False


def test_a_second_daemon_on_one_store_is_refused_and_the_first_goes_on(tmp_path):
    db = tmp_path / "seedwatch.db"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    run = [*SEEDWATCH, "--db", str(db), "--seeds-dir", str(seeds), "run", "--tick", "60"]
    first = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert started(first)
        second = subprocess.run(run, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip() == f"Error: another seedwatch daemon is running on {db}; one daemon polls a store"
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    again = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert started(again)  # the lock went with the first daemon
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) == 0
