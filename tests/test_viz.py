"""The notebooks' plotting helpers (no figure is rendered)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from tastvg.boxes import cxcywh_to_pixels  # noqa: E402
from tastvg.viz import frames_to_images, gt_runs  # noqa: E402


def test_gt_runs():
    assert gt_runs([0, 1, 1, 0, 1]) == [(1, 2), (4, 4)]
    assert gt_runs([0, 0]) == [] and gt_runs([1, 1, 1]) == [(0, 2)]


def test_frames_to_images_inverts_the_normalisation():
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    pixels = torch.rand(2, 3, 4, 5)
    images = frames_to_images((pixels - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    assert images.shape == (2, 4, 5, 3) and images.dtype.name == "uint8"
    assert abs(images[1, 2, 3, 0] - round(float(pixels[1, 0, 2, 3]) * 255)) <= 1
    with pytest.raises(ValueError, match=r"\[T, 3, H, W\]"):
        frames_to_images(torch.zeros(3, 4, 5))


def test_cxcywh_to_pixels():
    assert cxcywh_to_pixels([0.5, 0.5, 0.5, 0.25], 200, 100) == [50.0, 37.5, 150.0, 62.5]


def test_draw_detail_row_draws_both_boxes_the_map_and_the_spans():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tastvg.viz import draw_detail_row

    entry = {"frame_ids": [0, 1, 2, 3], "gt_frames": [False, True, True, False], "tts": [0.1, 0.9, 0.8, 0.2],
             "map_app": [[0.0, 1.0, 0.5, 0.2]] * 4, "feature_hw": [2, 2],
             "prediction": {"t_start": 1, "t_end": 2, "boxes": {"1": [1, 1, 5, 5], "2": [2, 2, 6, 6]}}}
    fig, axes = plt.subplots(1, 3)
    draw_detail_row(axes, entry, torch.zeros(8, 8, 3).numpy(), 1, [0, 0, 4, 4], "baseline", "the red square jumps")
    assert len(axes[0].patches) == 2  # ground truth and prediction
    assert len(axes[1].images) == 2 and len(axes[2].lines) == 2  # frame + map; relevance + frame marker
    assert axes[2].get_title() == "the red square jumps"
    plt.close(fig)
