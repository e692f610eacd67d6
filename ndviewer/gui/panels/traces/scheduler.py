"""Which trace frame to render next, and which finished frame to put on screen.

The panel hands :meth:`FrameScheduler.show` the request for its current state. The scheduler
serves it from the frame cache when it can, else has a worker render it, while rendering the
neighbouring pages ahead so that a page step is usually served from memory. At most one
frame render runs at a time and it is never cancelled for a newer one (cancelling on every
key repeat would starve the screen): the newest request waits and goes next, and a frame that
completes meanwhile is shown when it differs only in time, so the picture keeps moving while
keys are held.

When page steps outpace exact renders and the pyramid exists, each step instead shows a coarse
stand-in from the pyramid's finest level (rendered a few pages ahead, a few milliseconds
each); the exact page follows :data:`SETTLE_MS` after the last step.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ndviewer.core.errors import NdviewerError
from ndviewer.core.signal.lod import NeedsPyramid
from ndviewer.gui.panels.traces.frames import (
    Frame,
    FrameCache,
    FrameRequest,
    coarse_columns,
    render_frame,
)
from ndviewer.gui.panels.traces.items import IndexedImageItem
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import URGENT_PRIORITY, WorkerPool

__all__ = ["FrameScheduler"]

#: A pause between page steps this long (ms) means the key was released (auto-repeat sends a
#: step every 25-50 ms): the exact page is rendered then.
SETTLE_MS = 150
#: Frames for the screen start before queued background work (prefetch, overview, overlays).
FRAME_PRIORITY = URGENT_PRIORITY
#: While a key is held, coarse pyramid frames are rendered this many pages ahead.
COARSE_PAGES_AHEAD = 3
#: Budget of the coarse stand-in frames (each about half a megabyte).
COARSE_CACHE_BYTES = 4 << 20


def _layout_fields(request: FrameRequest) -> tuple:
    """Everything of a request except its time window, in constructor order."""
    return (
        request.channels,
        request.width,
        request.height,
        request.baselines,
        request.gains,
        request.colors,
    )


def _same_layout(a: FrameRequest, b: FrameRequest) -> bool:
    """True when two requests differ at most in their time window."""
    return (a.channels, a.width, a.height, a.baselines, a.gains, a.colors) == (
        b.channels,
        b.width,
        b.height,
        b.baselines,
        b.gains,
        b.colors,
    )


class FrameScheduler(QObject):
    """Renders, caches, prefetches and shows the frames of one trace panel.

    Parameters
    ----------
    state
        The panel's state (its ``lod`` and ``bounds()`` are read; nothing is written).
    image
        The item frames are shown in.
    pool, job_key
        The panel's worker pool and its job-key maker (``job_key("frame")``).

    Attributes
    ----------
    cache, coarse_cache : FrameCache
        Exact frames, and the pyramid's coarse stand-ins.
    wanted : FrameRequest or None
        The frame for the panel's current state.
    shown : Frame or None
        The frame on screen.
    render_seconds : float
        Smoothed time of one exact render.
    last_latency : float or None
        Seconds from the last request to its exact frame on screen.

    Signals
    -------
    frame_shown(object)
        A :class:`Frame` was put on the image item (before prefetching resumes).
    loading()
        The wanted frame is not at hand: it is being rendered.
    pyramid_needed()
        The wanted window can only be drawn from the pyramid, which is not built yet.
    failed(str)
        A frame could not be drawn (the reason).
    settled()
        Page steps stopped: ask for the exact frame of the page they reached.
    """

    frame_shown = Signal(object)
    loading = Signal()
    pyramid_needed = Signal()
    failed = Signal(str)
    settled = Signal()

    def __init__(
        self,
        state: TraceState,
        image: IndexedImageItem,
        pool: WorkerPool,
        job_key: Callable[[str], str],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.image = image
        self._pool = pool
        self._job_key = job_key
        self.cache = FrameCache()
        self.coarse_cache = FrameCache(COARSE_CACHE_BYTES)
        self.wanted: FrameRequest | None = None
        self.shown: Frame | None = None
        self.render_seconds = 0.05
        self.last_latency: float | None = None
        self._in_flight: FrameRequest | None = None
        self._prefetching: FrameRequest | None = None
        self._coarse_in_flight: FrameRequest | None = None
        self._last_step = 1
        self._step_times: deque[float] = deque(maxlen=6)
        self._request_started: dict[FrameRequest, float] = {}
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._on_keys_released)

    # ----------------------------------------------------------------------------------- api
    def note_step(self, direction: int) -> None:
        """A page step in ``direction`` (+1/-1): how fast steps come decides what to render."""
        now = time.perf_counter()
        times = self._step_times
        if direction != self._last_step or (times and now - times[-1] > 0.3):
            times.clear()
        self._last_step = direction
        times.append(now)

    def show(self, request: FrameRequest) -> None:
        """Make ``request`` the wanted frame: show it from the cache or have it rendered."""
        self.wanted = request
        self._request_started.setdefault(request, time.perf_counter())
        self._show_or_render(request)

    def on_error(self, exc: Exception) -> None:
        """A render failed (the panel routes its other reads' errors here too)."""
        self._in_flight = None
        if isinstance(exc, NeedsPyramid):
            self.pyramid_needed.emit()
            return
        self.failed.emit(exc.message if isinstance(exc, NdviewerError) else str(exc))
        self._next_after_render()

    def stop(self) -> None:
        """Stop the settle timer and drop every cached frame."""
        self._settle_timer.stop()
        self.cache.clear()
        self.coarse_cache.clear()

    # -------------------------------------------------------------------------------- choose
    def _show_or_render(self, request: FrameRequest) -> None:
        lod = self.state.lod
        frame = self.cache.get(request)
        if frame is not None:
            self._show(frame)
            if self._coarse_mode():
                self._coarse_next()  # a held key soon passes the prefetched exact pages
            return
        if lod is not None and lod.needs_pyramid(
            request.t0, request.t1, len(request.channels), request.width
        ):
            self.pyramid_needed.emit()
            return
        if self._coarse_mode():
            # a key is held and the exact page needs raw data: show the pyramid's stand-in now
            # (rendered ahead), and the exact page once the presses stop
            coarse = self.coarse_cache.get(request)
            if coarse is not None:
                self._offer(coarse)
            self._settle_timer.start()
            self._drop_exact_renders()
            self._coarse_next()
            if coarse is None:
                self.loading.emit()
            return
        if request in (self._in_flight, self._prefetching):
            return  # already being rendered: it is shown when it lands
        if self._lead_pages() > 1:
            # a key is held: this page will be stale before it renders; render where the
            # presses are going instead, and this page once they stop
            self._settle_timer.start()
            self._fill_lookahead()
        elif self._in_flight is None:
            if self._prefetching is not None:
                # a jump away from the prefetched neighbours: the wanted page gets the core
                self._pool.cancel(self._job_key("prefetch"))
                self._prefetching = None
            self._submit_frame(request)
        self.loading.emit()

    def _on_keys_released(self) -> None:
        """No page step for :data:`SETTLE_MS`: the key is up, render the exact page now."""
        self._step_times.clear()
        self.settled.emit()

    def _coarse_mode(self) -> bool:
        """True while page steps arrive faster than exact frames render (a held key) and the
        wanted page has a cheap coarse stand-in."""
        wanted = self.wanted
        times = self._step_times
        lod = self.state.lod
        if wanted is None or lod is None or len(times) < 2:
            return False
        if time.perf_counter() - times[-1] > SETTLE_MS / 1000:
            return False
        interval = (times[-1] - times[0]) / (len(times) - 1)
        return interval < self.render_seconds and coarse_columns(lod, wanted) is not None

    def _lead_pages(self) -> int:
        """How many pages ahead the prefetcher must work while a key is held.

        When page steps come faster than frames render, the page the user will reach once a
        render finishes lies several pages ahead: render there, so the press that arrives
        finds its frame ready.
        """
        times = self._step_times
        if len(times) < 2 or time.perf_counter() - times[-1] > 0.3:
            return 1
        interval = (times[-1] - times[0]) / (len(times) - 1)
        return int(min(12, math.ceil(self.render_seconds / max(interval, 1e-3)) + 1))

    def _prefetch_targets(self) -> list[FrameRequest]:
        """Pages to render ahead in the direction of travel (and one behind when idle)."""
        wanted = self.wanted
        if wanted is None:
            return []
        length = wanted.t1 - wanted.t0
        start, stop = self.state.bounds()
        lead = self._lead_pages()
        d = self._last_step
        steps = [d, 2 * d, -d, 3 * d] if lead <= 1 else [lead * d, (lead + 1) * d, (lead + 2) * d]
        out = []
        for step in steps:
            neighbour = wanted.shifted(step * length)
            if neighbour.t0 < start - 1e-9 or neighbour.t0 >= stop:
                continue
            out.append(neighbour)
        lod = self.state.lod
        if lead <= 1 and lod is not None and lod.pyramid is not None:
            # when idle, the whole session too (a frequent jump: End of zoom-out, overview)
            whole = FrameRequest(start, start + (stop - start), *_layout_fields(wanted))
            if whole != wanted:
                out.append(whole)
        return out

    def _next_target(self) -> FrameRequest | None:
        busy = (self._in_flight, self._prefetching)
        return next(
            (r for r in self._prefetch_targets() if r not in self.cache and r not in busy),
            None,
        )

    # -------------------------------------------------------------------------------- render
    def _submit_frame(self, request: FrameRequest) -> None:
        lod = self.state.lod
        self._in_flight = request
        self._pool.submit(
            self._job_key("frame"),
            lambda token: render_frame(lod, request, lambda: token.cancelled),
            self._on_frame,
            self.on_error,
            priority=FRAME_PRIORITY,
        )

    def _on_frame(self, frame: Frame) -> None:
        self._in_flight = None
        self.render_seconds = 0.7 * self.render_seconds + 0.3 * frame.seconds
        self.cache.put(frame)
        self._offer(frame)
        self._next_after_render()

    def _next_after_render(self) -> None:
        """After a render finished: render the wanted frame if still missing, else prefetch."""
        wanted = self.wanted
        lod = self.state.lod
        if wanted is None or lod is None:
            return
        if self._coarse_mode():
            self._coarse_next()
            return
        if self._lead_pages() > 1:
            self._fill_lookahead()
            return
        missing = wanted not in self.cache and wanted not in (self._in_flight, self._prefetching)
        if missing and not lod.needs_pyramid(
            wanted.t0, wanted.t1, len(wanted.channels), wanted.width
        ):
            self._submit_frame(wanted)
            return
        self._prefetch_next()

    def _fill_lookahead(self) -> None:
        """Give every idle render slot a page ahead of the held key's position."""
        if self._in_flight is None:
            target = self._next_target()
            if target is not None and not self.state.lod.needs_pyramid(
                target.t0, target.t1, len(target.channels), target.width
            ):
                self._submit_frame(target)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        """Render the first missing neighbour page (one prefetch at a time)."""
        lod = self.state.lod
        if lod is None or self._prefetching is not None or self._coarse_mode():
            return
        if self._in_flight is not None and self._in_flight == self.wanted:
            return  # the page the user waits for gets the cores; prefetch resumes after it
        request = self._next_target()
        if request is None:
            return
        if lod.needs_pyramid(request.t0, request.t1, len(request.channels), request.width):
            return
        self._prefetching = request

        def done(frame: Frame) -> None:
            self._prefetching = None
            self.render_seconds = 0.7 * self.render_seconds + 0.3 * frame.seconds
            self.cache.put(frame)
            self._offer(frame)
            self._next_after_render()

        def failed(exc: Exception) -> None:
            self._prefetching = None

        self._pool.submit(
            self._job_key("prefetch"),
            lambda token: render_frame(lod, request, lambda: token.cancelled),
            done,
            failed,
        )

    # -------------------------------------------------------------------------------- coarse
    def _drop_exact_renders(self) -> None:
        """Cancel exact renders of pages the held key has already passed: the cores go to
        the coarse frames (the exact page is rendered when the presses stop)."""
        if self._in_flight is not None and self._in_flight != self.wanted:
            self._pool.cancel(self._job_key("frame"))
            self._in_flight = None
        if self._prefetching is not None:
            self._pool.cancel(self._job_key("prefetch"))
            self._prefetching = None

    def _coarse_next(self) -> None:
        """Render the next missing coarse page: the wanted one, then ahead of the held key."""
        wanted = self.wanted
        lod = self.state.lod
        if self._coarse_in_flight is not None or wanted is None or lod is None:
            return
        length = wanted.t1 - wanted.t0
        start, stop = self.state.bounds()
        for k in range(COARSE_PAGES_AHEAD + 1):
            target = wanted.shifted(k * self._last_step * length) if k else wanted
            if target.t0 < start - 1e-9 or target.t0 >= stop:
                return
            if target in self.cache or target in self.coarse_cache:
                continue
            if coarse_columns(lod, target) is None:
                return
            self._submit_coarse(target)
            return

    def _submit_coarse(self, request: FrameRequest) -> None:
        lod = self.state.lod
        self._coarse_in_flight = request

        def done(frame: Frame) -> None:
            self._coarse_in_flight = None
            (self.coarse_cache if frame.coarse else self.cache).put(frame)
            self._offer(frame)
            if self._coarse_mode():
                self._coarse_next()

        def failed(exc: Exception) -> None:
            self._coarse_in_flight = None

        self._pool.submit(
            self._job_key("coarse"),
            lambda token: render_frame(lod, request, lambda: token.cancelled, coarse=True),
            done,
            failed,
            priority=FRAME_PRIORITY,
        )

    # ---------------------------------------------------------------------------------- show
    def _offer(self, frame: Frame) -> None:
        """Show a finished frame if it is wanted, or if it only lags the wanted one in time."""
        wanted = self.wanted
        if wanted is None:
            return
        if frame.request == wanted:
            if not frame.coarse:
                self._show(frame)
            elif self.shown is None or self.shown.request != wanted:
                self._show(frame, final=False)
        elif _same_layout(frame.request, wanted) and (
            self.shown is None or _same_layout(self.shown.request, wanted)
        ):
            # a frame between the one on screen and the wanted one: progress while keys are
            # held (never a frame beyond the wanted window)
            d = self._last_step
            shown_t0 = self.shown.request.t0 if self.shown is not None else None
            behind = d * (wanted.t0 - frame.request.t0) >= 0
            ahead_of_shown = shown_t0 is None or d * (frame.request.t0 - shown_t0) > 0
            if behind and ahead_of_shown:
                self._show(frame, final=False)

    def _show(self, frame: Frame, final: bool = True) -> None:
        req = frame.request
        self.image.set_image(frame.image, frame.x0, frame.x1, req.y_bottom, req.y_top)
        self.shown = frame
        if final:
            started = self._request_started.pop(req, None)
            self._request_started.clear()
            if started is not None:
                self.last_latency = time.perf_counter() - started
        self.frame_shown.emit(frame)
        if final:
            self._prefetch_next()
