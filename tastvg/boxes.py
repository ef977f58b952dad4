"""Box maths, in one place (like DETR's ``util/box_ops.py``).

Two box formats, both ``[..., 4]``:

* ``cxcywh``: (cx, cy, w, h), normalised to the frame (0..1); what the model predicts, the
  dataset's targets and the losses compare.
* ``xyxy``: (x1, y1, x2, y2), corners; in pixels for annotations, the evaluator and drawing
  (continuous coordinates: a box's width is ``x2 - x1``, no ``+1`` pixel term).

Frame sizes are ``size = (H, W)``, as tensor shapes are. The pixel pipeline of the official code,
in its order: flip in original pixels (:func:`flip_boxes`), scale per axis to the resized frame
(:func:`scale_boxes`), divide by the frame size and convert to ``cxcywh``
(:func:`normalize_boxes`); predictions go back with :func:`denormalize_boxes`.

IoU comes in two kinds: the tensor ones (:func:`box_iou_pairs`, :func:`generalized_box_iou_pairs`)
are element-wise over matching boxes and broadcast, so a pairwise ``[N, M]`` matrix is
``box_iou_pairs(a[:, None], b[None])``; :func:`box_iou_float` is the evaluator's, on one pair of
Python-number boxes. The box-to-token masks say which cells of a feature grid a box covers.

Torch is imported inside the tensor functions, so ``tastvg.evaluation`` (which needs only
:func:`box_iou_float`) stays free of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


# ---------------------------------------------------------------- formats and frames
def box_cxcywh_to_xyxy(b: Tensor) -> Tensor:
    """(cx, cy, w, h) -> (x1, y1, x2, y2): ``[..., 4] -> [..., 4]``, in the same units."""
    import torch

    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_xyxy_to_cxcywh(b: Tensor) -> Tensor:
    """(x1, y1, x2, y2) -> (cx, cy, w, h): ``[..., 4] -> [..., 4]``, in the same units."""
    import torch

    x1, y1, x2, y2 = b.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def normalize_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """``xyxy`` pixel boxes ``[..., 4]`` in a frame of ``size = (H, W)`` -> ``cxcywh`` in [0, 1].

    Divides by the frame size first, then converts (the official order)."""
    h, w = size
    return box_xyxy_to_cxcywh(boxes / boxes.new_tensor([w, h, w, h]))


def denormalize_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Inverse of :func:`normalize_boxes`: ``cxcywh`` in [0, 1] ``[..., 4]`` -> ``xyxy`` pixels
    of a frame of ``size = (H, W)``.

    Converts first, then multiplies by ``(W, H, W, H)`` (the official post-processing order)."""
    h, w = size
    return box_cxcywh_to_xyxy(boxes) * boxes.new_tensor([w, h, w, h])


def cxcywh_to_pixels(box: Sequence[float], width: float, height: float) -> list[float]:
    """One normalised (cx, cy, w, h) box (numbers or a ``[4]`` tensor) -> pixel
    ``[x1, y1, x2, y2]`` floats on a ``width x height`` frame (:func:`denormalize_boxes` in float64)."""
    import torch

    b = torch.tensor([float(v) for v in box], dtype=torch.float64)
    return denormalize_boxes(b, (height, width)).tolist()


def scale_boxes(boxes: Tensor, orig: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """``xyxy`` boxes ``[..., 4]`` from a frame of ``orig = (h, w)`` to one of ``size = (H0, W0)``
    (the official ``BoxList.resize``: one float ratio per axis)."""
    rw, rh = float(size[1]) / float(orig[1]), float(size[0]) / float(orig[0])
    return boxes * boxes.new_tensor([rw, rh, rw, rh])


def flip_boxes(boxes: Tensor, width: float) -> Tensor:
    """Mirror ``xyxy`` boxes ``[..., 4]`` in a frame ``width`` wide: ``x1' = W - x2``, ``x2' = W - x1``."""
    return boxes[..., [2, 1, 0, 3]] * boxes.new_tensor([-1.0, 1.0, -1.0, 1.0]) + boxes.new_tensor([width, 0.0, width, 0.0])


# ---------------------------------------------------------------- area, IoU, GIoU
def box_area(b: Tensor) -> Tensor:
    """Area of ``xyxy`` boxes: ``[..., 4] -> [...]`` (``(x2 - x1) * (y2 - y1)``, not clamped)."""
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Intersection and union areas of matching ``xyxy`` boxes ``[..., 4]`` -> two ``[...]``."""
    lt, rb = a[..., :2].maximum(b[..., :2]), a[..., 2:].minimum(b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return inter, box_area(a) + box_area(b) - inter


def box_iou_pairs(a: Tensor, b: Tensor) -> Tensor:
    """IoU of matching ``xyxy`` boxes: ``a``, ``b`` [..., 4] (broadcast) -> ``[...]``.

    ``inter / union``; a zero union gives NaN. Pairwise ``[N, M]``: ``box_iou_pairs(a[:, None], b[None])``."""
    inter, union = _inter_union(a, b)
    return inter / union


def generalized_box_iou_pairs(a: Tensor, b: Tensor) -> Tensor:
    """GIoU of matching ``xyxy`` boxes: ``a``, ``b`` [..., 4] (broadcast) -> ``[...]`` in (-1, 1].

    ``IoU - (|C| - union) / |C|`` with ``C`` the smallest box holding both (Rezatofighi et al.,
    2019); below 0 for disjoint boxes."""
    inter, union = _inter_union(a, b)
    iou = inter / union
    lt_c, rb_c = a[..., :2].minimum(b[..., :2]), a[..., 2:].maximum(b[..., 2:])
    hull = (rb_c - lt_c).clamp(min=0).prod(-1)
    return iou - (hull - union) / hull


def box_iou_float(a: Sequence[float], b: Sequence[float]) -> float:
    """The evaluator's IoU of two ``[x1, y1, x2, y2]`` boxes of Python numbers.

    Continuous coordinates (no +1 pixel term); the operations follow the official evaluator's
    ``np_box_iou`` in order, so results are bit-identical: ``inter / ((area_a + area_b) - inter)``.
    A zero union gives 0 (the official code gives NaN).
    """
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = area_a + area_b - inter
    if union <= 0:
        return 0.0
    return inter / union


# ---------------------------------------------------------------- boxes on a token grid
def box_centre_cell(boxes: Tensor, h: int, w: int) -> Tensor:
    """Row-major index of the ``h x w`` grid cell holding each box centre (clamped to the grid).
    ``boxes`` [..., 4] normalised (cx, cy, w, h) -> [...] long."""
    cx, cy = boxes[..., 0], boxes[..., 1]
    ci = (cy * h).long().clamp(0, h - 1)
    cj = (cx * w).long().clamp(0, w - 1)
    return ci * w + cj


def box_token_mask(boxes: Tensor, h: int, w: int) -> Tensor:
    """Which of the ``h x w`` grid cells a box covers (cell centre inside the box, and always the
    cell holding the box centre). ``boxes`` [..., 4] normalised (cx, cy, w, h) -> [..., h*w] float."""
    import torch

    ys = (torch.arange(h, device=boxes.device, dtype=boxes.dtype) + 0.5) / h
    xs = (torch.arange(w, device=boxes.device, dtype=boxes.dtype) + 0.5) / w
    x1, y1, x2, y2 = (c[..., None, None] for c in box_cxcywh_to_xyxy(boxes).unbind(-1))  # [..., 1, 1] each
    inside = (ys[:, None] >= y1) & (ys[:, None] <= y2) & (xs[None, :] >= x1) & (xs[None, :] <= x2)
    centre = torch.zeros_like(inside).flatten(-2)
    centre.scatter_(-1, box_centre_cell(boxes, h, w).unsqueeze(-1), True)
    return (inside.flatten(-2) | centre).to(boxes.dtype)


def box_token_mask_grid(boxes: Tensor, maps: list, h: int, w: int) -> Tensor:
    """:func:`box_token_mask` on each video's own ``(h_i, w_i)`` grid, zero-padded to ``h x w``.

    ``boxes`` [B, T, 4] normalised to each video's own frame -> [B, T, h*w].
    """
    import torch

    out = []
    for i, (hi, wi) in enumerate(maps):
        cells = box_token_mask(boxes[i], hi, wi).unflatten(-1, (hi, wi))  # [T, h_i, w_i]
        out.append(torch.nn.functional.pad(cells, (0, w - wi, 0, h - hi)).flatten(-2))
    return torch.stack(out)
