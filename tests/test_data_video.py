"""PyAV decoding: requested frames only, and clear errors naming file and sample."""

import json
import logging

import numpy as np
import pytest

from tastvg.data.config import DataConfig
from tastvg.data.dataset import build_dataset
from tastvg.data.video import VideoError, probe_video, read_frames, write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """20 frames of 48x32; frame i has a bright column at x = 2*i."""
    frames = np.full((20, 32, 48, 3), 30, np.uint8)
    for i in range(20):
        frames[i, :, 2 * i:2 * i + 4] = 220
    path = tmp_path_factory.mktemp("vid") / "a.mp4"
    write_video(path, frames, fps=10)
    return path, frames


def test_probe_and_read_order(video):
    path, frames = video
    assert probe_video(path) == {"frames": 20, "width": 48, "height": 32, "fps": 10.0}
    got = read_frames(path, [7, 0, 19, 7])
    assert got.shape == (4, 32, 48, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - frames[[7, 0, 19, 7]]).mean() < 3  # lossy codec, right frames
    assert np.abs(got[0].astype(int) - frames[8]).mean() > 10  # and not a neighbour


def test_write_is_deterministic(video, tmp_path):
    path, frames = video
    write_video(tmp_path / "b.mp4", frames, fps=10)
    assert (tmp_path / "b.mp4").read_bytes() == path.read_bytes()


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="not found") as info:
        read_frames(tmp_path / "none.mp4", [0], sample="s7")
    assert info.value.sample == "s7" and "none.mp4" in str(info.value) and "s7" in str(info.value)


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 200)
    with pytest.raises(VideoError, match="cannot open") as info:
        read_frames(bad, [0], sample="s1")
    assert info.value.path == str(bad)


def test_truncated_request(video):
    path, _ = video
    with pytest.raises(VideoError, match="truncated: decoded 20 frames, frame 25"):
        read_frames(path, [3, 25])


def test_frame_count_and_size_mismatch(video):
    path, _ = video
    with pytest.raises(VideoError, match="20 frames, the annotation says 21"):
        read_frames(path, [0], expected_frames=21, sample="x")
    with pytest.raises(VideoError, match="48x32, the annotation says 64x32"):
        read_frames(path, [0], expected_frames=20, expected_size=(64, 32))


def _dataset_dir(tmp_path, video, img_num=20):
    path, _ = video
    root = tmp_path / "hc"
    (root / "annos").mkdir(parents=True)
    (root / "v1_video").mkdir()
    (root / "v1_video" / "good.mp4").write_bytes(path.read_bytes())
    rec = {"width": 48, "height": 32, "img_num": img_num, "st_frame": 3, "bbox": [[0, 0, 8, 8]] * 4, "caption": "a"}
    (root / "annos" / "train.json").write_text(json.dumps({"good.mp4": rec, "missing.mp4": rec}))
    return root


def test_dataset_error_names_file_and_sample(tmp_path, video):
    ds = build_dataset("hcstvg", _dataset_dir(tmp_path, video), "train", DataConfig(resize_height=None))
    assert ds[0]["frames"].shape[1:] == (3, 32, 48)
    with pytest.raises(VideoError, match="missing.mp4.*sample 'missing.mp4'.*not found"):
        ds[1]


def test_dataset_frame_count_mismatch(tmp_path, video):
    ds = build_dataset("hcstvg", _dataset_dir(tmp_path, video, img_num=22), "train", DataConfig(resize_height=None))
    with pytest.raises(VideoError, match="sample 'good.mp4'.*20 frames, the annotation says 22"):
        ds[0]
    ds.cfg.check_frame_count = False  # then the missing frame 20 (candidates 0..20) is caught as truncation
    ds.cfg.temp_crop_prob = 0.0  # (a crop could leave frame 20 out)
    with pytest.raises(VideoError, match="sample 'good.mp4'.*truncated"):
        ds[0]


def test_dataset_skips_bad_samples_with_warning_and_count(tmp_path, video, caplog):
    cfg = DataConfig(resize_height=None, skip_bad_videos=True)
    ds = build_dataset("hcstvg", _dataset_dir(tmp_path, video), "train", cfg)
    with caplog.at_level(logging.WARNING, logger="tastvg.data.dataset"):
        sample = ds[1]
    assert sample["item_id"] == "good.mp4"  # the next loadable sample is served instead
    assert ds.bad_samples == ["missing.mp4"]
    assert "skipping sample missing.mp4 (1 skipped so far)" in caplog.text
    with caplog.at_level(logging.WARNING, logger="tastvg.data.dataset"):
        ds.set_epoch(1)  # end of epoch 0: one summary line, counter reset
    assert "epoch 0: skipped 1 sample(s) with unreadable videos: missing.mp4" in caplog.text
    assert ds.bad_samples == []
