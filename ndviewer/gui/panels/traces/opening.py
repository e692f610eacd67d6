"""Opening a series for the trace panel, on a worker: the source, its levels of detail (with
the persisted pyramid when there is one) and the first scaling, in one result (no Qt here)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ndviewer.core.model.files import FileIdentity
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.timeseries import TimeSeriesSource, column_names
from ndviewer.core.signal.lod import PyramidStore, TraceLod, pyramid_levels
from ndviewer.gui.panels.traces.state import default_length

__all__ = ["OpenedSeries", "open_series", "robust_snapshot"]


@dataclass(frozen=True)
class OpenedSeries:
    """What the opening job hands to the GUI thread.

    Attributes
    ----------
    source : TimeSeriesSource
    lod : TraceLod
        With the pyramid loaded from the user cache, when it was built before.
    baselines, sigma : numpy.ndarray
        Per-channel median and robust SD over the start of the first window.
    pyramid_key : str or None
        Where the pyramid is (or would be) persisted; None when it cannot be.
    seconds : float
        How long opening took.
    """

    source: TimeSeriesSource
    lod: TraceLod
    baselines: np.ndarray
    sigma: np.ndarray
    pyramid_key: str | None
    seconds: float


def open_series(node: Node, file_path: str | os.PathLike) -> OpenedSeries:
    """Open the series at ``node`` of the file at ``file_path`` (runs on a worker)."""
    started = time.perf_counter()
    source = TimeSeriesSource(node)
    catalog = getattr(node.file, "catalog", None)
    if catalog is not None and node.neurodata_type:
        names = column_names(node.neurodata_type, catalog.hierarchy(node.neurodata_type))
        if names:
            source.name_columns(names)  # a SpatialSeries' x/y once read 0/1
    pyramid = None
    key = None
    if pyramid_levels(source.n_samples) and source.path:
        try:
            identity = FileIdentity.of(file_path)
            key = PyramidStore.key(
                identity.key(), f"{source.path}/data", source.data_shape, source.dtype
            )
            pyramid = PyramidStore().load(key, source.reader)
        except OSError:
            key = None
    lod = TraceLod(source, pyramid)
    t0 = source.time_axis.t_start
    baselines, sigma = robust_snapshot(source, t0, t0 + default_length(source))
    return OpenedSeries(source, lod, baselines, sigma, key, time.perf_counter() - started)


def robust_snapshot(
    source: TimeSeriesSource, t0: float, t1: float, max_values: int = 600_000
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and robust SD from the start of ``[t0, t1]`` (bounded read)."""
    if source.n_samples == 0 or source.n_channels == 0:
        return np.zeros(source.n_channels), np.ones(source.n_channels)
    i0, i1 = source.time_axis.window(t0, t1)
    i1 = max(i1, min(source.n_samples, i0 + 2))
    limit = max(64, max_values // max(1, source.n_channels))
    i1 = min(i1, i0 + limit)
    return source.robust_stats(i0, i1)
