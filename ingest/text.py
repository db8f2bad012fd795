"""Text helpers shared by scoring and dedup: words, stopwords and site boilerplate."""

from __future__ import annotations

import re
import unicodedata

# Chinese and Japanese put no spaces between words: each ideograph or kana is a word of its own, so
# shingles of 5 characters work as 5-word shingles do elsewhere. (Korean has spaces and keeps its words.)
CJK = "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
WORD = re.compile(rf"[{CJK}]|[^\W_{CJK}]+(?:[''][^\W_{CJK}]+)*(?:[.,][0-9]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being below
    between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each few for
    from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up very was wasn't we
    we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's
    with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    said says say will one two new also just like would could may might must us mr mrs ms per via since
    year years time week day days told according last first can get got make made many much even still well
    s t re ve ll d
    """.split()
)

# Lines that sites wrap around a copied article: dropped before comparing texts.
BOILERPLATE = re.compile(
    r"^\s*(source link|read more.*|continue reading.*|share( this)?( article| story)?:?.*|"
    r"(facebook|twitter|whatsapp|telegram|linkedin|email|print)(\s+(facebook|twitter|whatsapp|telegram|linkedin|email|print))*|"
    r"sign up for .*newsletter.*|subscribe to .*|follow us on .*|advertisement|related( articles| stories)?:?|"
    r"copyright .*|all rights reserved.*|click here .*)\s*$",
    re.IGNORECASE,
)


# A line that begins like an address: scraped pages often open with their URL, and some tokenisers put
# spaces around its punctuation ("http: / / example. com / 2005 / 11 / story. html").
_URL_START = re.compile(r"\s*(?:https?\s*:\s*/\s*/|www\s*\.)", re.IGNORECASE)
_URL_PUNCTUATION = re.compile(r"\s*([./:?=&#%~+_-])\s*")


def without_url_lines(text: str) -> str:
    """The text without lines that are an address and nothing else (lines as str.splitlines() sees them).

    An address is not prose: its parts (http, www, html, the site's name, the date in its path) are words
    every page of that site shares, and as a title they would count double.
    """
    if "/" not in text and "www" not in text.casefold():
        return text  # most texts: no line of them can be an address
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not _is_url(line)]
    return text if len(kept) == len(lines) else "".join(kept)


def _is_url(line: str) -> bool:
    """Whether a line is one address alone (spaces around its punctuation aside)."""
    if _URL_START.match(line) is None:
        return False
    return not any(c.isspace() for c in _URL_PUNCTUATION.sub(r"\1", line.strip()))


def fold(text: str) -> str:
    """Lower-case, NFKC-normalised text with curly quotes made straight."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def words(text: str) -> list[str]:
    """All words of a text, folded (numbers such as 2,400 kept whole; each CJK character a word)."""
    folded = fold(text)
    found = (_ASCII_WORD if ascii_words_only(folded) else WORD).findall(folded)
    if "," not in "".join(found):  # one scan instead of a replace() per word: most texts have no 2,400
        return found
    return [w.replace(",", "") for w in found]


# WORD for a text whose word characters are all ASCII: the same matches there (no CJK character for its
# first branch; its letters are A-Z a-z 0-9), found about twice as fast, without Unicode lookups.
_ASCII_WORD = re.compile(r"[A-Za-z0-9]++(?:'[A-Za-z0-9]++)*+(?:[.,][0-9]++)*+")
_ASCII_BYTES = bytes(range(128))
_WORDISH = re.compile(rf"\w|[{CJK}]")


def ascii_words_only(text: str) -> bool:
    """Whether every word character (\\w) and CJK character of the text is ASCII, so ASCII classes are exact."""
    if text.isascii():
        return True
    # UTF-8 without its ASCII bytes: the text's non-ASCII characters alone, usually a few quotes and dashes.
    others = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    return _WORDISH.search(others) is None


def strip_boilerplate(text: str) -> str:
    """The text without lines that are site furniture (share buttons, 'Source link', newsletter pitches)."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not BOILERPLATE.match(line))


def has_boilerplate(text: str) -> bool:
    """Whether strip_boilerplate would drop a line other than a blank one (if not, the text keeps all its words)."""
    return any(map(BOILERPLATE.match, text.splitlines()))


def article_text(title: str | None, summary: str | None, content: str | None) -> str:
    """The text of an article that is scored and compared: its title and its longer body."""
    summary, content = summary or "", content or ""
    body = content if len(content) >= len(summary) else summary
    return f"{title or ''}\n{body}".strip()
