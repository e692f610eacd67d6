"""Read a file over HTTP(S) as a seekable file object that h5py opens with its fileobj driver.

Why our own module on the standard library rather than fsspec, remfile or ros3: measured
on loopback (``tests/benchmarks/bench_remote.py --compare``, recorded in the commit that added
this module), opening the 6.8 GB ephys file of ``bench_traces`` and walking its typed tree
cost

- h5py's ``ros3`` driver: unavailable (the h5py wheel is built without it; ``h5py.
  registered_drivers()`` lacks ``ros3``), and it has no cache either;
- fsspec ``HTTPFileSystem`` (default readahead cache, 5 MB blocks) on the 6.8 GB ephys file:
  73 requests, 362 MB, 5.1 s for the walk, and no persistent cache keyed by the file's
  version;
- remfile: 65 requests, 9.1 MB, 0.13 s (ours: 66, 16.6 MB, 0.05 s), but its ``requests.get``
  calls have no timeout (a stalled server hangs the read for good), a failing one is retried
  8 times with ~25 s of back-off, and its disk cache is unbounded and keyed by URL only (a
  replaced file would serve stale blocks).

Neither gives a size-limited LRU cache reused across sessions keyed by the file's version,
nor one clear sentence within the timeout when the network fails, which is what a desktop
viewer needs; both are small to write on ``http.client``. What this module does:

- fixed-size blocks (``NDVIEWER_REMOTE_BLOCK_KB``, 256 KiB), missing neighbours fetched in one
  ``Range`` request, separate runs fetched in parallel threads (a chunk read spanning many
  blocks, or ``prefetch`` of the byte ranges a window will need);
- every block kept in memory (bounded LRU) and on disk (``block_cache``), the disk copy keyed by
  URL + size + ETag + Last-Modified, so a second session makes one HEAD request and no reads;
- a timeout per request (``NDVIEWER_NET_TIMEOUT``, 10 s), retries of dropped connections and
  5xx answers (two, short back-off), and then one ``RemoteReadError`` sentence.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import io
import os
import socket
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ndviewer.core.errors import FileOpenError
from ndviewer.core.model.storage.block_cache import BlockCache
from ndviewer.core.model.storage.locations import _OPEN_BY_FILENO

DEFAULT_BLOCK_SIZE = 256 << 10
DEFAULT_TIMEOUT = 10.0
MEMORY_BLOCKS = 256  # 64 MB of 256 KiB blocks kept in memory
MAX_RUN_BYTES = 8 << 20  # one Range request fetches at most this much
PARALLEL_REQUESTS = 4
RETRIES = 2
_USER_AGENT = "ndviewer (range reads)"


class RemoteReadError(FileOpenError):
    """The server could not be read: one sentence naming the URL and what went wrong."""


def network_timeout() -> float:
    try:
        return float(os.environ.get("NDVIEWER_NET_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def block_size() -> int:
    try:
        return int(os.environ.get("NDVIEWER_REMOTE_BLOCK_KB", "")) << 10 or DEFAULT_BLOCK_SIZE
    except ValueError:
        return DEFAULT_BLOCK_SIZE


class Stats:
    """Requests made and body bytes received (for the benchmark and the tests)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0

    def add(self, nbytes: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += nbytes


class HttpClient:
    """Persistent connections (one per thread) to one server, with timeouts and retries."""

    def __init__(self, url: str, timeout: float, stats: Stats) -> None:
        self.timeout = timeout
        self.stats = stats
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []
        self._open_lock = threading.Lock()
        self._set_url(url)

    def _set_url(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteReadError(f"Cannot read {url}: it is not an http(s) URL.")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = cls(self.host, self.port, timeout=self.timeout)
            self._local.connection = connection
            with self._open_lock:
                self._open.append(connection)
        return connection

    def close(self) -> None:
        """Close every thread's connection (a closed file holds no socket)."""
        with self._open_lock:
            for connection in self._open:
                connection.close()
            self._open.clear()

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def request(
        self, method: str, headers: dict[str, str] | None = None, redirects: int = 5
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-cased headers, body), following redirects; raises RemoteReadError."""
        attempt = 0
        while True:
            try:
                connection = self._connection()
                connection.request(
                    method, self.target, headers={"User-Agent": _USER_AGENT, **(headers or {})}
                )
                response = connection.getresponse()
                deadline = time.monotonic() + self.timeout * 4
                body = _read_body(response, deadline, self.timeout)  # HEAD too: frees the line
                status = response.status
                answer = {k.lower(): v for k, v in response.getheaders()}
                self.stats.add(len(body))
                if answer.get("connection", "").lower() == "close" or response.will_close:
                    self._drop_connection()
            except TimeoutError:
                self._drop_connection()
                raise RemoteReadError(
                    f"Cannot read {self.url}: the server stopped answering after "
                    f"{self.timeout:g} s."
                ) from None
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self._drop_connection()
                if attempt < RETRIES and not isinstance(exc, socket.gaierror):
                    attempt += 1
                    time.sleep(0.2 * attempt)
                    continue
                raise RemoteReadError(
                    f"Cannot read {self.url}: {_network_reason(exc)} (tried {attempt + 1} times)."
                ) from None
            if status in (301, 302, 303, 307, 308) and redirects > 0 and "location" in answer:
                self._drop_connection()
                self._set_url(urllib.parse.urljoin(self.url, answer["location"]))
                redirects -= 1
                continue
            if status >= 500 and attempt < RETRIES:
                attempt += 1
                time.sleep(0.2 * attempt)
                continue
            return status, answer, body


def _read_body(response: http.client.HTTPResponse, deadline: float, timeout: float) -> bytes:
    """The whole body, failing if a trickling server makes it take far beyond the timeout."""
    parts = []
    while True:
        part = response.read(1 << 20)
        if not part:
            return b"".join(parts)
        parts.append(part)
        if time.monotonic() > deadline:
            raise TimeoutError


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "the server name could not be resolved (no network, or a typo in the address)"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (the server is not running)"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return "the server dropped the connection"
    if isinstance(exc, http.client.IncompleteRead):
        return "the server stopped sending in the middle of an answer"
    return f"the network failed ({exc})"


def _status_reason(status: int) -> str:
    if status == 404:
        return "the server has no such file (404 Not Found)"
    if status in (401, 403):
        return f"the server refused access ({status}; the file may be private or the link expired)"
    return f"the server answered {status}"


class RemoteFile(io.RawIOBase):
    """A read-only, seekable view of a URL; ``repr`` is the URL (h5py names the file by it)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = None,
        block: int | None = None,
        use_disk_cache: bool = True,
    ) -> None:
        super().__init__()
        self.url = url
        self.block_size = block or block_size()
        self.stats = Stats()
        self._http = HttpClient(url, network_timeout() if timeout is None else timeout, self.stats)
        self._position = 0
        self._lock = threading.Lock()
        self._memory: OrderedDict[int, bytes] = OrderedDict()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        try:
            self.size, self.validators = self._probe()
        except BaseException:
            self._http.close()
            raise
        self.disk = (
            BlockCache(url, self.validators, self.block_size)
            if use_disk_cache
            else BlockCache(url, self.validators, self.block_size, limit=0)
        )
        #: Called with the bytes received after each network read (a progress display).
        self.on_fetch: Callable[[int], None] | None = None

    # -- probing --------------------------------------------------------------------------
    def _probe(self) -> tuple[int, dict]:
        status, headers, _ = self._http.request("HEAD")
        if status in (403, 405, 501) or "content-length" not in headers:
            # some servers (S3 signed URLs) sign GET only: ask for one byte instead
            status, headers, _ = self._http.request("GET", {"Range": "bytes=0-0"})
        if status not in (200, 206):
            raise RemoteReadError(f"Cannot read {self.url}: {_status_reason(status)}.")
        size = _total_size(status, headers)
        if size is None:
            raise RemoteReadError(
                f"Cannot read {self.url}: the server does not say how large the file is."
            )
        if size == 0:
            raise RemoteReadError(f"Cannot read {self.url}: the file is empty (0 bytes).")
        validators = {
            "size": size,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
        }
        return size, validators

    # -- io.RawIOBase ---------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._position = offset
        elif whence == io.SEEK_CUR:
            self._position += offset
        elif whence == io.SEEK_END:
            self._position = self.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        return self._position

    def readinto(self, buffer) -> int:
        written = self._read_at(self._position, memoryview(buffer).cast("B"))
        self._position += written
        return written

    def pread(self, size: int, offset: int) -> bytes:
        """``size`` bytes at ``offset`` without moving the position: safe from several threads
        at once (the trace reader fetches and decodes a window's chunks in parallel)."""
        buffer = bytearray(max(0, size))
        n = self._read_at(offset, memoryview(buffer))
        return bytes(buffer[:n])

    def _read_at(self, start: int, view: memoryview) -> int:
        n = max(0, min(len(view), self.size - start))
        if n == 0:
            return 0
        first, last = start // self.block_size, (start + n - 1) // self.block_size
        blocks = self._blocks(range(first, last + 1))
        written = 0
        for index in range(first, last + 1):
            data = blocks[index]
            lo = start + written - index * self.block_size
            take = min(len(data) - lo, n - written)
            view[written : written + take] = data[lo : lo + take]
            written += take
        return written

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self._position
        buffer = bytearray(max(0, size))
        n = self.readinto(buffer)
        return bytes(buffer[:n])

    def close(self) -> None:
        for key in [k for k, v in _OPEN_BY_FILENO.items() if v is self]:
            _OPEN_BY_FILENO.pop(key, None)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._http.close()
        super().close()

    def __repr__(self) -> str:
        return self.url

    # -- blocks ---------------------------------------------------------------------------
    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Fetch the blocks covering these (offset, length) byte ranges, in parallel."""
        wanted: set[int] = set()
        for offset, length in ranges:
            if length > 0:
                first = offset // self.block_size
                last = (offset + length - 1) // self.block_size
                wanted.update(range(first, last + 1))
        if wanted:
            self._blocks(sorted(wanted))

    def _blocks(self, indices: Iterable[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        missing: list[int] = []
        with self._lock:
            for index in indices:
                data = self._memory.get(index)
                if data is not None:
                    self._memory.move_to_end(index)
                    found[index] = data
        for index in indices:
            if index in found:
                continue
            data = self.disk.get(index)
            if data is not None:
                found[index] = data
                self._remember(index, data)
            else:
                missing.append(index)
        if missing:
            # a large read is split so that its pieces arrive in parallel
            per_request = -(-len(missing) // PARALLEL_REQUESTS)
            longest = max(1, MAX_RUN_BYTES // self.block_size)
            runs = _runs(missing, min(longest, max(4, per_request)))
            if len(runs) == 1:
                found.update(self._fetch_run(*runs[0]))
            else:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        PARALLEL_REQUESTS, thread_name_prefix="ndviewer-http"
                    )
                for result in self._pool.map(lambda run: self._fetch_run(*run), runs):
                    found.update(result)
        return found

    def _remember(self, index: int, data: bytes) -> None:
        with self._lock:
            self._memory[index] = data
            self._memory.move_to_end(index)
            while len(self._memory) > MEMORY_BLOCKS:
                self._memory.popitem(last=False)

    def _fetch_run(self, first: int, count: int) -> dict[int, bytes]:
        start = first * self.block_size
        end = min(self.size, (first + count) * self.block_size) - 1
        status, headers, body = self._http.request("GET", {"Range": f"bytes={start}-{end}"})
        if status == 200 and len(body) == self.size:  # a server ignoring Range: take what we need
            body = body[start : end + 1]
        elif status != 206:
            raise RemoteReadError(f"Cannot read {self.url}: {_status_reason(status)}.")
        if len(body) != end - start + 1:
            raise RemoteReadError(
                f"Cannot read {self.url}: the server sent {len(body)} bytes for a range of "
                f"{end - start + 1}."
            )
        if self.on_fetch is not None:
            self.on_fetch(len(body))
        result = {}
        for i in range(count):
            data = body[i * self.block_size : (i + 1) * self.block_size]
            if not data:
                break
            result[first + i] = data
            self._remember(first + i, data)
            self.disk.put(first + i, data)
        return result


def _total_size(status: int, headers: dict[str, str]) -> int | None:
    if status == 206:
        total = headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _runs(indices: list[int], longest: int) -> list[tuple[int, int]]:
    """Consecutive block indices as (first, count) runs of at most ``longest`` blocks."""
    runs: list[tuple[int, int]] = []
    for index in sorted(indices):
        if runs and runs[-1][0] + runs[-1][1] == index and runs[-1][1] < longest:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs
