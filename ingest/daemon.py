"""The daemon: APScheduler runs a tick job (sync seeds/, poll due feeds) and a maintenance job until a signal."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from store import feeds as store_feeds
from store import review as store_review
from store.db import iso, open_db

from .config import Config
from .errors import SeedwatchError, UsageError
from .learn import learn_from_best_matches
from .manage import SCORING_IDLE, finish_seed_scoring, seeds_signature, sync_folder
from .poll import Poller

log = logging.getLogger("seedwatch.daemon")

MAINTENANCE_HOURS = 6


class Daemon:
    """Polls due feeds every tick; state lives in SQLite, so CLI changes are seen at the next tick."""

    def __init__(self, db_path: str, seeds_dir: Path, config: Config, tick: float = 60.0):
        self.db_path = db_path
        self.seeds_dir = seeds_dir
        self.config = config
        self.tick_seconds = tick
        self.stopping = threading.Event()
        self._signature: tuple | None = None
        self._poller: Poller | None = None
        self._first_tick = True
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)  # before anything slow: a stop during start-up is clean too
        self.db = open_db(db_path)
        self._lock_fd = self._lock_store()

    def _lock_store(self) -> int | None:
        """Hold an flock on the store file for the daemon's life: a second daemon on one store would fetch every
        feed twice (past the per-host limit) and race the first on each feed's state. The kernel lets it go
        when the process ends, however it ends; SQLite's own locks are POSIX locks, which flock does not touch."""
        if self.db_path == ":memory:":
            return None
        fd = os.open(self.db_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.db.conn.close()  # before fd: closing a file's fd drops this process's POSIX locks on it
            os.close(fd)
            raise UsageError(f"another seedwatch daemon is running on {self.db_path}; one daemon polls a store") from None
        return fd

    def close(self) -> None:
        """Close the store, then let go of the daemon's lock on it."""
        self.db.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
        # One worker: jobs never overlap, so they can share one connection.
        scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)}, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        scheduler.add_job(self.tick, "interval", seconds=self.tick_seconds, id="tick", next_run_time=datetime.now(timezone.utc))
        scheduler.add_job(self.maintenance, "interval", hours=MAINTENANCE_HOURS, id="maintenance")
        log.info("seedwatch daemon started: db %s, seeds %s, tick %gs", self.db_path, self.seeds_dir, self.tick_seconds)
        scheduler.start()
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            log.info("stopping: letting the current poll finish its transaction")
            scheduler.shutdown(wait=True)
            self.close()
        log.info("seedwatch daemon stopped")
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stopping.set()
        if self._poller is not None:
            self._poller.stop.set()

    def tick(self) -> None:
        """Sync the seeds folder if it changed, then poll the feeds that are due."""
        if self.stopping.is_set():
            return
        try:
            self._sync_if_changed()
            self._finish_scoring()
            if self.stopping.is_set():
                return
            due = store_feeds.due_feeds(self.db, iso())
            if not due:
                return
            self._poller = Poller(self.db, self.config)
            if self.stopping.is_set():
                self._poller.stop.set()
            try:
                summary = asyncio.run(self._poller.poll(due))
            finally:
                self._poller.close()
                self._poller = None
            log.info(summary.line())
            scored = learn_from_best_matches(self.db, self.config, stop=self.stopping.is_set)
            if scored:
                log.info("seeds learned from their best matches: %d articles scored again", scored)
        except Exception:  # noqa: BLE001 - a failed tick is logged; the next tick tries again
            log.exception("tick failed")

    def _sync_if_changed(self) -> None:
        signature = seeds_signature(self.seeds_dir)
        if signature == self._signature:
            return
        if not self.seeds_dir.is_dir():
            self._signature = signature
            log.warning("seeds folder %s does not exist; skipping sync", self.seeds_dir)
            return
        try:
            log.info(sync_folder(self.db, self.seeds_dir, self.config, stop=self.stopping.is_set).line())
        except SeedwatchError as exc:
            log.error("seeds sync failed (tried again next tick): %s", exc)
            return
        self._signature = signature  # only once synced: a sync that failed (a store error) is tried again

    def _finish_scoring(self) -> None:
        """Finish seed scoring a killed or interrupted run left pending (all of it at start-up).

        Later, only scoring that has made no progress for SCORING_IDLE seconds: a `seeds add` running in a
        terminal is scoring its own seed, and doing it twice would only slow both down.
        """
        idle_for = None if self._first_tick else SCORING_IDLE
        self._first_tick = False
        scored = finish_seed_scoring(self.db, self.config, stop=self.stopping.is_set, idle_for=idle_for)
        if scored:
            log.info("finished scoring pending seeds on %d stored articles", scored)

    def maintenance(self) -> None:
        """Merge the FTS index and refresh SQLite's statistics."""
        try:
            store_review.optimize(self.db)
            log.info("maintenance: FTS optimized, PRAGMA optimize done")
        except Exception:  # noqa: BLE001
            log.exception("maintenance failed")
