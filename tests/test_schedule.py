"""ingest/schedule.py: intervals, Cache-Control, next check after success, backoff and Retry-After."""

from __future__ import annotations

import random

import pytest

from ingest.config import ScheduleConfig
from ingest.schedule import after_error, after_success, max_age, parse_interval

DAY = 86_400
CFG = ScheduleConfig()
SEEDS = range(200)  # random.Random seeds: enough draws to see the whole jitter range


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("15", 900),
        (" 15 ", 900),
        ("2H", 7200),
        ("45M", 2700),
        ("30 m", 1800),
    ],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "   ", "abc", "1.5h", "-5m", "1w", "30min", "m", "h2", "5 5m", None])
def test_parse_interval_rejects(text: str | None) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("max-age=600", 600),
        ("public, max-age=600", 600),
        ("MAX-AGE=60, must-revalidate", 60),
        ("max-age = 120", 120),
        ("s-maxage=100, max-age=20", 20),
    ],
)
def test_max_age(cache_control: str, seconds: int) -> None:
    assert max_age({"cache-control": cache_control}) == seconds


@pytest.mark.parametrize("headers", [{}, {"cache-control": "no-cache"}, {"cache-control": "max-age=abc"}, {"etag": '"x"'}])
def test_max_age_absent(headers: dict[str, str]) -> None:
    assert max_age(headers) is None


# --- after a success -----------------------------------------------------------------------------


def test_after_success_honours_interval_with_jitter() -> None:
    values = [after_success(3600, None, CFG, random.Random(s)) for s in SEEDS]
    assert all(3600 * 0.9 <= v <= 3600 * 1.1 for v in values)
    assert min(values) < 3600 * 0.95 and max(values) > 3600 * 1.05  # jitter is really applied, both ways


def test_after_success_default_interval() -> None:
    values = [after_success(None, None, CFG, random.Random(s)) for s in SEEDS]
    assert all(CFG.default_interval * 0.9 <= v <= CFG.default_interval * 1.1 for v in values)
    assert CFG.default_interval == 30 * 60


def test_after_success_is_deterministic_for_a_seeded_rng() -> None:
    assert after_success(3600, None, CFG, random.Random(7)) == after_success(3600, None, CFG, random.Random(7))
    assert after_success(3600, None, CFG, random.Random(7)) != after_success(3600, None, CFG, random.Random(8))


def test_after_success_jitter_setting() -> None:
    cfg = ScheduleConfig(jitter=0.0)
    assert after_success(3600, None, cfg, random.Random(1)) == 3600


def test_after_success_ttl_shorter_than_interval_changes_nothing() -> None:
    values = [after_success(3600, 600, CFG, random.Random(s)) for s in SEEDS]
    assert all(3600 * 0.9 <= v <= 3600 * 1.1 for v in values)


def test_after_success_never_sooner_than_ttl() -> None:
    ttl = 2 * 3600
    values = [after_success(1800, ttl, CFG, random.Random(s)) for s in SEEDS]
    assert all(v >= ttl for v in values)
    assert all(v <= ttl * 1.1 for v in values)


def test_after_success_ttl_is_capped_at_max_ttl() -> None:
    values = [after_success(1800, 30 * DAY, CFG, random.Random(s)) for s in SEEDS]
    assert all(CFG.max_ttl * 0.9 <= v <= CFG.max_ttl * 1.1 for v in values)
    assert CFG.max_ttl == DAY


def test_after_success_interval_below_minimum_is_raised() -> None:
    values = [after_success(5, None, ScheduleConfig(jitter=0.0), random.Random(s)) for s in range(5)]
    assert values == [CFG.min_interval] * 5


# --- after an error ------------------------------------------------------------------------------


def _ceiling(errors: int) -> float:
    return min(CFG.max_backoff, CFG.min_interval * 2**errors)


def test_after_error_grows_exponentially() -> None:
    for errors in range(1, 12):
        values = [after_error(errors, CFG, rng=random.Random(s)) for s in SEEDS]
        assert all(CFG.min_interval <= v <= _ceiling(errors) for v in values), errors
        assert max(values) > _ceiling(errors) * 0.9  # the range really reaches the doubled ceiling
        assert min(values) >= _ceiling(errors) / 2
    medians = []
    for errors in range(1, 9):
        values = sorted(after_error(errors, CFG, rng=random.Random(s)) for s in SEEDS)
        medians.append(values[len(values) // 2])
    for a, b in zip(medians, medians[1:]):
        assert 1.7 < b / a < 2.3


def test_after_error_is_capped_at_a_day() -> None:
    for errors in (15, 20, 50, 1000, 10**6):
        values = [after_error(errors, CFG, rng=random.Random(s)) for s in SEEDS]
        assert all(v <= DAY for v in values)
        assert all(v >= DAY / 2 for v in values)  # capped, not reset


def test_after_error_has_jitter() -> None:
    values = {after_error(6, CFG, rng=random.Random(s)) for s in SEEDS}
    assert len(values) > 100


def test_after_error_first_error_is_short() -> None:
    assert all(after_error(1, CFG, rng=random.Random(s)) <= 2 * CFG.min_interval for s in SEEDS)


@pytest.mark.parametrize(("retry_after", "expected"), [(300, 300), (3600, 3600), (DAY, DAY), (10 * DAY, DAY), (10**9, DAY)])
def test_retry_after_is_honoured_and_capped(retry_after: float, expected: float) -> None:
    for errors in (1, 5, 30):
        assert after_error(errors, CFG, retry_after=retry_after, rng=random.Random(1)) == expected


def test_retry_after_zero_is_not_a_hot_loop() -> None:
    assert after_error(1, CFG, retry_after=0, rng=random.Random(1)) >= CFG.min_interval


def test_retry_after_overrides_a_long_backoff() -> None:
    assert after_error(20, CFG, retry_after=120, rng=random.Random(1)) == 120
