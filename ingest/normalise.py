"""Normalise: raw entries to Entry records with canonical URLs, plain text, UTC dates and a stable identity."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

from .text import article_text

if TYPE_CHECKING:
    from .parser import RawEntry

# Query parameters that only track the reader; everything else in a query may identify the page.
TRACKING_PARAMS = {
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid", "twclid", "ttclid", "li_fat_id",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id",
    "_ga", "_gl", "__twitter_impression", "wt.mc_id", "wt_mc_id", "ocid", "cmpid", "s_cid", "sr_share",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "rss", "ref_src", "guccounter",
    "smid", "smtyp", "xtor", "cid_rss",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "itm_")
DEFAULT_PORTS = {"http": 80, "https": 443}
MIN_YEAR = 1990


@dataclass
class Entry:
    """An entry ready to dedupe, score and store."""

    guid: str
    url: str  # canonical; the article's identity across feeds
    link: str | None  # the link as published (absolute), for people to click
    title: str
    summary: str
    content: str  # plain text of the longest body the feed gave
    content_html: str | None
    author: str | None
    published_at: str | None
    updated_at: str | None
    language: str | None

    @property
    def text(self) -> str:
        """Title and body together, the text that is scored and compared."""
        return article_text(self.title, self.summary, self.content)


def canonical_url(url: str) -> str:
    """Canonical form of a URL: lower-case scheme/host, no default port, fragment or tracking parameters.

    Percent-encoding is kept as published (%2F and %2B mean something else decoded); only characters that
    must be encoded (spaces, non-ASCII) are, so the function is idempotent.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = _upper_escapes(quote(parts.path, safe=_URL_SAFE)) or "/"
    kept = [p for p in parts.query.split("&") if p and not _is_tracking(p.split("=", 1)[0])]
    query = _upper_escapes("&".join(quote(p, safe=_URL_SAFE + "=&?") for p in kept))
    return urlunsplit((scheme, netloc, path, query, ""))


def _upper_escapes(text: str) -> str:
    """%c3%a9 -> %C3%A9 (RFC 3986 6.2.2.1)."""
    return _ESCAPE.sub(lambda m: m.group(0).upper(), text) if "%" in text else text


_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


_URL_SAFE = "/:@!$&'()*+,;=~%-._"


def _is_tracking(raw_key: str) -> bool:
    key = unquote_plus(raw_key).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "tr", "table", "section", "article", "header", "footer", "figure", "figcaption", "hr", "dd", "dt",
}
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "iframe", "head"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


# Runs of spaces and tabs become one space. A lone space is left alone, not replaced by itself: a text has a
# few hundred of them and no other run, so this finds nothing to do in most texts (3x faster than [ \t...]+).
_SPACES = re.compile(r" [ \t\r\f\v\u00a0]+|[\t\r\f\v\u00a0][ \t\r\f\v\u00a0]*")


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: tags and scripts gone, entities decoded, one paragraph a line."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        text = markup
    else:
        extractor = _TextExtractor()
        try:
            extractor.feed(markup)
            extractor.close()
            text = "".join(extractor.parts)
        except Exception:  # noqa: BLE001 - html.parser can choke on hostile markup; fall back to a crude strip
            text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    return tidy_whitespace(text)


def tidy_whitespace(text: str) -> str:
    """Spaces and tabs collapsed to one space; each run of whitespace holding a line break becomes one break;
    the ends stripped: re.sub(r"\\s*\\n\\s*", "\\n", ...).strip(), without a regex step at every character."""
    return "\n".join(filter(None, map(str.strip, _SPACES.sub(" ", text).split("\n"))))


_RFC822_YEAR = re.compile(r"(?<![\d:+])(-?\d{1,4})\s+\d{1,2}:\d{2}")


def parse_date(value: object) -> str | None:
    """ISO-8601 UTC ('...Z') from an RFC 3339 or RFC 822 date string; None if absent or absurd."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        year = _RFC822_YEAR.search(value)
        if year and int(year.group(1)) < MIN_YEAR:
            return None  # email.utils would read year 0000 or 0001 as 2000 or 2001
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if when is None:
        return None
    return _clamp(when)


def _clamp(when: datetime) -> str | None:
    """The UTC timestamp as stored, or None for dates before 1990 or more than two days ahead."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        when = when.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None
    now = datetime.now(timezone.utc)
    if when.year < MIN_YEAR or (when - now).days > 2:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_link(link: str | None, base: str) -> str | None:
    """An absolute http(s) link with a host, resolved against the feed URL; else None (javascript:, data:, http://).

    The scheme comes back in lower case (HTTP://x is http://x), the rest as published.
    """
    if not link:
        return None
    try:
        absolute = _storable(urljoin(base, link.strip()) if base else link.strip())
        parts = urlsplit(absolute)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme + absolute[len(parts.scheme) :]


def _storable(text: str) -> str:
    """The text with any lone surrogate (from a bad character reference) as U+FFFD, so SQLite can store it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _digest(*parts: str | None) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update((p or "").encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def normalise_entries(entries: list[RawEntry], feed_url: str, max_text: int = 200_000) -> list[Entry]:
    """Normalise a feed's entries; entries without a link get a URL derived from the feed and their GUID."""
    out: list[Entry] = []
    seen_guids: dict[str, str] = {}  # guid -> digest of what the entry said
    for raw in entries:
        link = safe_link(raw.link, feed_url)
        title = _storable(html_to_text(raw.title)[:1000])
        summary = _storable(html_to_text(raw.summary_html)[:max_text])
        content = _storable(html_to_text(raw.content_html)[:max_text]) if raw.content_html else ""
        if not (link or title or summary or content):
            continue
        guid = _storable((raw.guid or "").strip()[:1000]) or link or "sha1:" + _digest(title, summary or content)
        said = _digest(link, title, summary or content)
        if guid in seen_guids:
            if seen_guids[guid] == said:
                continue  # the same entry twice
            # A feed that reuses one GUID for different entries: tell them apart by what they say.
            guid = f"{guid}#{said}"
            if guid in seen_guids:
                continue
        seen_guids[guid] = said
        url = canonical_url(link) if link else f"{canonical_url(feed_url)}#entry-{_digest(guid)}"
        out.append(
            Entry(
                guid=guid,
                url=url,
                link=link,
                title=title,
                summary=summary,
                content=content,
                content_html=_storable(raw.content_html or raw.summary_html or "") or None,
                author=_storable(html_to_text(raw.author)[:300]) or None,
                published_at=parse_date(raw.published) or parse_date(raw.updated),
                updated_at=parse_date(raw.updated),
                language=_storable(raw.language) if raw.language else None,
            )
        )
    return out
