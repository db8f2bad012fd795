"""Fetch: one polite, bounded HTTP GET (conditional, size-capped, redirect-aware)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import httpx

from .config import FetchConfig
from .errors import (
    BlockedAddress,
    FetchError,
    HTTPStatusError,
    RedirectError,
    TooLarge,
    TransportError,
)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
RETRY_LATER_STATUSES = {429, 503}  # the statuses whose Retry-After is honoured


@dataclass
class FetchResult:
    """What a GET returned: the final URL, status, headers and decoded body."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes | None  # None on 304 Not Modified
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, target) per hop
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def permanent_target(self) -> str | None:
        """The final URL when every hop was a permanent redirect, else None."""
        if self.redirects and all(s in PERMANENT_REDIRECTS for s, _ in self.redirects):
            return self.url
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() alone takes "²" and other digits float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class _Decoder:
    """Inflate gzip/deflate with a hard cap on output, so a bomb stops at the limit, and refuse a cut-off stream."""

    def __init__(self, encoding: str, limit: int):
        self.limit = limit
        self.total = 0
        encoding = encoding.strip().lower()
        self._gzip = encoding in ("gzip", "x-gzip")
        if self._gzip:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        else:
            self._z = None
        self._first = True  # no output yet
        self._head = bytearray()  # the input before the first output
        self._fed = False
        self._raw_deflate = encoding == "deflate"
        self._tail = b""  # bytes after the end of a gzip member that may start the next one
        self._junk = False  # bytes after the end of the stream that are not another member: ignored

    def feed(self, chunk: bytes) -> bytes:
        """The inflated bytes of the next chunk of the body."""
        if self._z is None:
            return self._count(chunk)
        parts: list[bytes] = []
        while chunk:
            if self._z.eof:
                chunk = self._after_end(chunk)
                continue
            parts.append(self._inflate(chunk))
            if self._z is None:
                break
            chunk = self._z.unused_data if self._z.eof else b""
        return b"".join(parts)

    def _inflate(self, chunk: bytes) -> bytes:
        assert self._z is not None
        self._fed = True
        if self._first:
            self._head += chunk  # until the first output, a wrong guess can still be taken back
        try:
            out = self._z.decompress(chunk, self.limit - self.total + 1)
        except zlib.error:
            head, self._head = bytes(self._head), bytearray()
            if self._first and self._raw_deflate:
                # Some servers send raw deflate without the zlib header.
                self._z, self._raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
                return self._inflate(head)
            if self._first:
                # Claims compression but is not compressed: take the bytes as they are.
                self._z = None
                return self._count(head)
            raise TransportError("compressed body is corrupt") from None
        if out or len(self._head) > 65536:
            self._first, self._head = False, bytearray()
        self._count(out)
        if self._z.unconsumed_tail:
            raise TooLarge(f"body inflates past the {self.limit // (1024 * 1024)} MiB limit")
        return out

    def _after_end(self, data: bytes) -> bytes:
        """Bytes past the end of a compressed stream: the start of the next gzip member (RFC 1952 2.2), or b""."""
        if not self._junk:
            self._tail += data
            if self._gzip and self._tail.startswith(b"\x1f\x8b"):
                rest, self._tail = self._tail, b""
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                return rest
            if self._gzip and self._tail == b"\x1f":
                return b""  # the next member's magic may be split across chunks
            data, self._tail, self._junk = self._tail, b"", True
        # Padding or junk after the stream is ignored, as it always was, but it counts towards the limit.
        self._count(data)
        return b""

    def flush(self) -> bytes:
        """What the inflater still holds; TransportError if the compressed stream never reached its end."""
        if self._z is None or not self._fed:
            return b""  # not compressed after all, or an empty body
        out = self._count(self._z.flush())
        if not self._z.eof:
            # Every byte was valid but the stream stops short: half a feed must not pass for the whole one.
            raise TransportError("compressed body is truncated (the connection ended mid-stream)")
        return out

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise TooLarge(f"body is over the {self.limit // (1024 * 1024)} MiB limit")
        return data


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_public(url: str) -> None:
    """Refuse a URL whose host resolves to a loopback, private or otherwise non-public address."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransportError(f"cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        address = info[4][0]
        if not _is_public(address):
            raise BlockedAddress(f"{host} resolves to non-public address {address} (--block-private)")


class _TLSOnFirstUse(httpx.AsyncBaseTransport):
    """An https transport that loads the CA certificates when the first https URL is fetched, not before."""

    def __init__(self, limits: httpx.Limits):
        self._limits = limits
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            try:
                self._inner = httpx.AsyncHTTPTransport(limits=self._limits)
            except (OSError, ssl.SSLError) as exc:  # SSL_CERT_FILE or SSL_CERT_DIR names what is not a CA bundle
                raise TransportError(f"cannot load the CA certificates for https ({type(exc).__name__}: {exc})") from None
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


class _Budget:
    """The total timeout of one get() with its redirects, started when its first request gets a connection slot."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline: float | None = None  # on the event loop's clock

    def start(self) -> float:
        """The deadline, set on the first call."""
        if self.deadline is None:
            self.deadline = asyncio.get_running_loop().time() + self.seconds
        return self.deadline


class Fetcher:
    """One shared async client with per-host and global concurrency limits."""

    def __init__(self, config: FetchConfig | None = None, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config or FetchConfig()
        c = self.config
        timeout = httpx.Timeout(connect=c.connect_timeout, read=c.read_timeout, write=c.read_timeout, pool=c.total_timeout)
        limits = httpx.Limits(max_connections=c.global_limit, max_keepalive_connections=c.global_limit)
        mounts = None
        if transport is None and not any(getproxies().get(k) for k in ("http", "https", "all")):
            # Plain http needs no certificates; loading them costs ~30 ms, so https builds its transport on first
            # use. (With a proxy in the environment httpx's own transports are kept: they honour it.)
            transport = httpx.AsyncHTTPTransport(limits=limits, verify=False)
            mounts = {"https://": _TLSOnFirstUse(limits)}
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            transport=transport,
            mounts=mounts,
            headers={"User-Agent": c.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._global = asyncio.Semaphore(c.global_limit)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    ) -> FetchResult:
        """GET url within the total timeout, following redirects by hand.

        The total timeout runs from when the first request gets a connection slot: a wait behind the
        per-host and global limits is not the server's slowness (a poll's deadline bounds that wait).
        """
        return await self._get(url, etag, last_modified, accept, _Budget(self.config.total_timeout))

    async def _get(self, url: str, etag: str | None, last_modified: str | None, accept: str, budget: "_Budget") -> FetchResult:
        started = time.monotonic()
        redirects: list[tuple[int, str]] = []
        seen = {url}
        current = url
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        while True:
            scheme = urlsplit(current).scheme.lower()
            if scheme not in ("http", "https"):
                raise RedirectError(f"refusing non-HTTP URL {current[:200]}")
            if self.config.block_private:
                try:
                    await asyncio.wait_for(check_public(current), self.config.connect_timeout)
                except asyncio.TimeoutError:
                    raise TransportError(f"cannot resolve {urlsplit(current).hostname} within {self.config.connect_timeout:g} s") from None
            status, resp_headers, content = await self._one(current, headers, budget)
            if status in REDIRECT_STATUSES and "location" in resp_headers:
                target = urljoin(current, resp_headers["location"].strip())
                if urlsplit(target).scheme.lower() not in ("http", "https"):
                    raise RedirectError(f"redirect to non-HTTP URL {target[:200]}")
                if target in seen:
                    raise RedirectError(f"redirect loop at {target[:200]}")
                if len(redirects) >= self.config.max_redirects:
                    raise RedirectError(f"more than {self.config.max_redirects} redirects")
                redirects.append((status, target))
                seen.add(target)
                current = target
                continue
            if status >= 400:
                # Only these two statuses ask to be retried later (DESIGN); other errors back off as errors do.
                retry_after = parse_retry_after(resp_headers.get("retry-after")) if status in RETRY_LATER_STATUSES else None
                raise HTTPStatusError(f"HTTP {status}", status=status, retry_after=retry_after)
            return FetchResult(
                url=current,
                status=status,
                headers=resp_headers,
                content=None if status == 304 else content,
                redirects=redirects,
                elapsed=time.monotonic() - started,
            )

    async def _one(self, url: str, headers: dict[str, str], budget: "_Budget") -> tuple[int, dict[str, str], bytes]:
        host = urlsplit(url).netloc.lower()
        sem = self._hosts.setdefault(host, asyncio.Semaphore(self.config.per_host_limit))
        async with self._global, sem:
            try:
                async with asyncio.timeout_at(budget.start()):
                    return await self._request(url, headers)
            except TimeoutError:
                raise TransportError(f"no complete response within {budget.seconds:g} s") from None

    async def _request(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """One GET, its body read and decoded within the limits; its errors as FetchErrors."""
        try:
            async with self._client.stream("GET", url, headers=headers) as resp:
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status_code == 304:
                    # A 304 has no body, so reading its end gives the connection back to the pool; but one
                    # that claims a body may have sent bytes the next response would be read from: let
                    # that connection close with the response.
                    if resp_headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in resp_headers:
                        async for _ in resp.aiter_raw():
                            break
                    return resp.status_code, resp_headers, b""
                if resp.status_code in REDIRECT_STATUSES or resp.status_code >= 400:
                    return resp.status_code, resp_headers, b""
                length = resp_headers.get("content-length", "")
                encoding = resp_headers.get("content-encoding", "identity")
                if length.isdigit() and encoding in ("", "identity") and int(length) > self.config.max_body_bytes:
                    raise TooLarge(f"Content-Length {int(length)} is over the {self.config.max_body_bytes // (1024 * 1024)} MiB limit")
                decoder = _Decoder(encoding, self.config.max_body_bytes)
                parts = [decoder.feed(chunk) async for chunk in resp.aiter_raw()]
                parts.append(decoder.flush())
                return resp.status_code, resp_headers, b"".join(parts)
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise TransportError(f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise TransportError(_describe(exc)) from None
        except (OSError, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return f"{type(exc).__name__}: {text}"[:300]
