"""Sine position codes: 2D feature-map code (DETR), temporal code (transformer table), box code.

All three interleave sin/cos the way the official code does: feature ``k`` uses frequency
``temperature ** (2 * (k // 2) / num_feats)`` and takes ``sin`` for even ``k`` and ``cos`` for odd ``k``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _interleave(x: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """``x`` [...] -> [..., num_feats] interleaved sin/cos code."""
    k = torch.arange(num_feats, dtype=torch.float32, device=x.device)
    dim_t = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / num_feats)
    pos = x[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_2d(h: int, w: int, d_model: int, copies: int = 1, device: torch.device | None = None) -> Tensor:
    """DETR normalised 2D code of an unpadded ``h x w`` map -> ``[copies, d_model, h, w]``, order (y, x).

    Coordinates are ``cumsum / (last + 1e-6) * 2π`` of an all-valid mask (the official sine embedding's normalisation).
    """
    num_feats = d_model // 2
    not_mask = torch.ones(1, h, w, device=device)
    y = not_mask.cumsum(1, dtype=torch.float32)
    x = not_mask.cumsum(2, dtype=torch.float32)
    eps, scale = 1e-6, 2 * math.pi
    y = y / (y[:, -1:, :] + eps) * scale
    x = x / (x[:, :, -1:] + eps) * scale
    pos = torch.cat((_interleave(y, num_feats), _interleave(x, num_feats)), dim=-1)  # [1, h, w, d]
    return pos.permute(0, 3, 1, 2).expand(copies, -1, -1, -1)


class TemporalSine(nn.Module):
    """Transformer sinusoid table ``te`` [max_len, 1, d] (official ``SeqEmbeddingSine``)."""

    te: Tensor

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        te = torch.zeros(max_len, 1, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        te[:, 0, 0::2] = torch.sin(position * div_term)
        te[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("te", te)

    def forward(self, length: int) -> Tensor:
        """-> ``[length, d]``."""
        if length > self.te.shape[0]:
            raise ValueError(f"clip of {length} frames exceeds the temporal table ({self.te.shape[0]} rows)")
        return self.te[:length, 0]


def sine_box_embed(boxes: Tensor, d_model: int) -> Tensor:
    """Anchor code (DAB-DETR): ``boxes`` [..., 4] as (cx, cy, w, h) -> [..., 2 * d_model].

    Each coordinate gets ``d_model / 2`` features of ``coord * 2π``; concatenated as (y, x, w, h).
    """
    num_feats = d_model // 2
    scaled = boxes * (2 * math.pi)
    cx, cy, w, h = scaled.unbind(-1)
    return torch.cat([_interleave(c, num_feats) for c in (cy, cx, w, h)], dim=-1)
