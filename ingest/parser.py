"""Parse: feed bytes + response headers in, a ParsedFeed of raw entries out (no network, no files)."""

from __future__ import annotations

import calendar
import html
import io
import json
import re
from datetime import datetime, timezone
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import feedparser

from .errors import ParseError
from .normalise import parse_date

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
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)


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
    """Drop DTD internal subsets and entity declarations before any XML parser sees them."""
    if b"<!" not in data:
        return data
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE) is None:
        return data
    data = _DOCTYPE_SUBSET.sub(b"", data)
    return _ENTITY_DECL.sub(b"", data)


def parse_feed(data: bytes, headers: dict[str, str] | None = None, url: str = "") -> ParsedFeed:
    """Parse feed bytes (RSS, Atom, RDF or JSON Feed); raise ParseError if they are not a feed."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError("empty response body")
    ctype = headers.get("content-type", "").lower()
    if stripped[:1] in (b"{", b"[") or "json" in ctype:
        return _parse_json_feed(stripped, url)
    safe = neutralise_entities(data)
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
    try:
        doc = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc.msg})") from None
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
