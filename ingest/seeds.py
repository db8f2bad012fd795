"""Seeds: load a seed article from a .txt/.md file or a URL into title, body and settings."""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SeedError
from .text import CJK, strip_boilerplate, words

MAX_SEED_BYTES = 2 * 1024 * 1024  # a seed is an article; 2 MiB of text is already a book
MIN_SEED_WORDS = 8
SEED_SUFFIXES = (".txt", ".md")
MAX_CJK_LABEL = 6  # Chinese and Japanese have no spaces to count: a label is a few characters ("国際ニュース")
_CJK_CHAR = re.compile(f"[{CJK}]")


@dataclass
class SeedDoc:
    """A seed as loaded, before it is stored."""

    name: str
    title: str
    body: str
    url: str | None = None
    threshold: float | None = None
    keywords: list[str] = field(default_factory=list)
    source: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.body}".encode("utf-8", "surrogatepass")).hexdigest()


def slugify(text: str) -> str:
    """A seed name from a file name or title: lower-case words joined by hyphens (accents dropped, scripts kept)."""
    decomposed = unicodedata.normalize("NFKD", text)
    text = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    slug = re.sub(r"[\W_]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-") or "seed"


# A byte-order mark names its encoding outright (UTF-32 first: its little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy one-byte encodings a seed may still come in, the likeliest first (ties go to the earlier one).
# Hebrew before Cyrillic: case-less Hebrew reads as plausible lower-case Cyrillic, while Russian rarely
# survives CP1255 at all (its capitals and 'ы', 'ь' fall on bytes CP1255 leaves undefined).
LEGACY_ENCODINGS = ("cp1252", "cp1250", "cp1254", "cp1257", "cp1255", "cp1251", "koi8_r", "cp1253", "cp1256")
MAX_GARBLED = 0.1  # a plausible reading: at most 1 in 10 of its non-ASCII words looks garbled
_SYMBOLS = frozenset(("So", "No", "Sk", "Sm", "Sc", "Cc", "Co", "Cn"))
# The non-ASCII letters of the languages written in those code pages: a Latin reading whose accented
# words fit no single language's alphabet ('Cumhurbaþkaný', Turkish read as CP1252) is the wrong table.
LATIN_ALPHABETS = tuple(frozenset(a) for a in (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíóúñü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian
    "àçèéíïòóúü",  # Catalan
    "áéëïóöü",  # Dutch
    "æøåéó",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áðéíóúýþæö",  # Icelandic
    "çğıöşüâî",  # Turkish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "ąćęłńóśźż",  # Polish
    "áéíóöőúüű",  # Hungarian
    "čćđšž",  # Croatian, Slovenian, Bosnian
    "ăâîșțşţ",  # Romanian
    "ąčęėįšųūž",  # Lithuanian
    "āčēģīķļņšūž",  # Latvian
    "äõöüšž",  # Estonian
))


def _script(ch: str) -> str:
    """The script a letter belongs to, from its Unicode name ('LATIN', 'CYRILLIC', 'ARABIC', ...)."""
    return unicodedata.name(ch, "?").split(" ", 1)[0]


def _is_garbled(word: str) -> bool:
    """Whether a non-ASCII word reads like bytes decoded with the wrong table (see _garbled_share)."""
    letters = [ch for ch in word if ch.isalpha()]
    if len({_script(ch) for ch in letters}) > 1:
        return True
    if any(a.islower() and b.isupper() for a, b in zip(letters, letters[1:])):
        return True
    if len(letters) > 2 and _script(letters[0]) == "LATIN" and not any(ch.isascii() for ch in letters):
        return True
    at = [i for i, ch in enumerate(word) if ch.isalpha()]
    return any(ch in "\u00bf\u00a1" or unicodedata.category(ch) in _SYMBOLS for ch in word[at[0] : at[-1]])


def _garbled_share(text: str) -> float:
    """The share of a text's non-ASCII words that no writer would type: the mark of a wrong encoding.

    Garbled: mixed scripts ('cafй'), a capital after a small letter ('пОССИЯ'), Latin letters without one
    plain ASCII letter ('Ìèðîâûå', CP1251 read as CP1252), a symbol inside a word ('pó³noc', CP1250 read as
    CP1252), accented Latin letters no one language has together. A text mostly in capitals
    ('МИРОВЫЕ НОВОСТИ', CP1251 read as KOI8-R) is wholly garbled.
    """
    garbled = total = upper = letters = 0
    accented: list[frozenset[str]] = []  # the non-ASCII letters of each Latin word not garbled otherwise
    for word in text.split():
        if word.isascii() or not any(ch.isalpha() for ch in word):
            continue
        total += 1
        letters += sum(ch.isalpha() for ch in word)
        upper += sum(ch.isupper() for ch in word)
        if _is_garbled(word):
            garbled += 1
        elif all(_script(ch) == "LATIN" for ch in word if ch.isalpha()):
            accented.append(frozenset(ch for ch in word.lower() if ch.isalpha() and not ch.isascii()))
    if not total:
        return 0.0
    if upper > letters / 2:
        return 1.0
    if accented:
        garbled += len(accented) - max(sum(w <= alphabet for w in accented) for alphabet in LATIN_ALPHABETS)
    return garbled / total


def _decode_legacy(data: bytes, source: str) -> str:
    """Bytes that are not UTF-8: the one legacy encoding that reads them as plausible text, or SeedError."""
    best: tuple[float, str] | None = None
    for encoding in LEGACY_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        share = _garbled_share(text)
        if share <= MAX_GARBLED and (best is None or share < best[0]):
            best = (share, text)
    if best is None:
        raise SeedError(f"seed {source} is not UTF-8 text, and no legacy encoding reads it cleanly; save it as UTF-8")
    return best[1]


def _decode(data: bytes, source: str) -> str:
    """The text of a seed file: UTF-8 (or a byte-order-marked UTF-16/32), else a recognisable legacy encoding."""
    if not data.strip():
        raise SeedError(f"seed {source} is empty")
    if len(data) > MAX_SEED_BYTES:
        raise SeedError(f"seed {source} is {len(data) / 1048576:.1f} MiB; a seed is one article (at most 2 MiB)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise SeedError(f"seed {source} starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()}") from None
            if not text.strip():
                raise SeedError(f"seed {source} is empty")
            if "\0" in text:
                raise SeedError(f"seed {source} is a binary file, not text")
            return text
    if b"\0" in data[:8192]:
        raise SeedError(f"seed {source} is a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data, source)


def _is_label(line: str) -> bool:
    """A line above the headline that is a section label ("Asia", "World news", "国际新闻"), not a headline."""
    return len(line.split()) <= 3 and len(_CJK_CHAR.findall(line)) <= MAX_CJK_LABEL


def split_title(text: str) -> tuple[str, str]:
    """Title (the first line after any section labels, however long) and the body below it."""
    lines = [line.strip() for line in text.splitlines()]
    nonblank = [i for i, line in enumerate(lines) if line]
    if not nonblank:
        return "", ""
    title_at = next((i for i in nonblank[:5] if not _is_label(lines[i])), nonblank[0])
    title = lines[title_at]
    body = strip_boilerplate("\n".join(lines[title_at + 1 :]))
    return title, body.strip()


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    """Parse a leading '---' block of 'key: value' lines (lists as [a, b], 'a, b' or '- a' lines)."""
    if not opens_front_matter(text):
        return {}, text
    end = re.search(r"^---\s*$", text[3:], re.MULTILINE)
    if not end:
        raise SeedError("front matter opens with '---' but never closes")
    block, rest = text[3 : 3 + end.start()], text[3 + end.end() :]
    meta: dict[str, object] = {}
    key = None
    for raw in block.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s*-\s+(.*)$", line)
        if item and key:
            existing = meta.get(key)
            meta[key] = ([*existing] if isinstance(existing, list) else []) + [_unquote(item.group(1))]
            continue
        m = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if not m:
            raise SeedError(f"front matter line is not 'key: value': {line[:60]!r}")
        key, value = m.group(1).lower(), m.group(2).strip()
        if value.startswith("[") and value.endswith("]"):
            meta[key] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key] = _unquote(value) if value else []
    return meta, rest


def opens_front_matter(text: str) -> bool:
    """Whether text starts with a line that is exactly '---' (a '----------' rule is text, not front matter)."""
    return re.match(r"---[ \t]*(\r?\n|$)", text) is not None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _markdown_to_text(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+", "", text, flags=re.MULTILINE)
    return re.sub(r"(\*\*|__|\*|_|`)", "", text)


def parse_seed(data: bytes, source: str, name: str | None = None) -> SeedDoc:
    """A SeedDoc from the bytes of a .txt or .md seed file."""
    text = _decode(data, source)
    meta: dict[str, object] = {}
    if source.lower().endswith(".md") or opens_front_matter(text):
        try:
            meta, text = _front_matter(text)
        except SeedError as exc:
            raise SeedError(f"seed {source}: {exc}") from None
        heading = re.search(r"^\s{0,3}#\s+(.+)$", text, re.MULTILINE)
        if "title" not in meta and heading:
            meta["title"] = heading.group(1).strip()
            text = text[: heading.start()] + text[heading.end() :]
        text = _markdown_to_text(text)
    if meta.get("title"):
        title, body = str(meta["title"]), strip_boilerplate(text).strip()
    else:
        title, body = split_title(text)
    if len(words(f"{title} {body}")) < MIN_SEED_WORDS:
        raise SeedError(f"seed {source} has too little text to follow a story (under {MIN_SEED_WORDS} words)")
    return SeedDoc(
        name=slugify(name or str(meta.get("name") or Path(source).stem or title)),
        title=title,
        body=body,
        url=str(meta["url"]) if meta.get("url") else None,
        threshold=_threshold(meta.get("threshold"), source),
        keywords=_keywords(meta.get("keywords")),
        source=source,
    )


def _threshold(value: object, source: str) -> float | None:
    if value in (None, "", []):
        return None
    try:
        t = float(str(value))
    except ValueError:
        raise SeedError(f"seed {source}: threshold {value!r} is not a number") from None
    if not 0 <= t <= 1:
        raise SeedError(f"seed {source}: threshold {t} is outside 0..1")
    return t


def _keywords(value: object) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(k).strip() for k in items if str(k).strip()]


def load_seed_file(path: str | Path, name: str | None = None) -> SeedDoc:
    """Load a seed from a .txt or .md file."""
    path = Path(path)
    if not path.exists():
        raise SeedError(f"seed file {path} does not exist")
    if path.is_dir():
        raise SeedError(f"seed {path} is a folder, not a file")
    if path.suffix.lower() not in SEED_SUFFIXES:
        raise SeedError(f"seed {path} must be a .txt or .md file")
    try:
        if path.stat().st_size > MAX_SEED_BYTES:
            raise SeedError(f"seed {path} is {path.stat().st_size / 1048576:.1f} MiB; a seed is one article (at most 2 MiB)")
        data = path.read_bytes()
    except OSError as exc:  # no permission, gone meanwhile (an editor saving it), an I/O error
        raise SeedError(f"seed {path} cannot be read: {exc.strerror or exc}") from None
    return parse_seed(data, str(path), name)


def extract_main_text(html: bytes, url: str) -> str:
    """The main text of an article page (trafilatura), or '' when it finds none."""
    import trafilatura  # imported here: it takes a second, and only pages need it

    try:
        return (trafilatura.extract(html.decode("utf-8", errors="replace"), url=url, include_comments=False) or "").strip()
    except Exception:  # noqa: BLE001 - a page that breaks the extractor has no text for us
        return ""


def seed_from_html(html: bytes, url: str, name: str | None = None) -> SeedDoc:
    """A SeedDoc from an article page: trafilatura finds the title and main text."""
    import trafilatura

    doc = trafilatura.bare_extraction(html.decode("utf-8", errors="replace"), url=url, with_metadata=True)
    body = (getattr(doc, "text", None) or "").strip() if doc else ""
    title = (getattr(doc, "title", None) or "").strip() if doc else ""
    if not body:
        raise SeedError(f"no article text found at {url}")
    if not title:
        title, body = split_title(body)
    if len(words(f"{title} {body}")) < MIN_SEED_WORDS:
        raise SeedError(f"the page at {url} has too little text to follow a story")
    return SeedDoc(name=slugify(name or title), title=title, body=strip_boilerplate(body), url=url, source=url)
