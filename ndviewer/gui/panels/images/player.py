"""Frame playback: which frame is on screen, what to read next, and when to show it.

The player owns a :class:`~ndviewer.core.nwb.images.FrameCache`; reads land on decode-pool
threads and come back to the GUI thread through a queued signal. Nothing here draws: the
panel listens to ``frame_changed`` and renders.

Playback at a chosen speed ticks a precise timer at ``rate x speed``; a tick whose frame is
not decoded yet waits for it (frames are never skipped, so every frame of a recording can be
inspected). At speed 0 ("as fast as possible") there is no timer: each shown frame schedules
the next as soon as it is decoded, so the rate is set by decode and display alone.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ndviewer.core.nwb.images import FrameCache, ImageSource

#: Frame rate used for sources without times (Images containers): a slideshow.
SLIDESHOW_FPS = 2.0
#: Reads kept in flight ahead of the shown frame while playing ...
PLAY_AHEAD = 16
#: ... but no more than this many bytes of frames: with two decode threads a few reads ahead
#: absorb the jitter, and more would only hold memory (a 2048 x 2048 frame is 8 MB: four
#: ahead kept 2048² gzip playback at the decode rate, eight only added 32 MB to the peak).
PLAY_AHEAD_BYTES = 32 * 1024 * 1024
#: After a frame is shown (not playing), its neighbours are read this much later (ms), once
#: the frame has been painted: decoding them at once would take the cores from the paint the
#: user is waiting for, and a dragged slider would read neighbours of frames already left.
NEIGHBOUR_DELAY_MS = 25


class FramePlayer(QObject):
    """Seek, step and play through an :class:`ImageSource`.

    Signals
    -------
    frame_changed(int, object)
        A new frame is on screen: its index and the raw frame array.
    playing_changed(bool)
        Playback started or stopped.
    fps_changed(float)
        Frames shown per second while playing, about twice a second.
    read_failed(int, str)
        Reading a frame raised; the message is meant for the status line.
    """

    frame_changed = Signal(int, object)
    playing_changed = Signal(bool)
    fps_changed = Signal(float)
    read_failed = Signal(int, str)
    _arrived = Signal(int, object)

    def __init__(
        self,
        source: ImageSource,
        cache_bytes: int = 256 * 1024 * 1024,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.source = source
        self.n_frames = source.n_frames
        self.cache = FrameCache(source, cache_bytes, on_ready=self._from_pool)
        self._arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)
        self.index = -1  # the frame on screen
        self._waiting: int | None = None  # requested, shown when it lands
        self._playing = False
        self.speed = 1.0  # multiple of the recording rate; 0 = as fast as possible
        self.loop = True
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._neighbours = QTimer(self)
        self._neighbours.setSingleShot(True)
        self._neighbours.setInterval(NEIGHBOUR_DELAY_MS)
        self._neighbours.timeout.connect(self._prefetch_neighbours)
        frame_bytes = max(source.frame_nbytes(), 1) if self.n_frames else 1
        self.play_ahead = max(2, min(PLAY_AHEAD, PLAY_AHEAD_BYTES // frame_bytes))
        self._shown_at: deque[float] = deque(maxlen=512)
        self._last_fps_report = 0.0

    # ------------------------------------------------------------------ properties
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def base_rate(self) -> float:
        """Recording frame rate (Hz); a slideshow rate for sources without times."""
        rate = self.source.time.frame_rate if self.source.time is not None else None
        return rate if rate and rate > 0 else SLIDESHOW_FPS

    # ------------------------------------------------------------------ control
    def seek(self, index: int) -> None:
        """Show frame ``index`` (clamped) as soon as it is decoded."""
        if self.n_frames == 0:
            return
        index = min(max(int(index), 0), self.n_frames - 1)
        if index == self.index and self._waiting is None:
            return
        self._neighbours.stop()
        self.cache.cancel_pending(keep=[index])  # don't wait behind reads for the old place
        self._go(index)

    def step(self, delta: int) -> None:
        """Move ``delta`` frames from the frame on screen (or being fetched)."""
        current = self._waiting if self._waiting is not None else max(self.index, 0)
        self.seek(current + delta)

    def set_speed(self, speed: float) -> None:
        """Playback speed as a multiple of the recording rate; 0 plays as fast as possible."""
        self.speed = max(0.0, float(speed))
        if self._playing:
            self._arm_timer()

    def play(self) -> None:
        if self._playing or self.n_frames < 2:
            return
        if self.index >= self.n_frames - 1 and not self.loop:
            self.seek(0)
        self._playing = True
        self._shown_at.clear()
        self._arm_timer()
        self.playing_changed.emit(True)
        self._prefetch_ahead()
        if self.speed == 0:
            self._tick()

    def pause(self) -> None:
        if not self._playing:
            return
        self._playing = False
        self._timer.stop()
        self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def close(self) -> None:
        """Stop playing and drop the cache; reads in flight are discarded when they land."""
        self.pause()
        self._neighbours.stop()
        self.cache.close()

    # ------------------------------------------------------------------ internals
    def _arm_timer(self) -> None:
        if self.speed == 0:
            self._timer.stop()
            return
        interval_ms = 1000.0 / (self.base_rate * self.speed)
        self._timer.start(max(0, int(round(interval_ms))))

    def _go(self, index: int) -> None:
        frame = self.cache.request(index)
        if frame is None:
            self._waiting = index
        else:
            self._waiting = None
            self._show(index, frame)

    def _tick(self) -> None:
        if not self._playing or self._waiting is not None:
            return  # the previous frame is still being decoded: wait for it
        nxt = self.index + 1
        if nxt >= self.n_frames:
            if not self.loop:
                self.pause()
                return
            nxt = 0
        self._go(nxt)
        self._prefetch_ahead()

    def _prefetch_neighbours(self) -> None:
        """Read the frames around the one shown, so stepping with , and . is instant."""
        index = self._waiting if self._waiting is not None else self.index
        if index >= 0 and not self._playing:
            self.cache.prefetch([index + 1, index - 1, index + 2, index + 3])

    def _prefetch_ahead(self) -> None:
        start = (self._waiting if self._waiting is not None else self.index) + 1
        ahead = min(self.play_ahead, self.cache.max_frames - 2)
        indices = [(start + k) % self.n_frames for k in range(max(ahead, 1))]
        self.cache.prefetch(indices, max_pending=max(ahead, 1))

    def _show(self, index: int, frame: np.ndarray) -> None:
        self.index = index
        self.frame_changed.emit(index, frame)
        if not self._playing:
            self._neighbours.start()  # (re)start: fires once the user pauses on a frame
            return
        now = time.perf_counter()
        self._shown_at.append(now)
        if now - self._last_fps_report > 0.5 and len(self._shown_at) > 2:
            span = self._shown_at[-1] - self._shown_at[0]
            if span > 0:
                self.fps_changed.emit((len(self._shown_at) - 1) / span)
            self._last_fps_report = now
        if self.speed == 0:
            QTimer.singleShot(0, self._tick)

    def _from_pool(self, index: int, payload: object) -> None:
        # Runs on a decode thread: hand over to the GUI thread. Only the index (or the error)
        # travels: a frame in Qt's event queue is a reference the cache cannot evict, and
        # while a 2048² paint kept the GUI thread busy, queued frames held 100+ MB beyond the
        # cache's budget. The GUI thread takes the frame from the cache instead.
        try:
            self._arrived.emit(index, payload if isinstance(payload, BaseException) else None)
        except RuntimeError:  # the player was deleted while the read was in flight
            pass

    def _on_arrived(self, index: int, payload: object) -> None:
        if isinstance(payload, BaseException):
            if index == self._waiting:
                self._waiting = None
                self.pause()
                self.read_failed.emit(index, f"frame {index} could not be read: {payload}")
            return
        if index == self._waiting:
            frame = self.cache.get(index)
            if frame is None:  # evicted (or the cache cleared) before we got here: read again
                self.cache.request(index)
            else:
                self._waiting = None
                self._show(index, frame)
        if self._playing:
            self._prefetch_ahead()
