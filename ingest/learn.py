"""Learn: give each seed its best matches, which its term vectors include (Rocchio feedback), and score the
store again where they changed.

Every poll ends here. It imports little: only a change of some seed's best matches needs the scoring
machinery (ingest.manage, ingest.processor), so a poll whose feeds all answered 304 does not load it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from store import seeds as store_seeds
from store.db import iso, utcnow

from .config import Config, MatchConfig

if TYPE_CHECKING:
    import sqlite_utils

    from .processor import Progress

log = logging.getLogger("seedwatch")


def learn_from_best_matches(
    db: sqlite_utils.Database,
    config: Config | None = None,
    stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    at_once: bool = False,
) -> int:
    """Give each seed its best matches as feedback and score the store again for the seeds whose set changed.

    A seed's term vectors include those of its best matches (processor.Matcher.refresh), so articles are
    judged against the story as the store tells it, not the seed's words alone. The best matches are
    picked by their scores against the seeds' texts alone (store.seeds.feedback_candidates), which
    learning does not change: one pass settles it until new articles or review marks come. In a large
    store a change that new articles alone make waits for learning's pace (MatchConfig.relearn_after,
    relearn_min_articles), since it costs a scoring of the whole store; at_once applies every change now
    (a seed added or edited, `rescore`). Scoring left pending by a run cut short is finished in the same
    pass. Returns the articles scored.
    """
    match = (config or Config()).match
    count = match.feedback_count if match.feedback_weight > 0 else 0
    changed, waiting = store_seeds.update_feedback(db, count, match.default_threshold, None if at_once else _pace(match))
    if waiting:
        earliest = min(waiting.values())  # stored times sort as text
        soonest = datetime.strptime(earliest, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=match.relearn_after)
        log.info(
            "best matches changed for seeds %s; in a store this large they are learned from at most once every %d min"
            " (next from %s UTC, or at once with `seedwatch rescore`)",
            ", ".join(map(str, sorted(waiting))), match.relearn_after // 60, soonest.strftime("%H:%M"),
        )
    if not changed and not store_seeds.scoring_pending(db):
        return 0
    if changed:
        log.debug("feedback changed for seeds %s", changed)
    from .manage import SCORING_IDLE, finish_seed_scoring

    # With them, scoring that a cut-short run left pending (a `seeds add` stopped with Ctrl-C, a migration),
    # unless it progressed within SCORING_IDLE: another process may be doing it right now.
    return finish_seed_scoring(db, config, stop, idle_for=SCORING_IDLE, also=changed, progress=progress)


def _pace(match: MatchConfig) -> Callable[[str | None, int], bool]:
    """Whether a seed's change of best matches waits: a large store, and its last change too recent."""
    now = utcnow()
    recently, later = iso(now - timedelta(seconds=match.relearn_after)), iso(now)

    def waits(learned_at: str | None, articles: int) -> bool:
        # learned_at is None for best matches that have not changed since a seed was removed, or since
        # seedwatch kept a pace (v7); a time ahead of now (the clock was set back) does not hold it either.
        return articles >= match.relearn_min_articles and learned_at is not None and recently < learned_at <= later

    return waits
