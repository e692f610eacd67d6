"""A folder of sessions for batch runs: clean files, defective ones and unreadable ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.core import foundation_fixtures as ff

#: name -> expected status of its row in an ``info`` batch
EXPECTED_STATUS = {
    "clean/ecephys.nwb": "ok",
    "clean/ophys.nwb": "ok",
    "clean/behavior.nwb": "ok",
    "clean/nested/intervals.nwb": "ok",
    "defective/garbage_start_time.nwb": "problems",
    "defective/missing_namespace.nwb": "problems",
    "unreadable/not_hdf5.nwb": "error",
    "unreadable/truncated.nwb": "error",
    "unreadable/zero_bytes.nwb": "error",
}


def write_batch_folder(root: Path, copies: int = 0) -> Path:
    """The sessions of ``EXPECTED_STATUS`` under ``root`` (plus ``copies`` more clean copies
    of the ecephys file under ``clean/more/``, for runs long enough to interrupt)."""
    (root / "clean" / "nested").mkdir(parents=True)
    (root / "defective").mkdir()
    (root / "unreadable").mkdir()
    ecephys = ff.write_ecephys_file(root / "clean" / "ecephys.nwb")
    ff.write_ophys_file(root / "clean" / "ophys.nwb")
    ff.write_behavior_file(root / "clean" / "behavior.nwb")
    ff.write_intervals_file(root / "clean" / "nested" / "intervals.nwb")
    pose = ff.write_ndx_pose_file(root / "pose_source.tmp")
    for kind in ("garbage_start_time", "missing_namespace"):
        ff.write_bad_input(kind, root / "defective", ecephys, pose)
    for kind in ("not_hdf5", "truncated", "zero_bytes"):
        ff.write_bad_input(kind, root / "unreadable", ecephys, pose)
    pose.unlink()
    (root / ".hidden").mkdir()
    shutil.copyfile(ecephys, root / ".hidden" / "skipped.nwb")
    (root / "notes.txt").write_text("not a session\n")
    if copies:
        (root / "clean" / "more").mkdir()
        for k in range(copies):
            shutil.copyfile(ecephys, root / "clean" / "more" / f"copy{k:03d}.nwb")
    return root
