"""Extract: what a parser process does with one fetched body (parse, normalise, features), and its set-up.

A poll of many feeds sends every changed body here, to processes on every core (ingest.poll.ParserPool). They
are forked from a forkserver that has already imported PRELOAD, so each starts ready to parse, and none of
them imports what only the main process needs (the HTTP client, the CLI's commands, sqlite-utils). This
module itself imports only the standard library: a poll whose feeds all answer 304 loads it without the
parsers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .normalise import Entry
    from .parser import ParsedFeed
    from .processor import Features

# What the forkserver imports once for all the parser processes it forks (extract's stages and feedparser).
PRELOAD = ("ingest.extract", "feedparser", "ingest.parser", "ingest.normalise", "ingest.processor")
# Parser processes run at a lower priority than the process that stores: the store thread is a poll's
# critical path, and on two cores three busy threads share them equally unless told otherwise
# (a 200-feed cold pull, back to back: 52-54 s at equal priority, 41.5-42 s with this).
NICE = 10


@dataclass
class Extracted:
    """What a parser process returns: the feed's metadata, its normalised entries and their features."""

    feed: ParsedFeed
    entries: list[Entry]
    features: dict[str, Features]


def extract(content: bytes, headers: dict[str, str], url: str, shingle_size: int, known: set[str] = frozenset()) -> Extracted:
    """Parse, normalise and extract features (of the entries whose GUID is not known): CPU work for a parser process."""
    from .normalise import normalise_entries
    from .parser import parse_feed
    from .processor import BATCH_ENTRIES, features_of

    parsed = parse_feed(content, headers, url)
    entries = normalise_entries(parsed.entries, url)
    parsed.entries = []  # already normalised; no need to send them back
    fresh = [e for e in entries if e.guid not in known][:BATCH_ENTRIES]  # beyond that, the store thread, batch by batch
    return Extracted(parsed, entries, {e.guid: features_of(e, shingle_size, index=True) for e in fresh})


def start_parser_process(parent_pid: int, memory_mb: int) -> None:
    """A parser process's set-up: a cap on its data segment (RLIMIT_DATA), a lower priority, and exit with its parent."""
    try:
        import resource

        limit = memory_mb * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, ValueError, OSError):  # no resource module (Windows) or a refused limit: no cap
        pass
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # no os.nice (Windows), or refused: the same priority as the poll
        pass
    # Ctrl-C in a terminal reaches every process of its group. The seedwatch process stops its poll or
    # rescore and says so in one line; a parser process ends at once, without a traceback of its own.
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(1))
    exit_with_parent(parent_pid)


def exit_with_parent(parent_pid: int, every: float = 1.0) -> None:
    """In a parser process: exit as soon as the seedwatch process that started the pool is gone.

    A pool worker blocks on its task queue, whose write end it holds itself, so a parent killed with
    SIGKILL (or the OOM killer) would leave it, and the forkserver it keeps alive, running for good.
    """

    def watch() -> None:
        while True:
            time.sleep(every)
            if not _alive(parent_pid):
                os._exit(0)

    threading.Thread(target=watch, name="seedwatch-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie, killed but not yet reaped, counts as gone)."""
    if os.path.isdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)  # no /proc (not Linux): ask the kernel whether the pid exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
