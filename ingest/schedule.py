"""When to check a feed next: its interval, its own TTL/max-age, error backoff and Retry-After."""

from __future__ import annotations

import random
import re

from .config import ScheduleConfig

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    """Seconds from '90s', '30m', '2h', '1d' (a bare number means minutes)."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"not a duration: {text!r} (try 30m, 2h or 1d)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def format_interval(seconds: int) -> str:
    """A whole number of seconds as parse_interval reads it: 90s, 15m, 2h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def max_age(headers: dict[str, str]) -> int | None:
    """Cache-Control max-age in seconds, if the server sent one."""
    m = _MAX_AGE.search(headers.get("cache-control", ""))
    return int(m.group(1)) if m else None


def _jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    return seconds * (1.0 + rng.uniform(-jitter, jitter))


def after_success(
    interval: int | None, ttl: int | None, config: ScheduleConfig, rng: random.Random | None = None
) -> float:
    """Seconds until the next check of a healthy feed: its interval, never sooner than its TTL (capped)."""
    rng = rng or random.Random()
    wait = _jittered(max(interval or config.default_interval, config.min_interval), config.jitter, rng)
    floor = min(ttl, config.max_ttl) if ttl else 0
    if floor > wait:
        wait = floor * (1.0 + rng.uniform(0, config.jitter))  # jitter only later: never sooner than the TTL
    return wait


def after_error(
    error_count: int,
    config: ScheduleConfig,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the retry of a failing feed: exponential with full jitter, or the server's Retry-After."""
    rng = rng or random.Random()
    if retry_after is not None:
        return min(max(retry_after, config.min_interval), config.max_retry_after)
    # Each consecutive error doubles the wait (2 min, 4 min, ... capped), up to max_backoff.
    backoff = min(config.max_backoff, config.min_interval * 2 ** min(error_count, 20))
    return max(config.min_interval, rng.uniform(backoff / 2, backoff))
