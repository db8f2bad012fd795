"""ingest/normalise.py: canonical URLs, HTML to text, dates, safe links and entry normalisation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalise import canonical_url, html_to_text, normalise_entries, parse_date, safe_link, tidy_whitespace
from ingest.parser import RawEntry

# (input, expected canonical form). Each row is a URL shape seen in real feeds.
CANONICAL = [
    # tracking parameters removed, everything else kept in its order
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?id=3&utm_campaign=x&utm_content=y&utm_term=z", "https://example.com/a?id=3"),
    ("https://example.com/a?id=3&fbclid=IwAR0abc", "https://example.com/a?id=3"),
    ("https://example.com/a?gclid=Cj0KCQ&page=2", "https://example.com/a?page=2"),
    ("https://example.com/a?mc_cid=123&mc_eid=456&p=1", "https://example.com/a?p=1"),
    ("https://example.com/a?igshid=MzRlODBiNWFlZA==", "https://example.com/a"),
    ("https://example.com/a?_ga=2.1234.5678&x=1", "https://example.com/a?x=1"),
    ("https://example.com/a?UTM_SOURCE=X&Keep=Me", "https://example.com/a?Keep=Me"),
    ("https://example.com/a?page=2&utm_source=rss&sort=new", "https://example.com/a?page=2&sort=new"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?q=a&q=b&utm_x=1#top", "https://example.com/a?q=a&q=b"),
    ("https://www.bbc.co.uk/news/world-europe-1?at_medium=RSS&at_campaign=KARANGA", "https://www.bbc.co.uk/news/world-europe-1"),
    ("https://www.nytimes.com/2024/01/01/world/x.html?smid=tw-share", "https://www.nytimes.com/2024/01/01/world/x.html"),
    ("https://example.com/article/1?ref=rss", "https://example.com/article/1?ref=rss"),
    # only tracking parameters: no dangling "?"
    ("https://example.com/a?utm_source=x", "https://example.com/a"),
    ("https://example.com?utm_source=x&fbclid=y", "https://example.com/"),
    # scheme and host case
    ("HTTPS://EXAMPLE.COM/Path/Keeps/Case", "https://example.com/Path/Keeps/Case"),
    ("Http://News.Example.ORG/a", "http://news.example.org/a"),
    # ports
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com:443", "https://example.com/"),
    # fragments and empty paths
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?x=1&utm_source=a#sec?utm_q", "https://example.com/a?x=1"),
    ("https://example.com", "https://example.com/"),
    # trailing dot in the host (the fully qualified form)
    ("https://example.com./a", "https://example.com/a"),
    ("https://example.com.:8080/a", "https://example.com:8080/a"),
    # percent-encoding: already-encoded stays (hex upper-cased), raw unicode gets encoded
    ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
    ("https://example.com/café", "https://example.com/caf%C3%A9"),
    ("https://example.com/a%20b", "https://example.com/a%20b"),
    ("https://example.com/a?q=%E2%82%AC", "https://example.com/a?q=%E2%82%AC"),
    ("https://example.com/a?q=a%26b", "https://example.com/a?q=a%26b"),
    (
        "https://example.com/новости?тема=война",
        "https://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8?%D1%82%D0%B5%D0%BC%D0%B0=%D0%B2%D0%BE%D0%B9%D0%BD%D0%B0",
    ),
    # an encoded slash is not a path separator: a%2Fb and a/b are different resources
    ("https://gitlab.example.com/api/v4/projects/group%2Fproject", "https://gitlab.example.com/api/v4/projects/group%2Fproject"),
    # an encoded plus in a query is a literal "+", not a space
    ("https://example.com/search?q=c%2B%2B", "https://example.com/search?q=c%2B%2B"),
    # IPv6 literal hosts keep their brackets
    ("https://[2001:db8::1]:443/a", "https://[2001:db8::1]/a"),
    ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
    # surrounding whitespace from sloppy feeds
    ("  https://example.com/a \n", "https://example.com/a"),
    # not http(s): returned unchanged
    ("ftp://Example.com/x?utm_source=y", "ftp://Example.com/x?utm_source=y"),
    ("mailto:Editor@Example.com", "mailto:Editor@Example.com"),
    ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),
    ("tag:example.com,2024:post-1", "tag:example.com,2024:post-1"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url_is_idempotent(url: str, expected: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_canonical_url_idn_host_is_lower_cased_and_path_encoded() -> None:
    out = canonical_url("https://BÜCHER.de/Straße?utm_source=x")
    assert out.startswith("https://bücher.de/") or out.startswith("https://xn--bcher-kva.de/")
    assert out.endswith("/Stra%C3%9Fe")
    assert canonical_url(out) == out


def test_same_article_with_different_trackers_has_one_identity() -> None:
    variants = [
        "https://News.Example.com/story/42?utm_source=twitter&utm_medium=social",
        "https://news.example.com:443/story/42?fbclid=abc#comments",
        "https://news.example.com./story/42?mc_cid=1&mc_eid=2",
        "https://news.example.com/story/42",
    ]
    assert {canonical_url(v) for v in variants} == {"https://news.example.com/story/42"}


# --- html_to_text -------------------------------------------------------------------------------


def test_html_to_text_drops_scripts_and_styles() -> None:
    markup = "<style>p { color: red }</style><p>Hello</p><script>alert('x'); var s = '<p>no</p>';</script><p>World</p>"
    text = html_to_text(markup)
    assert text == "Hello\nWorld"
    assert "alert" not in text and "color" not in text


def test_html_to_text_decodes_entities() -> None:
    assert html_to_text("<p>Tom &amp; Jerry &eacute;t&eacute; &#8217;quoted&#x2019; &lt;tag&gt;</p>") == "Tom & Jerry été ’quoted’ <tag>"


def test_html_to_text_entities_without_tags() -> None:
    assert html_to_text("Tom &amp; Jerry") == "Tom & Jerry"


def test_html_to_text_paragraphs_become_lines() -> None:
    markup = "<p>First paragraph.</p><p>Second <b>bold</b> one.</p><ul><li>item one</li><li>item two</li></ul>a<br>b"
    assert html_to_text(markup).splitlines() == ["First paragraph.", "Second bold one.", "item one", "item two", "a", "b"]


def test_html_to_text_collapses_whitespace() -> None:
    assert html_to_text("<p>one\u00a0\u00a0 two\t three</p>\n\n\n<p>  four </p>") == "one two three\nfour"


@pytest.mark.parametrize("plain", ["Plain text passes through.", "5 < 6 and 7 > 3", "AT&T buys a stake"])
def test_html_to_text_plain_text_passes_through(plain: str) -> None:
    assert html_to_text(plain) == plain


@pytest.mark.parametrize("empty", [None, "", "<p></p>", "<script>x()</script>"])
def test_html_to_text_empty(empty: str | None) -> None:
    assert html_to_text(empty) == ""


# --- parse_date ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z"),
        ("Tue, 10 Jun 2003 09:30:00 +0530", "2003-06-10T04:00:00Z"),
        ("Tue, 10 Jun 2003 04:00:00 -0500", "2003-06-10T09:00:00Z"),
        ("Tue, 10 Jun 2003 04:00:00 EST", "2003-06-10T09:00:00Z"),
        ("Mon, 01 Jan 2024 10:00:00 PST", "2024-01-01T18:00:00Z"),
        ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00Z"),
        ("2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z"),
        ("2024-03-01T12:00:00.123-05:00", "2024-03-01T17:00:00Z"),
        ("2024-03-01T23:30:00-01:00", "2024-03-02T00:30:00Z"),
        ("2024-03-01t12:00:00z", "2024-03-01T12:00:00Z"),  # RFC 3339 5.6: 'T' and 'Z' may be lower case
        ("  2024-03-01T12:00:00Z  ", "2024-03-01T12:00:00Z"),
    ],
)
def test_parse_date_to_utc(value: str, expected: str) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "garbage",
        "yesterday",
        12345,
        "2024-13-45T00:00:00Z",
        "Sun, 31 Feb 2024 00:00:00 GMT",
        "0000-01-01T00:00:00Z",
        "0000-00-00 00:00:00",
        "Sat, 01 Jan 0000 00:00:00 GMT",  # year 0 written RFC 822 style
        "Mon, 01 Jan 0001 00:00:00 GMT",  # year 1
        "Wed, 30 Nov -0001 00:00:00 +0000",  # PHP's zero date, as many WordPress feeds print it
        "9999-12-31T23:59:59Z",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ],
)
def test_parse_date_rejects_garbage_and_absurd_years(value: object) -> None:
    assert parse_date(value) is None


def test_parse_date_output_format() -> None:
    out = parse_date("Tue, 10 Jun 2003 04:00:00 GMT")
    assert out is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out)


# --- safe_link ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a/b", "https://ex.com/feed.xml", "https://ex.com/a/b"),
        ("story.html", "https://ex.com/news/feed.xml", "https://ex.com/news/story.html"),
        ("../up.html", "https://ex.com/news/feed.xml", "https://ex.com/up.html"),
        ("//cdn.ex.com/a", "https://ex.com/feed.xml", "https://cdn.ex.com/a"),
        ("  https://other.org/a  ", "https://ex.com/feed.xml", "https://other.org/a"),
        ("https://other.org/a", "", "https://other.org/a"),
        ("?p=123", "https://ex.com/feed/", "https://ex.com/feed/?p=123"),
    ],
)
def test_safe_link_resolves(link: str, base: str, expected: str) -> None:
    assert safe_link(link, base) == expected


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "  javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "mailto:editor@example.com",
        "ftp://ex.com/file",
        "tel:+441234",
        "",
        None,
    ],
)
def test_safe_link_rejects_non_http(link: str | None) -> None:
    assert safe_link(link, "https://ex.com/feed.xml") is None


@pytest.mark.parametrize("base", ["", "https://ex.com/feed.xml"])
def test_safe_link_malformed_link_is_none_not_an_exception(base: str) -> None:
    assert safe_link("http://[::1/broken", base) is None


# --- normalise_entries --------------------------------------------------------------------------

FEED = "https://Feeds.Example.com/world/rss.xml"


def test_entry_without_guid_falls_back_to_link() -> None:
    [e] = normalise_entries([RawEntry(link="https://ex.com/a", title="Title", summary_html="Body")], FEED)
    assert e.guid == "https://ex.com/a"


def test_entry_without_guid_or_link_gets_a_content_hash_guid() -> None:
    raw = RawEntry(title="Only a title", summary_html="<p>and a summary</p>")
    [a] = normalise_entries([raw], FEED)
    [b] = normalise_entries([RawEntry(title="Only a title", summary_html="<p>and a summary</p>")], FEED)
    [c] = normalise_entries([RawEntry(title="Another title", summary_html="<p>and a summary</p>")], FEED)
    assert a.guid.startswith("sha1:") and len(a.guid) > 10
    assert a.guid == b.guid  # stable from poll to poll
    assert a.guid != c.guid


def test_blank_guid_is_treated_as_missing() -> None:
    [e] = normalise_entries([RawEntry(guid="   ", link="https://ex.com/a", title="T")], FEED)
    assert e.guid == "https://ex.com/a"


def test_repeated_guid_for_different_entries_is_told_apart() -> None:
    raws = [
        RawEntry(guid="same", link="https://ex.com/1", title="First story"),
        RawEntry(guid="same", link="https://ex.com/2", title="Second story"),
        RawEntry(guid="same", link="https://ex.com/3", title="Third story"),
    ]
    out = normalise_entries(raws, FEED)
    assert [e.url for e in out] == ["https://ex.com/1", "https://ex.com/2", "https://ex.com/3"]
    assert len({e.guid for e in out}) == 3
    assert out[0].guid == "same"
    # the same feed polled again gives the same identities
    assert [e.guid for e in normalise_entries(raws, FEED)] == [e.guid for e in out]


def test_exact_repeat_of_an_entry_is_kept_once() -> None:
    raw = dict(guid="g", link="https://ex.com/1", title="A story", summary_html="Its text.")
    out = normalise_entries([RawEntry(**raw), RawEntry(**raw)], FEED)
    assert len(out) == 1
    assert out[0].guid == "g"


def test_entry_without_link_gets_url_derived_from_feed() -> None:
    raws = [RawEntry(guid="a", title="No link one"), RawEntry(guid="b", title="No link two")]
    out = normalise_entries(raws, FEED)
    assert all(e.link is None for e in out)
    assert all(e.url.startswith("https://feeds.example.com/world/rss.xml#") for e in out)
    assert out[0].url != out[1].url
    assert [e.url for e in normalise_entries(raws, FEED)] == [e.url for e in out]


def test_unsafe_link_is_dropped_and_url_derived_from_feed() -> None:
    [e] = normalise_entries([RawEntry(guid="x", link="javascript:alert(1)", title="Bad link")], FEED)
    assert e.link is None
    assert e.url.startswith("https://feeds.example.com/world/rss.xml#")


def test_url_is_canonical_but_link_is_as_published() -> None:
    raw = RawEntry(guid="1", link="/story/42?utm_source=rss&id=7#comments", title="T")
    [e] = normalise_entries([raw], FEED)
    assert e.url == "https://feeds.example.com/story/42?id=7"
    assert e.link == "https://Feeds.Example.com/story/42?utm_source=rss&id=7#comments"


def test_entry_text_fields_are_plain_text() -> None:
    raw = RawEntry(
        guid="1",
        link="https://ex.com/1",
        title="<b>Bold</b> &amp; brave",
        summary_html="<p>Short.</p>",
        content_html="<p>Long</p><script>x()</script><p>body</p>",
        author="<i>Jane</i> Doe",
    )
    [e] = normalise_entries([raw], FEED)
    assert (e.title, e.summary, e.content, e.author) == ("Bold & brave", "Short.", "Long\nbody", "Jane Doe")
    assert e.content_html == raw.content_html


def test_empty_entries_are_skipped() -> None:
    out = normalise_entries([RawEntry(), RawEntry(guid="g"), RawEntry(title="Kept")], FEED)
    assert [e.title for e in out] == ["Kept"]


def test_dates_are_utc() -> None:
    raws = [
        RawEntry(guid="1", title="utc", published="2024-03-01T12:00:00Z", updated="2024-03-02T08:00:00Z"),
        RawEntry(guid="4", title="updated only", updated="2024-03-02T08:00:00Z"),
        RawEntry(guid="5", title="absurd", published="0001-01-01T00:00:00Z"),
    ]
    out = {e.guid: e for e in normalise_entries(raws, FEED)}
    assert (out["1"].published_at, out["1"].updated_at) == ("2024-03-01T12:00:00Z", "2024-03-02T08:00:00Z")
    assert out["4"].published_at == "2024-03-02T08:00:00Z"
    assert out["5"].published_at is None


def test_date_with_offset_is_converted_to_utc() -> None:
    [e] = normalise_entries([RawEntry(guid="2", title="offset", published="2024-03-01T12:00:00+02:00")], FEED)
    assert e.published_at == "2024-03-01T10:00:00Z"


def test_date_without_zone_is_taken_as_utc() -> None:
    [e] = normalise_entries([RawEntry(guid="3", title="naive", published="2024-03-01T12:00:00")], FEED)
    assert e.published_at == "2024-03-01T12:00:00Z"


@pytest.mark.parametrize(("link", "expected"), [("HTTP://0", "http://0"), ("Https://Ex.example/A?b#c", "https://Ex.example/A?b#c")])
def test_safe_link_lower_cases_the_scheme_only(link: str, expected: str) -> None:
    assert safe_link(link, "https://ex.com/feed.xml") == expected


@pytest.mark.parametrize("link", ["http://", "http:///path", "http://user@/x", "http://a:99999/", "http://a:port/"])
def test_safe_link_without_a_usable_host_is_none(link: str) -> None:
    assert safe_link(link, "https://ex.com/feed.xml") is None


def test_lone_surrogates_become_replacement_characters_so_the_entry_can_be_stored() -> None:
    raw = RawEntry(guid="g\ud800", link="https://ex.com/\udc00", title="T \ud800", summary_html="S \udfff", content_html="<p>C \ud800</p>",
                   author="A \ud800", language="e\ud800n")
    [e] = normalise_entries([raw], "https://ex.com/feed.xml")
    for name in ("guid", "url", "link", "title", "summary", "content", "content_html", "author", "language"):
        getattr(e, name).encode("utf-8")  # raises if a lone surrogate is left
    assert (e.title, e.summary, e.content) == ("T \ufffd", "S \ufffd", "C \ufffd")


def test_entry_whose_link_has_no_host_still_gets_an_identity() -> None:
    [e] = normalise_entries([RawEntry(link="HTTP://", title="No host")], "https://ex.com/feed.xml")
    assert e.link is None and e.url.startswith("https://ex.com/feed.xml#entry-") and e.guid


def reference_tidy(text: str) -> str:
    """The definition tidy_whitespace implements faster: two substitutions, then strip."""
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


WHITESPACE_HEAVY = st.text(
    alphabet=st.sampled_from(list("ab \n\t\r\f\v") + ["\u00a0", "\u2003", "\u2028", "\x1c", "\x85", "\u3000"]), max_size=40
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(WHITESPACE_HEAVY, st.text(max_size=60)))
def test_tidy_whitespace_is_the_two_substitutions_and_strip(text):
    assert tidy_whitespace(text) == reference_tidy(text)


def test_tidy_whitespace_examples():
    assert tidy_whitespace("  Moscow \t and\u00a0\u00a0Tehran  \n \n\n  cement   an alliance\n") == "Moscow and Tehran\ncement an alliance"
    assert tidy_whitespace(" \n\t ") == ""
