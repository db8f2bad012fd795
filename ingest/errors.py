"""Exceptions seedwatch raises, so callers can tell a feed's fault from a user's.

SeedwatchError
 +-- UsageError            the user asked for something impossible (CLI exit 2)
 +-- SeedError             a seed file or URL that cannot be loaded
 +-- OPMLError             an OPML file that cannot be read
 +-- FetchError            anything that stops a fetch; `.kind` names it for feeds list
 |    +-- TransportError   connect/read/TLS failures, timeouts
 |    +-- HTTPStatusError  a status we do not accept (4xx/5xx)
 |    +-- TooLarge         the body (after decompression) passed the limit
 |    +-- RedirectError    loops, too many hops, non-HTTP targets
 |    +-- BlockedAddress   a private address refused under --block-private
 +-- ParseError            bytes that are not a feed we can read
"""

from __future__ import annotations


class SeedwatchError(Exception):
    """Base class of every error seedwatch reports in plain words."""


class UsageError(SeedwatchError):
    """The user asked for something that cannot be done as asked."""


class SeedError(SeedwatchError):
    """A seed that cannot be loaded (missing, empty, binary, unreachable)."""


class OPMLError(SeedwatchError):
    """An OPML document with no feeds we can read."""


class FetchError(SeedwatchError):
    """A fetch that failed; `kind` is a short machine-readable label."""

    kind = "fetch"


class TransportError(FetchError):
    kind = "transport"


class HTTPStatusError(FetchError):
    kind = "http"

    def __init__(self, message: str, status: int, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TooLarge(FetchError):
    kind = "too_large"


class RedirectError(FetchError):
    kind = "redirect"


class BlockedAddress(FetchError):
    kind = "blocked"


class ParseError(SeedwatchError):
    """Bytes that are not a feed (HTML, JSON error page, garbage)."""
