"""Parse: feed bytes + response headers in, a ParsedFeed of raw entries out (no network, no files)."""

from __future__ import annotations

import calendar
import codecs
import html
import io
import json
import logging
import re
from datetime import datetime, timezone
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from .errors import ParseError
from .normalise import parse_date

log = logging.getLogger("seedwatch.parser")

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)

# An internal DTD subset is where billion-laughs and external-entity attacks live; no real feed needs one.
_DECL_START = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_SUBSET_OR_END = re.compile(rb"[\[>]")
_SUBSET_END = re.compile(rb"\]\s*>")

# What feedparser cannot take as it comes (see prepare_xml).
MAX_ATTRIBUTES = 100  # per element; feeds use a handful, and the strict parser is quadratic in them
_BOMS = ((codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF8, ""),
         (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
_WIDE = re.compile(rb"(?P<u32be>\x00\x00\x00[^\x00])|(?P<u32le>[^\x00]\x00\x00\x00)|(?P<u16be>\x00[^\x00]\x00[^\x00])"
                   rb"|(?P<u16le>[^\x00]\x00[^\x00]\x00)|(?P<cp037>\x4c\x6f\xa7\x94)")
_WIDE_CODECS = {"u32be": "utf-32-be", "u32le": "utf-32-le", "u16be": "utf-16-be", "u16le": "utf-16-le", "cp037": "cp037"}
_PROLOG_MISC = re.compile(rb"(?:[ \t\r\n]+|<!--.*?-->|<\?(?!xml[\s?]).*?\?>|<!(?!--|(?i:doctype))[^>]*>)+", re.DOTALL)
_XML_DECL = re.compile(rb"<\?xml[\s?]")
_DECL_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,63})["'][\s?>]""")
_NEXT_MARKUP = re.compile(rb"<[!?A-Za-z_:\x80-\xff]")
_ELEMENT_START = re.compile(rb"<[A-Za-z_:\x80-\xff]")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
_ATTRIBUTE = rb"""\s+[^\s=<>/"']+\s*=\s*(?:"[^"<]*"|'[^'<]*')"""
_ATTRIBUTE_FLOOD = re.compile(rb"(<[A-Za-z_:][^\s<>/]*(?:%s){%d})(?:%s)+" % (_ATTRIBUTE, MAX_ATTRIBUTES, _ATTRIBUTE))
_HALF_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE_ESCAPE = re.compile(r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(u[dD][89a-fA-F][0-9a-fA-F]{2})|.)",
                                    re.DOTALL)


@dataclass
class RawEntry:
    """One entry as the feed gave it: strings and HTML, not yet normalised."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    summary_html: str | None = None
    content_html: str | None = None
    author: str | None = None
    published: str | None = None  # ISO-8601 UTC when the date parsed, else None
    updated: str | None = None
    language: str | None = None


@dataclass
class ParsedFeed:
    """A parsed feed: its metadata and entries, plus feedparser's complaint if it had one."""

    title: str | None = None
    link: str | None = None
    language: str | None = None
    ttl_seconds: int | None = None
    entries: list[RawEntry] = field(default_factory=list)
    warning: str | None = None  # bozo exception text for a feed that parsed despite errors
    version: str = ""


def neutralise_entities(data: bytes) -> bytes:
    """Drop DTD internal subsets and entity declarations before any XML parser sees them.

    One pass, each byte looked at once: a declaration that never ends takes the rest of the document with it
    (a regex retried at every later declaration would be quadratic in their number).
    """
    if b"<!" not in data or _DECL_START.search(data) is None:
        return data
    out: list[bytes] = []
    pos = 0
    while (m := _DECL_START.search(data, pos)) is not None:
        out.append(data[pos : m.start()])
        if m.group(1).upper() == b"ENTITY":
            end = data.find(b">", m.end())
            if end < 0:
                return b"".join(out)
            pos = end + 1
            continue
        mark = _SUBSET_OR_END.search(data, m.end())
        if mark is None:
            return b"".join(out)
        if data[mark.start()] == ord(">"):  # no internal subset: keep the DOCTYPE as it is
            out.append(data[m.start() : mark.end()])
            pos = mark.end()
            continue
        end = _SUBSET_END.search(data, mark.end())
        if end is None:
            return b"".join(out)
        pos = end.end()
    out.append(data[pos:])
    return b"".join(out)


def prepare_xml(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """Feed bytes and headers reshaped so that feedparser can neither crash nor go quadratic on them.

    feedparser (6.0) raises on numeric character references that name no character (&#xD800;, &#x110000;,
    &#99999999999;) and on a non-ASCII byte in the declared encoding name; its prolog regexes are quadratic in
    the prolog's lines (25,000 newlines: 7 s) and its encoding sniffer cubic in a long first line; its strict
    parser is quadratic in one element's attributes (xml.sax looks each one up by a linear scan). So: UTF-16/32
    becomes UTF-8, the prolog is rewritten to the declaration and a DOCTYPE on lines of their own, invalid
    character references become U+FFFD and an element keeps its first MAX_ATTRIBUTES attributes.
    """
    data, headers = _to_utf8(data, headers)
    data = _tidy_prolog(neutralise_entities(data))
    if b"&#" in data:
        data = _CHAR_REF.sub(_fix_char_ref, data)
    if data.count(b"=") > MAX_ATTRIBUTES:
        data = _ATTRIBUTE_FLOOD.sub(rb"\1", data)
    return data, headers


def _to_utf8(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """UTF-16, UTF-32 and EBCDIC documents as UTF-8 (declared so), so that byte-level fixes see ASCII markup."""
    codec = ""
    skip = 0
    for bom, name in _BOMS:  # UTF-32 first: FF FE 00 00 is a UTF-32 LE BOM, not a UTF-16 one
        if data.startswith(bom):
            codec, skip = name, len(bom)
            break
    else:
        m = _WIDE.match(data[:4])
        if m is not None:
            codec = _WIDE_CODECS[m.lastgroup or ""]
    if not codec:
        return data, headers
    text = data[skip:].decode(codec, errors="replace")
    if text.startswith("<?xml"):
        text = text[text.find(">") + 1 :] if ">" in text else ""
    headers = dict(headers)
    if headers.get("content-type"):
        headers["content-type"] = headers["content-type"].split(";", 1)[0] + "; charset=utf-8"
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode("utf-8", errors="replace"), headers


def _tidy_prolog(data: bytes) -> bytes:
    """The document with its prolog (before the root element) reduced to the declaration and a DOCTYPE.

    Whitespace, comments, processing instructions and junk before the root carry nothing a feed reader needs;
    a garbled XML declaration is rebuilt with its encoding only if that names an encoding.
    """
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    pos, n = len(bom), len(data)
    decl: bytes | None = None
    doctype = b""
    while pos < n:
        if (misc := _PROLOG_MISC.match(data, pos)) is not None:
            pos = misc.end()  # a run of whitespace, comments, instructions and declarations, in one C-level match
        elif data.startswith(b"<?", pos):
            if decl is None and _XML_DECL.match(data, pos):
                end = data.find(b">", pos)  # where a lenient reader ends a garbled declaration too
                end = n if end < 0 else end + 1
                enc = _DECL_ENCODING.search(data, pos, end)
                decl = b'<?xml version="1.0"%s?>' % (b' encoding="%s"' % enc.group(1) if enc else b"")
            else:
                end = data.find(b"?>", pos + 2)
                end = n if end < 0 else end + 2
            pos = end
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = n if end < 0 else end + 3
        elif data.startswith(b"<!", pos):
            end = data.find(b">", pos)
            if data[pos + 2 : pos + 9].upper() == b"DOCTYPE" and not doctype and 0 <= end - pos < 1024:
                doctype = data[pos : end + 1]
            pos = n if end < 0 else end + 1
        elif _ELEMENT_START.match(data, pos):
            break
        else:  # junk before the root: skip to the next thing that may be markup
            nxt = _NEXT_MARKUP.search(data, pos + 1)
            pos = n if nxt is None else nxt.start()
    head = bom + (decl + b"\n" if decl else b"") + (doctype + b"\n" if doctype else b"")
    if data[:pos] == head:
        return data  # a tidy prolog already: no copy of a body that may be 15 MB
    return b"".join((head, memoryview(data)[pos:]))


def _fix_char_ref(m: re.Match[bytes]) -> bytes:
    """A numeric character reference as it is if it names an XML character, else one for U+FFFD."""
    digits = (m.group(1) or m.group(2)).lstrip(b"0") or b"0"
    if len(digits) <= 8:
        code = int(digits, 16 if m.group(1) else 10)
        if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
            return m.group(0)
    return b"&#xFFFD;"


def parse_feed(data: bytes, headers: dict[str, str] | None = None, url: str = "") -> ParsedFeed:
    """Parse feed bytes (RSS, Atom, RDF or JSON Feed); raise ParseError if they are not a feed.

    Any other exception (a parser bug on hostile bytes) also becomes a ParseError, so that one feed's bytes can
    never take down the poll that fetched them.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError("empty response body")
    ctype = headers.get("content-type", "").lower()
    is_json = stripped[:1] in (b"{", b"[") or "json" in ctype
    try:
        return _parse_json_feed(stripped, url) if is_json else _parse_xml_feed(data, stripped, headers, url)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError("not a feed seedwatch can read: parsing it needs more memory than a parser may use") from None
    except Exception as exc:  # noqa: BLE001 - whatever a parser raises on hostile bytes is that feed's error
        log.debug("parser failed on %s", url, exc_info=True)
        kind = "JSON" if is_json else "XML"
        raise ParseError(f"not a feed: the parser failed on malformed {kind} ({type(exc).__name__})") from None


def _parse_xml_feed(data: bytes, stripped: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    import feedparser  # here: ~20 ms to import, which a poll whose feeds all answer 304 need not pay

    safe, headers = prepare_xml(data, headers)
    if url:
        headers.setdefault("content-location", url)
    parsed = feedparser.parse(io.BytesIO(safe), response_headers=headers)
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    if not version and not entries:
        if _looks_like_html(stripped):
            raise ParseError("not a feed: the server sent an HTML page")
        why = parsed.get("bozo_exception")
        raise ParseError(f"not a feed: {_short(why) if why else 'no RSS, Atom or RDF root element'}")
    feed = parsed.get("feed", {})
    result = ParsedFeed(
        title=_text(feed.get("title")),
        link=feed.get("link"),
        language=feed.get("language"),
        ttl_seconds=_ttl(feed.get("ttl")),
        version=version,
        warning=_short(parsed.get("bozo_exception")) if parsed.get("bozo") else None,
    )
    for e in entries:
        content = e.get("content") or []
        html_parts = [c.get("value", "") for c in content if c.get("value")]
        result.entries.append(
            RawEntry(
                guid=_text(e.get("id")),
                link=_text(e.get("link")),
                title=_text(e.get("title")),
                summary_html=e.get("summary"),
                content_html=max(html_parts, key=len) if html_parts else None,
                author=_text(e.get("author")),
                published=_iso(e.get("published_parsed")),
                updated=_iso(dict.get(e, "updated_parsed")),
                language=(content[0].get("language") if content else None) or result.language,
            )
        )
    return result


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    text = data.decode("utf-8", errors="replace")
    if _HALF_SURROGATE_ESCAPE.search(text):  # "\ud800" alone decodes to a str that cannot be stored as UTF-8
        text = _LONE_SURROGATE_ESCAPE.sub(lambda m: "\\ufffd" if m.group(1) else m.group(0), text)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"not a feed: invalid JSON ({getattr(exc, 'msg', exc)})") from None
    except RecursionError:
        raise ParseError("not a feed: JSON nested too deeply") from None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        raise ParseError("not a feed: JSON without a JSON Feed version (an API error page?)")
    result = ParsedFeed(title=_text(doc.get("title")), link=doc.get("home_page_url"), version="json")
    items = doc.get("items") if isinstance(doc.get("items"), list) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = authors[0].get("name") if authors and isinstance(authors[0], dict) else None
        link = item.get("url") or item.get("external_url")
        result.entries.append(
            RawEntry(
                guid=_text(item.get("id")),
                link=urljoin(url, link) if isinstance(link, str) else None,
                title=_text(item.get("title")),
                summary_html=_text(item.get("summary")),
                content_html=_text(item.get("content_html")) or _escape(item.get("content_text")),
                author=_text(author),
                published=parse_date(item.get("date_published")),
                updated=parse_date(item.get("date_modified")),
                language=item.get("language") if isinstance(item.get("language"), str) else None,
            )
        )
    return result


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        if "alternate" in rels and a.get("href") and a.get("type", "").lower() in FEED_TYPES:
            self.links.append((a["type"].lower(), a["href"]))


def discover_feeds(html: bytes, base_url: str) -> list[str]:
    """Feed URLs an HTML page advertises with <link rel="alternate" type="...">, best first."""
    finder = _LinkFinder()
    try:
        finder.feed(html[:2 * 1024 * 1024].decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - html.parser on hostile input; we keep what it found
        pass
    order = {t: i for i, t in enumerate(FEED_TYPES)}
    found = sorted(finder.links, key=lambda tl: order.get(tl[0], 99))
    urls: list[str] = []
    for _, href in found:
        u = urljoin(base_url, href.strip())
        if u not in urls:
            urls.append(u)
    return urls


def _looks_like_html(data: bytes) -> bool:
    head = data[:65536].lower()
    return b"<html" in head or b"<!doctype html" in head or b"<head" in head or b"<body" in head


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _escape(value: object) -> str | None:
    return html.escape(str(value)) if value else None


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _iso(parsed: object) -> str | None:
    if not parsed:
        return None
    try:
        ts = calendar.timegm(parsed)  # feedparser's struct_time is already UTC
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _short(exc: object) -> str:
    return str(exc).splitlines()[0][:200] if exc else ""
