"""Hand-computed cases of the official input pipeline (HengLan/TA-STVG @ 904ad0c): resize widths, the
crop side and random-draw order, clips without a ground-truth frame, flips in original pixels.

``official_hc_clip`` / ``official_vidstg_clip`` restate ``make_hcstvg_input_clip`` /
``make_vidstg_input_clip`` (datasets/data_utils.py) step by step, drawing from the global ``random``
module as they do; ``sample_frame_ids`` must give the same clip from ``random.Random`` seeded alike.
"""

import random

import numpy as np
import pytest
import torch

from tastvg.boxes import normalize_boxes
from tastvg.data.annotations import STVGRecord
from tastvg.data.config import DataConfig
from tastvg.data.dataset import EmptyClipError, STVGDataset
from tastvg.data.sampling import crop_drawn, has_gt, sample_frame_ids, temporal_crop
from tastvg.data.transforms import resized_size


def official_hc_clip(frame_count, gt, split, crop_prob=0.5):
    frames = list(range(0, frame_count - 1))
    act = [gt[0] <= f <= gt[1] for f in frames]
    crop = split == "train" and not random.random() < 1 - crop_prob
    rate = (3.2 * 2 if split == "test" else 3.2) / (frame_count / 20)
    keep = [0]
    for i, f in enumerate(frames):
        if int(frames[keep[-1]] * rate) < int(f * rate):
            keep.append(i)
    if keep[-1] != len(frames) - 1:
        keep.append(len(frames) - 1)
    frames, act = [frames[i] for i in keep], [act[i] for i in keep]
    if crop:
        pos = [i for i, a in enumerate(act) if a]  # IndexError below when empty, as officially
        starts = [i for i in range(len(frames)) if i < pos[0]]
        ends = [i for i in range(len(frames)) if i > pos[-1]]
        s = random.choice(starts) if starts else 0
        e = random.choice(ends) if ends else len(frames) - 1
        frames = frames[s:e + 1]
    return frames


def official_vidstg_clip(segment, gt, split, crop_prob=0.5, num=64):
    frames = list(range(segment[0], segment[1] + 1))
    act = [gt[0] <= f <= min(gt[1], segment[1]) for f in frames]
    n_in = num if split == "train" else num * 2
    crop = split == "train" and random.random() < crop_prob
    if crop:
        pos = [i for i, a in enumerate(act) if a]
        starts = [i for i in range(len(frames)) if i < pos[0]]
        ends = [i for i in range(len(frames)) if i > pos[-1]]
        s = random.choice(starts) if starts else 0
        e = random.choice(ends) if ends else len(frames) - 1
        pick = list(range(s, e + 1))
    else:
        pick = list(range(len(frames)))
    if len(pick) > n_in:
        pick = [pick[int(i)] for i in np.linspace(0, len(pick) - 1, num=n_in)]
    return [frames[i] for i in pick]


@pytest.mark.parametrize("w, h, expected", [(552, 480, 482), (390, 360, 454), (292, 240, 510), (640, 480, 560),
                                            (1920, 1080, 588), (480, 640, 315), (100, 100, 420)])
def test_resized_width_evaluates_the_aspect_ratio_first(w, h, expected):
    # 420 * (552 / 480) = 482.99999999999994 -> 482, while int(420 * 552 / 480) = 483
    assert resized_size(w, h, 420, 588) == (420, expected)


def test_the_rules_differ_only_where_420_w_over_h_is_an_integer():
    sizes = [(w, h) for h in range(200, 1100, 7) for w in range(h // 2, int(h * 1.4))]
    differ = [(w, h) for w, h in sizes if resized_size(w, h, 420, 588)[1] != min(420 * w // h, 588)]
    assert differ and all(420 * w % h == 0 for w, h in differ)  # the float product lands just below


class Fixed(random.Random):
    """random() returns ``p``; choice() returns the given values in turn."""

    def __init__(self, p, picks=()):
        super().__init__(0)
        self.p, self.picks, self.calls = p, list(picks), []

    def random(self):
        self.calls.append("random")
        return self.p

    def choice(self, seq):
        self.calls.append("choice")
        value = self.picks.pop(0)
        assert value in seq
        return value


@pytest.mark.parametrize("p, hc, vs", [(0.3, False, True), (0.5, True, False), (0.7, True, False), (0.0, False, True)])
def test_crop_side(p, hc, vs):
    # HC-STVG crops iff p >= 1 - 0.5, VidSTG iff p < 0.5
    assert crop_drawn(DataConfig.for_dataset("hcstvg"), Fixed(p)) is hc
    assert crop_drawn(DataConfig.for_dataset("vidstg"), Fixed(p)) is vs


def test_random_is_drawn_for_every_training_sample_even_without_crop():
    rng = Fixed(0.9)
    sample_frame_ids((0, 99), 100, 10, 20, DataConfig.for_dataset("vidstg", temp_crop_prob=0.0), True, rng)
    assert rng.calls == ["random"]
    rng = Fixed(0.9)
    sample_frame_ids((0, 99), 100, 10, 20, DataConfig.for_dataset("vidstg"), False, rng)
    assert rng.calls == []  # test clips draw nothing


@pytest.mark.parametrize("frame_count, gt", [(500, (200, 300)), (500, (0, 40)), (480, (100, 478)), (300, (5, 290)),
                                             (619, (1, 1)), (250, (240, 248))])
def test_hcstvg_clips_match_the_official_sampler_seed_for_seed(frame_count, gt):
    cfg = DataConfig.for_dataset("hcstvg")
    for seed in range(40):
        for split in ("train", "test"):
            random.seed(seed)
            try:
                expected = official_hc_clip(frame_count, gt, split)
            except IndexError:  # the official crop of a clip without a GT frame
                continue
            got = sample_frame_ids((0, frame_count - 1), frame_count, *gt, cfg, split == "train", random.Random(seed))
            assert got == expected, (seed, split)


@pytest.mark.parametrize("segment, gt", [((0, 499), (200, 300)), ((300, 1200), (310, 1100)), ((40, 90), (30, 60)),
                                         ((1000, 1400), (1390, 1500)), ((0, 2000), (1000, 1000))])
def test_vidstg_clips_match_the_official_sampler_seed_for_seed(segment, gt):
    cfg = DataConfig.for_dataset("vidstg")
    t_end = min(gt[1], segment[1])
    for seed in range(40):
        for split in ("train", "test"):
            random.seed(seed)
            expected = official_vidstg_clip(segment, gt, split)
            got = sample_frame_ids(segment, segment[1] + 1, gt[0], t_end, cfg, split == "train", random.Random(seed))
            if has_gt(expected, gt[0], t_end) or not has_gt(got, gt[0], t_end):
                assert got == expected, (seed, split)


def test_vidstg_crop_that_misses_a_short_gt_falls_back_to_the_uncropped_clip():
    # GT = frame 15 of a 1000-frame segment. Uncropped: int(linspace(0, 999, 64)) = 0, 15, 31, ... hits it.
    # Crop window 0..72 (73 frames): int(k * 72 / 63) jumps 14 -> 16, so the cropped clip misses it; the
    # official __getitem__ fails there, we serve the uncropped clip without drawing again.
    cfg = DataConfig.for_dataset("vidstg")
    ids = list(range(1000))
    window = temporal_crop(ids, 15, 15, Fixed(0.0, [0, 72]))
    assert window == list(range(73))
    rng = Fixed(0.0, [0, 72])
    got = sample_frame_ids((0, 999), 1000, 15, 15, cfg, True, rng)
    assert got[:3] == [0, 15, 31] and len(got) == 64 and rng.calls == ["random", "choice", "choice"]


def test_hcstvg_crop_never_loses_the_gt():
    cfg = DataConfig.for_dataset("hcstvg", temp_crop_prob=1.0)
    for seed in range(200):
        ids = sample_frame_ids((0, 499), 500, 104, 106, cfg, False, random.Random(seed))
        assert has_gt(ids, 104, 106)  # 6.4 fps keeps frame 106
        crop = temporal_crop(ids, 104, 106, random.Random(seed))
        assert 106 in crop and crop[0] < 104 and crop[-1] > 106


def _dataset(t_start, t_end, train, frame_count=500, box=(2.0, 1.0, 10.0, 8.0), **cfg):
    r = STVGRecord(item_id="v.mp4", video_id="v.mp4", video_path="v.mp4", sentence="a man turns left",
                   t_start=t_start, t_end=t_end, boxes=[list(box)] * (t_end - t_start + 1), width=20,
                   height=10, frame_count=frame_count, segment=(0, frame_count - 1), source="train.json")
    config = DataConfig.for_dataset("hcstvg", resize_height=None, **cfg)
    return STVGDataset([r], config, train=train, frames={"v.mp4": np.zeros((frame_count, 10, 20, 3), np.uint8)})


@pytest.mark.parametrize("train", [True, False])
def test_clip_without_a_gt_frame_raises_by_default(train):
    # 500 frames: the 3.2 fps clip keeps 102, 110 and the 6.4 fps clip 102, 106, 110: GT 103..105 is missed
    with pytest.raises(EmptyClipError, match=r"train.json: sample 'v.mp4'.*ground truth 103..105") as info:
        _dataset(103, 105, train)[0]
    assert info.value.item_id == "v.mp4" and "empty_gt_clip='zeros'" in str(info.value)


@pytest.mark.parametrize("train", [True, False])
def test_clip_without_a_gt_frame_can_be_served_with_zero_actioness(train):
    s = _dataset(103, 105, train, empty_gt_clip="zeros")[0]
    assert s["actioness"].sum() == 0 and s["gt_boxes"].shape == (0, 4) and s["boxes"].abs().sum() == 0
    assert 102 in s["frame_ids"].tolist() and 110 in s["frame_ids"].tolist()
    with pytest.raises(ValueError, match="empty_gt_clip"):
        DataConfig(empty_gt_clip="skip")


def test_flip_mirrors_boxes_in_original_pixels_and_keeps_the_sentence():
    ds = _dataset(100, 300, True, flip_prob=1.0, temp_crop_prob=0.0)
    s = ds[0]
    assert s["sentence"] == "a man turns left"  # the official loaders return the unflipped text
    # box [2, 1, 10, 8] in a 20-pixel-wide frame -> [20 - 10, 1, 20 - 2, 8] = [10, 1, 18, 8]
    expected = normalize_boxes(torch.tensor([[10.0, 1.0, 18.0, 8.0]]), (10, 20))
    assert torch.equal(s["gt_boxes"][0], expected[0])
    flipped = _dataset(100, 300, True, flip_prob=1.0, temp_crop_prob=0.0, flip_sentence=True)[0]
    assert flipped["sentence"] == "a man turns right"


def test_negative_coordinates_reach_the_targets_unchanged():
    s = _dataset(100, 300, False, box=(-4.0, -2.0, 6.0, 8.0))[0]
    # xyxy / (W, H) = [-0.2, -0.2, 0.3, 0.8] -> cx 0.05, cy 0.3, w 0.5, h 1.0
    assert torch.allclose(s["gt_boxes"][0], torch.tensor([0.05, 0.3, 0.5, 1.0]))


def test_one_generator_gives_the_official_sequence_of_crops_and_flips():
    # official order per training sample: random() for the crop, choices when cropping, random() for the flip
    ds = _dataset(200, 300, True)
    ds.rng = random.Random(11)
    got = [(ds[0]["frame_ids"].tolist(), ds.rng.getstate()) for _ in range(6)]
    random.seed(11)
    for ids, _ in got:
        assert ids == official_hc_clip(500, (200, 300), "train")
        random.random()  # RandomHorizontalFlip
    assert got[-1][1] == random.getstate()
