"""tastvg.boxes on hand-computed cases: formats, frames, flip, area, IoU/GIoU, token masks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tastvg.boxes import (box_area, box_centre_cell, box_cxcywh_to_xyxy, box_iou_float, box_iou_pairs, box_token_mask,
                          box_token_mask_grid, box_xyxy_to_cxcywh, cxcywh_to_pixels, denormalize_boxes, flip_boxes,
                          generalized_box_iou_pairs, normalize_boxes, scale_boxes)
from tastvg.postprocess import clip_prediction

T = torch.tensor


# ---------------------------------------------------------------- formats and frames
def test_cxcywh_xyxy_hand_values_and_round_trip() -> None:
    c = T([[0.5, 0.5, 0.2, 0.4], [0.25, 0.75, 0.5, 0.5]])
    x = T([[0.4, 0.3, 0.6, 0.7], [0.0, 0.5, 0.5, 1.0]])
    torch.testing.assert_close(box_cxcywh_to_xyxy(c), x)
    torch.testing.assert_close(box_xyxy_to_cxcywh(x), c)
    r = torch.rand(2, 3, 4)  # any leading dims
    torch.testing.assert_close(box_xyxy_to_cxcywh(box_cxcywh_to_xyxy(r)), r)


def test_normalize_denormalize() -> None:
    px = T([[10.0, 20.0, 30.0, 60.0]])
    c = normalize_boxes(px, (100, 200))  # H = 100, W = 200
    torch.testing.assert_close(c, T([[0.1, 0.4, 0.1, 0.4]]))
    torch.testing.assert_close(denormalize_boxes(c, (100, 200)), px)


def test_cxcywh_to_pixels_numbers_and_tensors() -> None:
    assert cxcywh_to_pixels([0.5, 0.5, 0.5, 0.25], 200, 100) == [50.0, 37.5, 150.0, 62.5]
    assert cxcywh_to_pixels(T([0.5, 0.5, 0.5, 0.25]), 200, 100) == [50.0, 37.5, 150.0, 62.5]


def test_postprocess_boxes_are_denormalized_and_clamped_at_zero() -> None:
    pred = T([[0.5, 0.5, 0.5, 0.25], [0.05, 0.5, 0.2, 0.2]])
    out = clip_prediction(pred, torch.zeros(2, 2), [3, 4], width=200.0, height=100.0)
    assert out["boxes"][3] == [50.0, 37.5, 150.0, 62.5]
    assert out["boxes"][4] == pytest.approx([0.0, 40.0, 30.0, 60.0])  # x1 = -10 clamped


def test_scale_boxes_per_axis() -> None:
    assert scale_boxes(T([[8.0, 4.0, 40.0, 20.0]]), (40, 80), (20, 20)).tolist() == [[2.0, 2.0, 10.0, 10.0]]


def test_flip_boxes_and_flip_twice_is_identity() -> None:
    b = T([[1.0, 0.0, 3.0, 4.0]])
    assert flip_boxes(b, 10).tolist() == [[7.0, 0.0, 9.0, 4.0]]  # x1' = W - x2, x2' = W - x1
    r = torch.rand(2, 3, 4) * 50
    torch.testing.assert_close(flip_boxes(flip_boxes(r, 64.0), 64.0), r)


# ---------------------------------------------------------------- area, IoU, GIoU
def test_box_area() -> None:
    assert box_area(T([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 1.0, 5.0]])).tolist() == [6.0, 0.0]


A = T([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 3.0, 3.0]])
B = T([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0], [1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 3.0, 3.0]])
#      overlap                disjoint               nested                 identical


def test_box_iou_pairs_hand_values() -> None:
    torch.testing.assert_close(box_iou_pairs(A, B), T([1 / 7, 0.0, 4 / 16, 1.0]))


def test_box_iou_pairs_broadcasts_to_a_pairwise_matrix() -> None:
    m = box_iou_pairs(A[:, None], B[None])  # [4, 4]
    assert m.shape == (4, 4)
    torch.testing.assert_close(m.diagonal(), box_iou_pairs(A, B))
    torch.testing.assert_close(m[2], T([4 / 16, 1 / 16, 4 / 16, 4 / 16]))


def test_generalized_box_iou_pairs_hand_values() -> None:
    # overlap: hull 9, union 7; disjoint: hull 3, union 2; nested: hull = outer box; identical: 1
    g = generalized_box_iou_pairs(A, B)
    torch.testing.assert_close(g, T([1 / 7 - 2 / 9, -1 / 3, 4 / 16, 1.0]))
    assert g[1] < 0


def test_box_iou_float_hand_values_and_agreement() -> None:
    expected = [1 / 7, 0.0, 4 / 16, 1.0]
    for a, b, e in zip(A.tolist(), B.tolist(), expected):
        assert box_iou_float(a, b) == pytest.approx(e)
    assert box_iou_float((5, 5, 5, 5), (5, 5, 5, 5)) == 0.0  # zero union: 0, not NaN
    assert box_iou_float((0, 0, 1, 1), (1, 1, 2, 2)) == 0.0  # touching corners
    a = torch.rand(50, 2) * 10
    a = torch.cat([a, a + torch.rand(50, 2) * 10 + 0.1], -1).double()
    b = a.flip(0)
    floats = T([box_iou_float(p, q) for p, q in zip(a.tolist(), b.tolist())], dtype=torch.float64)
    torch.testing.assert_close(floats, box_iou_pairs(a, b))


def test_evaluator_stays_free_of_torch() -> None:
    code = "import sys, tastvg.evaluation; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# ---------------------------------------------------------------- token masks
def cells(mask: torch.Tensor) -> list[int]:
    return mask.nonzero().flatten().tolist()


def test_box_centre_cell() -> None:
    b = T([[0.5, 0.5, 0.1, 0.1], [0.9, 0.1, 0.01, 0.01], [1.0, 1.0, 0.02, 0.02], [0.0, 0.0, 0.1, 0.1]])
    assert box_centre_cell(b, 3, 4).tolist() == [6, 3, 11, 0]  # (1, 2), (0, 3), clamped (2, 3), (0, 0)


def test_box_token_mask_2x2() -> None:  # cell centres at 0.25 and 0.75
    assert cells(box_token_mask(T([0.5, 0.5, 1.0, 1.0]), 2, 2)) == [0, 1, 2, 3]
    assert cells(box_token_mask(T([0.5, 0.25, 1.0, 0.1]), 2, 2)) == [0, 1]  # the top row
    assert cells(box_token_mask(T([0.1, 0.1, 0.05, 0.05]), 2, 2)) == [0]  # no centre inside: the centre cell


def test_box_token_mask_3x4() -> None:  # rows at 1/6, 1/2, 5/6; columns at 1/8, 3/8, 5/8, 7/8
    assert cells(box_token_mask(T([0.5, 0.5, 0.5, 0.4]), 3, 4)) == [5, 6]
    assert cells(box_token_mask(T([0.9, 0.1, 0.01, 0.01]), 3, 4)) == [3]  # centre cell (0, 3) only
    assert cells(box_token_mask(T([1.0, 1.0, 0.02, 0.02]), 3, 4)) == [11]  # centre on the edge: clamped
    m = box_token_mask(torch.rand(2, 5, 4, dtype=torch.float64), 3, 4)
    assert m.shape == (2, 5, 12) and m.dtype == torch.float64 and (m.sum(-1) >= 1).all()


def test_box_token_mask_grid_pads_each_video_grid() -> None:
    boxes = T([[[0.5, 0.5, 1.0, 1.0]], [[0.5, 0.5, 1.0, 1.0]]])  # [B = 2, T = 1, 4]
    m = box_token_mask_grid(boxes, [(3, 4), (2, 2)], 3, 4)  # [2, 1, 12]
    assert m.shape == (2, 1, 12)
    assert cells(m[0, 0]) == list(range(12))
    assert cells(m[1, 0]) == [0, 1, 4, 5]  # the 2 x 2 grid in the top-left of 3 x 4
