"""OPML: read feed lists (leniently: real exports are often not well-formed XML) and write them."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .errors import OPMLError
from .parser import neutralise_entities

_OUTLINE = re.compile(r"<outline\b", re.IGNORECASE)


@dataclass
class OPMLFeed:
    url: str
    title: str | None = None
    site_url: str | None = None
    category: str | None = None


def parse_opml(data: bytes, source: str = "OPML") -> list[OPMLFeed]:
    """Every feed (outline with an xmlUrl) in an OPML document, nested categories included."""
    if not data.strip():
        raise OPMLError(f"{source} is empty")
    try:
        root = ET.fromstring(neutralise_entities(data))
    except ET.ParseError:
        feeds = _parse_lenient(data)
        if feeds:
            return feeds
        raise OPMLError(f"{source} is not OPML: not well-formed XML and no <outline xmlUrl=...> found") from None
    if root.tag.lower() != "opml":
        raise OPMLError(f"{source} is not OPML: the root element is <{root.tag}>")
    feeds: list[OPMLFeed] = []
    _walk(root.find("body") if root.find("body") is not None else root, None, feeds)
    if not feeds:
        raise OPMLError(f"{source} lists no feeds (no <outline> with an xmlUrl)")
    return _unique(feeds)


def _walk(node: ET.Element, category: str | None, out: list[OPMLFeed]) -> None:
    for child in node:
        if child.tag.lower() != "outline":
            continue
        attrs = {k.lower(): v for k, v in child.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        label = attrs.get("title") or attrs.get("text")
        if url:
            out.append(OPMLFeed(url=url, title=label, site_url=attrs.get("htmlurl") or None, category=category))
        _walk(child, label if not url else category, out)


def _parse_lenient(data: bytes) -> list[OPMLFeed]:
    text = data.decode("utf-8", errors="replace")
    starts = [m.start() for m in _OUTLINE.finditer(text)]
    feeds = []
    # Each outline runs to the next one: unescaped quotes and '>' inside attributes break tag boundaries.
    for start, end in zip(starts, [*starts[1:], len(text)]):
        attrs = text[start:end]
        url = _attr(attrs, "xmlUrl")
        if url:
            feeds.append(OPMLFeed(url=url, title=_attr(attrs, "title") or _attr(attrs, "text"), site_url=_attr(attrs, "htmlUrl")))
    return _unique(feeds)


def _attr(attrs: str, name: str) -> str | None:
    m = re.search(rf'\b{name}\s*=\s*"([^"]*)"', attrs, re.IGNORECASE) or re.search(rf"\b{name}\s*=\s*'([^']*)'", attrs, re.IGNORECASE)
    return html.unescape(m.group(1)).strip() or None if m else None


def _unique(feeds: list[OPMLFeed]) -> list[OPMLFeed]:
    seen: set[str] = set()
    out = []
    for f in feeds:
        if f.url not in seen:
            seen.add(f.url)
            out.append(f)
    return out


def parse_feed_list(text: str) -> list[str]:
    """URLs from a feeds.txt: one a line, '#' starts a comment."""
    urls = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line.split()[0])  # a URL may hold '#', so only a separate word starts a comment
    return urls


def write_opml(feeds: list[dict], title: str = "seedwatch feeds") -> str:
    """An OPML 2.0 document listing these feeds (dicts with url, title, site_url)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for f in feeds:
        label = f.get("title") or f["url"]
        attrs = {"type": "rss", "text": label, "title": label, "xmlUrl": f["url"]}
        if f.get("site_url"):
            attrs["htmlUrl"] = f["site_url"]
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
