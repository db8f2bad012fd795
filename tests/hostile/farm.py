"""The hostile farm: every misbehaving server of the hostile suite, as data.

A Case names the routes that one server of its own serves on 127.0.0.1 (a LocalServer, a LocalServer behind
TLS with a self-signed certificate, or a raw socket that accepts and never answers) and what seedwatch must end
with: the feed's error recorded in plain words (`error`, a regex), or the feed stored normally (`error=None`),
plus a `check` of what was stored. Bodies scale with the body limit the poll runs under (`Ctx.limit`), so the
same case serves the fast per-case tests (1 MiB, 2 s) and the whole-farm `seedwatch poll --all` (defaults).

tests/hostile/test_*.py run one case per test function; tests/hostile/test_farm.py runs them all at once.
"""

from __future__ import annotations

import functools
import json
import random
import re
import socket
import ssl
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.localserver import LocalServer, Response, Route
from tests.conftest import rss

MIB = 1024 * 1024
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
PASSWD = Path("/etc/passwd")
# What must never reach the store: the first line of the local password file (root's entry).
PASSWD_MARKERS = [b"root:x:0:0", b"/bin/bash", b"nologin"]

# ---------------------------------------------------------------- context


@dataclass
class Ctx:
    """What a case's routes and checks may use: its server's URLs and hits, the body limit, a stop signal."""

    url: Callable[[str], str]
    hits: Callable[[str], int]
    limit: int
    stop: threading.Event


@dataclass
class Case:
    name: str
    routes: Callable[[Ctx], dict[str, Route]]
    error: str | None = None  # regex the feed's last_error must match; None: the feed is stored normally
    check: Callable[[list[dict], Ctx], None] | None = None  # on the feed's stored articles
    kind: str = "http"  # http | tls | silent
    path: str = "/feed.xml"
    big: bool = False  # needs a body limit above the fast suite's 1 MiB (and more time)
    either: bool = False  # a clear error (any plain words) or the feed stored as `check` says: both are sensible


# ---------------------------------------------------------------- bodies


def item(i: int | str, tag: str, **extra: str) -> dict:
    base = {"title": f"{tag} entry {i}", "link": f"https://{tag}.example/{i}", "guid": f"{tag}-{i}",
            "description": f"Ordinary text of {tag} entry {i}."}
    return {**base, **extra}


def good_feed(tag: str, n: int = 2) -> bytes:
    return rss([item(i, tag) for i in range(1, n + 1)], title=f"Good feed {tag}")


def good_urls(tag: str, n: int = 2) -> set[str]:
    return {f"https://{tag}.example/{i}" for i in range(1, n + 1)}


def _handler_bytes(h, status: int, headers: dict[str, str]) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.end_headers()


def drip(ctx: Ctx) -> Route:
    """One byte a second, for at most two minutes (or until the farm stops or the client hangs up)."""

    def handler(h) -> None:
        _handler_bytes(h, 200, RSS_TYPE)
        text = b'<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title>' * 10
        try:
            for b in text[:120]:
                h.wfile.write(bytes([b]))
                h.wfile.flush()
                if ctx.stop.wait(1.0):
                    return
        except OSError:
            pass

    return handler


def _close_delimited(ctx: Ctx, piece: bytes, total: int) -> Route:
    """A body of `piece` repeated up to `total` bytes, with no Content-Length: it ends when the server closes."""

    def handler(h) -> None:
        _handler_bytes(h, 200, {**RSS_TYPE, "Connection": "close"})
        h.close_connection = True
        sent = 0
        try:
            while sent < total and not ctx.stop.is_set():
                h.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass

    return handler


def endless(ctx: Ctx) -> Route:
    """An endless body with no Content-Length (bounded at 4 GiB so a broken client cannot keep it forever)."""
    chunk = b'<?xml version="1.0"?><rss version="2.0"><channel>' + b"<item><title>more</title></item>" * 2000
    return _close_delimited(ctx, chunk, 4 * 1024 * MIB)


def over_limit_chunked(ctx: Ctx) -> Route:
    """A finite body over the limit, chunked: no Content-Length to refuse it by."""

    def handler(h) -> None:
        _handler_bytes(h, 200, {**RSS_TYPE, "Transfer-Encoding": "chunked"})
        piece = b"<item><title>x</title></item>" * 2200  # ~64 KB
        sent = 0
        try:
            while sent < ctx.limit + MIB and not ctx.stop.is_set():
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    return handler


def over_limit_close_delimited(ctx: Ctx) -> Route:
    """A finite body over the limit that ends when the server closes the connection (HTTP/1.0 style)."""
    return _close_delimited(ctx, b"<item><title>x</title></item>" * 2200, ctx.limit + MIB)


@functools.lru_cache(maxsize=None)
def bomb(kind: str, gib: int = 2) -> bytes:
    """A compressed stream of `gib` GiB of zeros (about 1 MB per GiB): gzip, or zlib for Content-Encoding: deflate.

    Built from one full-flushed 1 MiB deflate block repeated, so it takes a second, not a minute.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = b"\0" * MIB
    first = c.compress(b"<rss>" + zeros[5:]) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush()
    n = gib * 1024
    body = first + block * (n - 1) + tail
    if kind == "gzip":
        crc = zlib.crc32(b"<rss>" + zeros[5:])
        for _ in range(n - 1):
            crc = zlib.crc32(zeros, crc)
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, (n * MIB) & 0xFFFFFFFF)
    adler = zlib.adler32(b"<rss>" + zeros[5:])
    for _ in range(n - 1):
        adler = zlib.adler32(zeros, adler)
    return b"\x78\xda" + body + struct.pack(">I", adler)


def _gzipped_feed() -> bytes:
    import gzip

    rng = random.Random(7)
    words = scale_words(7, 2000)
    items = [item(i, "gz", description=" ".join(rng.choices(words, k=60))) for i in range(600)]
    return gzip.compress(rss(items), mtime=0)


def truncated_gzip() -> bytes:
    """A gzip body cut off halfway: every byte sent is valid, the stream just never ends."""
    packed = _gzipped_feed()
    return packed[: len(packed) // 2]


def gzip_then_garbage() -> bytes:
    """A gzip body whose deflate data turns to random bytes halfway (zlib may read them as junk blocks)."""
    packed = _gzipped_feed()
    rng = random.Random(8)
    return packed[: len(packed) // 2] + bytes(rng.randrange(256) for _ in range(len(packed) // 2))


def billion_laughs() -> bytes:
    lols = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">\n' for i in range(2, 10))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        f"{lols}]>\n"
        '<rss version="2.0"><channel><title>Laughs</title><link>https://laughs.example/</link>'
        "<item><title>&lol9;</title><link>https://laughs.example/1</link><guid>laughs-1</guid>"
        "<description>Ordinary text of the laughing entry. &lol9;</description></item>"
        "<item><title>Plain second entry</title><link>https://laughs.example/2</link><guid>laughs-2</guid>"
        "<description>Nothing to expand here.</description></item></channel></rss>"
    ).encode()


def quadratic(padding: int = 0, entity_kb: int = 100, refs: int = 2000) -> bytes:
    """One 100 KB entity referenced 2000 times: 110 KB on the wire, 200 MB a reference set once expanded.

    With padding, the DOCTYPE comes after that many bytes of whitespace (legal XML after the declaration).
    """
    big = "A" * (entity_kb * 1000)
    return (
        '<?xml version="1.0" encoding="utf-8"?>' + " " * padding
        + f'\n<!DOCTYPE rss [\n<!ENTITY big "{big}">\n]>\n'
        '<rss version="2.0"><channel><title>Quadratic</title><link>https://quadratic.example/</link>'
        f"<item><title>Quadratic entry</title><link>https://quadratic.example/1</link><guid>quadratic-1</guid>"
        f"<description>Ordinary text. {'&big;' * refs}</description></item>"
        "<item><title>Plain second entry</title><link>https://quadratic.example/2</link><guid>quadratic-2</guid>"
        "<description>Nothing to expand here.</description></item></channel></rss>"
    ).encode()


def leading_newlines(n: int) -> bytes:
    """A good feed with n newlines between the XML declaration and the root element (legal XML)."""
    decl = b'<?xml version="1.0" encoding="utf-8"?>'
    body = rss([item(1, "newlines"), item(2, "newlines")], title="Newlines")
    return decl + b"\n" * n + body[len(decl):]


def attribute_flood(n: int) -> bytes:
    """A feed whose first item carries n attributes (legal XML; about 10 bytes each)."""
    attrs = " ".join(f"a{i}='1'" for i in range(n))
    return rss([item(1, "attrs"), item(2, "attrs")], title="Attributes").replace(b"<item>", f"<item {attrs}>".encode(), 1)


def xxe(decl: str, ref: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n{decl}\n]>\n'
        '<rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel><title>XXE</title><link>https://xxe.example/</link>'
        f"<item><title>Secret {ref} title</title><link>https://xxe.example/1</link><guid>xxe-1</guid>"
        f"<description>Ordinary text {ref} of the entry.</description>"
        '<xi:include href="file:///etc/passwd" parse="text"/></item>'
        "</channel></rss>"
    ).encode()


def external_dtd(ctx: Ctx) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss SYSTEM "{ctx.url("/evil.dtd")}">\n'
        '<rss version="2.0"><channel><title>DTD</title><link>https://dtd.example/</link>'
        "<item><title>Entry &ext;</title><link>https://dtd.example/1</link><guid>dtd-1</guid>"
        "<description>Ordinary text.</description></item></channel></rss>"
    ).encode()


def redirect(target: str, status: int = 302) -> Response:
    return Response(b"", status, {"Location": target})


def scale_words(seed: int, n: int = 3000) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10))) for _ in range(n)]


@functools.lru_cache(maxsize=None)
def twenty_thousand() -> bytes:
    """20,000 news-sized entries (a title, a link, a date, ~50 words): about 12 MB, under the 15 MiB default."""
    rng = random.Random(20000)
    vocab = scale_words(1)
    items = [
        {"title": " ".join(rng.choices(vocab, k=8)).capitalize(), "link": f"https://many.example/{i}", "guid": f"many-{i}",
         "pubDate": "Tue, 01 Nov 2022 10:00:00 GMT", "description": " ".join(rng.choices(vocab, k=50))}
        for i in range(20_000)
    ]
    return rss(items, title="Twenty thousand")


@functools.lru_cache(maxsize=None)
def huge_entry() -> bytes:
    """One entry of 5 MB of words, and a normal one."""
    rng = random.Random(5)
    vocab = scale_words(2)
    words: list[str] = []
    size = 0
    while size < 5 * MIB:
        w = rng.choice(vocab)
        words.append(w)
        size += len(w) + 1
    return rss([item(1, "huge", description=" ".join(words)), item(2, "huge")], title="Huge entry")


@functools.lru_cache(maxsize=None)
def same_guid() -> bytes:
    """10,000 different entries (own title and link) that all claim one GUID."""
    return rss(
        [{"title": f"Same guid entry {i}", "link": f"https://sameguid.example/{i}", "guid": "the-one-guid",
          "description": f"Entry number {i} of the feed that reuses one GUID."} for i in range(10_000)],
        title="Same GUID",
    )


def no_identity() -> bytes:
    return rss([{"title": f"Nameless entry {i}", "description": f"Text of nameless entry number {i}."} for i in range(5)]
               + [{"description": "An entry with only a description."}], title="No GUIDs")


DATES = {
    "year0": "Sat, 01 Jan 0000 00:00:00 GMT",
    "year0iso": "0000-01-01T00:00:00Z",
    "year9999": "Fri, 31 Dec 9999 23:59:59 GMT",
    "year9999iso": "9999-12-31T23:59:59Z",
    "garbage": "the day after never, 25:61:99 XYZ",
    "empty": "",
    "huge": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    "valid": "Tue, 01 Nov 2022 10:00:00 GMT",
}


def dates_feed() -> bytes:
    return rss([{"title": f"Dated {k}", "link": f"https://dates.example/{k}", "guid": f"dates-{k}", "pubDate": v,
                 "description": f"Entry dated {k}."} for k, v in DATES.items()], title="Dates")


LINKS = {
    "relative": "/articles/relative-1",
    "relative-dot": "../articles/relative-2?utm_source=x",
    "protocol-relative": "//links.example/protocol-relative",
    "javascript": "javascript:alert(document.cookie)",
    "javascript-mixed-case": "JaVaScRiPt:alert(1)",
    "javascript-padded": " \tjavascript:alert(1)",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript": "vbscript:msgbox(1)",
    "file": "file:///etc/passwd",
}


def links_feed() -> bytes:
    return rss([{"title": f"Linked {k}", "link": v.replace("&", "&amp;"), "guid": f"links-{k}",
                 "description": f"Entry linked {k}."} for k, v in LINKS.items()], title="Links")


def long_titles() -> bytes:
    return rss([item(i, "longtitle", title=f"Long title {i} " + "word " * 20_000) for i in (1, 2)], title="Long titles")


# ---------------------------------------------------------------- checks


def slow_to_parse(limit: int) -> bytes:
    """A feed just under the body limit whose one entry holds nothing but empty <b/> elements: feedparser spends
    ~15 us on each, so 1 MiB of them takes ~16 s to parse (the shape is linear, only slow, and legal XML)."""
    head = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Slow</title>'
            b"<link>https://slow.example/</link><item><title>Slow entry</title><link>https://slow.example/1</link>"
            b"<guid>slow-1</guid><description>")
    tail = b"</description></item></channel></rss>"
    return head + b"<b/>" * ((limit - len(head) - len(tail)) // 4) + tail


def urls_of(rows: list[dict]) -> set[str]:
    return {r["url"] for r in rows}


def expect_urls(*urls: str) -> Callable[[list[dict], Ctx], None]:
    def check(rows: list[dict], ctx: Ctx) -> None:
        assert urls_of(rows) == set(urls), sorted(urls_of(rows))

    return check


def check_expansions(marker: str) -> Callable[[list[dict], Ctx], None]:
    """An entity attack neutralised: the feed's entries stored, no entity text expanded anywhere."""

    def check(rows: list[dict], ctx: Ctx) -> None:
        assert len(rows) == 2, [r["url"] for r in rows]
        for r in rows:
            for col in ("title", "summary", "content", "content_html"):
                assert marker not in (r[col] or ""), f"expanded entity text stored in {col} of {r['url']}"
        assert any("Plain second entry" == r["title"] for r in rows)

    return check


def check_no_secret(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 1, rows
    r = rows[0]
    for col in ("title", "summary", "content", "content_html", "link", "url"):
        assert "root:" not in (r[col] or "") and "/bin/" not in (r[col] or ""), (col, r[col])
    assert r["title"].startswith("Secret") and r["title"].endswith("title")


def check_no_dtd_fetch(rows: list[dict], ctx: Ctx) -> None:
    assert ctx.hits("/evil.dtd") == 0, "the external DTD was fetched"
    assert urls_of(rows) == {"https://dtd.example/1"}


def check_not_followed(rows: list[dict], ctx: Ctx) -> None:
    assert ctx.hits("/secret.xml") == 0, "the URL in the body was fetched"
    assert rows == []


def check_cafe(rows: list[dict], ctx: Ctx) -> None:
    titles = {r["title"] for r in rows}
    assert titles == {"Café Zürich – naïve", "Second entry"}, titles


def check_many(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 20_000
    assert len(urls_of(rows)) == 20_000


def check_huge(rows: list[dict], ctx: Ctx) -> None:
    assert urls_of(rows) == {"https://huge.example/1", "https://huge.example/2"}
    big = next(r for r in rows if r["url"].endswith("/1"))
    assert 100_000 <= len(big["summary"]) <= 1 * MIB, len(big["summary"])


def check_same_guid(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 10_000
    assert urls_of(rows) == {f"https://sameguid.example/{i}" for i in range(10_000)}


def check_no_identity(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 6, [r["title"] for r in rows]
    assert len(urls_of(rows)) == 6
    for r in rows:
        assert r["url"].startswith(ctx.url("/feed.xml") + "#"), r["url"]
        assert r["guid"], r
    assert {r["title"] for r in rows} >= {f"Nameless entry {i}" for i in range(5)}


def check_dates(rows: list[dict], ctx: Ctx) -> None:
    by_key = {r["url"].rsplit("/", 1)[1]: r["published_at"] for r in rows}
    assert set(by_key) == set(DATES), sorted(by_key)
    assert by_key["valid"] == "2022-11-01T10:00:00Z"
    for key, value in by_key.items():
        if key != "valid":
            assert value is None, (key, value)


def check_links(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == len(LINKS), [r["title"] for r in rows]
    by_title = {r["title"].removeprefix("Linked "): r for r in rows}
    assert by_title["relative"]["link"] == ctx.url("/articles/relative-1")
    assert by_title["relative-dot"]["url"] == ctx.url("/articles/relative-2")
    assert by_title["protocol-relative"]["link"] == "http://links.example/protocol-relative"
    for key in ("javascript", "javascript-mixed-case", "javascript-padded", "data", "vbscript", "file"):
        r = by_title[key]
        assert r["link"] is None, (key, r["link"])
        assert r["url"].startswith(ctx.url("/feed.xml") + "#"), (key, r["url"])
    for r in rows:
        assert re.match(r"https?://", r["url"]) and (r["link"] is None or re.match(r"https?://", r["link"])), r


def check_long_titles(rows: list[dict], ctx: Ctx) -> None:
    assert urls_of(rows) == {"https://longtitle.example/1", "https://longtitle.example/2"}
    for r in rows:
        assert r["title"].startswith("Long title") and 100 <= len(r["title"]) <= 2000, len(r["title"])


def check_text_ok(expected_titles: set[str]) -> Callable[[list[dict], Ctx], None]:
    def check(rows: list[dict], ctx: Ctx) -> None:
        assert {r["title"] for r in rows} == expected_titles, [r["title"] for r in rows]

    return check


def check_mixed(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 2, rows
    for r in rows:
        assert r["title"].startswith("Mixed") and "entry" in r["title"], r["title"]


def char_ref(ref: str) -> bytes:
    return rss([item(1, "charref", title=f"Broken {ref} character"), item(2, "charref", title="Second entry")])


def garbled_declaration() -> bytes:
    """A UTF-8 feed whose XML declaration names an encoding with a stray non-ASCII byte in it."""
    body = rss([item(1, "garbled", title="Invalid bytes ahead"), item(2, "garbled", title="Second entry")])
    return body.replace(b'encoding="utf-8"', b'encoding="utf\xcd8"', 1)


def check_surrogate(rows: list[dict], ctx: Ctx) -> None:
    assert len(rows) == 2, rows
    titles = sorted(r["title"] for r in rows)
    assert titles[0].startswith("Broken ") and titles[0].endswith(" character"), titles
    assert titles[1] == "Second entry"


# ---------------------------------------------------------------- the cases

TIMEOUT = r"no complete response within \d+ s|timed out"
LIMIT = r"over the \d+ MiB limit|inflates past the \d+ MiB limit"


def _cases() -> list[Case]:
    cp1252 = rss([item(1, "enc", title="Café Zürich – naïve"), item(2, "enc", title="Second entry")]).decode().encode("cp1252")
    utf16 = rss([item(1, "utf16", title="Café Zürich – naïve"), item(2, "utf16", title="Second entry")]).decode()
    utf16 = utf16.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")  # with a BOM
    invalid = rss([item(1, "invalid", title="Invalid bytes ahead", description="Bad \xff\xfe bytes"), item(2, "invalid", title="Second entry")])
    invalid = invalid.replace("Bad \xff\xfe bytes".encode(), b"Bad \xff\xfe\xc3 bytes \xed\xa0\x80 here")
    mixed = (
        rss([item(1, "mixed", title="Mixed café entry", description="ZÜRICH_CP1252"), item(2, "mixed", title="Mixed plain entry")])
        .replace(b"Z\xc3\x9cRICH_CP1252", "Zürich in cp1252".encode("cp1252"))
    )
    surrogate_xml = rss([item(1, "surrogate", title="Broken &#xD800; character"), item(2, "surrogate", title="Second entry")])
    surrogate_json = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "JSON surrogate",
        "items": [{"id": "s1", "url": "https://surrogate-json.example/1", "title": "Broken \ud800 character", "content_text": "Text."},
                  {"id": "s2", "url": "https://surrogate-json.example/2", "title": "Second entry", "content_text": "Text."}],
    }).encode()
    return [
        # -- transport and size
        Case("slow_drip", lambda c: {"/feed.xml": drip(c)}, TIMEOUT),
        Case("never_answers", lambda c: {}, TIMEOUT, kind="silent"),
        Case("endless_body", lambda c: {"/feed.xml": endless(c)}, LIMIT),
        Case("over_limit_content_length",
             lambda c: {"/feed.xml": Response(b"<rss>" + b" " * (c.limit + MIB))}, r"Content-Length \d+ is over the \d+ MiB limit"),
        Case("over_limit_chunked", lambda c: {"/feed.xml": over_limit_chunked(c)}, LIMIT),
        Case("over_limit_close_delimited", lambda c: {"/feed.xml": over_limit_close_delimited(c)}, LIMIT),
        # -- compression
        Case("gzip_bomb", lambda c: {"/feed.xml": Response(bomb("gzip"), headers={**RSS_TYPE, "Content-Encoding": "gzip"})}, LIMIT),
        Case("deflate_bomb", lambda c: {"/feed.xml": Response(bomb("deflate"), headers={**RSS_TYPE, "Content-Encoding": "deflate"})}, LIMIT),
        Case("claims_gzip_plain_feed",
             lambda c: {"/feed.xml": Response(good_feed("claimsgzip"), headers={**RSS_TYPE, "Content-Encoding": "gzip"})},
             check=expect_urls(*good_urls("claimsgzip"))),
        Case("truncated_gzip", lambda c: {"/feed.xml": Response(truncated_gzip(), headers={**RSS_TYPE, "Content-Encoding": "gzip"})},
             r"compress|corrupt|gzip|truncated|incomplete"),
        Case("gzip_then_garbage", lambda c: {"/feed.xml": Response(gzip_then_garbage(), headers={**RSS_TYPE, "Content-Encoding": "gzip"})},
             r"compress|corrupt|gzip|truncated|incomplete"),
        # -- XML attacks
        Case("billion_laughs", lambda c: {"/feed.xml": Response(billion_laughs())}, check=check_expansions("lollol")),
        Case("quadratic_blowup", lambda c: {"/feed.xml": Response(quadratic())}, check=check_expansions("AAAAAAAAAA")),
        Case("quadratic_blowup_after_64k", lambda c: {"/feed.xml": Response(quadratic(padding=70_000))},
             check=check_expansions("AAAAAAAAAA")),
        Case("leading_newlines", lambda c: {"/feed.xml": Response(leading_newlines(25_000 if c.limit <= MIB else 100_000))},
             check=expect_urls(*good_urls("newlines"))),
        Case("attribute_flood", lambda c: {"/feed.xml": Response(attribute_flood(15_000 if c.limit <= MIB else 60_000))},
             check=expect_urls(*good_urls("attrs"))),
        Case("external_entity_file", lambda c: {"/feed.xml": Response(xxe('<!ENTITY xxe SYSTEM "file:///etc/passwd">', "&xxe;"))},
             check=check_no_secret),
        Case("external_parameter_entity",
             lambda c: {"/feed.xml": Response(xxe('<!ENTITY % ext SYSTEM "file:///etc/passwd">\n%ext;', ""))},
             check=check_no_secret),
        Case("external_dtd_url",
             lambda c: {"/feed.xml": Response(external_dtd(c)), "/evil.dtd": Response(b'<!ENTITY ext "EXPANDED">', headers={"Content-Type": "application/xml-dtd"})},
             check=check_no_dtd_fetch),
        # -- bodies feedparser would open or fetch
        Case("body_is_local_path", lambda c: {"/feed.xml": Response(str(PASSWD).encode())}, r"not a feed"),
        Case("body_is_file_url", lambda c: {"/feed.xml": Response(PASSWD.as_uri().encode())}, r"not a feed"),
        Case("body_is_http_url",
             lambda c: {"/feed.xml": Response(c.url("/secret.xml").encode()), "/secret.xml": Response(good_feed("secret"))},
             r"not a feed", check=check_not_followed),
        # -- redirects
        Case("redirect_loop", lambda c: {"/feed.xml": redirect(c.url("/b.xml")), "/b.xml": redirect("/c.xml", 301),
                                         "/c.xml": redirect("/feed.xml", 307)}, r"redirect loop"),
        Case("redirect_to_file_scheme", lambda c: {"/feed.xml": redirect("file:///etc/passwd")}, r"non-HTTP URL file:///etc/passwd"),
        Case("redirect_to_ftp_scheme", lambda c: {"/feed.xml": redirect("/hop.xml", 301), "/hop.xml": redirect("ftp://127.0.0.1/feed.xml")},
             r"non-HTTP URL ftp://"),
        Case("too_many_redirects",
             lambda c: {"/feed.xml": redirect("/r1.xml"), **{f"/r{i}.xml": redirect(f"/r{i + 1}.xml") for i in range(1, 30)},
                        "/r30.xml": Response(good_feed("toomany"))},
             r"more than \d+ redirects"),
        # -- not a feed, or a feed in odd bytes
        Case("html_page", lambda c: {"/feed.xml": Response(b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Hi</p></body></html>",
                                                           headers={"Content-Type": "text/html; charset=utf-8"})}, r"not a feed.*HTML"),
        Case("empty_200", lambda c: {"/feed.xml": Response(b"")}, r"empty"),
        Case("json_error_page", lambda c: {"/feed.xml": Response(b'{"error": {"code": 429, "message": "rate limit exceeded"}}',
                                                                 headers={"Content-Type": "application/json"})}, r"not a feed.*JSON"),
        Case("wrong_declared_encoding", lambda c: {"/feed.xml": Response(cp1252)}, check=check_cafe),
        Case("invalid_utf8", lambda c: {"/feed.xml": Response(invalid)}, check=check_text_ok({"Invalid bytes ahead", "Second entry"})),
        Case("utf8_bom", lambda c: {"/feed.xml": Response(b"\xef\xbb\xbf" + rss([item(1, "bom", title="Café Zürich – naïve"), item(2, "bom", title="Second entry")]))},
             check=check_cafe),
        Case("utf16_bom", lambda c: {"/feed.xml": Response(utf16, headers={"Content-Type": "application/rss+xml"})}, check=check_cafe),
        Case("mixed_encodings", lambda c: {"/feed.xml": Response(mixed)}, check=check_mixed),
        Case("surrogate_char_ref", lambda c: {"/feed.xml": Response(surrogate_xml)}, check=check_surrogate, either=True),
        Case("surrogate_json_escape", lambda c: {"/feed.xml": Response(surrogate_json, headers={"Content-Type": "application/feed+json"})},
             check=check_surrogate, either=True),
        Case("char_ref_out_of_range", lambda c: {"/feed.xml": Response(char_ref("&#x110000;"))}, check=check_surrogate, either=True),
        Case("char_ref_huge_number", lambda c: {"/feed.xml": Response(char_ref("&#99999999999;"))}, check=check_surrogate, either=True),
        Case("garbled_encoding_declaration", lambda c: {"/feed.xml": Response(garbled_declaration())},
             check=check_text_ok({"Invalid bytes ahead", "Second entry"}), either=True),
        # -- odd feeds at scale
        Case("twenty_thousand_entries", lambda c: {"/feed.xml": Response(twenty_thousand())}, check=check_many, big=True),
        Case("entry_of_5mb", lambda c: {"/feed.xml": Response(huge_entry())}, check=check_huge, big=True),
        Case("same_guid_10k", lambda c: {"/feed.xml": Response(same_guid())}, check=check_same_guid, big=True),
        Case("no_guid_no_link", lambda c: {"/feed.xml": Response(no_identity())}, check=check_no_identity),
        Case("absurd_dates", lambda c: {"/feed.xml": Response(dates_feed())}, check=check_dates),
        Case("relative_and_javascript_links", lambda c: {"/feed.xml": Response(links_feed())}, check=check_links),
        Case("titles_of_100kb", lambda c: {"/feed.xml": Response(long_titles())}, check=check_long_titles),
        Case("slow_to_parse", lambda c: {"/feed.xml": Response(slow_to_parse(c.limit))}, r"parsing did not finish within the poll deadline"),
        # -- TLS
        Case("tls_self_signed", lambda c: {"/feed.xml": Response(good_feed("tls"))}, r"certificate", kind="tls"),
    ]


CASES: dict[str, Case] = {c.name: c for c in _cases()}


# ---------------------------------------------------------------- servers


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (until stopped)."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.conns: list[socket.socket] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost: with `cryptography` if installed, else `openssl req`."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    try:
        from cryptography import x509  # type: ignore[import-not-found]
        from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found]
        from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found]
        from cryptography.x509.oid import NameOID  # type: ignore[import-not-found]
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=60,
        )
        return cert, key
    import datetime
    import ipaddress

    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pkey.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(pkey, hashes.SHA256())
    )
    key.write_bytes(pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def tls_server(routes: dict[str, Route], cert: Path, key: Path) -> LocalServer:
    """A LocalServer whose listening socket speaks TLS (the handshake runs in the handler thread)."""
    srv = LocalServer(routes)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv._server.socket = ctx.wrap_socket(srv._server.socket, server_side=True, do_handshake_on_connect=False)
    return srv


@dataclass
class Running:
    case: Case
    url: str
    ctx: Ctx
    server: object


@dataclass
class Farm:
    """Starts each case's server on demand; close() stops them all."""

    limit: int
    cert_dir: Path
    stop: threading.Event = field(default_factory=threading.Event)
    running: dict[str, Running] = field(default_factory=dict)

    def start(self, name: str) -> Running:
        case = CASES[name]
        if case.kind == "silent":
            silent = SilentServer(self.stop)
            base = f"http://127.0.0.1:{silent.port}"
            ctx = Ctx(lambda p: base + p, lambda p: silent.accepted, self.limit, self.stop)
            running = Running(case, base + case.path, ctx, silent)
        else:
            if case.kind == "tls":
                srv = tls_server({}, *self_signed_cert(self.cert_dir))
                base = f"https://127.0.0.1:{srv.port}"
            else:
                srv = LocalServer()
                base = srv.url("").rstrip("/")
            ctx = Ctx(lambda p: base + p, srv.hits, self.limit, self.stop)
            for path, route in case.routes(ctx).items():
                srv.route(path, route)
            srv.start()
            running = Running(case, base + case.path, ctx, srv)
        self.running[name] = running
        return running

    def close(self) -> None:
        self.stop.set()
        for r in self.running.values():
            if isinstance(r.server, SilentServer):
                r.server.close()
            else:
                r.server.stop()
        self.running.clear()
