"""Shared fixtures: a fresh store, a local HTTP server, the bundled demo feeds, a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest.cli import cli
from ingest.localserver import LocalServer, Response
from store.db import open_db

REPO = Path(__file__).resolve().parent.parent
REAL_OPML = REPO / "tests" / "data" / "opml"  # real feed lists (CC0) copied from shared/feeds
FOUNDING_SEED = REPO / "seeds" / "russia-iran-sacred-alliance.txt"
DEMO_DATA = Path(str(resources.files("ingest") / "demo_data"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "seedwatch.db"


@pytest.fixture
def fresh_db(db_path: Path):
    db = open_db(db_path)
    yield db
    db.conn.close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def demo_server(server: LocalServer) -> LocalServer:
    """The local server with the four bundled demo feeds at /<name>.xml (ETag-aware)."""
    for p in sorted(DEMO_DATA.glob("*.xml")):
        server.route(f"/{p.name}", Response(p.read_bytes(), etag=True))
    return server


def rss(items: list[dict], title: str = "Test feed", extra: str = "") -> bytes:
    """A small RSS 2.0 document; items are dicts of title, link, guid, description, pubDate."""
    parts = []
    for it in items:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in it.items())
        parts.append(f"<item>{fields}</item>")
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{extra}{''.join(parts)}</channel></rss>"
    ).encode()


class Runner:
    """Invoke the CLI against one database, the way a user would type it."""

    def __init__(self, db_path: Path, seeds_dir: Path | None = None):
        self.db_path = db_path
        self.seeds_dir = seeds_dir
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:  # noqa: A002 - Click's name
        base = ["--db", str(self.db_path)]
        if self.seeds_dir is not None:
            base += ["--seeds-dir", str(self.seeds_dir)]
        return self.runner.invoke(cli, [*base, *args], input=input, catch_exceptions=False)


@pytest.fixture
def run_cli(db_path: Path) -> Runner:
    return Runner(db_path)
