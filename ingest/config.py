"""Named defaults for every knob seedwatch has, in one place (DESIGN.md "Fetching rules")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

VERSION = "0.1.0"
USER_AGENT = f"seedwatch/{VERSION} (+https://github.com/seedwatch/seedwatch; feed monitor)"

DEFAULT_DB = "seedwatch.db"
DEFAULT_SEEDS_DIR = "seeds"
DB_ENV = "SEEDWATCH_DB"

MIB = 1024 * 1024
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class FetchConfig:
    """Limits and politeness for every HTTP request seedwatch makes."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # longest silence between two chunks of the body
    total_timeout: float = 30.0  # the whole response, so a slow drip is cut off
    max_body_bytes: int = 15 * MIB  # counted after decompression
    max_redirects: int = 5
    per_host_limit: int = 2
    global_limit: int = 16
    user_agent: str = USER_AGENT
    block_private: bool = False


@dataclass(frozen=True)
class ScheduleConfig:
    """When a feed is checked next."""

    default_interval: int = 30 * MINUTE
    min_interval: int = 1 * MINUTE
    max_backoff: int = 1 * DAY  # errors back off exponentially up to this
    max_retry_after: int = 1 * DAY
    max_ttl: int = 1 * DAY  # a feed's own TTL / max-age is honoured up to this
    jitter: float = 0.1  # +-10% of the interval
    permanent_redirect_polls: int = 2  # a 301/308 seen this many polls in a row moves the feed


@dataclass(frozen=True)
class MatchConfig:
    """Relevance and near-copy defaults."""

    default_threshold: float = 0.17
    shingle_size: int = 5
    copy_prefilter: float = 0.3  # shingle containment that makes a pair worth aligning
    copy_aligned: float = 0.8  # aligned containment (share of the shorter text's words, in order) for a copy
    duplicate_aligned: float = 0.8
    min_shingles: int = 8  # texts shorter than this are never judged copies
    full_text_prefilter: float = 0.3  # --full-text feeds: fetch the page when a brief scores >= this x threshold
    full_text_min_words: int = 150  # entries with at least this much text are not fetched again
    # An article another seed calls related or a copy, scoring it over 1 / claim_ratio (1.25) times this
    # seed's score (both before keyword boosts), is that seed's story: this seed's score is multiplied by
    # claimed_factor, unless this seed calls the article a copy or all of its +must keywords appear
    # (Matcher.judge). Stored scores follow a change of these after `seedwatch rescore`.
    claim_ratio: float = 0.8
    claimed_factor: float = 0.5
    # A seed learns from its best matches (pseudo-relevance feedback, Rocchio): its term vectors are
    # its own plus feedback_weight x the mean of those of its feedback_count best matches (the articles
    # you kept first, then those its own text finds: store.seeds.feedback_candidates). 0 for either turns it off.
    feedback_count: int = 5
    feedback_weight: float = 0.5
    # A change of a seed's best matches scores the store again for it (~50 s per 100,000 articles). In a
    # store of relearn_min_articles or more, a change after a poll waits until relearn_after seconds have
    # passed since the seed's best matches last changed. Review marks, a new, edited or removed seed and
    # `rescore` apply at once, as does every change in a smaller store, where scoring again takes seconds.
    # After changing feedback_count or default_threshold, run `seedwatch rescore`.
    relearn_after: int = 1 * HOUR
    relearn_min_articles: int = 10_000

    def __post_init__(self) -> None:
        if not 0 < self.claim_ratio <= 1 or not 0 <= self.claimed_factor <= 1:
            raise ValueError(f"claim_ratio must be in (0, 1] and claimed_factor in [0, 1], not {self.claim_ratio} and {self.claimed_factor}")
        if self.feedback_count < 0 or self.feedback_weight < 0:
            raise ValueError(f"feedback_count and feedback_weight must be >= 0, not {self.feedback_count} and {self.feedback_weight}")
        if self.relearn_after < 0 or self.relearn_min_articles < 0:
            raise ValueError(f"relearn_after and relearn_min_articles must be >= 0, not {self.relearn_after} and {self.relearn_min_articles}")


@dataclass(frozen=True)
class Config:
    """Everything a poll needs to know."""

    fetch: FetchConfig = field(default_factory=FetchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    poll_deadline: float = 60.0  # hard stop for one feed's whole poll
    feeds_in_flight: int = 24  # fetched feeds being parsed or waiting to be stored at once (bounds memory) ...
    bytes_in_flight: int = 16 * 1024 * 1024  # ... and their bodies' bytes (a body over this goes alone)
    # Feed bodies are parsed in parser processes that are killed when a feed's poll deadline passes, except
    # in a poll of a few feeds (under 8) a body this small: it parses in the store thread within a second,
    # whatever it holds (feedparser costs ~10 s per MiB of the worst markup), without starting a process.
    parse_inline_bytes: int = 64 * 1024
    parse_in_processes: bool = True  # False: always parse in the store thread (no deadline on parsing)
    parser_memory_mb: int = 512  # a parser process's data (heap) limit: a feed that needs more is an error


def default_db_path() -> str:
    """The database path from $SEEDWATCH_DB, else ./seedwatch.db."""
    return os.environ.get(DB_ENV) or DEFAULT_DB
