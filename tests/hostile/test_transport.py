"""Hostile servers at the transport level: too slow, silent, endless, too big, compressed into bombs, TLS."""

from __future__ import annotations

import gzip
import ssl
import zlib

import httpx
import pytest

from ingest.errors import TooLarge, TransportError

from tests.hostile.farm import self_signed_cert


def test_slow_drip_is_cut_off_at_the_total_timeout(hostile):
    r = hostile.run("slow_drip")
    assert "within 2 s" in r.error or "timed out" in r.error
    assert r.elapsed >= 1.5  # it was the timeout that ended it, not a hang-up


def test_server_that_accepts_and_never_answers(hostile, farm):
    r = hostile.run("never_answers")
    assert farm.running["never_answers"].server.accepted >= 1  # the connection was made, then nothing came
    assert r.articles == []


def test_endless_body_stops_at_the_limit(hostile):
    r = hostile.run("endless_body")
    assert "1 MiB" in r.error


def test_body_over_the_limit_with_content_length_is_refused_up_front(hostile):
    r = hostile.run("over_limit_content_length")
    assert "Content-Length" in r.error
    assert r.elapsed < 1.5  # refused on the header, not after reading 2 MiB at a crawl


def test_chunked_body_over_the_limit(hostile):
    r = hostile.run("over_limit_chunked")
    assert "1 MiB" in r.error


def test_close_delimited_body_over_the_limit(hostile):
    r = hostile.run("over_limit_close_delimited")
    assert "1 MiB" in r.error


def test_gzip_bomb_stops_at_the_limit(hostile):
    r = hostile.run("gzip_bomb")
    assert r.peak_mb < 300


def test_deflate_bomb_stops_at_the_limit(hostile):
    hostile.run("deflate_bomb")


def test_body_that_claims_gzip_and_is_not_is_read_as_it_is(hostile):
    r = hostile.run("claims_gzip_plain_feed")
    assert len(r.articles) == 2


def test_truncated_gzip_body_is_an_error_not_half_a_feed(hostile):
    # Half a gzip stream inflates to half a feed; storing it would keep a cut-off last entry for good.
    r = hostile.run("truncated_gzip")
    assert r.articles == []


def test_gzip_body_that_turns_to_garbage_is_an_error(hostile):
    r = hostile.run("gzip_then_garbage")
    assert r.articles == []


def test_self_signed_certificate_is_refused(hostile, farm, tmp_path_factory):
    r = hostile.run("tls_self_signed")
    assert r.articles == []
    # The server itself works for a client that trusts its certificate: the refusal is about trust alone.
    cert, _ = self_signed_cert(tmp_path_factory.getbasetemp())
    trusting = ssl.create_default_context(cafile=str(cert))
    resp = httpx.get(farm.running["tls_self_signed"].url, verify=trusting, timeout=5)
    assert resp.status_code == 200 and b"<rss" in resp.content


# The decoder itself, chunk by chunk: a stream must reach its end, and a gzip body may have several members.

def _inflate(encoding: str, body: bytes, step: int, limit: int = 1024 * 1024) -> bytes:
    from ingest.fetcher import _Decoder

    decoder = _Decoder(encoding, limit)
    return b"".join(decoder.feed(body[i : i + step]) for i in range(0, len(body), step)) + decoder.flush()


FEED_BYTES = b"<rss>" + b"<item><title>entry</title></item>" * 3000 + b"</rss>"


@pytest.mark.parametrize("step", [1, 7, 4096, 10**6])
@pytest.mark.parametrize(("encoding", "packed"), [
    ("gzip", gzip.compress(FEED_BYTES)), ("deflate", zlib.compress(FEED_BYTES)),
    ("deflate", zlib.compress(FEED_BYTES, wbits=-15)),  # raw deflate, no zlib header
])
def test_a_stream_cut_anywhere_is_truncated_not_short(encoding: str, packed: bytes, step: int) -> None:
    assert _inflate(encoding, packed, step) == FEED_BYTES
    for cut in (len(packed) // 3, len(packed) - 1):
        with pytest.raises(TransportError, match="truncated"):
            _inflate(encoding, packed[:cut], step)


@pytest.mark.parametrize("step", [1, 2, 3, 4096])
def test_gzip_members_back_to_back_are_all_inflated(step: int) -> None:
    # RFC 1952 2.2: a gzip file is a series of members; zlib stops at the end of the first one.
    half = len(FEED_BYTES) // 2
    packed = gzip.compress(FEED_BYTES[:half]) + gzip.compress(FEED_BYTES[half:])
    assert _inflate("gzip", packed, step) == FEED_BYTES
    tiny = b"".join(gzip.compress(FEED_BYTES[i : i + 1]) for i in range(2000))  # 2,000 members in one chunk
    assert _inflate("gzip", tiny, len(tiny)) == FEED_BYTES[:2000]


def test_padding_after_a_gzip_stream_is_ignored_but_counted() -> None:
    packed = gzip.compress(FEED_BYTES)
    assert _inflate("gzip", packed + b"\0" * 512, 4096) == FEED_BYTES
    assert _inflate("gzip", packed + b"trailing junk", 4096) == FEED_BYTES
    with pytest.raises(TooLarge):  # junk after the end used to pile up in zlib's unused_data without a bound
        _inflate("gzip", packed + b"j" * (2 * 1024 * 1024), 65536)


@pytest.mark.parametrize("step", [1, 2, 4096])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_claims_compression_and_is_not_is_taken_as_it_is_however_it_arrives(encoding: str, step: int) -> None:
    # The guess is only final once the inflater produced output: a first chunk of one byte used to decide it.
    assert _inflate(encoding, FEED_BYTES, step) == FEED_BYTES
