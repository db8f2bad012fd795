"""Poll: refresh_feed runs one feed through fetch -> parse -> normalise -> process -> store; poll_feeds runs many.

Fetches run concurrently on the event loop; parsing and storing run one feed at a time on a single worker
thread that owns the database connection, so one feed's transaction never interleaves with another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import multiprocessing
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from store import articles as store_articles
from store import feeds as store_feeds
from store import seeds as store_seeds
from store.db import StoreError, checkpoint_rarely, fit_page_cache, iso, iso_in, release_page_cache, transaction

from . import schedule
from .config import Config
from .errors import FetchError, HTTPStatusError, ParseError
from .extract import PRELOAD as PARSER_PRELOAD, Extracted, extract, start_parser_process
from .fetcher import Fetcher, FetchResult
from .stats import ProcessStats

if TYPE_CHECKING:
    import sqlite_utils
    from .normalise import Entry
    from .parser import ParsedFeed
    from .processor import Features, Matcher

log = logging.getLogger("seedwatch.poll")

PARALLEL_MIN_FEEDS = 8  # from this many feeds a poll parses every body in parser processes (on every core)
DF_WRITE_SECONDS = 5.0  # committed feeds' document frequencies go with the first commit this long after the last write, and at the poll's end
STOP_MARGIN = 0.25  # seconds before a feed's deadline at which an unfinished parse is stopped (to record it)
CHECKED_BATCH = 50  # states of feeds with nothing new (304, same bytes) written together, this many at a time


# The parsing and matching stages are imported when a feed first has a new body to read: a poll whose
# feeds all answer 304 (or send the bytes they sent last time) never needs them, and they cost ~35 ms.
def parse_feed(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """ingest.parser.parse_feed, imported on first use."""
    from .parser import parse_feed as parse

    return parse(content, headers, url)


def normalise_entries(entries: list, url: str) -> list[Entry]:
    """ingest.normalise.normalise_entries, imported on first use."""
    from .normalise import normalise_entries as normalise

    return normalise(entries, url)


def extract_main_text(content: bytes, url: str) -> str:
    """ingest.seeds.extract_main_text, imported on first use."""
    from .seeds import extract_main_text as main_text

    return main_text(content, url)


@dataclass
class FeedOutcome:
    """What one feed's poll did, for the summary line and the progress bar."""

    feed_id: int
    url: str
    status: str  # new-entries, unchanged, not-modified, error, gone
    stats: ProcessStats = field(default_factory=ProcessStats)
    error: str | None = None


@dataclass
class PollSummary:
    feeds: int = 0
    ok: int = 0
    failed: int = 0
    unchanged: int = 0
    stats: ProcessStats = field(default_factory=ProcessStats)
    seconds: float = 0.0
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def line(self) -> str:
        s = self.stats
        return (
            f"polled {self.feeds} feeds in {self.seconds:.1f} s: {self.ok} ok ({self.unchanged} unchanged), "
            f"{self.failed} failed; {s.new} new articles, {s.related} related, {s.copies} copies, "
            f"{s.duplicates} duplicates"
        )


class Poller:
    """Polls feeds against one database with one shared HTTP client."""

    def __init__(self, db: sqlite_utils.Database, config: Config | None = None, fetcher: Fetcher | None = None):
        self.db = db
        self.config = config or Config()
        self.fetcher = fetcher
        self.rng = random.Random()
        self.stop = threading.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seedwatch-store")
        self._parsers: ParserPool | None = None  # parses and extracts features on every core, with a deadline
        self._many = False  # this poll has PARALLEL_MIN_FEEDS feeds or more: every body goes to the parsers
        self._matcher: Matcher | None = None
        self._in_flight = InFlight(self.config.feeds_in_flight, self.config.bytes_in_flight)  # again in poll()
        self._seeds_version = 0  # store_seeds.version() when the Matcher was built
        # Document frequencies of committed articles not yet written to the store: a feed's terms are
        # mostly those of the feeds before it, so upserting them every DF_WRITE_SECONDS instead of with
        # every feed writes a fraction of the rows. A kill -9 loses them; they only weigh terms.
        self._df: Counter[str] = Counter()
        self._df_docs = 0
        self._df_written_at = 0.0
        self._df_written()
        # States of feeds checked with nothing new, not yet written: a hop to the store thread per feed
        # costs more than its write (~0.2 ms a feed on the loop, waiting for the thread to take the GIL).
        self._checked: list[tuple[int, dict]] = []
        fit_page_cache(self.db)
        checkpoint_rarely(self.db)

    async def poll(
        self, feeds: list[dict], progress: Callable[[FeedOutcome], None] | None = None
    ) -> PollSummary:
        """Poll these feeds concurrently (within the fetcher's limits); never raises for a feed's fault."""
        started = time.monotonic()
        summary = PollSummary(feeds=len(feeds))
        self._many = len(feeds) >= PARALLEL_MIN_FEEDS
        if self.config.parse_in_processes and self._parsers is None:
            workers = min(os.cpu_count() or 1, max(1, len(feeds)))
            self._parsers = ParserPool(workers, parser_processes(self.config.parser_memory_mb))
        self._matcher = None  # built by the first feed that has something to judge (a poll of 304s needs none)
        self._in_flight = InFlight(self.config.feeds_in_flight, self.config.bytes_in_flight)
        own_fetcher = self.fetcher is None
        fetcher = self.fetcher or Fetcher(self.config.fetch)
        # Feeds are started as others end, no more than can be fetched and admitted at once: a task started
        # early would hold its fetched body while it waits (2,000 feeds: the whole 360 MB of the bench farm).
        waiting = list(reversed(feeds))
        most = self.config.feeds_in_flight + self.config.fetch.global_limit
        pending: set[asyncio.Task] = set()
        try:
            while waiting or pending:
                while waiting and len(pending) < most and not self.stop.is_set():
                    pending.add(asyncio.create_task(self.refresh_feed(fetcher, waiting.pop())))
                if not pending:
                    break
                done, pending = await asyncio.wait(pending, timeout=0.2, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._count(summary, task.result(), progress)
                if self.stop.is_set() and pending:
                    # A feed already being stored finishes its transaction on the worker thread.
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    pending = set()
        finally:
            if own_fetcher:
                await fetcher.aclose()
            await self._flush_checked()
            await asyncio.get_running_loop().run_in_executor(self._worker, self._write_df)
        summary.seconds = time.monotonic() - started
        return summary

    @staticmethod
    def _count(summary: PollSummary, outcome: FeedOutcome, progress: Callable[[FeedOutcome], None] | None) -> None:
        summary.outcomes.append(outcome)
        if outcome.status in ("error", "gone"):
            summary.failed += 1
        elif outcome.status != "skipped":
            summary.ok += 1
            summary.unchanged += outcome.status in ("unchanged", "not-modified")
        summary.stats.add(outcome.stats)
        if progress:
            progress(outcome)

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        try:
            checked, self._checked = self._checked, []
            self._write_checked(checked)  # a poll cancelled before its own flush
            self._write_df()
        finally:
            release_page_cache(self.db)
            checkpoint_rarely(self.db, False)
            if self._parsers is not None:
                self._parsers.close()

    async def refresh_feed(self, fetcher: Fetcher, feed: dict) -> FeedOutcome:
        """Fetch one feed and store what is new; every failure is recorded on the feed, not raised."""
        try:
            return await self._refresh_feed(fetcher, feed)
        except Exception as exc:  # noqa: BLE001 - a bug on one feed's bytes must not end the poll of the others
            log.error("%s: unexpected %s: %s", feed["url"], type(exc).__name__, exc)
            log.debug("%s: traceback", feed["url"], exc_info=True)
            message = f"seedwatch could not process this feed (internal {type(exc).__name__}; see the log)"
            return await self._fail(feed, message)

    async def _refresh_feed(self, fetcher: Fetcher, feed: dict) -> FeedOutcome:
        started = time.monotonic()
        if self.stop.is_set():
            return FeedOutcome(feed["id"], feed["url"], "skipped")
        try:
            result = await asyncio.wait_for(
                fetcher.get(feed["url"], feed["etag"], feed["last_modified"]), self.config.poll_deadline
            )
        except asyncio.TimeoutError:
            return await self._fail(feed, f"poll took over {self.config.poll_deadline:g} s")
        except HTTPStatusError as exc:
            return await self._fail(feed, str(exc), exc.status, exc.retry_after)
        except FetchError as exc:
            return await self._fail(feed, str(exc))
        async with self._in_flight.admit(len(result.content or b"")):
            # The deadline runs from the feed's start, its waits for a turn included (so a poll ends on time),
            # but a feed admitted late still gets a sixth of it (10 s of the default 60 s) to parse.
            deadline = max(started + self.config.poll_deadline, time.monotonic() + self.config.poll_deadline / 6)
            return await self._process(fetcher, feed, result, deadline)

    async def _process(self, fetcher: Fetcher, feed: dict, result: FetchResult, deadline: float) -> FeedOutcome:
        """Parse (by the feed's deadline, a time.monotonic()), fetch full texts, and store one fetched feed."""
        loop = asyncio.get_running_loop()
        extracted = None
        size = len(result.content or b"")
        new_hash = None if result.not_modified else body_hash(result)
        changed = new_hash is not None and new_hash != feed["body_hash"]
        if not changed and not result.permanent_target:
            return await self._nothing_new(feed, result)
        if changed and self._parsers is not None and (self._many or size > self.config.parse_inline_bytes):
            known = await loop.run_in_executor(self._worker, store_articles.feed_guids, self.db, feed["id"])
            try:
                extracted = await self._parsers.run(
                    deadline, extract, result.content or b"", result.headers, result.url, self.config.match.shingle_size, known
                )
            except ParseError as exc:
                return await self._fail(feed, str(exc))
            except BrokenProcessPool:
                # Twice: this feed kills the process that reads it (out of memory, a crash in C); it is not
                # parsed in the daemon's own process, where it would do the same.
                message = "a parser process died reading this feed (out of memory or a crash)"
                return await self._fail(feed, message)
        prepared = await loop.run_in_executor(self._worker, self._prepare, feed, result, new_hash, extracted)
        if isinstance(prepared, FeedOutcome):
            return prepared
        if prepared.full_text:
            await self._fetch_full_text(fetcher, prepared.full_text, deadline)
            for entry in prepared.full_text:
                prepared.features.pop(entry.guid, None)  # its text changed
        return await loop.run_in_executor(self._worker, self._commit, feed, prepared)

    async def _fetch_full_text(self, fetcher: Fetcher, entries: list[Entry], deadline: float) -> None:
        """Replace brief entries' text with their article page's main text, by the feed's deadline (a time.monotonic())."""
        loop = asyncio.get_running_loop()

        async def one(entry: Entry) -> None:
            try:
                page = await fetcher.get(entry.link or entry.url, accept="text/html, application/xhtml+xml;q=0.9, */*;q=0.5")
            except FetchError as exc:
                log.info("full text of %s: %s", entry.link, exc)
                return
            text = await loop.run_in_executor(self._worker, extract_main_text, page.content or b"", page.url)
            if text and len(text) > len(entry.content):
                entry.content = text

        tasks = [asyncio.create_task(one(e)) for e in entries]
        # What is left of the feed's deadline, less the margin its store needs: the pages that are not in by
        # then keep their brief text, and the feed's poll ends on time.
        left = max(0.0, deadline - STOP_MARGIN - time.monotonic())
        done, pending = await asyncio.wait(tasks, timeout=left)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("full text: %d of %d pages not fetched by the poll deadline (%.1f s left for them)", len(pending), len(tasks), left)

    async def _nothing_new(self, feed: dict, result: FetchResult) -> FeedOutcome:
        """A 304, or the bytes the feed sent last time: its state joins the others waiting to be written."""
        state = {**self._checked_state(feed, result), **self._redirect_state(feed, result)}
        state = self._next_check(feed, state, schedule.max_age(result.headers))
        self._checked.append((feed["id"], state))
        if len(self._checked) >= CHECKED_BATCH:
            await self._flush_checked()
        return FeedOutcome(feed["id"], feed["url"], "not-modified" if result.not_modified else "unchanged")

    async def _flush_checked(self) -> None:
        """Write the waiting states of feeds with nothing new, on the store thread."""
        checked, self._checked = self._checked, []
        if not checked:
            return
        job = self._worker.submit(self._write_checked, checked)
        try:
            await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            # A stop cancels the feed that carries the batch. A write that has not started is put back for
            # close() to make (one under way ends before close() goes on): those feeds were counted.
            if job.cancelled() or job.cancel():
                self._checked[:0] = checked
            raise

    @staticmethod
    def _checked_state(feed: dict, result: FetchResult) -> dict:
        """A successful check's state, with the validators the response came with."""
        now = iso()
        state: dict = {"last_checked_at": now, "last_success_at": now, "status": "ok", "error_count": 0, "last_error": None}
        if not result.not_modified:
            state["etag"] = result.headers.get("etag")
            state["last_modified"] = result.headers.get("last-modified")
        else:  # a 304 carries the validators a 200 would have (RFC 9110 15.4.5): newer ones replace the stored
            state.update({k: result.headers[h] for k, h in (("etag", "etag"), ("last_modified", "last-modified")) if result.headers.get(h)})
        return state

    def _next_check(self, feed: dict, state: dict, ttl: float | None) -> dict:
        """The state of a feed whose body is the one stored, with its TTL and the time of the next check.

        The stored TTL holds the feed's own <ttl>, which a 304 or the same bytes still carry; a response's
        max-age replaces it only when longer (a shorter one takes effect when the body next changes).
        """
        state["ttl_seconds"] = max(ttl or 0, feed["ttl_seconds"] or 0) or None
        after = schedule.after_success(feed["interval_seconds"], state["ttl_seconds"], self.config.schedule, self.rng)
        state["next_check_at"] = iso_in(after)
        return state

    # Everything below runs on the store worker thread.

    def _write_checked(self, checked: list[tuple[int, dict]]) -> None:
        """Write the states of feeds checked with nothing new, in one transaction."""
        if not checked:
            return
        try:
            store_feeds.update_feeds(self.db, checked)
        except (sqlite3.Error, StoreError) as exc:
            # Only the times of checks are lost: those feeds are checked again when next due, as before.
            log.error("states of %d feeds checked with nothing new not stored: %s", len(checked), exc)

    def _judge(self) -> Matcher:
        """The poll's Matcher, built on first use."""
        if self._matcher is None:
            self._matcher = self._new_matcher()
        return self._matcher

    def _new_matcher(self) -> Matcher:
        """A Matcher over the stored seeds; the seeds version is read first, so a seed stored meanwhile only costs a rebuild."""
        from .processor import Matcher

        self._seeds_version = store_seeds.version(self.db)
        matcher = Matcher(self.db, self.config.match)
        matcher.vocab.merge(self._df, self._df_docs)
        return matcher

    def _write_df(self) -> None:
        """Write the document frequencies of the articles committed since they were last written."""
        if not self._df_docs:
            return
        try:
            with transaction(self.db):
                store_articles.add_df_tx(self.db, self._df, self._df_docs)
        except (sqlite3.Error, StoreError) as exc:  # StoreError: the write lock stayed taken for too long
            log.error("document frequencies of %d articles not stored (kept for the next try): %s", self._df_docs, exc)
            return
        self._df_written()

    def _df_written(self) -> None:
        """The unwritten document frequencies are in the store now: start counting afresh."""
        self._df, self._df_docs, self._df_written_at = Counter(), 0, time.monotonic()

    def _prepare(
        self, feed: dict, result: FetchResult, new_hash: str | None, extracted: "Extracted | None" = None
    ) -> "FeedOutcome | _Prepared":
        """Parse a fetched body (new_hash: its body_hash, None for a 304); a 304 or an unchanged body that came by a
        permanent redirect (the others go by _nothing_new), or a parse error, ends the poll here."""
        cfg = self.config.schedule
        state = self._checked_state(feed, result)
        state.update(self._redirect_state(feed, result))
        ttl = schedule.max_age(result.headers)
        outcome = FeedOutcome(feed["id"], feed["url"], "not-modified")
        try:
            if not result.not_modified:
                if new_hash != feed["body_hash"]:
                    if extracted is None:
                        parsed = parse_feed(result.content or b"", result.headers, result.url)
                        entries, features = normalise_entries(parsed.entries, result.url), {}
                    else:
                        parsed, entries, features = extracted.feed, extracted.entries, extracted.features
                    ttl = max(ttl or 0, parsed.ttl_seconds or 0) or None
                    state.update(
                        body_hash=new_hash,
                        title=feed["title"] or parsed.title,
                        site_url=parsed.link,
                        entry_count=len(entries),
                        ttl_seconds=ttl,
                        next_check_at=iso_in(schedule.after_success(feed["interval_seconds"], ttl, cfg, self.rng)),
                    )
                    full_text = self._judge().full_text_candidates(feed["id"], entries) if feed["full_text"] else []
                    return _Prepared(state, entries, full_text, features)
                outcome.status = "unchanged"
            store_feeds.update_feed(self.db, feed["id"], self._next_check(feed, state, ttl))
            return outcome
        except ParseError as exc:
            return self._record_error(feed, str(exc), None, None, body_hash=None)
        except (sqlite3.Error, StoreError) as exc:
            return self._store_failed(feed, exc)

    def _commit(self, feed: dict, prepared: "_Prepared") -> FeedOutcome:
        """Store a feed's new entries and its state in one transaction."""
        from .processor import process_entries

        outcome = FeedOutcome(feed["id"], feed["url"], "new-entries")
        try:
            with transaction(self.db):
                if self._matcher is None or store_seeds.version(self.db) != self._seeds_version:
                    # A seed was added, changed or removed since the Matcher was built (`seeds add` while this
                    # poll runs): judge with the stored seeds, or these articles would miss or break on it.
                    self._matcher = self._new_matcher()
                outcome.stats = process_entries(
                    self.db, self._matcher, feed["id"], prepared.entries, prepared.features, write_df=False
                )
                counts, docs = self._matcher.vocab.take_pending()
                write_df = time.monotonic() - self._df_written_at >= DF_WRITE_SECONDS
                if write_df:
                    store_articles.add_df_tx(self.db, self._df, self._df_docs)
                    store_articles.add_df_tx(self.db, counts, docs)
                store_feeds.update_feed_in_tx(self.db, feed["id"], self._unless_taken(prepared.state))
        except (sqlite3.Error, StoreError) as exc:  # StoreError: another writer held the lock for too long
            self._matcher = None  # its in-memory counts included the rolled-back batch: built again when next needed
            return self._store_failed(feed, exc)
        except BaseException:
            self._matcher = None  # the same, for a bug or an interrupt: the caller records it
            raise
        if write_df:
            self._df_written()
            fit_page_cache(self.db)  # on the same DF_WRITE_SECONDS clock: the store grows during a long poll
        else:
            self._df.update(counts)
            self._df_docs += docs
        self._matcher.refresh()
        log.info("%s: %d new, %d related, %d copies", feed["url"], outcome.stats.new, outcome.stats.related, outcome.stats.copies)
        return outcome

    def _store_failed(self, feed: dict, exc: sqlite3.Error | StoreError) -> FeedOutcome:
        # Disk full, a corrupt page, a lock held too long: the transaction rolled back; the feed is retried later.
        log.error("%s: store failed: %s", feed["url"], exc)
        return self._record_error(feed, f"store failed: {exc}", None, None)

    def _unless_taken(self, state: dict) -> dict:
        """The state, without its move to a new URL if a feed has that URL now: another feed moved there since
        _prepare decided (the same poll), or it was added meanwhile. Checked in the write transaction."""
        target = state.get("url")
        if target is None or store_feeds.find_feed(self.db, target) is None:
            return state
        kept = {k: v for k, v in state.items() if k not in ("url", "previous_url")}
        return {**kept, "redirect_target": target, "redirect_streak": self.config.schedule.permanent_redirect_polls}

    def _redirect_state(self, feed: dict, result: FetchResult) -> dict:
        target = result.permanent_target
        if not target:
            return {"redirect_target": None, "redirect_streak": 0}
        streak = feed["redirect_streak"] + 1 if feed["redirect_target"] == target else 1
        if streak >= self.config.schedule.permanent_redirect_polls and store_feeds.find_feed(self.db, target) is None:
            log.info("%s moved permanently to %s", feed["url"], target)
            return {"url": target, "previous_url": feed["url"], "redirect_target": None, "redirect_streak": 0}
        return {"redirect_target": target, "redirect_streak": streak}

    async def _fail(self, feed: dict, message: str, status: int | None = None, retry_after: float | None = None) -> FeedOutcome:
        """Record a failed check on the store thread, with the time it failed (the thread may be busy storing)."""
        loop = asyncio.get_running_loop()
        failed_at = iso()
        return await loop.run_in_executor(
            self._worker, functools.partial(self._record_error, feed, message, status, retry_after, last_checked_at=failed_at)
        )

    def _record_error(
        self, feed: dict, message: str, status: int | None, retry_after: float | None, **extra: object
    ) -> FeedOutcome:
        cfg = self.config.schedule
        errors = feed["error_count"] + 1
        # A failed poll does not confirm a permanent redirect: the move needs it on consecutive good polls.
        state: dict = {"last_checked_at": iso(), "error_count": errors, "last_error": message, "redirect_streak": 0, **extra}
        if status == 410:
            state.update(status="gone", next_check_at=None, last_error="HTTP 410 Gone: the feed was removed; disabled")
        else:
            state["status"] = "error"
            state["next_check_at"] = iso_in(schedule.after_error(errors, cfg, retry_after, self.rng))
        try:
            store_feeds.update_feed(self.db, feed["id"], state)
        except (sqlite3.Error, StoreError) as exc:
            log.error("%s: could not record error: %s", feed["url"], exc)
        log.warning("%s: %s", feed["url"], state["last_error"])
        return FeedOutcome(feed["id"], feed["url"], "gone" if status == 410 else "error", error=state["last_error"])


@dataclass
class _Prepared:
    """A parsed feed waiting to be stored: its new state, its entries, the entries to fetch in full."""

    state: dict
    entries: list[Entry]
    full_text: list[Entry]
    features: dict[str, Features]


class InFlight:
    """Admission of fetched feeds to parsing and storing: at most `feeds` at once, and `budget` bytes of bodies
    (a body over the budget goes alone), so what waits for the one store thread stays bounded in memory."""

    def __init__(self, feeds: int, budget: int):
        self.feeds, self.budget = feeds, budget
        self._count = 0
        self._bytes = 0
        self._changed: asyncio.Condition | None = None  # made on first use, on the running loop

    @contextlib.asynccontextmanager
    async def admit(self, size: int) -> AsyncIterator[None]:
        """Wait for room for a body of this size, hold it while the block runs."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._count == 0 or (self._count < self.feeds and self._bytes + size <= self.budget)
            )
            self._count += 1
            self._bytes += size
        try:
            yield
        finally:
            async with self._changed:
                self._count -= 1
                self._bytes -= size
                self._changed.notify_all()


class ParserPool:
    """Parser processes with a deadline per feed: a parse that overruns is killed, with the processes it ran in.

    ProcessPoolExecutor cannot stop a call that has started, so an overrun kills the pool's processes and
    the next feed starts a new pool; a feed whose parse died with them is tried once more in the new one.
    """

    def __init__(self, workers: int, start: Callable[[int], Executor] | None = None):
        self.workers = workers
        self._start = start or parser_processes(Config.parser_memory_mb)
        self._executor: Executor | None = None

    async def run(self, deadline: float, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a parser process, by time.monotonic() deadline; ParseError when it is not done by then."""
        for attempt in range(2):
            executor = self._executor or self._new()
            future = asyncio.wrap_future(executor.submit(fn, *args))
            try:
                return await asyncio.wait_for(future, max(0.0, deadline - STOP_MARGIN - time.monotonic()))
            except asyncio.TimeoutError:
                self._kill(executor)
                raise ParseError("parsing did not finish within the poll deadline; stopped") from None
            except BrokenProcessPool:
                self._kill(executor)
                if attempt or time.monotonic() >= deadline:
                    raise
        raise AssertionError("unreachable")

    def _new(self) -> Executor:
        self._executor = self._start(self.workers)
        return self._executor

    def _kill(self, executor: Executor) -> None:
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        if self._executor is executor:
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def parser_processes(memory_mb: int) -> Callable[[int], ProcessPoolExecutor]:
    """A ParserPool start function: forkserver processes that exit with this one and may use memory_mb of data."""

    def start(workers: int) -> ProcessPoolExecutor:
        # forkserver: the daemon has threads, and fork() copies their locks in whatever state they are in.
        # The server imports the parsing stages once (it lives as long as this process), and the workers it
        # forks start with them loaded. "__main__" is the default preload, kept; CPython 3.11 ignores it
        # (gh-126631), and each worker runs a script __main__ again: the `seedwatch` script imports only
        # ingest.__main__. The setting counts when the server starts, i.e. at this process's first pool.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", *PARSER_PRELOAD])
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=start_parser_process,
            initargs=(os.getpid(), memory_mb),
        )

    return start


def body_hash(result: FetchResult) -> str:
    return hashlib.sha256(result.content or b"").hexdigest()


def poll_feeds(
    db: sqlite_utils.Database,
    feeds: list[dict],
    config: Config | None = None,
    progress: Callable[[FeedOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
) -> PollSummary:
    """Poll these feeds once and return the summary (a blocking wrapper around Poller)."""
    poller = Poller(db, config, fetcher)
    try:
        return asyncio.run(poller.poll(feeds, progress))
    finally:
        poller.close()


def poll_due(db: sqlite_utils.Database, config: Config | None = None, include_all: bool = False, **kw) -> PollSummary:
    """Poll the feeds that are due now (every enabled feed with include_all)."""
    return poll_feeds(db, store_feeds.due_feeds(db, iso(), include_all), config, **kw)
