"""The seedwatch command line: thin Click commands over ingest/ and store/."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click

from store import feeds as store_feeds
from store import review as store_review
from store import seeds as store_seeds
from store.db import Reader, StoreError, iso, open_db, open_reader, utcnow

from . import render
from .config import DEFAULT_SEEDS_DIR, VERSION, Config, FetchConfig, MatchConfig, default_db_path
from .errors import FetchError, OPMLError, ParseError, SeedError, SeedwatchError, UsageError


# Commands that only read the store and log nothing: unless -v or -q asks, they skip importing and setting up
# logging, ~4 ms of a start-up that `query` wants under 50 ms (issue 5). A warning logged anyway still
# reaches stderr.
SILENT_COMMANDS = frozenset({"query", "show", "stats", "export"})
QUERY_FIELDS = [
    "id", "url", "title", "published_at", "first_seen_at", "feed_url", "seed", "score", "verdict", "status", "duplicate_of",
    "status_at", "note",
]
OUTPUT = click.Path(dir_okay=False, writable=True, allow_dash=True)  # written by _write_output once complete


class _ArticleId(click.ParamType):
    """An article id: a positive SQLite integer (a bigger one is misuse, not a crash)."""

    name = "article id"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**63:
            self.fail(f"{value!r} is not an article id (a whole number from 1, as `query` lists them)", param, ctx)
        return int(text)


ARTICLE_ID = _ArticleId()
FEED_FIELDS = ["id", "url", "title", "status", "last_success_at", "error_count", "last_error", "next_check_at"]


class State:
    """Global options, and the database opened on first use."""

    def __init__(self, db_path: str, seeds_dir: str, verbose: int, quiet: bool, block_private: bool):
        self.db_path = db_path
        self.seeds_dir = Path(seeds_dir)
        self.verbose = verbose
        self.quiet = quiet
        self.config = Config(fetch=FetchConfig(block_private=block_private))
        self._db = None
        self._reader = None

    @property
    def db(self):
        if self._db is None:
            if self._reader is not None:  # a command that looked something up first now writes
                self._reader.conn.close()
                self._reader = None
            self._db = open_db(self.db_path)
        return self._db

    @property
    def reader(self):
        """The store for commands that only read (query, show, stats, lists, exports): quicker to open.

        These never create the store: a mistyped --db is misuse, not an empty store.
        """
        if self._db is None and self._reader is None:
            path = Path(self.db_path)
            if self.db_path != ":memory:" and not path.exists() and path.parent.is_dir():  # no folder: open_db says so
                raise UsageError(f"no store at {self.db_path} (seedwatch creates it when you add a seed or a feed, or poll)")
            opened = open_reader(self.db_path)
            if isinstance(opened, Reader):
                self._reader = opened
            else:  # a new store, or one that needed migrating: open_db opened it
                self._db = opened
        return self._db if self._db is not None else self._reader

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message)


class SeedwatchGroup(click.Group):
    """Turns seedwatch's errors, and Click's own usage errors, into one line on stderr and the documented exit code."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # the group's own options: seedwatch --bogus
            _usage_error(exc)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a command's arguments and options, as Click parses them
            _usage_error(exc)
        except (UsageError, SeedError, OPMLError) as exc:
            _fail(str(exc), 2)
        except (FetchError, ParseError, StoreError, SeedwatchError) as exc:
            _fail(str(exc), 1)
        except sqlite3.Error as exc:
            _fail(f"database error: {exc}", 1)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks for users
            if ctx.obj and getattr(ctx.obj, "verbose", 0) > 1:
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with -vv for the traceback)", 1)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _usage_error(exc: click.UsageError) -> None:
    """Click's usage error as one line, with where to look for help (a group called bare still shows its help)."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise exc
    where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    message = " ".join(exc.format_message().split())
    _fail((message[:-1] if message.endswith(".") else message) + where, exc.exit_code)


@click.group(cls=SeedwatchGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(VERSION, prog_name="seedwatch")
@click.option("--db", "db_path", default=default_db_path, show_default="./seedwatch.db, or $SEEDWATCH_DB", help="The SQLite store.")
@click.option("--seeds-dir", default=DEFAULT_SEEDS_DIR, show_default=True, help="Folder of seed articles and starter feeds.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug, and tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--block-private", is_flag=True, envvar="SEEDWATCH_BLOCK_PRIVATE", help="Refuse loopback, private and link-local addresses.")
@click.pass_context
def cli(ctx: click.Context, db_path: str, seeds_dir: str, verbose: int, quiet: bool, block_private: bool) -> None:
    """seedwatch: follow a story across RSS/Atom feeds.

    Give it seed articles (the stories you follow) and feeds; it polls the feeds,
    scores every new article against every seed, flags copies of the seed and
    duplicates among articles, and keeps everything in one SQLite file.

    Example:

    \b
        seedwatch seeds add seeds/russia-iran-sacred-alliance.txt
        seedwatch feeds add https://www.theguardian.com/world/rss
        seedwatch poll && seedwatch query
    """
    if ctx.invoked_subcommand not in SILENT_COMMANDS or verbose or quiet:
        _configure_logging(verbose, quiet)
    ctx.obj = State(db_path, seeds_dir, verbose, quiet, block_private)


def _configure_logging(verbose: int, quiet: bool) -> None:
    import logging

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)


pass_state = click.make_pass_decorator(State)


# ---------------------------------------------------------------- seeds


@cli.group()
def seeds() -> None:
    """Seed articles: the stories to follow.

    Example:

    \b
        seedwatch seeds add seeds/russia-iran-sacred-alliance.txt && seedwatch seeds list
    """


@seeds.command("add")
@click.argument("source")
@click.option("--name", help="Seed name (default: from the file name or title).")
@click.option("--threshold", type=click.FloatRange(0, 1), help=f"Relevance threshold for this seed (default {MatchConfig().default_threshold}).")
@click.option("--keywords", help="Comma-separated; '+word' must appear, 'word' boosts the score.")
@pass_state
def seeds_add(state: State, source: str, name: str | None, threshold: float | None, keywords: str | None) -> None:
    """Add or update a seed from a .txt/.md file or an article URL; stored articles are scored against it.

    Example:

    \b
        seedwatch seeds add seeds/russia-iran-sacred-alliance.txt --keywords "+iran,drone"
    """
    from .manage import load_seed, save_seed  # here: fetch, parse and score modules cost ~0.2 s to import

    doc = load_seed(source, name, state.config.fetch)
    if threshold is not None:
        doc.threshold = threshold
    if keywords is not None:
        doc.keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    with _scoring_bar(state) as progress:
        _, change, scored = save_seed(state.db, doc, state.config, progress)
    state.say(f"{change} seed {doc.name}: {doc.title}" + (f" (scored {scored} stored articles)" if scored else ""))


@seeds.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def seeds_list(state: State, fmt: str) -> None:
    """List seeds with their thresholds and match counts.

    Example:

    \b
        seedwatch seeds list --format json
    """
    rows = [
        {k: r[k] for k in ("id", "name", "title", "threshold", "keywords", "related", "copies", "source", "updated_at")}
        | {"keywords": json.loads(r["keywords"] or "[]")}
        for r in store_seeds.list_seeds(state.reader)
    ]
    if fmt == "json":
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["id", "name", "threshold", "related", "copies", "title"]))
    else:
        state.say("No seeds yet. Add one: seedwatch seeds add FILE.txt")


@seeds.command("remove")
@click.argument("name")
@pass_state
def seeds_remove(state: State, name: str) -> None:
    """Remove a seed and its matches (the articles stay).

    The articles it called related or a copy are judged again for the other seeds, since it may have
    claimed them (see README, "Seeds and feeds").

    Example:

    \b
        seedwatch seeds remove russia-iran-sacred-alliance
    """
    from .manage import remove_seed  # here: the scoring modules cost ~0.2 s to import

    row = store_seeds.get_seed(state.db, name)
    if row is None:
        raise UsageError(f"no seed named {name!r} (see: seedwatch seeds list)")
    judged = remove_seed(state.db, row["id"], state.config)
    state.say(f"removed seed {row['name']}" + (f" ({judged} of its articles judged again for the other seeds)" if judged else ""))


@seeds.command("sync")
@pass_state
def seeds_sync(state: State) -> None:
    """Load the seeds folder: *.txt/*.md seeds and feeds.opml/feeds.txt (idempotent).

    Example:

    \b
        seedwatch --seeds-dir seeds seeds sync
    """
    from .manage import sync_folder

    with _scoring_bar(state) as progress:
        report = sync_folder(state.db, state.seeds_dir, state.config, progress=progress)
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)
    state.say(report.line())


# ---------------------------------------------------------------- feeds


@cli.group()
def feeds() -> None:
    """Feeds to poll, and their health.

    Example:

    \b
        seedwatch feeds import seeds/feeds.opml && seedwatch feeds list
    """


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--interval", default=None, help="How often to poll, e.g. 15m, 2h (default 30m, at least 1m).")
@click.option("--full-text", is_flag=True, help="Fetch article pages for promising brief entries.")
@click.option("--no-check", is_flag=True, help="Add without fetching (no HTML-page discovery).")
@pass_state
def feeds_add(state: State, urls: tuple[str, ...], interval: str | None, full_text: bool, no_check: bool) -> None:
    """Add feeds; a web page URL is accepted and the feed it advertises is used.

    Example:

    \b
        seedwatch feeds add https://www.themoscowtimes.com/rss/news --interval 15m
    """
    import asyncio

    from .fetcher import Fetcher
    from .manage import resolve_feed
    from .schedule import format_interval, parse_interval

    seconds = None
    if interval is not None:
        try:
            seconds = parse_interval(interval)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        minimum = state.config.schedule.min_interval
        if seconds < minimum:
            raise UsageError(f"--interval must be at least {format_interval(minimum)}, the minimum interval, not {interval!r}")
    from .manage import check_feed_url

    checked = [check_feed_url(u) for u in urls]

    async def resolve_all() -> list[tuple[str, str | None] | Exception]:
        async with Fetcher(state.config.fetch) as fetcher:
            return await asyncio.gather(*(resolve_feed(fetcher, u) for u in checked), return_exceptions=True)

    resolved = [(u, None) for u in checked] if no_check else asyncio.run(resolve_all())
    failures = 0
    for url, result in zip(checked, resolved):
        if isinstance(result, Exception):
            failures += 1
            click.echo(f"Error: cannot add {url}: {result}", err=True)
            continue
        feed_url, title = result
        feed_id, created = store_feeds.add_feed(state.db, feed_url, title=title, interval_seconds=seconds, full_text=full_text)
        via = f" (discovered from {url})" if feed_url != url else ""
        state.say(f"{'added' if created else 'already have'} feed {feed_id}: {feed_url}{via}")
    if failures:
        sys.exit(1)


@feeds.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def feeds_import(state: State, path: Path) -> None:
    """Import feeds from an OPML file (nested categories are flattened; known feeds are skipped).

    Example:

    \b
        seedwatch feeds import ~/Downloads/subscriptions.opml
    """
    from .manage import check_feed_url
    from .opml import parse_opml

    if not path.exists():
        raise UsageError(f"OPML file {path} does not exist")
    added = known = 0
    for feed in parse_opml(path.read_bytes(), str(path)):
        try:
            _, created = store_feeds.add_feed(state.db, check_feed_url(feed.url), title=feed.title, site_url=feed.site_url)
        except UsageError as exc:
            click.echo(f"warning: skipped {exc}", err=True)
            continue
        added += created
        known += not created
    state.say(f"imported {path}: {added} feeds added, {known} already known")


@feeds.command("export")
@click.option("-o", "--output", type=OUTPUT, default="-", help="File to write (default stdout).")
@pass_state
def feeds_export(state: State, output) -> None:
    """Export all feeds as OPML.

    Example:

    \b
        seedwatch feeds export -o feeds.opml
    """
    from .opml import write_opml

    _write_output(output, write_opml(store_feeds.list_feeds(state.reader)))


@feeds.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def feeds_list(state: State, fmt: str) -> None:
    """List feeds with their health: status, last success, errors, next check.

    Example:

    \b
        seedwatch feeds list --format json
    """
    rows = [{k: r[k] for k in FEED_FIELDS} | {"previous_url": r["previous_url"]} for r in store_feeds.list_feeds(state.reader)]
    if fmt == "json":
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["id", "status", "last_success_at", "error_count", "next_check_at", "url", "last_error"], {"last_error": 60}))
    else:
        state.say("No feeds yet. Add one: seedwatch feeds add URL, or: seedwatch seeds sync")


@feeds.command("remove")
@click.argument("url_or_id")
@pass_state
def feeds_remove(state: State, url_or_id: str) -> None:
    """Remove a feed (its articles stay).

    Example:

    \b
        seedwatch feeds remove 3
    """
    feed = store_feeds.find_feed(state.db, url_or_id)
    if feed is None:
        raise UsageError(f"no feed {url_or_id!r} (see: seedwatch feeds list)")
    store_feeds.remove_feed(state.db, feed["id"])
    state.say(f"removed feed {feed['id']}: {feed['url']}")


# ---------------------------------------------------------------- polling


@cli.command()
@click.option("--all", "poll_all", is_flag=True, help="Poll every enabled feed, due or not.")
@click.option("--feed", "feed_refs", multiple=True, help="Poll this feed (URL or id); repeatable.")
@pass_state
def poll(state: State, poll_all: bool, feed_refs: tuple[str, ...]) -> None:
    """Poll the feeds that are due (or all, or the ones named) once, then exit.

    Feed failures are recorded on the feeds (see `feeds list`) and counted in the
    summary; they do not make the command fail. Then each seed learns from its
    best matches; where they changed, the store is scored again for that seed.

    Example:

    \b
        seedwatch poll --all
    """
    from .poll import poll_feeds

    if feed_refs:
        targets = []
        for ref in feed_refs:
            feed = store_feeds.find_feed(state.db, ref)
            if feed is None:
                raise UsageError(f"no feed {ref!r} (see: seedwatch feeds list)")
            targets.append(feed)
    else:
        targets = store_feeds.due_feeds(state.db, iso(), include_all=poll_all)
    if not targets:
        state.say("nothing to poll: no feeds are due (use --all to poll every feed)")
        return
    show_bar = sys.stderr.isatty() and not state.quiet
    with click.progressbar(length=len(targets), label="polling", file=sys.stderr) if show_bar else _NoBar() as bar:
        summary = poll_feeds(state.db, targets, state.config, progress=lambda outcome: bar.update(1))
    for outcome in summary.outcomes:
        if outcome.error and state.verbose:
            click.echo(f"  failed: {outcome.url}: {outcome.error}", err=True)
    state.say(summary.line())
    _learn(state)


def _learn(state: State) -> None:
    """Let the seeds learn from their best matches, and say what it cost."""
    from .learn import learn_from_best_matches

    with _scoring_bar(state) as progress:
        scored = learn_from_best_matches(state.db, state.config, progress=progress)
    if scored:
        state.say(f"seeds learned from their best matches: {scored} articles scored again")


def _is_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def _scoring_bar(state: State) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal's stderr while stored articles are scored (100,000 take about a minute).

    Yields the progress callback for processor.rescore, or None when there is no terminal to draw on. A
    scoring that starts over (the seeds learn, and the store is scored again) gets a bar of its own; one
    whose total grows (a poll stored articles meanwhile) keeps its bar.
    """
    if state.quiet or not _is_terminal():
        yield None
        return
    bars: list = []

    def update(done: int, total: int) -> None:
        bar = bars[-1] if bars else None
        if bar is None or done < bar.pos:
            if bar is not None:
                bar.render_finish()
            bar = click.progressbar(length=total, label="scoring stored articles", file=sys.stderr)
            bars.append(bar)
        bar.length = total
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        if bars:
            bars[-1].render_finish()


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int) -> None:
        pass


@cli.command()
@click.option("--tick", type=click.FloatRange(min=0.2), default=60, show_default=True, help="Seconds between checks for due feeds.")
@pass_state
def run(state: State, tick: float) -> None:
    """Run the daemon: poll due feeds every tick until SIGTERM or Ctrl-C.

    Syncs the seeds folder at start and whenever it changes; feeds added from
    the CLI meanwhile are picked up at the next tick.

    Example:

    \b
        seedwatch --db /var/lib/seedwatch/seedwatch.db run --tick 60
    """
    import logging

    from .daemon import Daemon

    # A seeds folder named on purpose must exist, as for `seeds sync`; the default seeds/ may come later
    # (the daemon warns, and syncs it once it appears).
    if not state.seeds_dir.is_dir() and state.seeds_dir != Path(DEFAULT_SEEDS_DIR):
        raise UsageError(f"seeds folder {state.seeds_dir} does not exist")
    if state.verbose == 0 and not state.quiet:
        logging.getLogger().setLevel(logging.INFO)
    # The daemon opens (and migrates) the store before its scheduler starts: a bad path fails here.
    sys.exit(Daemon(state.db_path, state.seeds_dir, state.config, tick).run())


@cli.command()
@click.option("--seed", "seed_ref", help="Only this seed (name or id).")
@pass_state
def rescore(state: State, seed_ref: str | None) -> None:
    """Score every stored article again (after changing a seed, its threshold or the scorer).

    Then each seed learns from its best matches (what you kept counts first).

    Example:

    \b
        seedwatch rescore --seed russia-iran-sacred-alliance
    """
    from .learn import learn_from_best_matches
    from .processor import rescore as run_rescore

    ids = [_seed(state, seed_ref)["id"]] if seed_ref else None
    with _scoring_bar(state) as progress:
        stats = run_rescore(state.db, state.config.match, ids, processes=state.config, progress=progress)
        again = learn_from_best_matches(state.db, state.config, progress=progress, at_once=True)
    seeds = [s for s in store_seeds.list_seeds(state.db) if ids is None or s["id"] in ids]
    learned = f", {again} again as the seeds learned from their best matches" if again else ""
    state.say(f"rescored {stats.new} articles{learned}: {sum(s['related'] for s in seeds)} related, {sum(s['copies'] for s in seeds)} copies")


# ---------------------------------------------------------------- review


def _seed(state: State, ref: str) -> dict:
    row = store_seeds.get_seed(state.reader, ref)
    if row is None:
        raise UsageError(f"no seed {ref!r} (see: seedwatch seeds list)")
    return row


def _since(text: str | None) -> str | None:
    if not text:
        return None
    from .schedule import parse_interval

    try:
        seconds = parse_interval(text if text[-1:].isalpha() else text + "d")
    except ValueError:
        raise UsageError(f"--since takes an age like 12h, 7d or 30d, not {text!r}") from None
    return iso(utcnow() - timedelta(seconds=seconds))


def _emit(rows: list[dict], fmt: str, columns: list[str], empty: str, state: State) -> None:
    if fmt == "json":
        click.echo(render.to_json(rows))
    elif fmt == "jsonl":
        if rows:
            click.echo(render.to_jsonl(rows))
    elif fmt == "csv":
        click.echo(render.to_csv(rows, QUERY_FIELDS))
    elif rows:
        click.echo(render.table(rows, columns, {"title": 70, "feed_url": 40}))
    else:
        state.say(empty)


VERDICT_CHOICE = click.Choice(["found", "related", "copy", "unrelated", "all"])
STATUS_CHOICE = click.Choice(["new", "kept", "dismissed", "all"])


@cli.command()
@click.argument("text", required=False)
@click.option("--seed", "seed_ref", help="Only matches of this seed (name or id).")
@click.option("--verdict", type=VERDICT_CHOICE, default="found", show_default=True, help="'found' is related and copy, and what you kept.")
@click.option("--status", type=STATUS_CHOICE, default="new", show_default=True)
@click.option("--since", help="Only articles published (or first seen) within this age: 12h, 7d.")
@click.option("--min-score", type=click.FloatRange(0, 1), help="Only matches scoring at least this.")
@click.option("--include-duplicates", is_flag=True, help="Also list articles that duplicate an earlier one.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="0 for no limit.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default="table", show_default=True)
@pass_state
def query(state: State, text, seed_ref, verdict, status, since, min_score, include_duplicates, limit, fmt) -> None:
    """Search and filter matches: full-text TEXT, seed, verdict, review status, age, score.

    Default: related articles and copies not yet reviewed, newest first,
    duplicates collapsed. One row per (article, seed).

    Example:

    \b
        seedwatch query drones --since 7d --format json
    """
    since_at = _since(since)  # a bad --since is misuse whether or not the store exists
    rows = store_review.query_matches(
        state.reader,
        text=text,
        seed_id=_seed(state, seed_ref)["id"] if seed_ref else None,
        verdict=verdict,
        status=status,
        since=since_at,
        min_score=min_score,
        include_duplicates=include_duplicates,
        limit=limit or None,
    )
    if fmt != "table":
        rows = [{k: r[k] for k in QUERY_FIELDS} for r in rows]
    _emit(rows, fmt, ["id", "score", "verdict", "status", "published_at", "seed", "title"], "no matches (try --verdict all --status all)", state)


@cli.command()
@click.argument("article_id", type=ARTICLE_ID)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def show(state: State, article_id: int, fmt: str) -> None:
    """Show one article: each seed's score and why, copy and duplicate evidence, its sources.

    Example:

    \b
        seedwatch show 42
    """
    article = store_review.article_detail(state.reader, article_id)
    if article is None:
        raise UsageError(f"no article {article_id}")
    if fmt == "json":
        article.pop("content_html", None)
        click.echo(render.to_json(article))
    else:
        click.echo(render.explain(article))


@cli.command()
@click.argument("article_ids", type=ARTICLE_ID, nargs=-1, required=True)
@click.option("--kept", is_flag=True, help="Keep these articles.")
@click.option("--dismissed", is_flag=True, help="Dismiss these articles.")
@click.option("--new", is_flag=True, help="Put them back in the review queue.")
@click.option("--note", help="A note stored with the decision.")
@click.option("--seed", "seed_ref", help="Only this seed's match (default: every seed's).")
@pass_state
def mark(state: State, article_ids: tuple[int, ...], kept: bool, dismissed: bool, new: bool, note: str | None, seed_ref: str | None) -> None:
    """Mark articles kept or dismissed.

    Example:

    \b
        seedwatch mark 12 15 --kept --note "good background"
    """
    given = [flag for flag, on in (("kept", kept), ("dismissed", dismissed), ("new", new)) if on]
    if len(given) > 1:
        raise UsageError(f"conflicting options {' and '.join('--' + g for g in given)}: give one of --kept, --dismissed or --new")
    if not given:
        raise UsageError("say --kept, --dismissed or --new")
    status = given[0]
    missing = sorted(set(article_ids) - store_review.existing_article_ids(state.db, list(article_ids)))
    if missing:
        raise UsageError(f"no article {', '.join(map(str, missing))}")
    seed_id = _seed(state, seed_ref)["id"] if seed_ref else None
    changed = store_review.mark(state.db, list(article_ids), status, note, seed_id)
    state.say(f"marked {len(article_ids)} articles {status} ({changed} matches)")


@cli.command()
@click.option("--seed", "seed_ref", help="Only this seed.")
@click.option("--verdict", type=VERDICT_CHOICE, default="found", show_default=True)
@pass_state
def review(state: State, seed_ref: str | None, verdict: str) -> None:
    """Walk the new related items one by one: keep, dismiss, skip or quit.

    Example:

    \b
        seedwatch review --seed russia-iran-sacred-alliance
    """
    seed_id = _seed(state, seed_ref)["id"] if seed_ref else None
    rows = store_review.query_matches(state.db, seed_id=seed_id, verdict=verdict, status="new", limit=None)
    if not rows:
        state.say("nothing to review: no new related items")
        return
    done = 0
    for i, row in enumerate(rows, 1):
        article = store_review.article_detail(state.db, row["id"])
        click.echo(f"\n[{i}/{len(rows)}] " + render.explain(article, snippet=400))
        answer = click.prompt(f"seed {row['seed']}: [k]eep, [d]ismiss, [s]kip, [q]uit", type=click.Choice(["k", "d", "s", "q"]), default="s", show_choices=False)
        if answer == "q":
            break
        if answer in ("k", "d"):
            # the match on screen, of this row's seed: the article's matches with other seeds wait their turn
            store_review.mark(state.db, [row["id"]], "kept" if answer == "k" else "dismissed", None, row["seed_id"])
            done += 1
    state.say(f"reviewed {done} items")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["atom", "csv", "json"]), required=True)
@click.option("--seed", "seed_ref", help="Only this seed.")
@click.option("--verdict", type=VERDICT_CHOICE, default="found", show_default=True, help="'found' is related and copy, and what you kept.")
@click.option("--status", type=STATUS_CHOICE, default="all", show_default=True)
@click.option("-o", "--output", type=OUTPUT, default="-", help="File to write (default stdout).")
@pass_state
def export(state: State, fmt: str, seed_ref: str | None, verdict: str, status: str, output) -> None:
    """Export matches as an Atom feed (subscribe to it in any reader), CSV or JSON.

    Dismissed items are left out unless --status says otherwise.

    Example:

    \b
        seedwatch export --format atom --seed russia-iran-sacred-alliance -o related.xml
    """
    seed = _seed(state, seed_ref) if seed_ref else None
    rows = store_review.query_matches(state.reader, seed_id=seed["id"] if seed else None, verdict=verdict, status=status, limit=None)
    if status == "all":
        rows = [r for r in rows if r["status"] != "dismissed"]
    if fmt == "atom":
        title = f"seedwatch: {seed['title']}" if seed else "seedwatch: related articles"
        text = render.to_atom(rows, title, f"urn:seedwatch:{seed['name'] if seed else 'all'}", iso())
    elif fmt == "csv":
        text = render.to_csv(rows, QUERY_FIELDS) + "\n"
    else:
        text = render.to_json([{k: r[k] for k in QUERY_FIELDS} for r in rows]) + "\n"
    _write_output(output, text)


def _write_output(path: str, text: str) -> None:
    """Write an export to path ('-': stdout) once it is whole, so a command that fails leaves no file behind."""
    if path == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SeedwatchError(f"cannot write {path}: {exc.strerror or exc}") from None


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def stats(state: State, fmt: str) -> None:
    """Counts by seed, verdict and review status, and a feed health summary.

    Example:

    \b
        seedwatch stats
    """
    s = store_review.stats(state.reader)
    if fmt == "json":
        click.echo(render.to_json(s))
        return
    click.echo(f"articles: {s['articles']} ({s['duplicates']} duplicates)")
    feeds_line = ", ".join(f"{n} {status}" for status, n in sorted(s["feeds"].items())) or "none"
    click.echo(f"feeds: {feeds_line}; last poll {s['last_poll'] or 'never'}")
    for name, counts in s["seeds"].items():
        click.echo(
            f"seed {name}: {counts.get('related', 0)} related, {counts.get('copy', 0)} copies, "
            f"{counts.get('unrelated', 0)} unrelated; to review {counts.get('new', 0)}, kept {counts.get('kept', 0)}, "
            f"dismissed {counts.get('dismissed', 0)}"
        )


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the demo store in this folder.")
def demo(keep: Path | None) -> None:
    """Run the whole pipeline offline on bundled sample feeds served on 127.0.0.1, and print what it found.

    Example:

    \b
        seedwatch demo --keep ./demo
    """
    from .demo import run_demo

    run_demo(keep)


def main() -> None:
    cli(prog_name="seedwatch")
