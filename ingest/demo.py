"""The offline demo: serve the bundled sample feeds on 127.0.0.1, seed the founding article, poll, report."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

import click

from store import feeds as store_feeds
from store import review as store_review
from store.db import open_db

from .config import Config
from .localserver import LocalServer, Response
from .learn import learn_from_best_matches
from .manage import save_seed
from .poll import poll_due
from .seeds import load_seed_file

SEED_FILE = "russia-iran-sacred-alliance.txt"


def run_demo(keep: Path | None = None) -> None:
    """Run the pipeline end to end on the bundled feeds and print the findings."""
    data = resources.files("ingest") / "demo_data"
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="seedwatch-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = open_db(db_path)
    feeds = sorted(p for p in data.iterdir() if p.name.endswith(".xml"))
    routes = {f"/{p.name}": Response(p.read_bytes(), etag=True) for p in feeds}
    with LocalServer(routes) as server:
        click.echo(f"Serving {len(feeds)} sample feeds on {server.url()}")
        with resources.as_file(data / SEED_FILE) as seed_path:
            doc = load_seed_file(seed_path)
        save_seed(db, doc)
        click.echo(f"Seed: {doc.title}")
        for p in feeds:
            store_feeds.add_feed(db, server.url(f"/{p.name}"))
        summary = poll_due(db, Config())
        click.echo(summary.line())
        learned = learn_from_best_matches(db, Config())
        click.echo(f"The seed learned from its best matches: {learned} stored articles scored again.")
        again = poll_due(db, Config(), include_all=True)
        click.echo(f"Polled again: {again.unchanged} of {again.feeds} feeds answered 304 Not Modified, {again.stats.new} new articles.")
    _report(db, doc.name)
    click.echo(f"\nThe demo store is {db_path}. Explore it:")
    click.echo(f"  seedwatch --db {db_path} query")
    click.echo(f"  seedwatch --db {db_path} show ID")
    click.echo(f"  seedwatch --db {db_path} query --verdict all --format json")
    db.conn.close()


def _report(db, seed_name: str) -> None:
    rows = store_review.query_matches(db, verdict="all", status="all", include_duplicates=True, limit=None)
    copies = [r for r in rows if r["verdict"] == "copy"]
    listed = store_review.query_matches(db, verdict="related", status="all", limit=None)  # as `query` shows them
    related = sorted(listed, key=lambda r: -r["score"])
    duplicates = [r for r in rows if r["duplicate_of"]]
    unrelated = [r for r in rows if r["verdict"] == "unrelated"]
    click.echo(f"\nRelated to {seed_name} ({len(related)}, duplicates collapsed):")
    for r in related:
        click.echo(f"  #{r['id']:<3} {r['score']:.2f}  {r['title']}")
    click.echo(f"\nCopies of the seed ({len(copies)}):")
    for r in copies:
        click.echo(f"  #{r['id']:<3} copy  {r['title']}  ({r['url']})")
    click.echo(f"\nDuplicates collapsed ({len(duplicates)}):")
    for r in duplicates:
        original = store_review.article_detail(db, r["duplicate_of"])
        sources = ", ".join(s["feed_url"].rsplit("/", 1)[-1] for s in original["sources"])
        click.echo(f"  #{r['id']} ({r['feed_url'].rsplit('/', 1)[-1]}) is a duplicate of #{r['duplicate_of']} ({sources}): {r['title']}")
    click.echo(f"\nUnrelated: {len(unrelated)} articles (see them with: query --verdict unrelated)")
