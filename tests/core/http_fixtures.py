"""A local HTTP file server for the remote-reading tests and benchmark.

It serves files from a dict of ``name -> path`` on 127.0.0.1 in a background thread, honours
single ``Range: bytes=a-b`` requests the way S3 does (206 with ``Content-Range``), sends an
``ETag`` and ``Last-Modified``, and counts requests and body bytes so tests can assert how much
a read cost. ``mode`` makes it misbehave: ``"stall"`` accepts the request and never answers,
``"drop"`` closes the connection without a response. Extra JSON routes (``routes``) let a
test fake a REST API (the DANDI one) on the same server.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class Counters:
    requests: int = 0
    range_requests: int = 0
    head_requests: int = 0
    bytes_sent: int = 0
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests = self.range_requests = self.head_requests = self.bytes_sent = 0
            self.paths.clear()


class FileServer:
    """``with FileServer({"a.nwb": path}) as server: server.url("a.nwb")``."""

    def __init__(
        self,
        files: dict[str, Path],
        mode: str = "ok",
        routes: dict[str, Callable[[str], tuple[int, object]]] | None = None,
    ) -> None:
        self.files = {name: Path(path) for name, path in files.items()}
        self.mode = mode
        self.routes = routes or {}
        self.counters = Counters()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _count(self, nbytes: int, kind: str) -> None:
                with server.counters.lock:
                    server.counters.requests += 1
                    server.counters.bytes_sent += nbytes
                    server.counters.paths.append(self.path)
                    if kind == "head":
                        server.counters.head_requests += 1
                    elif kind == "range":
                        server.counters.range_requests += 1

            def _misbehave(self) -> bool:
                if server.mode == "stall":
                    server._stop.wait(60)
                    return True
                if server.mode == "drop":
                    self.close_connection = True
                    return True
                return False

            def _route(self) -> bool:
                for prefix, handler in server.routes.items():
                    if self.path.startswith(prefix):
                        status, payload = handler(self.path)
                        if status in (301, 302, 307):
                            self.send_response(status)
                            self.send_header("Location", str(payload))
                            self.send_header("Content-Length", "0")
                            self.end_headers()
                        else:
                            body = json.dumps(payload).encode()
                            self.send_response(status)
                            self.send_header("Content-Type", "application/json")
                            self.send_header("Content-Length", str(len(body)))
                            self.end_headers()
                            if self.command != "HEAD":
                                self.wfile.write(body)
                        self._count(0, "api")
                        return True
                return False

            def _file(self) -> Path | None:
                name = self.path.split("?", 1)[0].lstrip("/")
                path = server.files.get(name)
                if path is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self._count(0, "other")
                return path

            def _headers(self, path: Path, status: int, length: int) -> None:
                stat = path.stat()
                self.send_response(status)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
                self.send_header(
                    "Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)
                )
                self.send_header("Content-Length", str(length))
                self.send_header("Content-Type", "application/octet-stream")

            def do_HEAD(self) -> None:
                if self._misbehave() or self._route():
                    return
                path = self._file()
                if path is None:
                    return
                self._headers(path, 200, path.stat().st_size)
                self.end_headers()
                self._count(0, "head")

            def do_GET(self) -> None:
                if self._misbehave() or self._route():
                    return
                path = self._file()
                if path is None:
                    return
                size = path.stat().st_size
                match = _RANGE.match(self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        self._count(0, "other")
                        return
                    self._headers(path, 206, end - start + 1)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                    kind = "range"
                else:
                    start, end = 0, size - 1
                    self._headers(path, 200, size)
                    kind = "full"
                self.end_headers()
                with path.open("rb") as handle:
                    handle.seek(start)
                    remaining = end - start + 1
                    while remaining > 0:
                        block = handle.read(min(remaining, 1 << 20))
                        if not block:
                            break
                        self.wfile.write(block)
                        remaining -= len(block)
                self._count(end - start + 1, kind)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:  # a client hung up: fine
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def short_timeout() -> float:
    """The network timeout tests use (``NDVIEWER_TEST_NET_TIMEOUT``, default 1 s)."""
    return float(os.environ.get("NDVIEWER_TEST_NET_TIMEOUT", "1"))
