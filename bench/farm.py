"""The feed farm: N RSS feeds x M entries of news-like text, served on 127.0.0.1 by this process alone.

Text: sentences drawn at random from the ECB+ development set (real news, 462 articles, ~7,400 distinct
sentences) and shuffled into ~500-word articles, so vocabulary, sentence lengths and punctuation are those
of news. Everything is deterministic from --seed: the same arguments give the same bytes.

Modes (switchable while running, so the URLs stored by the clients stay the same):
  304  every feed has an ETag and a Last-Modified; a matching If-None-Match / If-Modified-Since gets 304
  200  always 200 with the same bytes and no validators (no ETag, no Last-Modified, conditionals ignored)

Control (GET, on the same port):
  /_control/mode?set=304|200     switch mode
  /_control/gen?set=K            feed contents at growth generation K (0 = the base farm). Each generation
                                 prepends `--grow-entries` new entries (5) to `--grow-share` (10%) of the
                                 feeds, chosen at random per generation; a feed keeps its newest M entries.
                                 Setting K again gives the same bytes, so runs are repeatable.
  /_control/stats[?reset=1]      JSON: requests, 200s, 304s, bytes sent since the last reset
  /_control/quit                 stop the server

Feeds are at /feed/<i>.xml for i in 0..N-1. The process prints "PORT <n>" on stdout once it is listening
and the whole farm is rendered (that line is the readiness signal), and exits when its stdin closes (if it
is a pipe: the parent died), on /_control/quit, or after --max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import random
import re
import stat
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CORPUS_ENV = "BENCH_CORPUS"
CORPUS_REL = Path("shared") / "eval" / "ecbplus-dev.jsonl"
BASE_TIME = 1_714_521_600  # 2024-05-01T00:00:00Z: fixed, so the bytes never depend on the clock
_SENTENCE = re.compile(r"(?<=[.!?\u201d\"])\s+(?=[A-Z\u201c\"'(0-9])")


def find_corpus() -> Path:
    """The ECB+ file: $BENCH_CORPUS, else shared/ beside the checkout, else beside the checkout it was cloned from.

    A fresh clone of a local checkout (`git clone /work/main $d/p`) has no shared/ beside it; its origin does.
    """
    if os.environ.get(CORPUS_ENV):
        return Path(os.environ[CORPUS_ENV])
    root = Path(__file__).resolve().parent.parent
    candidates = [root.parent / CORPUS_REL]
    try:
        origin = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin.startswith("file://"):
        origin = origin[len("file://"):]
    if origin.startswith("/"):
        candidates.append(Path(origin).parent / CORPUS_REL)
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]  # missing: the caller reports it with this path


def load_sentences(corpus: Path) -> list[str]:
    """Distinct sentences of at least 4 words from the corpus, in file order (URL lines dropped)."""
    seen: set[str] = set()
    out: list[str] = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            for para in doc["text"].splitlines():
                para = para.strip()
                if not para or para.startswith(("http://", "https://", "www.")):
                    continue
                for s in _SENTENCE.split(para):
                    s = s.strip()
                    if len(s.split()) >= 4 and s not in seen:
                        seen.add(s)
                        out.append(s)
    return out


class Farm:
    """Renders every feed of every generation on demand and caches the bytes of the current one."""

    def __init__(self, sentences: list[str], feeds: int, entries: int, words: int, seed: int,
                 grow_share: float, grow_entries: int, render: bool = True):
        self.sentences = sentences
        self.n_feeds = feeds
        self.n_entries = entries
        self.words = words
        self.seed = seed
        self.grow_share = grow_share
        self.grow_entries = grow_entries
        self.gen = 0
        self.mode = "304"
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "status_200": 0, "status_304": 0, "status_404": 0, "bytes": 0}
        self._grown: dict[int, set[int]] = {}
        self._ids: list[list[int]] = []  # the entry numbers each feed's current body holds
        self.bodies: list[tuple[bytes, str, str]] = []  # (body, etag, last-modified) per feed
        if render:
            self.set_gen(0)

    # --- content -------------------------------------------------------------------------

    def _rng(self, *parts: int) -> random.Random:
        return random.Random(hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest())

    def article(self, feed: int, j: int) -> tuple[str, list[str], random.Random]:
        """Entry j of a feed: a headline (6-12 words of a sentence) and its body sentences (~--words words)."""
        rng = self._rng(feed, j)
        target = int(self.words * rng.uniform(0.7, 1.3))
        body: list[str] = []
        n = 0
        while n < target:
            s = self.sentences[rng.randrange(len(self.sentences))]
            body.append(s)
            n += len(s.split())
        head = self.sentences[rng.randrange(len(self.sentences))].split()
        title = " ".join(head[: rng.randint(6, 12)]).rstrip(".,;:")
        return title, body, rng

    def entry_xml(self, feed: int, j: int) -> str:
        """The <item> for entry j of a feed (j counts up as the feed grows; newer entries have bigger j)."""
        title, body, rng = self.article(feed, j)
        paras, i = [], 0
        while i < len(body):
            k = rng.randint(2, 5)
            paras.append("<p>" + html.escape(" ".join(body[i : i + k]), quote=False) + "</p>")
            i += k
        when = formatdate(BASE_TIME + feed * 7 + j * 3600, usegmt=True)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
        link = f"https://site{feed % 97}.example.org/news/{feed}/{j}-{slug}"
        xml = (
            "<item>"
            f"<title>{html.escape(title)}</title>"
            f"<link>{html.escape(link)}</link>"
            f'<guid isPermaLink="false">farm-{feed}-{j}</guid>'
            f"<pubDate>{when}</pubDate>"
            f"<dc:creator>Staff {feed % 13}</dc:creator>"
            f"<description>{html.escape(body[0])}</description>"
            f"<content:encoded><![CDATA[{''.join(paras)}]]></content:encoded>"
            "</item>\n"
        )
        return xml

    def entry_ids(self, feed: int, gen: int) -> list[int]:
        """The entry numbers a feed shows at a generation, newest first."""
        grown = sum(self.grow_entries for g in range(1, gen + 1) if feed in self.grown_at(g))
        top = self.n_entries + grown
        return list(range(top - 1, top - 1 - self.n_entries, -1))

    def grown_at(self, gen: int) -> set[int]:
        """The feeds that gain entries at this generation."""
        if gen not in self._grown:
            rng = self._rng(-1, gen)
            count = max(1, round(self.n_feeds * self.grow_share))
            self._grown[gen] = set(rng.sample(range(self.n_feeds), count))
        return self._grown[gen]

    def render(self, feed: int, ids: list[int]) -> tuple[bytes, str, str]:
        items = "".join(self.entry_xml(feed, j) for j in ids)
        newest = BASE_TIME + feed * 7 + ids[0] * 3600
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"<title>Farm feed {feed}</title>\n<link>https://site{feed % 97}.example.org/news/{feed}/</link>\n"
            f"<description>Benchmark feed {feed}</description>\n<language>en</language>\n"
            f"<lastBuildDate>{formatdate(newest, usegmt=True)}</lastBuildDate>\n"
            f"{items}</channel>\n</rss>\n"
        ).encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        return body, etag, formatdate(newest, usegmt=True)

    def set_gen(self, gen: int) -> None:
        """Serve generation gen; only the feeds whose entries differ from the current ones are rendered again."""
        ids = [self.entry_ids(f, gen) for f in range(self.n_feeds)]
        bodies = [
            self.bodies[f] if f < len(self._ids) and self._ids[f] == ids[f] else self.render(f, ids[f])
            for f in range(self.n_feeds)
        ]
        with self.lock:
            self.bodies = bodies
            self._ids = ids
            self.gen = gen

    def total_bytes(self) -> int:
        return sum(len(b) for b, _, _ in self.bodies)


class Handler(BaseHTTPRequestHandler):
    server: "FarmServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        farm = self.server.farm
        if parts.path.startswith("/_control/"):
            self._control(parts.path[len("/_control/"):], parse_qs(parts.query))
            return
        m = re.fullmatch(r"/feed/(\d+)\.xml", parts.path)
        with farm.lock:
            farm.stats["requests"] += 1
            if m is None or int(m.group(1)) >= farm.n_feeds:
                farm.stats["status_404"] += 1
                found = None
            else:
                found = farm.bodies[int(m.group(1))]
            mode = farm.mode
        if found is None:
            self._reply(404, b"not found", {"Content-Type": "text/plain"})
            return
        body, etag, modified = found
        if mode == "304":
            headers = {"ETag": etag, "Last-Modified": modified, "Cache-Control": "no-cache"}
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if (inm is not None and inm == etag) or (inm is None and ims is not None and ims == modified):
                with farm.lock:
                    farm.stats["status_304"] += 1
                self._reply(304, b"", headers)
                return
        else:
            headers = {"Cache-Control": "no-cache"}
        headers["Content-Type"] = "application/rss+xml; charset=utf-8"
        with farm.lock:
            farm.stats["status_200"] += 1
            farm.stats["bytes"] += len(body)
        self._reply(200, body, headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _control(self, what: str, query: dict[str, list[str]]) -> None:
        farm = self.server.farm
        value = (query.get("set") or [None])[0]
        if what == "mode" and value in ("304", "200"):
            with farm.lock:
                farm.mode = value
        elif what == "gen" and value is not None and value.isdigit() and int(value) <= 1000:
            farm.set_gen(int(value))
        elif what == "stats":
            if query.get("reset"):
                with farm.lock:
                    farm.stats = dict.fromkeys(farm.stats, 0)
        elif what == "quit":
            self._reply(200, b"{}", {"Content-Type": "application/json"})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        else:
            self._reply(400, b"bad control request", {"Content-Type": "text/plain"})
            return
        with farm.lock:
            state = {"mode": farm.mode, "gen": farm.gen, "feeds": farm.n_feeds, "entries": farm.n_entries,
                     "total_bytes": farm.total_bytes(), **farm.stats}
        self._reply(200, json.dumps(state).encode(), {"Content-Type": "application/json"})


class FarmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, farm: Farm, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.farm = farm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--words", type=int, default=500, help="mean words per article (each is 70%%-130%% of it)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=("304", "200"), default="304")
    ap.add_argument("--grow-share", type=float, default=0.10)
    ap.add_argument("--grow-entries", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=None, help=f"default: ${CORPUS_ENV}, else ../{CORPUS_REL}")
    ap.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    ap.add_argument("--max-seconds", type=float, default=3600.0, help="stop by itself after this long")
    args = ap.parse_args(argv)

    started = time.monotonic()
    sentences = load_sentences(args.corpus or find_corpus())
    farm = Farm(sentences, args.feeds, args.entries, args.words, args.seed, args.grow_share, args.grow_entries)
    farm.mode = args.mode
    server = FarmServer(farm, args.port)
    info = {"port": server.server_address[1], "feeds": args.feeds, "entries": args.entries, "sentences": len(sentences),
            "total_bytes": farm.total_bytes(), "render_seconds": round(time.monotonic() - started, 2)}
    print(f"PORT {server.server_address[1]}", flush=True)
    print("INFO " + json.dumps(info), flush=True)

    def watch_stdin() -> None:  # the parent closed our stdin (or died): stop
        try:
            while sys.stdin.buffer.read(1):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown()

    if stat.S_ISFIFO(os.fstat(0).st_mode):  # started by a harness with a pipe: its end is our end
        threading.Thread(target=watch_stdin, daemon=True).start()
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        timer.cancel()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
