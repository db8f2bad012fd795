"""A small HTTP server on 127.0.0.1 for the demo, the tests and the benchmarks: routes map to responses.

A route is a Response (served as is, with ETag/304 support when asked) or a callable that gets the
request handler and writes whatever it likes (slow drips, redirects, hangs).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/rss+xml; charset=utf-8"})
    etag: bool = False  # send an ETag and answer If-None-Match with 304


Route = Response | Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
            self.server.requests.append((path, dict(self.headers.items())))
            route = self.server.routes.get(path)
        if route is None:
            self._send(Response(b"not found", 404, {"Content-Type": "text/plain"}))
        elif callable(route):
            route(self)
        else:
            self._send(route)

    def _send(self, r: Response) -> None:
        headers = dict(r.headers)
        if r.etag:
            tag = '"' + hashlib.sha1(r.body).hexdigest()[:16] + '"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                for k, v in headers.items():
                    if k.lower() != "content-type":
                        self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(r.status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.body)))
        self.end_headers()
        self.wfile.write(r.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up (a cancelled fetch, a closed keep-alive connection) is not an error here.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections = 0  # TCP connections accepted: a client that keeps its connections alive opens few
        self.lock = threading.Lock()


class LocalServer:
    """Serve routes on 127.0.0.1 at an ephemeral port, in a background thread; a context manager."""

    def __init__(self, routes: dict[str, Route] | None = None):
        self._server = _Server()
        self._server.routes.update(routes or {})
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="seedwatch-localserver", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, route: Route) -> None:
        with self._server.lock:
            self._server.routes[path] = route

    def hits(self, path: str) -> int:
        with self._server.lock:
            return self._server.hits.get(path, 0)

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def connections(self) -> int:
        with self._server.lock:
            return self._server.connections

    def start(self) -> "LocalServer":
        # The socket is bound and listening once the constructor returns, so the server is ready now.
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
