"""Turn raw h5py values into plain Python for display, JSON and comparisons.

h5py hands back ``bytes`` for fixed-length and ASCII strings, ``numpy`` scalars, arrays of
``bytes`` and ``h5py.Reference`` objects. Everything above the HDF5 layer wants ``str``,
``int``/``float`` and, for references, the path of the object they point to.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


def decode_text(value: bytes | str) -> str:
    """Decode HDF5 string bytes, tolerating files that store Latin-1 in "UTF-8" strings."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def reference_target(h5file: h5py.File, ref: h5py.Reference) -> str:
    """The path an object reference points to, or a readable marker if it dangles."""
    if not ref:
        return "<null reference>"
    try:
        name = h5file[ref].name
    except (KeyError, ValueError, OSError):
        return "<broken reference>"
    return name if name is not None else "<anonymous object>"


def decode_value(value: Any, h5file: h5py.File | None = None) -> Any:
    """Plain-Python form of an attribute or small dataset value.

    Scalars become ``str``/``int``/``float``/``bool``; string arrays become lists of ``str``;
    references become target paths (when ``h5file`` is given); other arrays stay ``numpy``.
    """
    if isinstance(value, bytes | str):
        return decode_text(value)
    if isinstance(value, h5py.Reference):
        return reference_target(h5file, value) if h5file is not None else "<reference>"
    if isinstance(value, h5py.RegionReference):
        return "<region reference>"
    if isinstance(value, np.generic):
        if isinstance(value, np.bytes_):
            return decode_text(bytes(value))
        if isinstance(value, np.void):
            return tuple(decode_value(v, h5file) for v in value.tolist())
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SU" or (
            value.dtype.kind == "O" and value.size and isinstance(value.flat[0], bytes | str)
        ):
            decoded = [decode_text(v) for v in value.ravel().tolist()]
            if value.ndim <= 1:
                return decoded
            return np.array(decoded, dtype=object).reshape(value.shape).tolist()
        if value.dtype.kind == "O" and value.size and isinstance(value.flat[0], h5py.Reference):
            return [decode_value(v, h5file) for v in value.ravel().tolist()]
        if value.ndim == 0:
            return decode_value(value[()], h5file)
        return value
    return value


def describe_dtype(dtype: np.dtype | None) -> str:
    """A short human name for an HDF5 dtype: ``int16``, ``text (utf-8)``, ``reference``…"""
    if dtype is None:
        return ""
    string_info = h5py.check_string_dtype(dtype)
    if string_info is not None:
        encoding = "utf-8" if string_info.encoding == "utf-8" else "ascii"
        if string_info.length is None:
            return f"text ({encoding})"
        return f"text[{string_info.length}] ({encoding})"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    if h5py.check_vlen_dtype(dtype) is not None:
        return f"vlen {describe_dtype(h5py.check_vlen_dtype(dtype))}"
    if dtype.names:
        return (
            "compound("
            + ", ".join(f"{name}: {describe_dtype(dtype.fields[name][0])}" for name in dtype.names)
            + ")"
        )
    enum = h5py.check_enum_dtype(dtype)
    if enum is not None:
        return "enum(" + ", ".join(enum) + ")"
    return str(dtype)
