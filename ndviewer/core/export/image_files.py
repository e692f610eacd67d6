"""An image frame or projection written at full bit depth: TIFF or PNG, no rescaling.

A screenshot of an image view holds 8-bit display values after contrast; analysis needs the
stored numbers (a 12-bit camera's counts in a uint16 TIFF, a mean projection as float32).
The writers are a few dozen lines of the two formats' baseline (uncompressed TIFF, PNG with
zlib) so exporting pulls in no imaging library. Pictures are written as the image view
shows them: NWB stores frames as ``(x, y)``, files hold rows of ``y``.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ndviewer.core.export.window_data import ExportError
from ndviewer.core.nwb.images import ImageSource
from ndviewer.core.signal.projections import PROJECTION_KINDS, compute_projections

__all__ = [
    "IMAGE_SUFFIXES",
    "frame_picture",
    "picture_of",
    "write_picture",
    "write_png",
    "write_tiff",
]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def picture_of(frame: np.ndarray, geometry) -> np.ndarray:
    """The ``(rows, cols[, channels])`` picture of a frame as the image view shows it
    (first plane of a volume; NWB's ``(x, y)`` axes turned into rows of ``y``)."""
    plane = geometry.plane(frame, 0)
    if plane.ndim == 3:
        return np.ascontiguousarray(plane.transpose(1, 0, 2))
    return np.ascontiguousarray(plane.T)


def frame_picture(
    source: ImageSource, frame: int | None = None, projection: str | None = None
) -> np.ndarray:
    """Frame ``frame`` (default 0) or the ``projection`` (mean, max, min, std) of every
    stored frame, as a picture (see :func:`picture_of`). Blocking: run it off the GUI."""
    if source.n_frames == 0:
        raise ExportError(f"{source.path} has no frames stored in the file.")
    geometry = source.frame_geometry(0)
    if projection:
        if projection not in PROJECTION_KINDS:
            raise ExportError(
                f"unknown projection {projection!r}: use one of {', '.join(PROJECTION_KINDS)}."
            )
        reader = getattr(source, "reader", None)
        if reader is None:
            raise ExportError(f"{source.path} is not a stack that can be projected.")
        result = compute_projections(reader, (projection,))
        assert result is not None
        return picture_of(result[projection], geometry)
    index = 0 if frame is None else int(frame)
    if not 0 <= index < source.n_frames:
        raise ExportError(
            f"frame {index} does not exist ({source.path} has {source.n_frames} frames, "
            f"0 to {source.n_frames - 1})."
        )
    return picture_of(source.read_frame(index), geometry)


def write_picture(picture: np.ndarray, out: str | os.PathLike) -> Path:
    """Write by suffix: ``.tif``/``.tiff`` (any integer or float dtype) or ``.png``
    (unsigned 8/16-bit); float64 projections go to TIFF as float32."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".tif", ".tiff"):
        write_tiff(out, picture)
    elif suffix == ".png":
        write_png(out, picture)
    else:
        raise ExportError(
            f"cannot write an image as {suffix or 'a file without extension'}: use .tif or .png."
        )
    return out


# ------------------------------------------------------------------------------------- TIFF
_TIFF_FORMAT = {"u": 1, "i": 2, "f": 3}  # SampleFormat tag


def write_tiff(path: str | os.PathLike, picture: np.ndarray) -> None:
    """Baseline little-endian TIFF, uncompressed, one strip: grey or RGB(A), 8/16/32-bit
    integers or float32, values exactly as given (float64 is stored as float32)."""
    array = np.asarray(picture)
    if array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.ndim not in (2, 3) or array.dtype.kind not in _TIFF_FORMAT:
        raise ExportError(f"cannot store a {array.dtype} array of shape {array.shape} as TIFF.")
    rows, cols = array.shape[:2]
    samples = 1 if array.ndim == 2 else array.shape[2]
    if samples not in (1, 3, 4):
        raise ExportError(f"a TIFF picture has 1, 3 or 4 samples per pixel, not {samples}.")
    body = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    bits = array.dtype.itemsize * 8
    entries: list[tuple[int, int, int, bytes | int]] = []  # tag, type, count, value

    def short(tag: int, *values: int) -> None:
        entries.append((tag, 3, len(values), struct.pack(f"<{len(values)}H", *values)))

    def long(tag: int, value: int) -> None:
        entries.append((tag, 4, 1, struct.pack("<I", value)))

    header = 8
    long(256, cols)
    long(257, rows)
    short(258, *([bits] * samples))
    short(259, 1)  # no compression
    short(262, 1 if samples == 1 else 2)  # BlackIsZero / RGB
    long(273, 0)  # StripOffsets, patched below
    short(277, samples)
    long(278, rows)
    long(279, len(body))
    short(284, 1)  # chunky
    if samples == 4:
        short(338, 2)  # unassociated alpha
    short(339, *([_TIFF_FORMAT[array.dtype.kind]] * samples))
    entries.sort(key=lambda e: e[0])
    ifd_size = 2 + 12 * len(entries) + 4
    extra = b""
    extra_start = header + ifd_size
    packed = []
    for tag, kind, count, value in entries:
        raw = value if isinstance(value, bytes) else b""
        if len(raw) <= 4:
            packed.append((tag, kind, count, raw.ljust(4, b"\0")))
        else:
            offset = extra_start + len(extra)
            extra += raw + (b"\0" if len(raw) % 2 else b"")
            packed.append((tag, kind, count, struct.pack("<I", offset)))
    data_offset = extra_start + len(extra)
    data_offset += data_offset % 2
    fixed = []
    for tag, kind, count, value in packed:
        if tag == 273:
            value = struct.pack("<I", data_offset)
        fixed.append(struct.pack("<HHI", tag, kind, count) + value)
    ifd = struct.pack("<H", len(fixed)) + b"".join(fixed) + struct.pack("<I", 0)
    with open(path, "wb") as handle:
        handle.write(b"II*\0" + struct.pack("<I", header))
        handle.write(ifd)
        handle.write(extra)
        handle.write(b"\0" * (data_offset - extra_start - len(extra)))
        handle.write(body)


# -------------------------------------------------------------------------------------- PNG
def write_png(path: str | os.PathLike, picture: np.ndarray) -> None:
    """PNG at the data's own depth: 8- or 16-bit grey, RGB or RGBA (unsigned integers only;
    signed and float pictures belong in a TIFF)."""
    array = np.asarray(picture)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3):
        raise ExportError(
            f"PNG holds 8- or 16-bit unsigned pixels, not {array.dtype}: write a .tif instead."
        )
    rows, cols = array.shape[:2]
    samples = 1 if array.ndim == 2 else array.shape[2]
    color_type = {1: 0, 3: 2, 4: 6}.get(samples)
    if color_type is None:
        raise ExportError(f"a PNG picture has 1, 3 or 4 samples per pixel, not {samples}.")
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    lines = big.reshape(rows, -1).view(np.uint8).reshape(rows, -1)
    raw = np.hstack([np.zeros((rows, 1), np.uint8), lines]).tobytes()  # filter 0 per row

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", cols, rows, array.dtype.itemsize * 8, color_type, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.write(chunk(b"IHDR", ihdr))
        handle.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        handle.write(chunk(b"IEND", b""))
