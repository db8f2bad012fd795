"""ingest/opml.py: real-world OPML (well-formed or not), round trips, errors and plain feed lists."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ingest.errors import OPMLError
from ingest.opml import parse_feed_list, parse_opml, write_opml

REPO = Path(__file__).resolve().parent.parent
SHARED_FEEDS = REPO / "tests" / "data" / "opml"  # copies of shared/feeds (CC0)
OPML_FILES = sorted(SHARED_FEEDS.glob("*.opml"))
STARTER = REPO / "seeds" / "feeds.opml"


def declared_urls(data: bytes) -> set[str]:
    """Every xmlUrl value in the file, read with a plain regex (independent of the parser under test)."""
    return {html.unescape(u).strip() for u in re.findall(r'xmlUrl="([^"]*)"', data.decode("utf-8"))}


def test_shared_opml_files_exist() -> None:
    assert len(OPML_FILES) >= 5
    # the set really does contain files that are not well-formed XML
    broken = 0
    for path in OPML_FILES:
        try:
            ET.fromstring(path.read_bytes())
        except ET.ParseError:
            broken += 1
    assert broken >= 1


@pytest.mark.parametrize("path", OPML_FILES, ids=[p.name for p in OPML_FILES])
def test_shared_opml_yields_http_feeds_without_duplicates(path: Path) -> None:
    feeds = parse_opml(path.read_bytes(), path.name)
    assert len(feeds) > 0
    urls = [f.url for f in feeds]
    assert all(re.match(r"https?://[^\s/]+", u) for u in urls)
    assert len(urls) == len(set(urls))


@pytest.mark.parametrize("path", OPML_FILES, ids=[p.name for p in OPML_FILES])
def test_shared_opml_yields_every_declared_feed(path: Path) -> None:
    data = path.read_bytes()
    assert {f.url for f in parse_opml(data, path.name)} == declared_urls(data)


def test_unescaped_quotes_in_title_still_give_the_feed() -> None:
    data = (SHARED_FEEDS / "russia.opml").read_bytes()
    urls = {f.url for f in parse_opml(data)}
    assert "https://www.kommersant.ru/RSS/main.xml" in urls
    assert "https://lenta.ru/rss" in urls


def test_lenient_parse_of_hand_made_broken_opml() -> None:
    data = (
        b'<?xml version="1.0"?><opml version="1.0"><body><outline text="News">'
        b'<outline text="Paper "Daily" & Co" xmlUrl="https://daily.example/rss?a=1&amp;b=2" type="rss"/>'
        b"<outline text='Single' xmlUrl='https://single.example/feed'/>"
        b'<outline text="A > B" xmlUrl="https://gt.example/feed"/>'
        b"</outline></body></opml>"
    )
    urls = [f.url for f in parse_opml(data)]
    assert urls == ["https://daily.example/rss?a=1&b=2", "https://single.example/feed", "https://gt.example/feed"]


def test_starter_feeds_parse() -> None:
    feeds = parse_opml(STARTER.read_bytes(), STARTER.name)
    assert len(feeds) >= 10
    assert all(f.url.startswith(("http://", "https://")) for f in feeds)
    assert len({f.url for f in feeds}) == len(feeds)
    assert all(f.title for f in feeds)
    assert {f.url for f in feeds} == declared_urls(STARTER.read_bytes())


NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Nested</title></head><body>
  <outline text="World">
    <outline text="Europe" title="Europe">
      <outline text="Deep One" xmlUrl="https://deep.example/rss" htmlUrl="https://deep.example/"/>
      <outline text="Deeper">
        <outline title="Deepest" text="ignored text" xmlUrl="https://deepest.example/atom"/>
      </outline>
    </outline>
    <outline text="Top Level In World" xmlUrl="https://world.example/rss"/>
  </outline>
  <outline text="No category" xmlUrl="https://plain.example/rss"/>
  <outline text="Duplicate" xmlUrl="https://deep.example/rss"/>
  <outline text="Just a folder"/>
</body></opml>"""


def test_nested_categories_are_flattened() -> None:
    feeds = parse_opml(NESTED)
    assert [f.url for f in feeds] == [
        "https://deep.example/rss",
        "https://deepest.example/atom",
        "https://world.example/rss",
        "https://plain.example/rss",
    ]
    by_url = {f.url: f for f in feeds}
    assert by_url["https://deep.example/rss"].title == "Deep One"
    assert by_url["https://deep.example/rss"].site_url == "https://deep.example/"
    assert by_url["https://deep.example/rss"].category == "Europe"
    assert by_url["https://deepest.example/atom"].title == "Deepest"
    assert by_url["https://deepest.example/atom"].category == "Deeper"
    assert by_url["https://world.example/rss"].category == "World"
    assert by_url["https://plain.example/rss"].category is None


def test_attribute_names_are_case_insensitive() -> None:
    data = b'<opml version="1.0"><body><outline TEXT="X" XMLURL="https://x.example/rss" HTMLURL="https://x.example/"/></body></opml>'
    [feed] = parse_opml(data)
    assert (feed.url, feed.title, feed.site_url) == ("https://x.example/rss", "X", "https://x.example/")


# --- round trip ----------------------------------------------------------------------------------

ROUND_TRIP = [
    {"url": "https://a.example/rss?x=1&y=2", "title": "Tom & Jerry <News> \"quoted\" 'single'", "site_url": "https://a.example/"},
    {"url": "https://lenta.ru/rss", "title": "Lenta.ru : Новости"},
    {"url": "https://www.tabnak.ir/fa/rss/allnews", "title": "تابناک | TABNAK"},
    {"url": "https://emoji.example/feed", "title": "Café ☕ — “curly” ‘quotes’"},
    {"url": "https://untitled.example/feed"},
]


def test_write_then_parse_round_trips() -> None:
    text = write_opml(ROUND_TRIP, title="My <feeds> & more")
    ET.fromstring(text.encode("utf-8"))  # the output is well-formed XML
    feeds = parse_opml(text.encode("utf-8"))
    assert [f.url for f in feeds] == [f["url"] for f in ROUND_TRIP]
    assert [f.title for f in feeds] == [f.get("title") or f["url"] for f in ROUND_TRIP]
    assert feeds[0].site_url == "https://a.example/"
    assert feeds[1].site_url is None


def test_round_trip_twice_is_stable() -> None:
    once = write_opml(ROUND_TRIP)
    feeds = parse_opml(once.encode())
    again = write_opml([{"url": f.url, "title": f.title, "site_url": f.site_url} for f in feeds])
    assert again == once


def test_write_opml_of_nothing_is_valid_and_has_no_outlines() -> None:
    root = ET.fromstring(write_opml([]).encode())
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("body") is not None and root.find("body/outline") is None


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body></body></opml>',
        b'<opml version="2.0"><body><outline text="Folder"><outline text="No url"/></outline></body></opml>',
    ],
)
def test_no_outlines_with_feeds_is_an_error(data: bytes) -> None:
    with pytest.raises(OPMLError):
        parse_opml(data, "empty.opml")


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
        b'<?xml version="1.0"?><html><body><p>not opml</p></body></html>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>',
    ],
)
def test_non_opml_root_is_an_error(data: bytes) -> None:
    with pytest.raises(OPMLError, match="not OPML"):
        parse_opml(data, "thing.xml")


@pytest.mark.parametrize("data", [b"", b"   \n", b"this is not xml at all", b"\x00\x01\x02"])
def test_empty_or_garbage_is_an_error(data: bytes) -> None:
    with pytest.raises(OPMLError):
        parse_opml(data, "junk.opml")


def test_error_names_the_source() -> None:
    with pytest.raises(OPMLError, match="myfeeds.opml"):
        parse_opml(b"<rss/>", "myfeeds.opml")


def test_external_entity_is_not_resolved() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<opml version="2.0"><body><outline text="a&xxe;" xmlUrl="https://e.example/f"/></body></opml>'
    )
    feeds = parse_opml(data)
    assert [f.url for f in feeds] == ["https://e.example/f"]
    assert "root:" not in repr(feeds)


def test_entity_expansion_is_not_performed_even_after_long_preamble() -> None:
    dtd = b"<!DOCTYPE opml [<!ENTITY a \"aaaaaaaaaa\">" + b"".join(
        b'<!ENTITY %s "%s">' % (f"a{i}".encode(), (b"&" + (f"a{i - 1}" if i > 1 else "a").encode() + b";") * 10)
        for i in range(1, 6)
    ) + b"]>"
    data = (
        b'<?xml version="1.0"?>'
        + b" " * 70_000
        + dtd
        + b'<opml version="2.0"><body><outline text="&a5;" xmlUrl="https://e.example/f"/></body></opml>'
    )
    feeds = parse_opml(data)
    assert [f.url for f in feeds] == ["https://e.example/f"]
    assert len(feeds[0].title or "") < 1000  # 1,000,000 characters if the entities were expanded


# --- feeds.txt -----------------------------------------------------------------------------------


def test_parse_feed_list() -> None:
    text = (
        "# starter feeds\n"
        "\n"
        "https://a.example/rss\n"
        "   https://b.example/feed.xml   \n"
        "\t# indented comment\n"
        "https://c.example/feed#section  # the outlet's world feed\n"
        "https://d.example/rss?x=1&y=#2\n"
        "\r\n"
        "https://e.example/rss\r\n"
    )
    assert parse_feed_list(text) == [
        "https://a.example/rss",
        "https://b.example/feed.xml",
        "https://c.example/feed#section",
        "https://d.example/rss?x=1&y=#2",
        "https://e.example/rss",
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only comments\n# here\n"])
def test_parse_feed_list_empty(text: str) -> None:
    assert parse_feed_list(text) == []
