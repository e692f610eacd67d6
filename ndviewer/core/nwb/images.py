"""Image data in NWB: frame geometry, frame <-> session time, frame reads, external files.

Three shapes of image data reach the image panel:

* an ``ImageSeries`` (and every subtype: TwoPhotonSeries, OnePhotonSeries, ImageMaskSeries,
  extension microscopy series) whose ``data`` is ``(frame, x, y)``, ``(frame, x, y, z)`` or
  ``(frame, x, y, channel)`` for colour video; frames have session times from ``rate`` or
  ``timestamps``; with ``format="external"`` the frames live in video files instead;
* an ``Images`` container: a set of ``Image`` datasets (GrayscaleImage, RGBImage,
  RGBAImage), ordered by ``order_of_images`` when present, without times;
* a single ``Image`` dataset.

:func:`is_viewable_image` says whether a node is one of them; :func:`open_image_source` turns
any of them into an :class:`ImageSource` with one protocol:
``n_frames``, ``frame_geometry(i)``, ``read_frame(i)`` / ``submit_frame(i)``, ``time``. Axis
convention: NWB names the spatial axes ``x, y`` and masks use the same order, so the frame
array is indexed ``[x, y]`` and the viewer draws x across and y down.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import h5_object
from ndviewer.core.model.values import decode_value
from ndviewer.core.signal.chunk_reader import ChunkReader, check_allocation, shared_decode_pool


class ImageDataError(NdviewerError):
    """The object's image data cannot be interpreted as frames."""


# --------------------------------------------------------------------------- time axis
class TimeAxis:
    """Session times of a series' frames, from ``starting_time`` + ``rate`` or ``timestamps``.

    Parameters
    ----------
    n_frames
        Number of frames the axis covers.
    starting_time, rate
        The regular form: frame ``i`` is at ``starting_time + i / rate``.
    timestamps
        The irregular form: frame ``i`` is at ``timestamps[i]`` (ascending).
    """

    def __init__(
        self,
        n_frames: int,
        *,
        starting_time: float | None = None,
        rate: float | None = None,
        timestamps: np.ndarray | None = None,
    ) -> None:
        if timestamps is None and (rate is None or not rate > 0):
            raise ValueError("a time axis needs a positive rate or timestamps")
        self.n_frames = int(n_frames)
        self.starting_time = float(starting_time or 0.0)
        self.rate = None if rate is None else float(rate)
        self.timestamps = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        if self.timestamps is not None:
            self.n_frames = min(self.n_frames, self.timestamps.size)

    @property
    def regular(self) -> bool:
        """True for the ``rate`` form."""
        return self.timestamps is None

    @property
    def frame_rate(self) -> float | None:
        """Frames per second for playback: ``rate``, or the median timestamp step's inverse."""
        if self.timestamps is None:
            return self.rate
        if self.timestamps.size < 2:
            return None
        step = float(np.median(np.diff(self.timestamps)))
        return 1.0 / step if step > 0 else None

    @property
    def start(self) -> float:
        """Time of the first frame."""
        return float(self.time_of(0)) if self.n_frames else self.starting_time

    @property
    def stop(self) -> float:
        """Time of the last frame plus one frame period (the end of the recording)."""
        if self.n_frames == 0:
            return self.start
        last = float(self.time_of(self.n_frames - 1))
        rate = self.frame_rate
        return last + (1.0 / rate if rate else 0.0)

    def time_of(self, index: int | np.ndarray) -> float | np.ndarray:
        """Session time (s) of frame ``index`` (scalar or array)."""
        if self.timestamps is not None:
            return self.timestamps[index]
        return self.starting_time + np.asarray(index, dtype=np.float64) / self.rate

    def index_at(self, t: float) -> int:
        """The frame on screen at time ``t``: the last frame whose time is <= ``t``.

        Times before the first frame give 0 and times after the last give the last frame, so
        a cursor anywhere in the session shows something.
        """
        if self.n_frames == 0:
            return 0
        if self.timestamps is not None:
            i = int(np.searchsorted(self.timestamps[: self.n_frames], t, side="right")) - 1
        else:
            # A tolerance of a millionth of a frame absorbs float error at exact frame times.
            i = math.floor((t - self.starting_time) * self.rate + 1e-6)
        return min(max(i, 0), self.n_frames - 1)


def read_time_axis(group: h5py.Group, n_frames: int) -> TimeAxis | None:
    """The time axis of a TimeSeries group, or None when it has neither rate nor timestamps."""
    if "timestamps" in group:
        timestamps = np.asarray(group["timestamps"][()], dtype=np.float64).ravel()
        if n_frames == 0:
            n_frames = timestamps.size
        return TimeAxis(n_frames, timestamps=timestamps)
    if "starting_time" in group:
        dataset = group["starting_time"]
        rate = dataset.attrs.get("rate")
        if rate is None or not float(rate) > 0:
            return None
        return TimeAxis(n_frames, starting_time=float(dataset[()]), rate=float(rate))
    return None


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class FrameGeometry:
    """How one frame array maps to a picture.

    Attributes
    ----------
    shape : tuple of int
        Shape of the array :meth:`ImageSource.read_frame` returns.
    size : tuple of int
        ``(nx, ny)``: the picture's width and height in pixels.
    n_planes : int
        Depth planes (``z``) in a volumetric frame; 1 for flat images.
    channels : int
        1 for grey, 3 for RGB, 4 for RGBA.
    """

    shape: tuple[int, ...]
    size: tuple[int, int]
    n_planes: int = 1
    channels: int = 1

    @property
    def is_color(self) -> bool:
        return self.channels in (3, 4)

    def plane(self, frame: np.ndarray, z: int = 0) -> np.ndarray:
        """The 2-D picture (``(nx, ny)`` or ``(nx, ny, channels)``) of plane ``z``."""
        if self.n_planes == 1:
            return frame
        z = min(max(int(z), 0), self.n_planes - 1)
        return frame[:, :, z, ...] if frame.ndim >= 3 else frame


def frame_geometry(
    frame_shape: tuple[int, ...], color: bool | None = None, dtype: np.dtype | None = None
) -> FrameGeometry:
    """Interpret a frame's shape: ``(x, y)``, ``(x, y, z)``, ``(x, y, c)`` or ``(x, y, z, c)``.

    Parameters
    ----------
    frame_shape
        Shape of one frame (the data shape without the frame axis).
    color
        Whether a trailing axis of length 3 or 4 holds colour channels. None guesses: a
        trailing 3 or 4 is colour when the data are 8-bit (video) or the dtype is not given;
        16-bit and float stacks are microscopy, where a short trailing axis is depth. A caller
        who knows better passes True or False.
    dtype
        The data type, used by the guess.

    Raises
    ------
    ImageDataError
        When the shape cannot be a picture (1-D or more than 4-D frames).
    """
    shape = tuple(int(s) for s in frame_shape)
    if len(shape) == 2:
        return FrameGeometry(shape, (shape[0], shape[1]))
    if len(shape) == 3:
        trailing_color = shape[2] in (3, 4)
        video_like = dtype is None or np.dtype(dtype) == np.uint8
        if color or (color is None and trailing_color and video_like):
            if not trailing_color:
                raise ImageDataError(f"frames of shape {shape} have no 3 or 4 colour channels")
            return FrameGeometry(shape, (shape[0], shape[1]), channels=shape[2])
        return FrameGeometry(shape, (shape[0], shape[1]), n_planes=shape[2])
    if len(shape) == 4 and shape[3] in (3, 4) and color is not False:
        # (x, y, z, c): with a depth axis already, a trailing 3 or 4 can only be colour.
        return FrameGeometry(shape, (shape[0], shape[1]), n_planes=shape[2], channels=shape[3])
    raise ImageDataError(f"frames of shape {shape} are not 2-D, 3-D or colour images")


# --------------------------------------------------------------------------- external files
@dataclass(frozen=True)
class ExternalFile:
    """One entry of an ImageSeries' ``external_file``.

    Attributes
    ----------
    written : str
        The path as stored in the NWB file.
    path : pathlib.Path
        Resolved: absolute paths as written, relative ones against the NWB file's folder.
    starting_frame : int
        Index (in the series' frame numbering) of this file's first frame.
    exists : bool
        Whether the file is there now.
    """

    written: str
    path: Path
    starting_frame: int
    exists: bool


def resolve_external_files(series: h5py.Group) -> list[ExternalFile]:
    """The ImageSeries' external files, resolved relative to the NWB file's folder.

    Returns an empty list when the series has no ``external_file``.
    """
    if "external_file" not in series:
        return []
    dataset = series["external_file"]
    written = decode_value(dataset[()])
    names = [written] if isinstance(written, str) else list(written)
    starts = dataset.attrs.get("starting_frame")
    starts = [0] * len(names) if starts is None else [int(s) for s in np.atleast_1d(starts)]
    starts = (starts + [0] * len(names))[: len(names)]
    base = Path(os.path.abspath(series.file.filename)).parent
    files = []
    for name, start in zip(names, starts):
        path = Path(name)
        resolved = path if path.is_absolute() else (base / path)
        resolved = Path(os.path.normpath(resolved))
        files.append(ExternalFile(str(name), resolved, start, resolved.is_file()))
    return files


def describe_missing(files: list[ExternalFile], series_path: str) -> str | None:
    """One sentence naming the external files that are missing, or None if all are there."""
    missing = [f for f in files if not f.exists]
    if not missing:
        return None
    listed = ", ".join(str(f.path) for f in missing)
    noun = "file is" if len(missing) == 1 else "files are"
    return (
        f"{series_path} stores its frames in external video; the {noun} missing: {listed} "
        "(paths are resolved relative to the NWB file's folder)."
    )


# --------------------------------------------------------------------------- sources
class ImageSource:
    """Frames of one image object, read off the GUI thread.

    Attributes
    ----------
    path : str
        HDF5 path of the object.
    n_frames : int
        Number of frames (0 for an external-only series without a frame count).
    time : TimeAxis or None
        Frame times, for series; None for Images containers and single images.
    labels : list of str
        A name per frame where frames have names (Images), else empty.
    external_files : list of ExternalFile
        For ``format="external"`` series; empty otherwise.
    unit, conversion, offset
        ``physical = raw * conversion + offset`` in ``unit`` (a readout, not applied).
    """

    path: str
    n_frames: int
    time: TimeAxis | None = None
    labels: list[str]
    external_files: list[ExternalFile]
    unit: str = ""
    conversion: float = 1.0
    offset: float = 0.0

    def frame_geometry(self, index: int = 0) -> FrameGeometry:
        raise NotImplementedError

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as an array shaped ``frame_geometry(index).shape`` (blocking)."""
        raise NotImplementedError

    def submit_frame(self, index: int) -> Future:
        """Start reading frame ``index`` in the decode pool; the future yields the array."""
        raise NotImplementedError

    def frame_nbytes(self, index: int = 0) -> int:
        """Decoded size of a frame, for sizing a frame cache."""
        shape = self.frame_geometry(index).shape
        return int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    def frame_label(self, index: int) -> str:
        """``"frame 12 · 3.400 s"``-style caption for the frame slider."""
        if self.labels:
            return self.labels[index]
        if self.time is not None and index < self.time.n_frames:
            return f"frame {index} · {float(self.time.time_of(index)):.3f} s"
        return f"frame {index}"


class SeriesSource(ImageSource):
    """An ImageSeries whose frames are stored in its ``data`` dataset."""

    def __init__(self, series: h5py.Group, color: bool | None = None) -> None:
        self.path = series.name
        self.labels = []
        self.external_files = resolve_external_files(series)
        data = series.get("data")
        self.data = data
        if data is not None and data.ndim < 3 and not (data.ndim >= 1 and data.shape[0] == 0):
            raise ImageDataError(
                f"{series.name}/data has shape {data.shape}; an ImageSeries needs "
                "(frame, x, y) or more axes"
            )
        self.reader = ChunkReader(data) if data is not None else None
        stored = data.shape[0] if data is not None and data.ndim else 0
        count = stored
        if stored == 0 and "num_samples" in series:
            count = int(series["num_samples"][()])
        self.time = read_time_axis(series, count)
        if stored == 0 and self.time is not None:
            count = self.time.n_frames
        #: Frames stored in ``data`` (what read_frame can return).
        self.n_frames = stored
        #: Frames the series declares, including external ones (num_samples / timestamps).
        self.n_frames_declared = count
        if stored:
            check_allocation(data.shape[1:], data.dtype, f"one frame of {series.name}")
        self._geometry = frame_geometry(data.shape[1:], color, data.dtype) if stored else None
        attrs = data.attrs if data is not None else {}
        self.unit = str(decode_value(attrs.get("unit", "")) or "")
        self.conversion = float(attrs.get("conversion", 1.0))
        self.offset = float(attrs.get("offset", 0.0))

    @property
    def dtype(self) -> np.dtype:
        return self.reader.dtype if self.reader is not None else np.dtype(np.uint8)

    def frame_geometry(self, index: int = 0) -> FrameGeometry:
        if self._geometry is None:
            raise ImageDataError(f"{self.path} has no frames stored in the file")
        return self._geometry

    def read_frame(self, index: int) -> np.ndarray:
        return self.reader.read_frame(index)

    def submit_frame(self, index: int) -> Future:
        future = self.reader.submit(index, index + 1)
        return _FrameFuture(future)


class _FrameFuture(Future):
    """The first item of a one-frame slab future; cancelling it cancels the read if queued."""

    def __init__(self, slab: Future) -> None:
        super().__init__()
        self._slab = slab
        slab.add_done_callback(self._settle)

    def cancel(self) -> bool:
        slab = self._slab
        return slab.cancel() if slab is not None else False  # _settle then cancels this too

    def _settle(self, slab: Future) -> None:
        # The slab's callback list holds this future and ``_slab`` held the slab: a cycle,
        # which only the cyclic GC frees, so each decoded frame (8 MB at 2048²) outlived
        # the cache's eviction until a collection ran -- 17 extra frames (136 MB) at the
        # peak of a 2048² playback. Dropping the reference makes refcounting free them.
        self._slab = None
        if slab.cancelled():
            super().cancel()
            self.set_running_or_notify_cancel()
        elif slab.exception() is not None:
            self.set_running_or_notify_cancel()
            self.set_exception(slab.exception())
        else:
            self.set_running_or_notify_cancel()
            self.set_result(slab.result()[0])


class ImageSetSource(ImageSource):
    """An ``Images`` container or a single ``Image``: a few named pictures, no times."""

    def __init__(self, obj: h5py.Group | h5py.Dataset, color: bool | None = None) -> None:
        self.path = obj.name
        self.external_files = []
        self.time = None
        if isinstance(obj, h5py.Dataset):
            datasets = [obj]
        else:
            datasets = _ordered_images(obj)
        if not datasets:
            raise ImageDataError(f"{obj.name} contains no images")
        self._datasets = datasets
        self.labels = [d.name.rsplit("/", 1)[-1] for d in datasets]
        self.n_frames = len(datasets)
        self._geometry = [
            frame_geometry(d.shape, _image_color(d) if color is None else color, d.dtype)
            for d in datasets
        ]
        self._dtype = np.result_type(*[d.dtype.newbyteorder("=") for d in datasets])

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def frame_geometry(self, index: int = 0) -> FrameGeometry:
        return self._geometry[index]

    def read_frame(self, index: int) -> np.ndarray:
        return np.asarray(self._datasets[index][()])

    def submit_frame(self, index: int) -> Future:
        return shared_decode_pool().submit(self.read_frame, index)


_COLOR_TYPES = {"RGBImage": True, "RGBAImage": True, "GrayscaleImage": False}


def _image_color(dataset: h5py.Dataset) -> bool | None:
    kind = decode_value(dataset.attrs.get("neurodata_type", ""))
    return _COLOR_TYPES.get(kind)


def _ordered_images(group: h5py.Group) -> list[h5py.Dataset]:
    """Image datasets of an Images group, in ``order_of_images`` order when given."""
    ordered: list[h5py.Dataset] = []
    if "order_of_images" in group:
        for ref in np.ravel(group["order_of_images"][()]):
            if isinstance(ref, h5py.Reference) and ref:
                target = group.file[ref]
                if isinstance(target, h5py.Dataset):
                    ordered.append(target)
    seen = {d.name for d in ordered}
    for name, child in group.items():
        if name == "order_of_images" or not isinstance(child, h5py.Dataset):
            continue
        if child.ndim in (2, 3) and child.dtype.kind in "uifb" and child.name not in seen:
            ordered.append(child)
    return ordered


def is_image_series(obj: h5py.Group | h5py.Dataset) -> bool:
    """True for a group that looks like an ImageSeries (has ``data`` or ``external_file``)."""
    return isinstance(obj, h5py.Group) and ("data" in obj or "external_file" in obj)


def open_image_source(obj: Any, color: bool | None = None) -> ImageSource:
    """The :class:`ImageSource` for an ImageSeries group, an Images group or an Image dataset.

    Parameters
    ----------
    obj
        The object: a core ``Node``, or its h5py group or dataset.
    color
        Forwarded to :func:`frame_geometry`: force (True) or refuse (False) reading a trailing
        axis of 3/4 as colour channels.

    Raises
    ------
    ImageDataError
        When the object holds nothing that can be shown as an image.
    """
    obj = h5_object(obj)
    if is_image_series(obj):
        return SeriesSource(obj, color)
    if isinstance(obj, h5py.Dataset | h5py.Group):
        return ImageSetSource(obj, color)
    raise ImageDataError(f"{obj!r} is not an image object")


def is_viewable_image(node: Any, is_a: Callable[[str, str], bool]) -> bool:
    """True when :func:`open_image_source` can show ``node`` as pictures.

    That is: a 2-D or 3-D numeric dataset (an ``Image``); an ImageSeries-like group (it has
    ``data`` or ``external_file``) whose frames are in external files or in ``data`` of
    three or more dimensions; or a group whose type is an ``Images`` and that holds at least
    one 2-D or 3-D dataset besides ``order_of_images``. Unreadable nodes and broken links
    give False.

    Parameters
    ----------
    node
        A core ``Node`` (its ``h5obj()`` and ``neurodata_type`` are used).
    is_a
        ``is_a(type, base)`` from the file's catalogue, so extension subtypes of ``Images``
        count.
    """
    try:
        obj = node.h5obj()
    except (OSError, KeyError):
        return False
    if obj is None:
        return False
    if isinstance(obj, h5py.Dataset):
        return obj.ndim in (2, 3) and obj.dtype.kind in "uifb"
    if "data" in obj or "external_file" in obj:  # an ImageSeries
        data = obj.get("data")
        return "external_file" in obj or (isinstance(data, h5py.Dataset) and data.ndim >= 3)
    if node.neurodata_type and is_a(node.neurodata_type, "Images"):
        return any(
            isinstance(child, h5py.Dataset) and child.ndim in (2, 3)
            for name, child in obj.items()
            if name != "order_of_images"
        )
    return False


# --------------------------------------------------------------------------- frame cache
class FrameCache:
    """A bounded LRU of decoded frames that reads ahead in the decode pool.

    Playback asks for frame ``i`` and the next few; seeking asks for one frame. Whatever is
    not cached is read with :meth:`ImageSource.submit_frame`; when a read lands it is stored
    and ``on_ready(index, frame_or_exception)`` is called *from the pool thread* (a GUI turns
    that into a queued signal). Memory is bounded by ``max_bytes`` whatever the stack's size.

    Parameters
    ----------
    source
        Where frames come from.
    max_bytes
        Cache budget; at least two frames are always kept.
    on_ready
        Called once per completed read with the frame (or the exception that read raised).
    """

    def __init__(
        self,
        source: ImageSource,
        max_bytes: int = 256 * 1024 * 1024,
        on_ready: Callable[[int, np.ndarray | BaseException], None] | None = None,
    ) -> None:
        self.source = source
        frame_bytes = max(source.frame_nbytes(), 1) if source.n_frames else 1
        self.max_frames = max(2, int(max_bytes // frame_bytes))
        self.on_ready = on_ready
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pending: dict[int, Future | None] = {}
        self._lock = threading.Lock()
        self._closed = False

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Bytes held by cached frames."""
        with self._lock:
            return sum(f.nbytes for f in self._frames.values())

    def get(self, index: int) -> np.ndarray | None:
        """The cached frame, or None (no read is started)."""
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def is_pending(self, index: int) -> bool:
        with self._lock:
            return index in self._pending

    def request(self, index: int) -> np.ndarray | None:
        """The frame if cached; otherwise start reading it (once) and return None."""
        frame = self.get(index)
        if frame is None:
            self._start(index)
        return frame

    def prefetch(self, indices: Iterable[int], max_pending: int | None = None) -> int:
        """Start reads for the frames in ``indices`` not yet cached or pending.

        Stops once ``max_pending`` reads are in flight (default: the cache size, so prefetched
        frames never evict each other before they are shown). Returns the reads started.
        """
        limit = min(max_pending or self.max_frames, self.max_frames)
        started = 0
        for index in indices:
            if not 0 <= index < self.source.n_frames:
                continue
            with self._lock:
                if len(self._pending) >= limit:
                    break
                busy = index in self._frames or index in self._pending
            if not busy and self._start(index):
                started += 1
        return started

    def cancel_pending(self, keep: Iterable[int] = ()) -> int:
        """Withdraw queued reads (not yet started) except those of ``keep``.

        A seek calls this first, so the frame the user asked for does not wait behind reads
        of frames around the previous position. Returns the number of reads withdrawn.
        """
        keep = set(keep)
        with self._lock:
            candidates = [(i, f) for i, f in self._pending.items() if i not in keep and f]
        return sum(1 for _i, future in candidates if future.cancel())

    def clear(self) -> None:
        """Drop cached frames (reads in flight still land and are cached)."""
        with self._lock:
            self._frames.clear()

    def close(self) -> None:
        """Stop caching and calling back: reads in flight are dropped when they land."""
        self._closed = True
        self.on_ready = None
        self.clear()

    def _start(self, index: int) -> bool:
        with self._lock:
            if self._closed or index in self._pending or index in self._frames:
                return False
            self._pending[index] = None
        try:
            future = self.source.submit_frame(index)
        except BaseException:
            with self._lock:
                self._pending.pop(index, None)
            raise
        with self._lock:
            if index in self._pending:  # (it may have landed already)
                self._pending[index] = future
        future.add_done_callback(lambda f, i=index: self._landed(i, f))
        return True

    def _landed(self, index: int, future: Future) -> None:
        if future.cancelled():  # withdrawn by cancel_pending: nobody is waiting for it
            with self._lock:
                self._pending.pop(index, None)
            return
        error = future.exception()
        with self._lock:
            self._pending.pop(index, None)
            if self._closed:
                return
            if error is None:
                self._frames[index] = future.result()
                self._frames.move_to_end(index)
                while len(self._frames) > self.max_frames:
                    self._frames.popitem(last=False)
        callback = self.on_ready
        if callback is not None:
            callback(index, error if error is not None else future.result())
