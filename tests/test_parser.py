"""ingest/parser.py: RSS 2.0, Atom 1.0, RSS 1.0/RDF and JSON Feed in; no URLs or files followed; hostile DTDs."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import feedparser
import pytest

import ingest.parser as parser_module
from ingest.errors import ParseError
from ingest.localserver import Response
from ingest.normalise import normalise_entries
from ingest.parser import discover_feeds, neutralise_entities, parse_feed

PASSWD = "root:"  # what /etc/passwd starts with; must never show up in anything we parse

RSS2 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>World &amp; Wire</title>
  <link>https://wire.example/</link>
  <language>en-gb</language>
  <ttl>45</ttl>
  <item>
    <title>Drones hit Kyiv &amp; Odesa</title>
    <link>https://wire.example/a?utm_source=rss</link>
    <guid isPermaLink="false">wire-1</guid>
    <description>&lt;p&gt;Short summary&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full body text of the story.</p>]]></content:encoded>
    <pubDate>Tue, 10 Jun 2003 09:30:00 +0530</pubDate>
    <dc:creator>Jane Doe</dc:creator>
  </item>
  <item>
    <title>Second</title>
    <link>https://wire.example/b</link>
    <description>Plain summary</description>
  </item>
</channel>
</rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Atom Journal</title>
  <link href="https://atom.example/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>
  <updated>2024-03-02T13:00:00Z</updated>
  <entry>
    <title type="html">T &lt;b&gt;1&lt;/b&gt;</title>
    <link rel="alternate" href="/post/1"/>
    <id>tag:atom.example,2024:1</id>
    <published>2024-03-01T12:00:00+02:00</published>
    <updated>2024-03-02T08:00:00-05:00</updated>
    <author><name>Ann Author</name></author>
    <summary>Short</summary>
    <content type="html">&lt;p&gt;Long content&lt;/p&gt;</content>
  </entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/">
    <title>RDF Site</title>
    <link>https://rdf.example/</link>
    <description>An RSS 1.0 feed</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example/1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example/1">
    <title>RDF item one</title>
    <link>https://rdf.example/1</link>
    <description>Description one</description>
    <dc:date>2024-03-01T12:00:00+01:00</dc:date>
    <dc:creator>Bob</dc:creator>
  </item>
</rdf:RDF>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON Times",
        "home_page_url": "https://json.example/",
        "items": [
            {
                "id": "1",
                "url": "/p/1",
                "title": "J1",
                "content_html": "<p>Html body</p>",
                "summary": "Sum",
                "date_published": "2024-03-01T12:00:00+02:00",
                "date_modified": "2024-03-02T00:00:00Z",
                "authors": [{"name": "Zed"}],
                "language": "de",
            },
            {"id": "2", "external_url": "https://elsewhere.example/2", "content_text": "a < b", "author": {"name": "Old"}},
            "not an item",
        ],
    }
).encode()


def test_rss2() -> None:
    feed = parse_feed(RSS2, {"Content-Type": "application/rss+xml"}, "https://wire.example/rss.xml")
    assert feed.version == "rss20"
    assert (feed.title, feed.link, feed.language) == ("World & Wire", "https://wire.example/", "en-gb")
    assert len(feed.entries) == 2
    e = feed.entries[0]
    assert e.guid == "wire-1"
    assert e.link == "https://wire.example/a?utm_source=rss"
    assert e.title == "Drones hit Kyiv & Odesa"
    assert e.summary_html == "<p>Short summary</p>"
    assert e.content_html == "<p>Full body text of the story.</p>"
    assert e.author == "Jane Doe"
    assert e.published == "2003-06-10T04:00:00Z"
    assert e.language == "en-gb"
    assert feed.entries[1].title == "Second" and feed.entries[1].content_html is None


def test_rss2_ttl_becomes_seconds() -> None:
    assert parse_feed(RSS2).ttl_seconds == 45 * 60


@pytest.mark.parametrize("ttl", ["", "<ttl>0</ttl>", "<ttl>soon</ttl>", "<ttl>-5</ttl>"])
def test_missing_or_bad_ttl_is_none(ttl: str) -> None:
    body = f'<rss version="2.0"><channel><title>T</title>{ttl}<item><title>x</title><link>https://e.x/1</link></item></channel></rss>'
    assert parse_feed(body.encode()).ttl_seconds is None


def test_atom() -> None:
    feed = parse_feed(ATOM, {"content-type": "application/atom+xml"}, "https://atom.example/feed.atom")
    assert feed.version == "atom10"
    assert feed.title == "Atom Journal"
    [e] = feed.entries
    assert e.guid == "tag:atom.example,2024:1"
    assert e.link == "https://atom.example/post/1"  # relative href resolved against the feed URL
    assert e.title == "T <b>1</b>"
    assert e.summary_html == "Short"
    assert e.content_html == "<p>Long content</p>"
    assert e.author == "Ann Author"
    assert e.published == "2024-03-01T10:00:00Z"
    assert e.updated == "2024-03-02T13:00:00Z"
    assert e.language == "fr"


def test_rdf() -> None:
    feed = parse_feed(RDF, {"content-type": "application/rdf+xml"}, "https://rdf.example/index.rdf")
    assert feed.version == "rss10"
    assert feed.title == "RDF Site"
    [e] = feed.entries
    assert e.link == "https://rdf.example/1"
    assert e.guid == "https://rdf.example/1"
    assert e.title == "RDF item one"
    assert e.summary_html == "Description one"
    assert e.author == "Bob"
    # dc:date is the entry's date; once normalised it is its publication time, in UTC
    [n] = normalise_entries(feed.entries, "https://rdf.example/index.rdf")
    assert n.published_at == "2024-03-01T11:00:00Z"


def test_json_feed() -> None:
    feed = parse_feed(JSON_FEED, {"content-type": "application/feed+json"}, "https://json.example/feed.json")
    assert feed.version == "json"
    assert (feed.title, feed.link) == ("JSON Times", "https://json.example/")
    assert len(feed.entries) == 2  # the non-object item is ignored
    a, b = feed.entries
    assert a.guid == "1"
    assert a.link == "https://json.example/p/1"
    assert a.title == "J1"
    assert a.summary_html == "Sum"
    assert a.content_html == "<p>Html body</p>"
    assert a.author == "Zed"
    assert a.published == "2024-03-01T10:00:00Z"
    assert a.updated == "2024-03-02T00:00:00Z"
    assert a.language == "de"
    assert b.link == "https://elsewhere.example/2"
    assert b.content_html == "a &lt; b"  # content_text is escaped, so it stays text
    assert b.author == "Old"


def test_json_feed_recognised_by_content_type_with_leading_whitespace() -> None:
    feed = parse_feed(b"\n  " + JSON_FEED, {"Content-Type": "application/feed+json; charset=utf-8"})
    assert feed.version == "json" and len(feed.entries) == 2


# --- never a URL or a path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"/etc/passwd", b"file:///etc/passwd", b"  /etc/passwd\n", b"../../../../etc/passwd", b"http://127.0.0.1:1/x"],
)
def test_url_or_path_body_is_not_followed(body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(body, {"content-type": "application/rss+xml"})
    assert PASSWD not in str(info.value)
    assert PASSWD not in repr(info.value)


def test_path_to_a_real_feed_file_is_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS2.replace(b"World &amp; Wire", b"root:LEAKED"))
    for body in (str(secret).encode(), secret.as_uri().encode()):
        with pytest.raises(ParseError) as info:
            parse_feed(body)
        assert "LEAKED" not in str(info.value)


def test_url_body_is_not_fetched(server) -> None:
    server.route("/feed.xml", Response(RSS2))
    with pytest.raises(ParseError):
        parse_feed(server.url("/feed.xml").encode(), {"content-type": "application/rss+xml"})
    assert server.hits("/feed.xml") == 0


def test_feedparser_gets_a_byte_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = feedparser.parse

    def spy(source, *args, **kwargs):
        seen.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    parse_feed(RSS2, {"content-type": "application/rss+xml"}, "https://wire.example/rss.xml")
    assert len(seen) == 1
    assert not isinstance(seen[0], (str, bytes, Path))
    assert hasattr(seen[0], "read")


# --- hostile DTDs --------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>T &xxe;</title>
<item><title>Item &xxe;</title><link>https://e.example/1</link><description>D &xxe;</description></item>
</channel></rss>"""

LOL_DTD = b"""<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>"""
LOL = (
    b'<?xml version="1.0"?>\n'
    + LOL_DTD
    + b'<rss version="2.0"><channel><title>Laughs</title><item><title>&lol9;</title><link>https://e.example/1</link></item></channel></rss>'
)


def test_neutralise_entities_strips_external_entity() -> None:
    out = neutralise_entities(XXE)
    assert b"<!ENTITY" not in out and b"<!DOCTYPE rss [" not in out
    assert b"<rss version" in out


def test_neutralise_entities_strips_billion_laughs() -> None:
    out = neutralise_entities(LOL)
    assert b"<!ENTITY" not in out and b"<!DOCTYPE" not in out
    assert out.endswith(b"</rss>")


def test_neutralise_entities_leaves_ordinary_feeds_alone() -> None:
    assert neutralise_entities(RSS2) == RSS2


def test_neutralise_entities_after_long_preamble() -> None:
    # A hostile feed can push its DTD past any "look at the head only" shortcut with XML whitespace.
    padded = b'<?xml version="1.0"?>' + b" " * 70_000 + XXE.split(b"?>", 1)[1]
    out = neutralise_entities(padded)
    assert b"<!ENTITY" not in out


def test_external_entity_is_not_resolved() -> None:
    feed = parse_feed(XXE)
    assert PASSWD not in repr(feed)
    assert feed.entries and feed.entries[0].link == "https://e.example/1"


def test_billion_laughs_does_not_expand() -> None:
    feed = parse_feed(LOL)
    assert len(repr(feed)) < 10_000
    assert feed.title == "Laughs"


# --- not a feed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>",
        b"\xef\xbb\xbf<!doctype html>\n<html lang='en'><body>x</body></html>",
        b"<HTML><BODY>Hi</BODY></HTML>",
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>t</title></head><body><p>x</p></body></html>",
        b"<!-- generated by a CMS; " + b"build info " * 200 + b"-->\n<!DOCTYPE html><html><body>hi</body></html>",
    ],
)
@pytest.mark.parametrize("headers", [{}, {"content-type": "text/html; charset=utf-8"}], ids=["no-type", "text/html"])
def test_html_page_is_a_parse_error_mentioning_html(page: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(ParseError, match="HTML"):
        parse_feed(page, headers)


@pytest.mark.parametrize("body", [b"", b"   \n\t ", b"\xef\xbb\xbf"])
def test_empty_body_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_feed(body)


@pytest.mark.parametrize(
    "body",
    [b'{"error": "rate limited"}', b"[1, 2, 3]", b'{"version": "1.0", "items": []}', b"{not json", b'"just a string"'],
)
def test_json_that_is_not_a_json_feed_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(body, {"content-type": "application/json"})


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"\x00\x01\x02 binary junk \xff\xfe")


# --- discover_feeds ------------------------------------------------------------------------------

PAGE = b"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/static/site.css" type="text/css">
<link rel="alternate stylesheet" type="text/css" href="/static/alt.css" title="Alt">
<link rel="icon" href="/favicon.ico">
<link rel="alternate" type="application/atom+xml" href="/atom.xml" title="Atom">
<link rel="alternate" type="application/rss+xml" href="feed/rss.xml" title="RSS">
<link rel="alternate" hreflang="fr" href="/fr/">
<link rel="Alternate" type="Application/RSS+XML" href="https://other.example/x.rss">
<link rel="alternate" type="application/rss+xml" href="feed/rss.xml" title="duplicate">
</head><body><a href="/not-a-feed.xml" type="application/rss+xml">feed</a></body></html>"""


def test_discover_feeds() -> None:
    urls = discover_feeds(PAGE, "https://site.example/news/index.html")
    assert set(urls) == {
        "https://site.example/news/feed/rss.xml",
        "https://other.example/x.rss",
        "https://site.example/atom.xml",
    }
    assert len(urls) == 3  # the duplicate is listed once
    assert not any(u.endswith(".css") or u.endswith("/fr/") or "not-a-feed" in u for u in urls)


def test_discover_feeds_json_feed_link() -> None:
    page = b'<html><head><link rel="alternate" type="application/feed+json" href="/feed.json"></head></html>'
    assert discover_feeds(page, "https://j.example/") == ["https://j.example/feed.json"]


def test_discover_feeds_none() -> None:
    page = b'<html><head><link rel="stylesheet" href="/a.css"></head><body>no feeds</body></html>'
    assert discover_feeds(page, "https://site.example/") == []


# --- bytes feedparser cannot take as they come (prepare_xml) -------------------------------------

TWO_ITEMS = '<item><title>{first}</title><link>https://ref.example/1</link></item><item><title>Second</title><link>https://ref.example/2</link></item>'


def _rss(items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return f'{decl}<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("ref", ["&#xD800;", "&#xdfff;", "&#x110000;", "&#99999999999;", "&#0;", "&#1;", "&#xFFFE;",
                                 "&#xD800", "&#" + "9" * 5000 + ";"])
def test_character_reference_to_no_character_becomes_a_replacement_character(ref: str) -> None:
    # feedparser's loose parser raised UnicodeEncodeError / OverflowError / ValueError on these.
    feed = parse_feed(_rss(TWO_ITEMS.format(first=f"Broken {ref} here")))
    assert [e.title for e in feed.entries] == ["Broken \ufffd here", "Second"]


@pytest.mark.parametrize("ref", ["&#xe9;", "&#233;", "&#x1F600;", "&#x0041;", "&#9;"])
def test_valid_character_references_are_left_alone(ref: str) -> None:
    assert parse_feed(_rss(TWO_ITEMS.format(first=f"a{ref}b"))).entries[0].title == "a" + html.unescape(ref) + "b"


@pytest.mark.parametrize("decl", [b'<?xml version="1.0" encoding="utf\xcd8"?>', b'<?xml version="1.0" encoding="x"y"?>',
                                  b'<?xml version="1.0" encoding="utf-8" standalone="maybe" garbage ?>',
                                  b"  \n<?xml version='1.0' encoding='utf-8'?>", b'<?xml version="1.0" encoding="bogus-enc"?>'])
def test_garbled_or_misplaced_xml_declaration_still_reads_the_feed(decl: bytes) -> None:
    body = _rss(TWO_ITEMS.format(first="Caf\u00e9"), decl="").replace(b"<rss", decl + b"<rss", 1)
    assert [e.title for e in parse_feed(body).entries] == ["Caf\u00e9", "Second"]


def test_declared_encoding_is_kept_when_the_declaration_is_rebuilt() -> None:
    body = ('<?xml version="1.0" encoding="windows-1251" standalone="maybe" junk?>'
            '<rss version="2.0"><channel><title>T</title><item><title>Москва</title><link>https://ru.example/1</link></item></channel></rss>')
    assert parse_feed(body.encode("cp1251")).entries[0].title == "Москва"


@pytest.mark.parametrize("prolog", [b"\n" * 100_000, b"\r\n" * 50_000, b" " * 200_000, b"<!-- c -->\n" * 20_000,
                                    b"<?pi x?>\n" * 20_000, b"junk\n" * 20_000, b"<!ENTITY x\n" * 20_000])
def test_long_prolog_costs_linear_time(prolog: bytes) -> None:
    # feedparser's prolog regexes are anchored at every line start: 25,000 newlines took 7 s before.
    body = _rss(TWO_ITEMS.format(first="After the prolog")).replace(b"<rss", prolog + b"<rss", 1)
    started = time.monotonic()
    feed = parse_feed(body)
    assert time.monotonic() - started < 1.0
    assert [e.title for e in feed.entries] == ["After the prolog", "Second"]


def test_long_first_line_does_not_stall_the_encoding_sniffer() -> None:
    # feedparser's declaration regex is cubic in the first line's length: 2,000 encoding="" took 111 s.
    body = b'<?xml version="1.0" ' + b'encoding="a" ' * 5000 + b'?><rss version="2.0"><channel><title>T</title></channel></rss>'
    started = time.monotonic()
    parse_feed(body)
    assert time.monotonic() - started < 1.0


def test_doctype_is_kept_on_a_line_of_its_own() -> None:
    body = RSS091.replace(b"\n", b"")
    safe, _ = parser_module.prepare_xml(body, {})
    assert safe.splitlines()[:2] == [b'<?xml version="1.0" encoding="ISO-8859-1"?>',
                                     b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">']
    assert parse_feed(body).version == "rss091n"


RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://ns.example/</link><description>d</description>
<item><title>Caf\xe9</title><link>http://ns.example/1</link></item></channel></rss>"""


def test_element_with_thousands_of_attributes_keeps_the_first_hundred() -> None:
    attrs = " ".join(f'a{i}="{i}"' for i in range(20_000))
    body = _rss(f'<item {attrs}><title>Flooded</title><link>https://ref.example/1</link></item>')
    started = time.monotonic()
    feed = parse_feed(body)
    assert time.monotonic() - started < 1.0  # xml.sax looks each attribute up by a linear scan: 20,000 took 40 s
    assert [e.title for e in feed.entries] == ["Flooded"]
    safe, _ = parser_module.prepare_xml(body, {})
    assert b'a99="99"' in safe and b'a100="100"' not in safe


def test_ordinary_feed_passes_prepare_xml_unchanged() -> None:
    safe, headers = parser_module.prepare_xml(RSS2, {"content-type": "application/rss+xml"})
    assert safe == RSS2 and headers == {"content-type": "application/rss+xml"}


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_wide_encodings_become_utf8(codec: str) -> None:
    text = _rss(TWO_ITEMS.format(first="Caf\u00e9 &#xD800;")).decode().replace('encoding="utf-8"', f'encoding="{codec}"')
    body = text.replace("<rss", "\n" * 30_000 + "<rss", 1).encode(codec)
    started = time.monotonic()
    feed = parse_feed(body, {"content-type": f"application/rss+xml; charset={codec}"})
    assert time.monotonic() - started < 1.0
    assert [e.title for e in feed.entries] == ["Caf\u00e9 \ufffd", "Second"]


@pytest.mark.parametrize("data", [b"<!DOCTYPE a [" * 20_000, b"<!ENTITY " * 20_000, b"<!DOCTYPE a [<!ENTITY x 'y'>" * 10_000])
def test_neutralise_entities_is_linear_on_unclosed_declarations(data: bytes) -> None:
    started = time.monotonic()
    out = neutralise_entities(b'<?xml version="1.0"?>' + data + b"<rss/>")
    assert time.monotonic() - started < 0.5  # a regex retried at each unclosed declaration took 70 s
    assert b"<!ENTITY" not in out


def test_lone_surrogate_escape_in_a_json_feed_becomes_a_replacement_character() -> None:
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "1", "url": "https://j.example/1", "title": "Lone \ud800 high, lone \udc00 low, pair \ud83d\ude00, escaped \\ud800"}]})
    [e] = parse_feed(doc.encode(), {"content-type": "application/feed+json"}).entries
    assert e.title == "Lone \ufffd high, lone \ufffd low, pair \U0001F600, escaped \\ud800"
    assert e.title.encode("utf-8")  # storable


def test_deeply_nested_json_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_feed(b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000)


@pytest.mark.parametrize("exc", [UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), OverflowError("big"),
                                 RecursionError("deep"), KeyError("x")])
def test_a_parser_crash_becomes_a_parse_error_in_plain_words(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def crash(*args, **kwargs):
        raise exc

    monkeypatch.setattr(feedparser, "parse", crash)
    with pytest.raises(ParseError) as info:
        parse_feed(RSS2)
    assert str(info.value) == f"not a feed: the parser failed on malformed XML ({type(exc).__name__})"
