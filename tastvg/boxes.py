"""Box maths, in one place (like DETR's ``util/box_ops.py``).

Conventions:

* ``cxcywh``: (cx, cy, w, h), normalised to the frame (0..1); what the model predicts and the
  losses compare.
* ``xyxy``: (x1, y1, x2, y2), either normalised or in pixels; what IoU/GIoU take.
"""

from __future__ import annotations

import torch
from torch import Tensor


def box_token_mask(boxes: Tensor, h: int, w: int) -> Tensor:
    """Which of the ``h x w`` grid cells a box covers (cell centre inside the box, and always the
    cell holding the box centre). ``boxes`` [..., 4] normalised (cx, cy, w, h) -> [..., h*w] float."""
    ys = (torch.arange(h, device=boxes.device, dtype=boxes.dtype) + 0.5) / h
    xs = (torch.arange(w, device=boxes.device, dtype=boxes.dtype) + 0.5) / w
    cx, cy, bw, bh = boxes.unbind(-1)
    x1, x2 = (cx - bw / 2)[..., None, None], (cx + bw / 2)[..., None, None]
    y1, y2 = (cy - bh / 2)[..., None, None], (cy + bh / 2)[..., None, None]
    inside = (ys[:, None] >= y1) & (ys[:, None] <= y2) & (xs[None, :] >= x1) & (xs[None, :] <= x2)
    ci = (cy * h).long().clamp(0, h - 1)
    cj = (cx * w).long().clamp(0, w - 1)
    centre = torch.zeros_like(inside).flatten(-2)
    centre.scatter_(-1, (ci * w + cj).unsqueeze(-1), True)
    return (inside.flatten(-2) | centre).to(boxes.dtype)


def box_token_mask_grid(boxes: Tensor, maps: list, h: int, w: int) -> Tensor:
    """:func:`box_token_mask` on each video's own ``(h_i, w_i)`` grid, zero-padded to ``h x w``.

    ``boxes`` [B, T, 4] normalised to each video's own frame -> [B, T, h*w].
    """
    out = []
    for i, (hi, wi) in enumerate(maps):
        cells = box_token_mask(boxes[i], hi, wi).unflatten(-1, (hi, wi))  # [T, h_i, w_i]
        out.append(torch.nn.functional.pad(cells, (0, w - wi, 0, h - hi)).flatten(-2))
    return torch.stack(out)
