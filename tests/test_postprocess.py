"""Post-processing (as in the official code, HengLan/TA-STVG @ 904ad0c) on hand-made cases, and its output scored by the evaluator."""

from __future__ import annotations

import pytest
import torch

from tastvg.evaluation import evaluate
from tastvg.postprocess import (TubeCollector, clip_prediction, interpolate_boxes, merge_clip_predictions,
                                metas_from_batch, postprocess, span_argmax, split_interleaved)


def test_span_argmax_is_strictly_ordered() -> None:
    start = torch.tensor([0.0, 5.0, 0.0, 0.0])
    end = torch.tensor([0.0, 0.0, 0.0, 4.0])
    assert span_argmax(start, end) == (1, 3)
    # the best start and end on the same frame: i == j is not allowed
    start = torch.tensor([0.0, 9.0, 0.0])
    end = torch.tensor([0.0, 9.0, 1.0])
    assert span_argmax(start, end) == (1, 2)
    # the end before the start: the best ordered pair wins
    assert span_argmax(torch.tensor([0.0, 0.0, 9.0]), torch.tensor([9.0, 0.0, 0.0])) in {(0, 2), (1, 2), (0, 1)}
    assert span_argmax(torch.tensor([1.0]), torch.tensor([1.0])) == (0, 0)


def test_clip_prediction_scales_and_clamps() -> None:
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.05, 0.5, 0.2, 0.2]])
    sted = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    pred = clip_prediction(boxes, sted, [10, 14], width=200, height=100)
    assert pred["t_start"] == 10 and pred["t_end"] == 14
    assert pred["boxes"][10] == pytest.approx([50.0, 25.0, 150.0, 75.0])
    assert pred["boxes"][14] == pytest.approx([0.0, 40.0, 30.0, 60.0])  # x1 = -10 clamped to 0


def test_interleaved_merge_and_interpolation() -> None:
    ids = [0, 2, 4, 6, 8, 10]
    even, odd = split_interleaved(ids)
    assert even == [0, 4, 8] and odd == [2, 6, 10]
    a = {"t_start": 4, "t_end": 8, "boxes": {0: [0, 0, 10, 10], 4: [4, 0, 14, 10], 8: [8, 0, 18, 10]}}
    b = {"t_start": 2, "t_end": 6, "boxes": {2: [2, 0, 12, 10], 6: [6, 0, 16, 10], 10: [10, 0, 20, 10]}}
    merged = merge_clip_predictions([a, b])
    assert merged["t_start"] == 2 and merged["t_end"] == 8
    assert sorted(merged["boxes"]) == list(range(0, 11))
    assert merged["boxes"][5] == pytest.approx([5, 0, 15, 10])
    assert interpolate_boxes({3: [0, 0, 0, 0], 7: [4, 8, 12, 16]})[4] == pytest.approx([1, 2, 3, 4])


def test_postprocess_batch_feeds_the_evaluator() -> None:
    """Two interleaved sub-clips of one video (the second padded) -> one tube the evaluator scores."""
    t = 4
    boxes = torch.tensor([0.5, 0.5, 0.4, 0.4]).repeat(2, t, 1)
    sted = torch.zeros(2, t, 2)
    sted[0, 1, 0] = sted[0, 3, 1] = 10.0  # clip 0: frames [2, 6]
    sted[1, 0, 0] = sted[1, 2, 1] = 10.0  # clip 1: frames [1, 5] (valid frames 0..2)
    pad = torch.tensor([[False] * 4, [False] * 3 + [True]])
    outputs = {"pred_boxes": boxes, "pred_sted": sted, "frame_pad": pad}
    metas = [{"video_id": "v", "frame_ids": [0, 2, 4, 6], "width": 100, "height": 50},
             {"video_id": "v", "frame_ids": [1, 3, 5], "width": 100, "height": 50}]
    preds = postprocess(outputs, metas)
    assert preds["v"]["t_start"] == 1 and preds["v"]["t_end"] == 6
    assert sorted(preds["v"]["boxes"]) == list(range(7))
    gt = {"v": {"t_start": 1, "t_end": 6, "boxes": {f: [30.0, 15.0, 70.0, 35.0] for f in range(1, 7)}}}
    result = evaluate(gt, preds, protocol="inclusive")
    assert result["m_tIoU"] == pytest.approx(1.0) and result["m_vIoU"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="frame ids"):
        postprocess(outputs, [metas[0], {**metas[1], "frame_ids": [1, 3]}])


def test_collector_merges_halves_from_different_batches() -> None:
    t = 3
    sted = torch.zeros(1, t, 2)
    sted[0, 0, 0] = sted[0, 2, 1] = 10.0
    out = {"pred_boxes": torch.tensor([0.5, 0.5, 0.2, 0.2]).repeat(1, t, 1), "pred_sted": sted,
           "frame_pad": torch.zeros(1, t, dtype=torch.bool)}
    batch_even = {"item_ids": ["v7"], "targets": {"frame_ids": torch.tensor([[0, 4, 8]]),
                                                  "orig_sizes": torch.tensor([[50, 100]])}}
    batch_odd = {"item_ids": ["v7"], "targets": {"frame_ids": torch.tensor([[2, 6, 10, -1]]),
                                                 "orig_sizes": torch.tensor([[50, 100]])}}
    assert metas_from_batch(batch_odd)[0] == {"video_id": "v7", "frame_ids": [2, 6, 10], "width": 100.0,
                                              "height": 50.0}
    collector = TubeCollector()
    collector.add(out, metas_from_batch(batch_even))
    collector.add(out, metas_from_batch(batch_odd))
    pred = collector.predictions()["v7"]
    assert (pred["t_start"], pred["t_end"]) == (0, 10) and sorted(pred["boxes"]) == list(range(11))
    assert pred["boxes"][5] == pytest.approx([40.0, 20.0, 60.0, 30.0])
