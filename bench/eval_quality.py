"""Quality evaluation of seedwatch, run through its CLI against feeds served on 127.0.0.1.

Usage:
    python bench/eval_quality.py DATA.jsonl [--modes full,brief,brief-fulltext] [--orders forward,reverse]
        [--seedwatch PATH] [--json OUT.json] [--keep DIR] [-v]

DATA.jsonl holds one article a line: {"doc", "topic", "story", "title", "text"}, the text one sentence a
line (the evaluation README, /work/shared/eval/README.md, defines the protocol). For every mode and feed
order, in a fresh folder with a fresh database:

1. Seeds. Each story's seed is its first document in file order. It is written to seeds/story-<story>.txt
   (the title, a blank line, the text, all as in the data) and loaded with one `seeds sync`.
2. Candidates. Every other document is an RSS 2.0 item (link /articles/<doc>.html, guid, title, pubDate),
   dealt round-robin over feed-00 .. feed-09 in file order. The item's *lead* is the first sentence after
   the title. In the data the title is always the text's first line, so a lead equal to the text's first
   sentence would only repeat the title. A document that is one line long leads with that line.
   - full: description = the lead, content:encoded = the whole text, one <p> per line.
   - brief: description = the lead, no content:encoded; the link serves the whole text as an HTML page
     (nav and footer around an <article>).
   - brief-fulltext: the brief feeds, added with `feeds add --full-text`.
3. Copies of each seed, four items dealt over the same ten feeds after the candidates, served under
   /copies/<story>-<kind>.html:
   (a) the whole text between site boilerplate: a section label line on top; "Source link", share buttons
       and a newsletter line at the bottom;
   (b) the first half of the text's lines, then "Read more";
   (c) the headline line kept, and in the sentences after it about 5% of the words replaced (from a small
       synonym list, else by another word of the same document), one sentence dropped and one neutral
       sentence added, all drawn with random.Random(0) (a one-line text is edited as a whole);
   (d) the original publisher's item: the title and the first two sentences after it.
   They are rendered in the mode's way, like any other item.
4. Duplicates. For each story with a candidate, its first candidate gets one copy, made the same way,
   with the kind rotating a, b, c, d over the stories. All of these go in one more feed, feed-dups,
   served under /duplicates/<doc>-<kind>.html. It is polled after the ten others, so the original is always
   stored first.
5. Feeds are added with `feeds add --no-check` and polled one `poll --feed` call at a time: forward polls
   feed-00 .. feed-09, reverse feed-09 .. feed-00, and feed-dups comes last in both. (`poll --all` and a
   repeated `--feed` poll feeds concurrently and store them in whatever order they finish, so forward
   polls one feed at a time too.) Then one
   `query --verdict all --status all --include-duplicates --limit 0 --format json` returns every
   (seed, article) pair. Articles map back to items by their URL path.

Metrics, per mode and order:
- Relevance, over all seed x candidate pairs (the injected copies and duplicates are left out): positive
  when both are in the same story, found when the verdict is related or copy. Precision, recall, F1. MAP:
  each seed ranks every candidate by score, and the average precision of its story's candidates is taken.
  The MAP is the mean over seeds whose story has candidates.
- Seed copies: recall = injected copies judged `copy` for their own seed (also per kind). Precision =
  correct copy verdicts / all copy verdicts, over every pair. "Same-story copies" = candidates judged
  `copy` for their own story's seed.
- Duplicates: recall = injected duplicates whose duplicate_of is the original's article id (also per
  kind). Precision = correct / all articles with duplicate_of set, counted per article. It is correct
  when both articles come from the same document: an injected duplicate and its original, or two copies
  of one seed (the same story syndicated twice). Distinct documents never are.
- Wall time of the whole run and of the polls alone.
A pair that the query did not return counts as unrelated, with the lowest score.

A failing CLI call prints its stderr, and the script exits 1. So does a feed that fails to poll: the
harness serves every feed itself, so the run would not measure what it claims.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.localserver import LocalServer, Response  # noqa: E402 - needs the repo on sys.path

MODES = ("full", "brief", "brief-fulltext")
ORDERS = ("forward", "reverse")
FEED_COUNT = 10
DUP_FEED = "feed-dups"
KINDS = ("a", "b", "c", "d")
FOUND = ("related", "copy")
MISSING_SCORE = -1.0  # a pair the query did not return ranks below every real score
FIRST_PUB_DATE = datetime(2024, 3, 1, tzinfo=timezone.utc)

SECTION_LABEL = "World"
SITE_FOOTER = ("Source link", "Share this: Facebook Twitter WhatsApp", "Sign up for our newsletter")
READ_MORE = "Read more"
NEUTRAL_SENTENCES = (
    "The report could not be independently verified.",
    "More details are expected in the coming days.",
    "This article has been updated since it was first published.",
    "Further information was not immediately available.",
)
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "people": "persons", "police": "officers",
    "officials": "authorities", "killed": "slain", "died": "perished", "big": "large", "large": "big",
    "small": "little", "began": "started", "started": "began", "announced": "revealed", "reported": "stated",
    "after": "following", "near": "beside", "home": "house", "house": "home", "car": "vehicle",
    "attack": "assault", "help": "aid", "show": "display", "team": "squad", "game": "match",
    "hospital": "clinic", "fire": "blaze", "quake": "tremor", "earthquake": "tremor", "arrested": "detained",
    "city": "town", "town": "city", "week": "weekend", "several": "multiple", "many": "numerous",
}
WORD_CHANGE_SHARE = 0.05

PAGE_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<header><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/business">Business</a> | <a href="/sport">Sport</a> | <a href="/subscribe">Subscribe</a></nav></header>
<main><article><h1>{title}</h1>
{paragraphs}
</article></main>
<footer><p><a href="/about">About us</a> | <a href="/contact">Contact</a> | <a href="/privacy">Privacy policy</a></p><p>&copy; 2024 The Example Daily. All rights reserved.</p></footer>
</body></html>
"""


class EvalError(Exception):
    """The evaluation cannot go on: a failed CLI call, a failed feed, bad data."""


# ---------------------------------------------------------------- data and items


@dataclass(frozen=True)
class Doc:
    doc: str
    story: str
    title: str
    text: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Item:
    """One RSS item: a candidate, a copy of a seed, or a duplicate of a candidate."""

    path: str  # URL path on the local server; the item's identity
    feed: str
    role: str  # "candidate", "seed-copy" or "duplicate"
    doc: str  # the data document whose text it carries
    story: str
    kind: str | None  # copy kind (a-d) of seed copies and duplicates
    title: str
    lines: tuple[str, ...]  # the article as a page shows it, one paragraph a line
    lead: str  # the first sentence after the title: the feed's description


def load_docs(path: Path) -> list[Doc]:
    docs = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                docs.append(Doc(str(row["doc"]), str(row["story"]), row["title"], row["text"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise EvalError(f"{path}:{number}: not a data line ({exc})") from None
    if len({d.doc for d in docs}) != len(docs):
        raise EvalError(f"{path}: doc ids are not unique")
    return docs


def split_seeds(docs: Sequence[Doc]) -> tuple[dict[str, Doc], list[Doc]]:
    """Each story's first document is its seed; the rest are candidates (both in file order)."""
    seeds: dict[str, Doc] = {}
    candidates = []
    for doc in docs:
        if doc.story in seeds:
            candidates.append(doc)
        else:
            seeds[doc.story] = doc
    return seeds, candidates


def lead_of(title: str, lines: Sequence[str]) -> str:
    """The first line that is not the title (the title itself for a one-line text)."""
    return next((line for line in lines if line != title), lines[0] if lines else title)


def body_of(title: str, lines: Sequence[str]) -> list[str]:
    """The sentences after the title line."""
    return list(lines[1:]) if lines and lines[0] == title else list(lines)


def change_words(lines: list[str], rng: random.Random) -> list[str]:
    """About WORD_CHANGE_SHARE of the words replaced: by a synonym when the list has one, else by another word of the text."""
    tokens = [line.split(" ") for line in lines]
    words = [(i, j) for i, line in enumerate(tokens) for j, tok in enumerate(line) if tok.isalpha()]
    vocabulary = sorted({tokens[i][j] for i, j in words if len(tokens[i][j]) > 2})
    count = max(1, round(WORD_CHANGE_SHARE * sum(len(line) for line in tokens)))
    for i, j in rng.sample(words, min(count, len(words))):
        old = tokens[i][j]
        new = SYNONYMS.get(old.lower())
        if new is None:
            others = [w for w in vocabulary if w.lower() != old.lower()]
            new = rng.choice(others) if others else old
        tokens[i][j] = new.capitalize() if old[0].isupper() else new
    return [" ".join(line) for line in tokens]


def make_copy(doc: Doc, kind: str) -> tuple[list[str], str]:
    """The lines and the lead of a copy of doc, of kind a, b, c or d."""
    lines = doc.lines
    lead = lead_of(doc.title, lines)
    if kind == "a":
        return [SECTION_LABEL, *lines, *SITE_FOOTER], lead
    if kind == "b":
        return [*lines[: math.ceil(len(lines) / 2)], READ_MORE], lead
    if kind == "c":
        rng = random.Random(0)
        body = body_of(doc.title, lines)
        head = lines[: len(lines) - len(body)] if body else []  # the headline line is kept as it is
        edited = change_words(body or lines, rng)
        if len(edited) >= 2:
            del edited[rng.randrange(len(edited))]
        edited.insert(rng.randint(0, len(edited)), rng.choice(NEUTRAL_SENTENCES))
        return [*head, *edited], lead_of(doc.title, [*head, *edited])
    if kind == "d":
        return [doc.title, *body_of(doc.title, lines)[:2]], lead
    raise ValueError(f"unknown copy kind {kind!r}")


def url_key(name: str) -> str:
    return quote(name, safe="")


def build_items(seeds: dict[str, Doc], candidates: Sequence[Doc]) -> list[Item]:
    """Every item of every feed: candidates and seed copies dealt over the ten feeds, duplicates in feed-dups."""
    items: list[Item] = []

    def feed_name(n: int) -> str:
        return f"feed-{n % FEED_COUNT:02d}"

    for n, doc in enumerate(candidates):
        items.append(
            Item(f"/articles/{url_key(doc.doc)}.html", feed_name(n), "candidate", doc.doc, doc.story, None,
                 doc.title, tuple(doc.lines), lead_of(doc.title, doc.lines))
        )
    dealt = len(candidates)
    for story, seed in seeds.items():
        for kind in KINDS:
            lines, lead = make_copy(seed, kind)
            items.append(
                Item(f"/copies/{url_key(story)}-{kind}.html", feed_name(dealt), "seed-copy", seed.doc, story, kind,
                     seed.title, tuple(lines), lead)
            )
            dealt += 1
    first_candidate: dict[str, Doc] = {}
    for doc in candidates:
        first_candidate.setdefault(doc.story, doc)
    for n, doc in enumerate(first_candidate.values()):
        kind = KINDS[n % len(KINDS)]
        lines, lead = make_copy(doc, kind)
        items.append(
            Item(f"/duplicates/{url_key(doc.doc)}-{kind}.html", DUP_FEED, "duplicate", doc.doc, doc.story, kind,
                 doc.title, tuple(lines), lead)
        )
    return items


# ---------------------------------------------------------------- feeds and pages


def paragraphs(lines: Iterable[str]) -> str:
    return "\n".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines)


def render_page(item: Item) -> bytes:
    title = html.escape(item.title, quote=False)
    return PAGE_TEMPLATE.format(title=title, paragraphs=paragraphs(item.lines)).encode("utf-8")


def render_feed(name: str, items: Sequence[tuple[int, Item]], base_url: str, full: bool) -> bytes:
    """An RSS 2.0 feed; items are (number, item), the number setting the pubDate."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{name}</title><link>{base_url}/</link><description>seedwatch evaluation feed {name}</description>",
    ]
    for number, item in items:
        published = format_datetime(FIRST_PUB_DATE + timedelta(minutes=number))
        out.append(
            "<item>"
            f"<title>{xml_escape(item.title)}</title>"
            f"<link>{base_url}{item.path}</link>"
            f'<guid isPermaLink="false">seedwatch-eval:{xml_escape(item.path)}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<description>{xml_escape(item.lead)}</description>"
            + (f"<content:encoded>{xml_escape(paragraphs(item.lines))}</content:encoded>" if full else "")
            + "</item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def feed_names() -> list[str]:
    return [f"feed-{n:02d}" for n in range(FEED_COUNT)] + [DUP_FEED]


def serve_items(server: LocalServer, items: Sequence[Item], mode: str, feeds_dir: Path) -> dict[str, str]:
    """Route every page and feed on the server (feeds also written to feeds_dir); returns feed name -> URL."""
    by_feed: dict[str, list[tuple[int, Item]]] = defaultdict(list)
    for number, item in enumerate(items):
        by_feed[item.feed].append((number, item))
        server.route(item.path, Response(render_page(item), headers={"Content-Type": "text/html; charset=utf-8"}))
    feeds_dir.mkdir(parents=True, exist_ok=True)
    urls = {}
    for name in feed_names():
        body = render_feed(name, by_feed[name], server.url("").rstrip("/"), full=mode == "full")
        (feeds_dir / f"{name}.xml").write_bytes(body)
        server.route(f"/feeds/{name}.xml", Response(body))
        urls[name] = server.url(f"/feeds/{name}.xml")
    return urls


# ---------------------------------------------------------------- the CLI


class Seedwatch:
    """Runs seedwatch subcommands against one database; a failing call raises EvalError with its stderr."""

    def __init__(self, executable: str, db: Path, seeds_dir: Path):
        self.base = [executable, "--db", str(db), "--seeds-dir", str(seeds_dir)]
        self.env = {k: v for k, v in os.environ.items() if k not in ("SEEDWATCH_DB", "SEEDWATCH_BLOCK_PRIVATE")}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.base, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        except OSError as exc:
            raise EvalError(f"cannot run {command[0]}: {exc}") from None
        if done.returncode != 0:
            raise EvalError(
                f"`{' '.join(command)}` exited {done.returncode}\n"
                f"--- stderr ---\n{done.stderr.strip()}\n--- stdout ---\n{done.stdout.strip()[-2000:]}"
            )
        return done

    def __call__(self, *args: str) -> str:
        return self.run(*args).stdout

    def json(self, *args: str) -> list[dict]:
        return json.loads(self(*args))


def write_seed_files(seeds: dict[str, Doc], folder: Path) -> dict[str, str]:
    """seeds/story-<story>.txt per story (title, blank line, text); returns file name -> story."""
    folder.mkdir(parents=True)
    names = {}
    for story, doc in seeds.items():
        name = "story-" + re.sub(r"[^\w.-]", "_", story) + ".txt"
        if name in names:
            raise EvalError(f"stories {names[name]!r} and {story!r} would share the seed file {name}")
        (folder / name).write_text(f"{doc.title}\n\n{doc.text}\n", encoding="utf-8")
        names[name] = story
    return names


def load_seeds(cli: Seedwatch, files: dict[str, str]) -> dict[str, str]:
    """Sync the seeds folder; returns seed name -> story (every story must have become a seed)."""
    warnings = cli.run("seeds", "sync").stderr.strip()
    by_name = {row["name"]: files.get(Path(row["source"] or "").name) for row in cli.json("seeds", "list", "--format", "json")}
    loaded = {name: story for name, story in by_name.items() if story is not None}
    missing = sorted(set(files.values()) - set(loaded.values()))
    if missing or len(loaded) != len(files):
        raise EvalError(
            f"seeds sync loaded {len(loaded)} of {len(files)} seeds; stories without a seed: {missing}\n{warnings}"
        )
    return loaded


def poll_in_order(cli: Seedwatch, feed_urls: dict[str, str], order: str) -> list[str]:
    """Poll the feeds one at a time, in the order's sequence, feed-dups last; returns the summary lines."""
    ordered = sorted(name for name in feed_urls if name != DUP_FEED)
    if order == "reverse":
        ordered.reverse()
    return [cli("poll", "--feed", feed_urls[name]).strip() for name in [*ordered, DUP_FEED]]


def check_feeds(cli: Seedwatch) -> None:
    failed = [f for f in cli.json("feeds", "list", "--format", "json") if f["status"] != "ok" or f["last_error"]]
    if failed:
        raise EvalError("feeds failed to poll:\n" + "\n".join(f"  {f['url']}: {f['status']}: {f['last_error']}" for f in failed))


# ---------------------------------------------------------------- one run


@dataclass
class Observed:
    """What seedwatch said: pair scores and verdicts, and each article's id and duplicate_of."""

    pairs: dict[tuple[str, str], tuple[float, str]]  # (story of the seed, item path) -> (score, verdict)
    article_ids: dict[str, int]  # item path -> article id
    duplicate_of: dict[str, int]  # item path -> the article id it duplicates


@dataclass
class RunResult:
    mode: str
    order: str
    metrics: dict
    observed: Observed
    wall_seconds: float
    poll_seconds: float
    poll_lines: list[str]
    folder: str | None


def read_query(rows: list[dict], seed_story: dict[str, str], items: Sequence[Item]) -> Observed:
    """Query rows mapped back to items by URL path (compared unquoted: seedwatch re-quotes URLs)."""
    by_path = {unquote(item.path): item.path for item in items}
    observed = Observed({}, {}, {})
    for row in rows:
        path = by_path.get(unquote(urlsplit(row["url"]).path))
        if path is None or row["seed"] not in seed_story:
            raise EvalError(f"query returned an article or seed the harness did not make: {row['url']} / {row['seed']}")
        observed.pairs[(seed_story[row["seed"]], path)] = (float(row["score"]), row["verdict"])
        observed.article_ids[path] = row["id"]
        if row["duplicate_of"] is not None:
            observed.duplicate_of[path] = row["duplicate_of"]
    return observed


def run_once(
    executable: str, mode: str, order: str, seeds: dict[str, Doc], items: list[Item], folder: Path
) -> tuple[Observed, float, list[str]]:
    """One mode and order in folder: seeds, feeds, polls, query; returns what was observed, poll seconds, poll lines."""
    cli = Seedwatch(executable, folder / "seedwatch.db", folder / "seeds")
    files = write_seed_files(seeds, folder / "seeds")
    seed_story = load_seeds(cli, files)
    with LocalServer() as server:
        feed_urls = serve_items(server, items, mode, folder / "feeds")
        cli("feeds", "add", *feed_urls.values(), "--no-check", *(["--full-text"] if mode == "brief-fulltext" else []))
        started = time.monotonic()
        poll_lines = poll_in_order(cli, feed_urls, order)
        poll_seconds = time.monotonic() - started
    check_feeds(cli)
    rows = cli.json("query", "--verdict", "all", "--status", "all", "--include-duplicates", "--limit", "0", "--format", "json")
    return read_query(rows, seed_story, items), poll_seconds, poll_lines


# ---------------------------------------------------------------- metrics


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def average_precision(ranked_positive: Sequence[bool]) -> float | None:
    hits, total = 0, 0.0
    for rank, positive in enumerate(ranked_positive, 1):
        if positive:
            hits += 1
            total += hits / rank
    return total / hits if hits else None


def relevance_metrics(observed: Observed, stories: Sequence[str], candidates: Sequence[Item]) -> dict:
    tp = fp = fn = 0
    errors: dict[str, list[dict]] = {"false_positives": [], "false_negatives": []}
    per_seed_ap: dict[str, float] = {}
    for story in stories:
        scored = []
        for item in candidates:
            score, verdict = observed.pairs.get((story, item.path), (MISSING_SCORE, "missing"))
            positive, found = item.story == story, verdict in FOUND
            tp += positive and found
            fp += found and not positive
            fn += positive and not found
            if positive != found:
                errors["false_negatives" if positive else "false_positives"].append(
                    {"seed": story, "doc": item.doc, "score": score, "verdict": verdict}
                )
            scored.append((-score, item.path, positive))
        ap = average_precision([positive for *_, positive in sorted(scored)])
        if ap is not None:
            per_seed_ap[story] = ap
    errors["false_positives"].sort(key=lambda e: -e["score"])
    errors["false_negatives"].sort(key=lambda e: e["score"])
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": precision, "recall": recall, "f1": f1(precision, recall),
        "map": ratio(sum(per_seed_ap.values()), len(per_seed_ap)), "ap_per_seed": per_seed_ap,
        **errors,
    }


def copy_metrics(observed: Observed, items: Sequence[Item]) -> dict:
    copies = [i for i in items if i.role == "seed-copy"]
    found = {i.path for i in copies if observed.pairs.get((i.story, i.path), (0, ""))[1] == "copy"}
    verdicts = [(story, path) for (story, path), (_, verdict) in observed.pairs.items() if verdict == "copy"]
    by_path = {i.path: i for i in items}
    correct = sum(by_path[path].role == "seed-copy" and by_path[path].story == story for story, path in verdicts)
    same_story = [
        {"seed": i.story, "doc": i.doc, "score": observed.pairs[(i.story, i.path)][0]}
        for i in items
        if i.role == "candidate" and observed.pairs.get((i.story, i.path), (0, ""))[1] == "copy"
    ]
    return {
        "injected": len(copies), "found": len(found), "recall": ratio(len(found), len(copies)),
        "recall_per_kind": kind_recall(copies, found),
        "copy_verdicts": len(verdicts), "correct_verdicts": correct, "precision": ratio(correct, len(verdicts)),
        "copy_verdicts_by_role": dict(Counter(by_path[path].role for _, path in verdicts)),
        "same_story_copies": len(same_story), "same_story_copy_pairs": same_story,
        "missed": sorted(i.path for i in copies if i.path not in found),
    }


WIRE_RUN = 8  # words in a run, for telling whether two documents of the data share their text
WIRE_SHARE = 0.5  # share of the shorter document's runs found in the other


def shared_runs(a: str, b: str, n: int = WIRE_RUN) -> float:
    """Share of the shorter text's n-word runs found in the other: how much text two documents share."""
    def runs(text: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", text.lower())
        return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

    ra, rb = runs(a), runs(b)
    return len(ra & rb) / min(len(ra), len(rb)) if ra and rb else 0.0


def duplicate_metrics(observed: Observed, items: Sequence[Item], texts: dict[str, str] | None = None) -> dict:
    """Duplicate recall and precision by the protocol; texts (doc -> text) also checks each wrong flag against the data.

    The protocol calls two distinct documents never duplicates, but the data holds wire stories that two
    outlets ran nearly word for word. A wrong flag whose two documents share WIRE_SHARE of their
    WIRE_RUN-word runs in the data itself is counted apart, as "same text in the data".
    """
    by_path = {i.path: i for i in items}
    path_of_id = {article_id: path for path, article_id in observed.article_ids.items()}
    original_path = {i.doc: i.path for i in items if i.role == "candidate"}
    injected = [i for i in items if i.role == "duplicate"]
    found = {i.path for i in injected if observed.duplicate_of.get(i.path) == observed.article_ids.get(original_path[i.doc])}
    flagged = []
    for path, target_id in observed.duplicate_of.items():
        target = by_path.get(path_of_id.get(target_id, ""))
        item = by_path[path]
        flagged.append({
            "article": path, "role": item.role, "duplicate_of": target.path if target else target_id,
            "correct": target is not None and target.doc == item.doc,
        })
    correct = sum(f["correct"] for f in flagged)
    wrong = [f for f in flagged if not f["correct"]]
    doc_of = {i.path: i.doc for i in items}
    for f in wrong:
        a, b = doc_of.get(f["article"]), doc_of.get(f["duplicate_of"]) if isinstance(f["duplicate_of"], str) else None
        f["shared_runs_in_data"] = round(shared_runs(texts[a], texts[b]), 3) if texts and a and b else None
    same_text = sum((f["shared_runs_in_data"] or 0) >= WIRE_SHARE for f in wrong)
    return {
        "injected": len(injected), "found": len(found), "recall": ratio(len(found), len(injected)),
        "recall_per_kind": kind_recall(injected, found),
        "flagged": len(flagged), "correct_flags": correct, "precision": ratio(correct, len(flagged)),
        "flagged_by_role": dict(Counter(f["role"] for f in flagged)),
        "wrong_flags": wrong,
        "wrong_same_text_in_data": same_text,
        "precision_same_text_counted_right": ratio(correct + same_text, len(flagged)),
        "missed": sorted(i.path for i in injected if i.path not in found),
    }


def kind_recall(injected: Sequence[Item], found: set[str]) -> dict[str, float | None]:
    return {
        kind: ratio(sum(i.path in found for i in injected if i.kind == kind), sum(i.kind == kind for i in injected))
        for kind in KINDS
    }


def evaluate(observed: Observed, seeds: dict[str, Doc], items: Sequence[Item], texts: dict[str, str] | None = None) -> dict:
    candidates = [i for i in items if i.role == "candidate"]
    expected = len(items) * len(seeds)
    return {
        "relevance": relevance_metrics(observed, list(seeds), candidates),
        "copies": copy_metrics(observed, items),
        "duplicates": duplicate_metrics(observed, items, texts),
        "pairs_returned": len(observed.pairs), "pairs_expected": expected,
        "articles_missing": sorted({i.path for i in items} - set(observed.article_ids)),
    }


def compare_orders(a: RunResult, b: RunResult) -> dict:
    shared = set(a.observed.pairs) & set(b.observed.pairs)
    diffs = [abs(a.observed.pairs[k][0] - b.observed.pairs[k][0]) for k in shared]
    flips = sum(a.observed.pairs[k][1] != b.observed.pairs[k][1] for k in shared)
    return {
        "mode": a.mode,
        a.order: {"f1": a.metrics["relevance"]["f1"], "map": a.metrics["relevance"]["map"]},
        b.order: {"f1": b.metrics["relevance"]["f1"], "map": b.metrics["relevance"]["map"]},
        "pairs": len(shared), "mean_abs_score_diff": ratio(sum(diffs), len(diffs)),
        "max_abs_score_diff": max(diffs, default=None), "verdicts_differ": flips,
    }


# ---------------------------------------------------------------- output


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first two columns (mode, order) left-aligned, numbers right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def report(results: Sequence[RunResult], comparisons: Sequence[dict], verbose: bool) -> str:
    main_rows = []
    kind_rows = []
    for r in results:
        rel, cop, dup = r.metrics["relevance"], r.metrics["copies"], r.metrics["duplicates"]
        main_rows.append([
            r.mode, r.order, fmt(rel["precision"]), fmt(rel["recall"]), fmt(rel["f1"]), fmt(rel["map"]),
            fmt(cop["recall"]), fmt(cop["precision"]), fmt(cop["same_story_copies"]),
            fmt(dup["recall"]), fmt(dup["precision"]), fmt(r.wall_seconds, 1), fmt(r.poll_seconds, 1),
        ])
        kind_rows.append([
            r.mode, r.order,
            *(fmt(cop["recall_per_kind"][k]) for k in KINDS), *(fmt(dup["recall_per_kind"][k]) for k in KINDS),
        ])
    out = [
        table(["mode", "order", "P", "R", "F1", "MAP", "copy R", "copy P", "same-story copies", "dup R", "dup P", "wall s", "poll s"], main_rows),
        "",
        table(["mode", "order", *(f"copy {k}" for k in KINDS), *(f"dup {k}" for k in KINDS)], kind_rows),
    ]
    if comparisons:
        out.append("")
    for c in comparisons:
        out.append(
            f"{c['mode']}: forward F1 {fmt(c['forward']['f1'])} MAP {fmt(c['forward']['map'])} | "
            f"reverse F1 {fmt(c['reverse']['f1'])} MAP {fmt(c['reverse']['map'])} | "
            f"mean |score diff| {fmt(c['mean_abs_score_diff'], 4)} (max {fmt(c['max_abs_score_diff'], 4)}) "
            f"over {c['pairs']} pairs, {c['verdicts_differ']} verdicts differ"
        )
    for r in results:
        notes = []
        m = r.metrics
        if m["articles_missing"] or m["pairs_returned"] != m["pairs_expected"]:
            notes.append(f"query returned {m['pairs_returned']} of {m['pairs_expected']} pairs; {len(m['articles_missing'])} articles missing")
        if m["duplicates"]["wrong_flags"]:
            d = m["duplicates"]
            notes.append(f"wrong duplicate_of on {len(d['wrong_flags'])} articles (by role: "
                         f"{dict(Counter(f['role'] for f in d['wrong_flags']))}); {d['wrong_same_text_in_data']} of them join two "
                         f"documents that share >= {WIRE_SHARE:.0%} of their {WIRE_RUN}-word runs in the data itself "
                         f"(dup P counting those right: {fmt(d['precision_same_text_counted_right'])})")
        if notes:
            out.append(f"{r.mode}/{r.order}: " + "; ".join(notes))
    if verbose:
        for r in results:
            rel = r.metrics["relevance"]
            for label, key in (("false positives (highest scores)", "false_positives"), ("false negatives (lowest scores)", "false_negatives")):
                out.append(f"\n{r.mode}/{r.order}: 10 worst {label}")
                out.extend(f"  seed {e['seed']:<12} doc {e['doc']:<22} score {e['score']:.3f} {e['verdict']}" for e in rel[key][:10])
    return "\n".join(out)


def result_json(r: RunResult) -> dict:
    return {
        "mode": r.mode, "order": r.order, "wall_seconds": r.wall_seconds, "poll_seconds": r.poll_seconds,
        "poll_output": r.poll_lines, "kept_in": r.folder, **r.metrics,
    }


# ---------------------------------------------------------------- main


def parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise argparse.ArgumentTypeError(f"{what}: expected some of {', '.join(allowed)}, got {text!r}")
    return values


def default_seedwatch() -> str:
    venv = REPO / ".venv" / "bin" / "seedwatch"
    return str(venv) if venv.exists() else (shutil.which("seedwatch") or str(venv))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="JSON lines: doc, topic, story, title, text")
    parser.add_argument("--modes", type=lambda t: parse_list(t, MODES, "--modes"), default=list(MODES))
    parser.add_argument("--orders", type=lambda t: parse_list(t, ORDERS, "--orders"), default=list(ORDERS))
    parser.add_argument("--seedwatch", default=default_seedwatch(), help="the seedwatch command (default: the repo's .venv)")
    parser.add_argument("--json", type=Path, help="write every metric here")
    parser.add_argument("--keep", type=Path, help="keep each run's folder (database, seeds, feeds) under this folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the 10 worst false positives and negatives")
    return parser.parse_args(argv)


def run_folder(keep: Path | None, mode: str, order: str, temp_root: Path) -> Path:
    folder = (keep or temp_root) / f"{mode}-{order}"
    if folder.exists():
        raise EvalError(f"{folder} already exists: each run needs a fresh folder")
    folder.mkdir(parents=True)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        docs = load_docs(args.data)
        seeds, candidates = split_seeds(docs)
        items = build_items(seeds, candidates)
        print(f"{args.data}: {len(docs)} documents, {len(seeds)} stories, {len(candidates)} candidates, "
              f"{len(items) - len(candidates)} injected copies and duplicates", file=sys.stderr)
        results = []
        with tempfile.TemporaryDirectory(prefix="seedwatch-eval-") as temp:
            for mode in args.modes:
                for order in args.orders:
                    started = time.monotonic()
                    folder = run_folder(args.keep, mode, order, Path(temp))
                    observed, poll_seconds, poll_lines = run_once(args.seedwatch, mode, order, seeds, items, folder)
                    metrics = evaluate(observed, seeds, items, {d.doc: d.text for d in docs})
                    wall = time.monotonic() - started
                    results.append(RunResult(mode, order, metrics, observed, wall, poll_seconds, poll_lines,
                                             str(folder) if args.keep else None))
                    print(f"{mode}/{order}: {wall:.1f} s", file=sys.stderr)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    comparisons = [
        compare_orders(*pair)
        for mode in args.modes
        if len(pair := [r for r in results if r.mode == mode and r.order in ORDERS]) == 2
    ]
    print(report(results, comparisons, args.verbose))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "data": str(args.data), "seedwatch": args.seedwatch,
            "runs": [result_json(r) for r in results], "order_comparison": comparisons,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
