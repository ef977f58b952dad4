"""BERT-style cross-attention layer ("BCA") and LM-style prediction head, shared by TTS and ASA.

As in the official code (HengLan/TA-STVG @ 904ad0c): queries from stream A attend to stream B;
output dense + residual with the *query* + LayerNorm(1e-12); a 256 -> 256 "intermediate" dense
with exact GELU; dense + residual + LayerNorm.
Parameter names mirror the official BERT modules so checkpoints convert by prefix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CrossSelfAttention(nn.Module):
    """Multi-head attention of ``a`` over ``b``; returns context and pre-dropout probabilities."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        batch, s, _ = x.shape
        return x.view(batch, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, a: Tensor, b: Tensor, b_pad: Tensor | None) -> tuple[Tensor, Tensor]:
        """``a`` [batch, Sa, d], ``b`` [batch, Sb, d], ``b_pad`` [batch, Sb] -> ([batch, Sa, d], probs
        [batch, heads, Sa, Sb]). The batch is B videos in TTS and BT frames in ASA."""
        q, k, v = self._split(self.query(a)), self._split(self.key(b)), self._split(self.value(b))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if b_pad is not None:
            scores = scores.masked_fill(b_pad[:, None, None, :], float("-inf"))
        probs = scores.softmax(dim=-1)
        ctx = self.dropout(probs) @ v
        batch, _, sa, _ = ctx.shape
        return ctx.permute(0, 2, 1, 3).reshape(batch, sa, -1), probs


class DenseNorm(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual)."""

    def __init__(self, d_in: int, d: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.self = CrossSelfAttention(d, heads, dropout)
        self.output = DenseNorm(d, d, dropout)


class Intermediate(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, d)  # no 4x expansion (official)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x))


class BCALayer(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.attention = Attention(d, heads, dropout)
        self.hidden_intermediate = Intermediate(d)
        self.output = DenseNorm(d, d, dropout)

    def forward(self, a: Tensor, b: Tensor, b_pad: Tensor | None = None) -> tuple[Tensor, Tensor]:
        ctx, probs = self.attention.self(a, b, b_pad)
        x = self.attention.output(ctx, a)
        return self.output(self.hidden_intermediate(x), x), probs


class PredictionTransform(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x: Tensor) -> Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))


class PredictionHead(nn.Module):
    """dense + GELU + LayerNorm, then a bias-free linear to ``vocab`` plus a separate bias."""

    def __init__(self, d: int, vocab: int) -> None:
        super().__init__()
        self.transform = PredictionTransform(d)
        self.decoder = nn.Linear(d, vocab, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.transform(x)) + self.bias

