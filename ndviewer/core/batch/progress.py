"""The terminal progress line of a batch run: files done, rate, ETA, failures."""

from __future__ import annotations

import time
from typing import Any, TextIO


def format_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TerminalProgress:
    """Rewrites one line on a terminal; says nothing when the stream is not one (logs, CI)."""

    def __init__(self, total: int, stream: TextIO, clock=time.monotonic) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.failed = 0
        self._clock = clock
        self._start = clock()
        self._live = bool(getattr(stream, "isatty", lambda: False)())

    def line(self) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        width = len(str(self.total))
        text = f"[{self.done:>{width}}/{self.total}] {rate:.1f} files/s · ETA {format_eta(left)}"
        if self.failed:
            text += f" · {self.failed} failed"
        return text

    def update(self, row: dict[str, Any]) -> None:
        self.done += 1
        if row.get("status") == "error":
            self.failed += 1
        if self._live:
            self.stream.write("\r" + self.line() + " " * 4)
            self.stream.flush()

    def close(self) -> None:
        if self._live:
            self.stream.write("\r" + " " * (len(self.line()) + 4) + "\r")
            self.stream.flush()
