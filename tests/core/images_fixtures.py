"""Small NWB files with imaging data, written with pynwb (the test oracle) into tmp folders.

Used by the core and GUI image tests. Every builder returns the path and the arrays it wrote,
so tests compare what ndviewer reads against what went in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from hdmf.backends.hdf5.h5_utils import H5DataIO
from pynwb import NWBHDF5IO, NWBFile
from pynwb.base import ImageReferences, Images
from pynwb.image import GrayscaleImage, ImageSeries, RGBImage
from pynwb.ophys import (
    DfOverF,
    Fluorescence,
    ImageSegmentation,
    OpticalChannel,
    TwoPhotonSeries,
)

NX, NY = 24, 20  # deliberately not square, so transposed indexing would show


@dataclass
class ImagingFile:
    """What :func:`write_imaging_file` put where."""

    path: Path
    frames: np.ndarray
    rate: float = 30.0
    starting_time: float = 2.0
    timestamps: np.ndarray | None = None
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)  # kind -> dense per ROI
    volume_masks: list[np.ndarray] = field(default_factory=list)
    traces: np.ndarray | None = None
    roi_ids: list[int] = field(default_factory=list)


def _nwbfile() -> NWBFile:
    return NWBFile(
        session_description="imaging fixture",
        identifier="imaging-fixture",
        session_start_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def _plane(nwb: NWBFile, name: str = "plane"):
    device = nwb.create_device(name=f"scope_{name}")
    channel = OpticalChannel(name="green", description="GCaMP", emission_lambda=520.0)
    return nwb.create_imaging_plane(
        name=name,
        optical_channel=channel,
        description="layer 2/3",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="V1",
        imaging_rate=30.0,
    )


def example_masks() -> list[np.ndarray]:
    """Three ROIs on the NX x NY plane: a weighted blob, a bar, and an L that overlaps it."""
    masks = []
    blob = np.zeros((NX, NY), np.float32)
    blob[2:6, 3:8] = 0.5
    blob[3, 4] = 1.0
    masks.append(blob)
    bar = np.zeros((NX, NY), np.float32)
    bar[10:20, 15] = 1.0
    masks.append(bar)
    corner = np.zeros((NX, NY), np.float32)
    corner[18:23, 12:14] = 0.25
    corner[21:23, 12:18] = 0.75
    masks.append(corner)
    return masks


def write_imaging_file(
    folder: Path,
    *,
    n_frames: int = 40,
    timestamps: bool = False,
    compression: str | None = "gzip",
    mask_kind: str = "image_mask",
    seed: int = 0,
) -> ImagingFile:
    """A TwoPhotonSeries, a PlaneSegmentation with ``mask_kind`` masks and their traces."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 4000, size=(n_frames, NX, NY), dtype=np.uint16)
    nwb = _nwbfile()
    plane = _plane(nwb)
    data = H5DataIO(frames, chunks=(1, NX, NY), compression=compression) if compression else frames
    info = ImagingFile(folder / "imaging.nwb", frames)
    kwargs = {}
    if timestamps:
        info.timestamps = 1.5 + np.cumsum(rng.uniform(0.02, 0.05, n_frames))
        kwargs["timestamps"] = info.timestamps
    else:
        kwargs.update(rate=info.rate, starting_time=info.starting_time)
    series = TwoPhotonSeries(
        name="TwoPhotonSeries", data=data, imaging_plane=plane, unit="n.a.", **kwargs
    )
    nwb.add_acquisition(series)

    module = nwb.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    seg = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="rois", imaging_plane=plane
    )
    masks = example_masks()
    info.roi_ids = [10, 11, 12]
    for roi_id, mask in zip(info.roi_ids, masks):
        if mask_kind == "image_mask":
            seg.add_roi(id=roi_id, image_mask=mask)
        elif mask_kind == "pixel_mask":
            seg.add_roi(id=roi_id, pixel_mask=[tuple(p) for p in seg.image_to_pixel(mask)])
        else:
            raise ValueError(mask_kind)
    info.masks[mask_kind] = masks
    n_rois = len(masks)
    info.traces = rng.normal(size=(n_frames, n_rois))
    region = seg.create_roi_table_region(region=list(range(n_rois)), description="all")
    fluorescence = Fluorescence()
    module.add(fluorescence)
    fluorescence.create_roi_response_series(
        name="RoiResponseSeries",
        data=info.traces,
        rois=region,
        unit="a.u.",
        rate=info.rate,
        starting_time=info.starting_time,
    )
    # A second series with only ROIs 2 and 0, in that order: column lookup must map rows.
    dff = DfOverF()
    module.add(dff)
    partial = seg.create_roi_table_region(region=[2, 0], description="two")
    dff.create_roi_response_series(
        name="DfOverF_partial",
        data=info.traces[:, [2, 0]],
        rois=partial,
        unit="a.u.",
        rate=info.rate,
        starting_time=info.starting_time,
    )
    with NWBHDF5IO(info.path, "w") as io:
        io.write(nwb)
    return info


def write_voxel_file(folder: Path) -> ImagingFile:
    """A volumetric TwoPhotonSeries ``(frame, x, y, z)`` with voxel-mask ROIs."""
    rng = np.random.default_rng(3)
    nz = 3
    frames = rng.integers(0, 1000, size=(6, NX, NY, nz), dtype=np.uint16)
    nwb = _nwbfile()
    plane = _plane(nwb)
    nwb.add_acquisition(
        TwoPhotonSeries(name="Volume", data=frames, imaging_plane=plane, unit="n.a.", rate=5.0)
    )
    module = nwb.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    seg = segmentation.create_plane_segmentation(
        name="VoxelSegmentation", description="rois", imaging_plane=plane
    )
    info = ImagingFile(folder / "voxels.nwb", frames, rate=5.0, starting_time=0.0)
    volumes = []
    a = np.zeros((NX, NY, nz), np.float32)
    a[1:4, 2:5, 0] = 1.0
    a[2, 3, 1] = 0.5
    volumes.append(a)
    b = np.zeros((NX, NY, nz), np.float32)
    b[15:18, 10, 2] = 0.8
    volumes.append(b)
    for roi_id, vol in enumerate(volumes):
        voxels = [
            (int(x), int(y), int(z), float(vol[x, y, z])) for x, y, z in zip(*np.nonzero(vol))
        ]
        seg.add_roi(id=roi_id, voxel_mask=voxels)
    info.volume_masks = volumes
    info.roi_ids = [0, 1]
    with NWBHDF5IO(info.path, "w") as io:
        io.write(nwb)
    return info


def write_images_file(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """An ``Images`` container with a grayscale and an RGB image, ordered by order_of_images."""
    rng = np.random.default_rng(5)
    gray = rng.integers(0, 255, size=(NX, NY), dtype=np.uint8)
    rgb = rng.integers(0, 255, size=(NX, NY, 3), dtype=np.uint8)
    nwb = _nwbfile()
    zgray = GrayscaleImage(name="zz_gray", data=gray, description="grey")
    argb = RGBImage(name="aa_rgb", data=rgb, description="colour")
    images = Images(
        name="summary",
        images=[zgray, argb],
        description="summary images",
        order_of_images=ImageReferences(name="order_of_images", data=[zgray, argb]),
    )
    module = nwb.create_processing_module("ophys", "optical physiology")
    module.add(images)
    path = folder / "images.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwb)
    return path, {"zz_gray": gray, "aa_rgb": rgb}


def write_external_file(folder: Path, create_video: bool) -> Path:
    """An ImageSeries with ``format="external"`` pointing at ``videos/behavior.avi``."""
    nwb = _nwbfile()
    nwb.add_acquisition(
        ImageSeries(
            name="behavior_video",
            external_file=["videos/behavior.avi", "/nonexistent/abs.avi"],
            starting_frame=[0, 100],
            format="external",
            num_samples=150,
            rate=25.0,
            starting_time=1.0,
        )
    )
    path = folder / "external.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwb)
    if create_video:
        (folder / "videos").mkdir(exist_ok=True)
        (folder / "videos" / "behavior.avi").write_bytes(b"not really a video")
    return path
