"""Actions the CLI and the daemon share: add seeds (and score the store against them), add feeds, sync seeds/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from store import feeds as store_feeds
from store import seeds as store_seeds
from store.db import iso, transaction, utcnow

from .config import Config, FetchConfig
from .errors import FetchError, ParseError, SeedError, UsageError
from .fetcher import Fetcher
from .learn import learn_from_best_matches
from .opml import parse_feed_list, parse_opml
from .parser import discover_feeds, parse_feed
from .processor import Matcher, Progress, rejudge_tx, rescore
from .seeds import SEED_SUFFIXES, SeedDoc, load_seed_file, seed_from_html

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger("seedwatch")


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def check_feed_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host, else UsageError."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not a feed URL: {url!r} (expected http:// or https://)")
    return url.strip()


def save_seed(db: sqlite_utils.Database, doc: SeedDoc, config: Config | None = None, progress: Progress | None = None) -> tuple[int, str, int]:
    """Store a seed and, when it is new or changed, score every stored article against it.

    Where the seed calls an article its own, now or before the change, the other seeds' judgements of that
    article are made again too, since a seed may claim an article from another (processor.Matcher.judge).

    Returns (id, 'added' | 'updated' | 'unchanged', articles scored). The store marks the scoring as
    pending in the seed's own transaction, so a run cut short is finished by the next one; scoring an
    earlier run left pending is finished here too. Then the seeds learn from their best matches
    (learn_from_best_matches), which may score the store again.
    """
    seed_id, change = _store(db, doc)
    scored = finish_seed_scoring(db, config, progress=progress)
    learn_from_best_matches(db, config, progress=progress, at_once=change != "unchanged")
    return seed_id, change, scored


def _store(db: sqlite_utils.Database, doc: SeedDoc) -> tuple[int, str]:
    return store_seeds.upsert_seed(db, doc.name, doc.title, doc.body, doc.content_hash, doc.url, doc.threshold, doc.keywords, doc.source)


SCORING_IDLE = 60  # seconds without progress after which a seed's pending scoring is taken over


def finish_seed_scoring(
    db: sqlite_utils.Database,
    config: Config | None = None,
    stop: Callable[[], bool] | None = None,
    idle_for: float | None = None,
    also: Iterable[int] = (),
    progress: Progress | None = None,
) -> int:
    """Finish every seed's pending scoring (a seed added, changed or rescored by a run that was cut short).

    With idle_for, only seeds whose scoring made no progress for that many seconds, and the seeds in
    also: another process (a `seeds add` in a terminal) may be scoring the others right now. Returns the
    articles scored.
    """
    pending = store_seeds.scoring_pending(db)
    if idle_for is not None:
        cutoff = iso(utcnow() - timedelta(seconds=idle_for))
        mine = set(also)
        pending = {i: p for i, p in pending.items() if i in mine or p[1] is None or p[1] < cutoff}
    if not pending:
        return 0
    config = config or Config()
    return rescore(db, config.match, list(pending), restart=False, stop=stop, processes=config, progress=progress).new


def remove_seed(db: sqlite_utils.Database, seed_id: int, config: Config | None = None) -> int:
    """Remove a seed and its matches; the articles it called its own are judged again for the other seeds.

    A seed may have claimed those articles from the others (processor.Matcher.judge), and a claimed row is
    always stored beside a row of the claiming seed that calls the article its own (processor.rescore).
    Both happen in one transaction, so no article stays claimed by a seed that is gone. Returns the
    articles judged again.
    """
    with transaction(db):
        own = store_seeds.remove_seed_tx(db, seed_id)
        matcher = Matcher(db, (config or Config()).match) if own else None
        return rejudge_tx(db, matcher, own) if matcher and matcher.seeds else 0


def load_seed(source: str, name: str | None = None, fetch: FetchConfig | None = None) -> SeedDoc:
    """A seed from a file path or an article URL."""
    if is_url(source):
        async def get() -> SeedDoc:
            async with Fetcher(fetch) as f:
                result = await f.get(source, accept="text/html, application/xhtml+xml;q=0.9, */*;q=0.5")
            return seed_from_html(result.content or b"", result.url, name)

        try:
            return asyncio.run(get())
        except FetchError as exc:  # the network failed, not the user: exit 1, like feeds add
            raise FetchError(f"cannot load seed from {source}: {exc}") from None
    return load_seed_file(source, name)


async def resolve_feed(fetcher: Fetcher, url: str) -> tuple[str, str | None]:
    """The feed URL for url (itself, or the feed an HTML page advertises) and the feed's title."""
    result = await fetcher.get(url)
    try:
        parsed = parse_feed(result.content or b"", result.headers, result.url)
        return url, parsed.title
    except ParseError as first:
        candidates = discover_feeds(result.content or b"", result.url)
        if not candidates:
            raise ParseError(f"{url} is neither a feed nor a page that advertises one ({first})") from None
        for candidate in candidates:
            try:
                found = await fetcher.get(candidate)
                parsed = parse_feed(found.content or b"", found.headers, found.url)
                return candidate, parsed.title
            except Exception:  # noqa: BLE001 - try the next advertised feed
                continue
        raise ParseError(f"{url} advertises feeds, but none of them could be read") from None


@dataclass
class SyncReport:
    seeds: dict[str, str] = field(default_factory=dict)  # name -> added/updated/unchanged
    feeds_added: int = 0
    feeds_known: int = 0
    scored: int = 0  # stored articles scored against new or changed seeds
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        changed = {k: v for k, v in self.seeds.items() if v != "unchanged"}
        parts = [f"{len(self.seeds)} seeds ({len(changed)} added or updated)", f"{self.feeds_added} feeds added ({self.feeds_known} known)"]
        if self.scored:
            parts.append(f"{self.scored} stored articles scored")
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        return "synced " + ", ".join(parts)


def seeds_signature(folder: Path) -> tuple:
    """What changed-detection looks at: names, sizes and mtimes of the folder's seed and feed files."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()))


def sync_folder(
    db: sqlite_utils.Database,
    folder: Path,
    config: Config | None = None,
    stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Load seeds/*.txt|*.md (not hidden ones) and seeds/feeds.opml|feeds.txt; idempotent, and one bad file spoils nothing else.

    New and changed seeds are stored first, then scored together in one pass over the stored articles
    (until stop() turns true; what is left stays pending for the next run).
    """
    report = SyncReport()
    if not folder.is_dir():
        raise UsageError(f"seeds folder {folder} does not exist")
    loaded_from: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if (path.suffix.lower() in SEED_SUFFIXES and path.is_file() and not path.name.startswith(".")  # hidden: ._x.md, editors' files
                and path.name.lower() not in ("readme.md", "feeds.txt")):
            try:
                doc = load_seed_file(path)
            except SeedError as exc:
                report.errors.append(str(exc))
                continue
            if doc.name in loaded_from:  # two files, one seed name: the second would overwrite the first at each sync
                report.errors.append(f"seed {path} is named {doc.name!r}, as {loaded_from[doc.name]} is; skipped "
                                     "(rename the file or give it a 'name:' in its front matter)")
                continue
            loaded_from[doc.name] = path
            _, report.seeds[doc.name] = _store(db, doc)
    report.scored = finish_seed_scoring(db, config, stop, progress=progress)
    learn_from_best_matches(db, config, stop, progress=progress, at_once=any(v != "unchanged" for v in report.seeds.values()))
    urls: list[tuple[str, str | None, str | None]] = []
    opml_path, txt_path = folder / "feeds.opml", folder / "feeds.txt"
    if opml_path.is_file():
        try:
            urls += [(f.url, f.title, f.site_url) for f in parse_opml(opml_path.read_bytes(), str(opml_path))]
        except Exception as exc:  # noqa: BLE001 - reported, the rest still syncs
            report.errors.append(str(exc))
    if txt_path.is_file():
        try:
            urls += [(u, None, None) for u in parse_feed_list(txt_path.read_text(encoding="utf-8", errors="replace"))]
        except OSError as exc:
            report.errors.append(f"{txt_path} cannot be read: {exc.strerror or exc}")
    for url, title, site in urls:
        try:
            _, created = store_feeds.add_feed(db, check_feed_url(url), title=title, site_url=site)
        except UsageError as exc:
            report.errors.append(str(exc))
            continue
        report.feeds_added += created
        report.feeds_known += not created
    for error in report.errors:
        log.warning("seeds sync: %s", error)
    return report
