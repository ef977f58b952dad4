"""Multimodal encoder: strictly intra-frame self-attention over [appearance; text; motion] tokens.

For every frame t the sequence is ``X_t = [F2d_t (N) ; E (L) ; F3d_t (N)]``; frames are the batch
dimension, so there is no interaction across frames here (as in the official code). Six post-norm DETR layers
plus a final LayerNorm.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class EncoderLayer(nn.Module):
    """Post-norm DETR encoder layer; q = k = x + pos, v = x."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float, efficient: bool = False) -> None:
        super().__init__()
        # efficient: fused scaled-dot-product attention (flash / memory-efficient kernels on GPU)
        # that never stores the [frames, heads, 2N+L, 2N+L] attention map. Same maths, other rounding.
        self.efficient = efficient
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ffn)
        self.linear2 = nn.Linear(ffn, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """``x``, ``pos`` [S, BT, d] (S = 2N + L); ``key_padding_mask`` [BT, S] (True = ignore)."""
        q = k = x + pos
        x = self.norm1(x + self.dropout1(self.self_attn(q, k, x, key_padding_mask=key_padding_mask,
                                                          need_weights=not self.efficient)[0]))
        y = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout2(y))


class MultimodalEncoder(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float, layers: int,
                 efficient: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, ffn, dropout, efficient) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """``x``, ``pos`` [2N+L, BT, d] -> memory ``M`` [2N+L, BT, d] (frames are the batch)."""
        for layer in self.layers:
            x = layer(x, pos, key_padding_mask)
        return self.norm(x)
