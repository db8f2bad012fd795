"""Run in a parser process by tests: what it has loaded and at what priority. Imports nothing of its own."""

import os
import sys

HEAVY = ("feedparser", "ingest.processor", "ingest.parser", "sqlite_utils", "httpx", "click")


def state() -> dict:
    """This process's niceness and which of HEAVY it had loaded before this call."""
    return {"nice": os.nice(0), "loaded": sorted(m for m in HEAVY if m in sys.modules)}
