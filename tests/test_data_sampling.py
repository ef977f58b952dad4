"""Frame sampling against hand-computed cases of the official sampler (datasets/data_utils.py)."""

import random

import pytest

from tastvg.data.config import DataConfig
from tastvg.data.sampling import (candidate_frames, fps_sample, linspace_sample, sample_frame_ids, split_interleaved,
                                  temporal_crop)


def test_fps_sample_500_frames_train():
    # 500 frames -> video_fps 25, s = 3.2 / 25 = 0.128; int(f*s) steps at f = 8, 16, 24, 32, 40, 47 (6.016)
    ids = fps_sample(list(range(499)), 500, 3.2)
    assert ids[:7] == [0, 8, 16, 24, 32, 40, 47]
    # int(498*0.128) = 63 is first reached at f = 493; the last candidate 498 is appended
    assert ids[-2:] == [493, 498]
    assert len(ids) == 64 + 1


def test_fps_sample_500_frames_test_is_twice_as_dense():
    ids = fps_sample(list(range(499)), 500, 6.4)  # s = 0.256
    assert ids[:5] == [0, 4, 8, 12, 16]
    assert ids[-3:] == [493, 497, 498]
    assert len(ids) == 128 + 1


def test_fps_sample_100_frames():
    # video_fps 5, s = 0.64: int(f*s) for f = 0..5 is 0, 0, 1, 1, 2, 3
    ids = fps_sample(list(range(99)), 100, 3.2)
    assert ids[:6] == [0, 2, 4, 5, 7, 8]
    assert ids[-1] == 98 and len(ids) == 64
    # at 6.4 fps s = 1.28 > 1: every candidate is kept
    assert fps_sample(list(range(99)), 100, 6.4) == list(range(99))


def test_hcstvg_candidates_drop_last_frame():
    cfg = DataConfig.for_dataset("hcstvg")
    assert candidate_frames((0, 99), 100, cfg) == list(range(99))
    assert candidate_frames((0, 99), 100, DataConfig.for_dataset("vidstg")) == list(range(100))


def test_linspace_sample():
    cand = list(range(10, 210))  # 200 frames; positions int(linspace(0, 199, 64)), step 3.1587
    ids = linspace_sample(cand, 64)
    assert len(ids) == 64
    assert ids[:9] == [10, 13, 16, 19, 22, 25, 28, 32, 35]
    assert ids[-2:] == [205, 209]
    assert linspace_sample(list(range(50)), 64) == list(range(50))


class FirstLast(random.Random):
    """choice() picks the first element (or the last with last=True)."""

    def __init__(self, last: bool) -> None:
        super().__init__(0)
        self.last = last

    def choice(self, seq):
        return seq[-1] if self.last else seq[0]


def test_temporal_crop_bounds():
    ids = [0, 4, 8, 12, 16, 20, 24, 28]
    assert temporal_crop(ids, 9, 15, FirstLast(False)) == [0, 4, 8, 12, 16]  # start pos 0, end = first after 15
    assert temporal_crop(ids, 9, 15, FirstLast(True)) == [8, 12, 16, 20, 24, 28]  # last before 9, last pos
    # nothing before the GT start / after the GT end: keep position 0 / the last position
    assert temporal_crop(ids, 0, 28, FirstLast(False)) == ids


def test_temporal_crop_is_uniform_over_allowed_positions():
    ids = list(range(0, 40, 4))
    starts, ends = set(), set()
    for seed in range(300):
        w = temporal_crop(ids, 13, 21, random.Random(seed))
        assert w[0] < 13 and w[-1] > 21 and w == ids[ids.index(w[0]):ids.index(w[-1]) + 1]
        starts.add(w[0])
        ends.add(w[-1])
    assert starts == {0, 4, 8, 12} and ends == {24, 28, 32, 36}


@pytest.mark.parametrize("dataset", ["hcstvg", "vidstg"])
def test_sample_frame_ids_crop_only_in_training(dataset):
    cfg = DataConfig.for_dataset(dataset, temp_crop_prob=1.0)
    full = sample_frame_ids((0, 499), 500, 200, 260, cfg, train=False, rng=random.Random(0))
    assert len(full) == (129 if dataset == "hcstvg" else 128)
    crops = [sample_frame_ids((0, 499), 500, 200, 260, cfg, train=True, rng=random.Random(s)) for s in range(20)]
    assert all(c[0] < 200 and c[-1] > 260 for c in crops)
    assert any(c[-1] - c[0] < 400 for c in crops)  # a real crop happened
    no_crop = DataConfig.for_dataset(dataset, temp_crop_prob=0.0)
    ids = sample_frame_ids((0, 499), 500, 200, 260, no_crop, train=True, rng=random.Random(0))
    assert len(ids) == (65 if dataset == "hcstvg" else 64) and ids[0] == 0 and ids[-1] == 498 + (dataset == "vidstg")


def test_vidstg_crop_happens_before_subsampling():
    # GT 100..110 in a 1000-frame segment: the crop keeps few hundred frames, linspace then takes 64 of them
    cfg = DataConfig.for_dataset("vidstg", temp_crop_prob=1.0)
    ids = sample_frame_ids((0, 999), 1000, 100, 110, cfg, train=True, rng=random.Random(3))
    assert len(ids) == min(64, ids[-1] - ids[0] + 1)
    assert ids[0] < 100 and ids[-1] > 110


def test_split_interleaved():
    even, odd = split_interleaved([3, 5, 7, 9, 11])
    assert even == [3, 7, 11] and odd == [5, 9]
