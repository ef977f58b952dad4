"""Resize rule, horizontal flip (frames, boxes, sentence, attribute ids), normalisation, boxes."""

import numpy as np
import pytest
import torch

from tastvg.data.annotations import STVGRecord
from tastvg.data.config import DataConfig
from tastvg.data.dataset import STVGDataset
from tastvg.data.synth_scene import APPEARANCE, MOTION
from tastvg.boxes import denormalize_boxes, normalize_boxes
from tastvg.data.transforms import flip_pairs, hflip, normalize, resize, resized_size, swap_left_right, to_tensor


def test_resize_rule():
    assert resized_size(1920, 1080, 420, 588) == (420, 588)  # 16:9 is squashed to 1.4:1
    assert resized_size(640, 480, 420, 588) == (420, 560)  # 4:3 keeps its aspect ratio
    assert resized_size(100, 100, 420, 588) == (420, 420)
    assert resized_size(100, 60, None, None) == (60, 100)
    assert DataConfig().max_width == 588


def test_resize_scales_boxes():
    frames = torch.rand(2, 3, 40, 80)
    out, boxes = resize(frames, torch.tensor([[8.0, 4.0, 40.0, 20.0]]), (20, 20))
    assert out.shape == (2, 3, 20, 20)
    assert boxes.tolist() == [[2.0, 2.0, 10.0, 10.0]]


def test_swap_left_right():
    assert swap_left_right("the man on the left turns right") == "the man on the right turns left"
    assert swap_left_right("bright light") == "bleft light"  # official plain substring replacement
    assert swap_left_right("bright left", whole_words=True) == "bright right"
    assert swap_left_right(swap_left_right("left, right; leftmost")) == "left, right; leftmost"


def test_hflip_frames_and_boxes():
    frames = torch.zeros(1, 3, 4, 10)
    frames[..., 1:3] = 1.0  # columns 1, 2
    f, b = hflip(frames, torch.tensor([[1.0, 0.0, 3.0, 4.0]]))
    assert f[0, 0, 0].nonzero().flatten().tolist() == [7, 8]
    assert b.tolist() == [[7.0, 0.0, 9.0, 4.0]]  # x1' = W - x2, x2' = W - x1
    f2, b2 = hflip(f, b)
    assert torch.equal(f2, frames) and b2.tolist() == [[1.0, 0.0, 3.0, 4.0]]


def test_flip_pairs():
    pairs = flip_pairs(MOTION)
    left, right = MOTION.index("moves left"), MOTION.index("moves right")
    assert pairs == {left: right, right: left}
    assert flip_pairs(APPEARANCE) == {}


def test_normalisation_and_boxes():
    x = to_tensor(np.full((2, 4, 6, 3), 255, np.uint8))
    assert x.shape == (2, 3, 4, 6) and x.max() == 1.0
    n = normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert n[0, 0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229)
    b = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    c = normalize_boxes(b, (100, 200))  # H=100, W=200
    assert torch.allclose(c, torch.tensor([[0.1, 0.4, 0.1, 0.4]]))
    assert torch.allclose(denormalize_boxes(c, (100, 200)), b)


def _flip_dataset(flip_prob, subject="the red square", **overrides):
    frames = np.zeros((10, 20, 40, 3), np.uint8)
    frames[:, :, :5] = 200  # a bright left strip
    rec = STVGRecord(item_id="v", video_id="v", video_path=None, sentence="the red square moves left",
                     t_start=2, t_end=4, boxes=[[0, 0, 10, 20]] * 3, width=40, height=20, frame_count=10,
                     segment=(0, 9), subject=subject, app_ids=[APPEARANCE.index("red")],
                     mot_ids=[MOTION.index("moves left")])
    cfg = DataConfig.for_dataset("synth", flip_prob=flip_prob, temp_crop_prob=0.0, **overrides)
    return STVGDataset([rec], cfg, train=True, app_names=APPEARANCE, mot_names=MOTION, frames={"v": frames})


def test_dataset_flip_swaps_everything():
    plain, flipped = _flip_dataset(0.0)[0], _flip_dataset(1.0)[0]
    assert plain["sentence"] == "the red square moves left"
    assert flipped["sentence"] == "the red square moves right"
    assert flipped["attr_mot"][MOTION.index("moves right")] == 1 and flipped["attr_mot"].sum() == 1
    assert plain["attr_mot"][MOTION.index("moves left")] == 1
    assert torch.equal(flipped["attr_app"], plain["attr_app"])
    gt = plain["actioness"] > 0
    assert plain["actioness"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert torch.allclose(plain["boxes"][gt], torch.tensor([0.125, 0.5, 0.25, 1.0]).expand(3, 4))
    assert torch.allclose(flipped["boxes"][gt], torch.tensor([0.875, 0.5, 0.25, 1.0]).expand(3, 4))
    assert plain["boxes"][~gt].abs().sum() == 0 and plain["gt_boxes"].shape == (3, 4)
    assert torch.equal(flipped["frames"], plain["frames"].flip(-1))


def test_flip_probability_is_respected():
    ds = _flip_dataset(0.7)
    flips = 0
    for epoch in range(200):
        ds.set_epoch(epoch)
        flips += ds[0]["sentence"].endswith("right")
    assert 120 <= flips <= 160  # p = 0.7 over 200 draws
    ds.set_epoch(3)
    assert ds[0]["sentence"] == ds[0]["sentence"]  # seeded per (seed, epoch, index)


def test_subject_is_not_flipped_by_default():
    # official: the model looks `sub` up in the annotation file, so only the sentence is flipped
    assert _flip_dataset(1.0, subject="the square on the left")[0]["subject"] == "the square on the left"
    s = _flip_dataset(1.0, subject="the square on the left", flip_subject=True)[0]
    assert s["subject"] == "the square on the right" and s["text"].startswith("the square on the right the red")
