"""Per-video run details and the SynthSTVG videos they name: loading, id parsing, the regenerated
video and its annotation box at a frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tastvg.data.synth import SynthKnobs, make_video
from tastvg.experiments import details as dt
from tastvg.experiments.runner import detail_path

SETUP = {"data_seed": 3, "knobs": {"frames": 8, "size": 32, "distractors": 1}}


def test_load_detail(tmp_path: Path) -> None:
    assert dt.load_detail(tmp_path, "baseline", 0) is None
    entry = {"frame_ids": [0, 1, 2], "gt_frames": [False, True, True]}
    path = detail_path(tmp_path, "baseline", 0)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"synth_00004.mp4": entry}))
    assert dt.load_detail(tmp_path, "baseline", 0) == {"synth_00004.mp4": entry}
    assert dt.load_detail(str(tmp_path), "baseline", 1) is None


def test_synth_index() -> None:
    assert dt.synth_index("synth_00150.mp4") == 150
    assert dt.synth_index("synth_00000.mp4") == 0
    assert dt.synth_index("videos/synth_123456.mp4") == 123456
    for bad in ("3_sample13.mp4", "synth_12.avi", "synth_.mp4", "xsynth_00001.mp4"):
        with pytest.raises(ValueError, match="SynthSTVG video id"):
            dt.synth_index(bad)


def test_synth_video_is_the_generators_and_cached() -> None:
    v = dt.synth_video(SETUP, "synth_00005.mp4")
    ref = make_video(3, 5, SynthKnobs(**SETUP["knobs"]))
    assert v.name == "synth_00005.mp4"
    assert np.array_equal(v.frames, ref.frames) and v.annotation == ref.annotation
    same_knobs_reordered = {"data_seed": 3, "knobs": dict(reversed(list(SETUP["knobs"].items())))}
    assert dt.synth_video(same_knobs_reordered, "synth_00005.mp4") is v
    assert dt.synth_video({**SETUP, "data_seed": 4}, "synth_00005.mp4") is not v


def test_annotation_box_at_a_frame() -> None:
    v = dt.synth_video(SETUP, "synth_00002.mp4")
    anno = v.annotation
    start = anno["st_frame"] - 1  # HC-STVG's st_frame is 1-based; bbox rows are [x, y, w, h]
    for i, (x, y, w, h) in enumerate(anno["bbox"]):
        assert dt.annotation_box(v, start + i) == [x, y, x + w, y + h]
    assert dt.annotation_box(v, start - 1) is None
    assert dt.annotation_box(v, start + len(anno["bbox"])) is None
    rec = dt.synth_record(v)
    assert (rec.item_id, rec.t_start, rec.t_end) == (v.name, start, start + len(anno["bbox"]) - 1)


def test_middle_gt_frame() -> None:
    entry = {"frame_ids": [0, 2, 4, 6, 8, 10], "gt_frames": [False, True, True, True, True, False]}
    assert dt.middle_gt_frame(entry) == 6  # the 3rd of 4 in-span frames, as gt[len // 2]
    assert dt.middle_gt_frame({"frame_ids": [5, 6, 7], "gt_frames": [False, True, False]}) == 6
    with pytest.raises(ValueError):
        dt.middle_gt_frame({"frame_ids": [0, 1], "gt_frames": [False, False]})
