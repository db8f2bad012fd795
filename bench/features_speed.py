"""Time feature extraction (processor.features_of): the current code against the reference copy of the old one.

Two workloads: the evaluation corpus's documents as full-text feed entries, and synthetic ~500-word news
texts made of the corpus's sentences (a fixed seed, so every run times the same texts). Each workload is
timed REPEATS times per implementation (alternating between them every CHUNK entries) and the median is
reported: once with the per-word caches warm (a long-running process), once with them emptied before each
run (a process starting a pull). The old implementation is tests/features_reference.py (the code before
the speed-up, kept verbatim); the outputs are checked equal first.

    .venv/bin/python bench/features_speed.py [../shared/eval/ecbplus-dev.jsonl] [--synthetic 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest import dedupe, score  # noqa: E402 - needs the repo on sys.path
from ingest.normalise import Entry  # noqa: E402
from ingest.processor import features_of  # noqa: E402
from tests import features_reference as reference  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "eval" / "ecbplus-dev.jsonl"
REPEATS = 5
CHUNK = 200  # entries timed in a row before switching implementation (smaller: less noise, more cache churn)
SHINGLE_SIZE = 5


def entry(title: str, summary: str, content: str) -> Entry:
    return Entry(guid=title, url="", link=None, title=title, summary=summary, content=content, content_html=None,
                 author=None, published_at=None, updated_at=None, language=None)


def eval_entries(path: Path) -> list[Entry]:
    """Each corpus document as a full-text feed entry: title, first sentence as summary, text as content."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        lines = [s for s in row["text"].splitlines() if s.strip()]
        lead = next((s for s in lines if s != row["title"]), row["title"])
        out.append(entry(row["title"], lead, "\n".join(lines)))
    return out


def synthetic_entries(path: Path, count: int, target_words: int = 500) -> list[Entry]:
    """count news-like texts of about target_words words, drawn from the corpus's sentences (seeded)."""
    sentences = [s for line in path.read_text(encoding="utf-8").splitlines()
                 for s in json.loads(line)["text"].splitlines() if len(s.split()) >= 5]
    rng = random.Random(20240601)
    out = []
    for _ in range(count):
        title = rng.choice(sentences)
        body: list[str] = []
        n = 0
        while n < target_words:
            s = rng.choice(sentences)
            body.append(s)
            n += len(s.split())
        out.append(entry(title, body[0], "\n".join(body)))
    return out


def clear_caches() -> None:
    """Empty the per-word caches of both implementations, as in a process that starts a pull."""
    reference.stem.cache_clear()
    reference._word_hashes.clear()
    score.stem.cache_clear()
    score._entity_terms.cache_clear()
    score._word_term.clear()
    score._number_terms.clear()
    dedupe._word_lanes.clear()


def time_run(entries: Sequence[Entry], cold: bool, chunk: int = CHUNK) -> tuple[float, float]:
    """Seconds the old and the new features_of take over all entries, alternating every chunk entries.

    Alternating in chunks, not whole runs, spreads the noise of a shared machine over both alike.
    """
    if cold:
        clear_caches()
    old = new = 0.0
    for i in range(0, len(entries), chunk):
        part = entries[i : i + chunk]
        for fn in (reference.features_of, features_of):
            start = time.perf_counter()
            for e in part:
                fn(e, SHINGLE_SIZE)
            elapsed = time.perf_counter() - start
            if fn is features_of:
                new += elapsed
            else:
                old += elapsed
    return old, new


def compare(name: str, entries: Sequence[Entry], cold: bool, chunk: int = CHUNK) -> dict:
    """Median seconds of REPEATS runs of the old and the new features_of over entries."""
    runs = [time_run(entries, cold, chunk) for _ in range(REPEATS)]
    old_runs, new_runs = [r[0] for r in runs], [r[1] for r in runs]
    old, new = statistics.median(old_runs), statistics.median(new_runs)
    words = sum(len(reference.tokens(e.text)) for e in entries)
    return {"workload": name, "caches": "cold" if cold else "warm", "entries": len(entries), "words": words,
            "old_s": old, "new_s": new, "old_ms_per_entry": 1000 * old / len(entries),
            "new_ms_per_entry": 1000 * new / len(entries), "speedup": old / new,
            "speedup_of_fastest_runs": min(old_runs) / min(new_runs), "old_runs": old_runs, "new_runs": new_runs}


def check_equal(entries: Sequence[Entry]) -> None:
    """The new features equal the old ones, Counter order included (it orders ties in the explanations)."""
    for e in entries:
        old, new = reference.features_of(e, SHINGLE_SIZE), features_of(e, SHINGLE_SIZE)
        assert list(old.counts.items()) == list(new.counts.items()), e.title
        assert list(old.names.items()) == list(new.names.items()), e.title
        assert old.words == new.words and old.hashes == new.hashes, e.title


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=DEFAULT_CORPUS, help="JSON lines with title and text")
    parser.add_argument("--synthetic", type=int, default=2000, help="how many synthetic ~500-word texts")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="entries timed in a row before switching implementation")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    workloads = [("eval documents", eval_entries(args.corpus)),
                 ("synthetic ~500-word texts", synthetic_entries(args.corpus, args.synthetic))]
    results = []
    for name, entries in workloads:
        check_equal(entries)
        for cold in (False, True):
            r = compare(name, entries, cold, args.chunk)
            results.append(r)
            print(f"{name}, {r['caches']} caches: {r['entries']} entries, {r['words'] / r['entries']:.0f} words each; "
                  f"median of {REPEATS}: old {r['old_s']:.3f} s ({r['old_ms_per_entry']:.2f} ms/entry), "
                  f"new {r['new_s']:.3f} s ({r['new_ms_per_entry']:.2f} ms/entry), {r['speedup']:.2f}x "
                  f"(fastest runs: {r['speedup_of_fastest_runs']:.2f}x)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
