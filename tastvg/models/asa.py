"""Attribute-aware spatial activation (ASA): where in each selected frame is the target?
(TA-STVG paper, arXiv 2502.11168)

Per frame, one query (the encoded ``<s>`` token, averaged over frames) attends to that frame's N
tokens through two BCA layers. The second layer's attention, summed over heads, through a sigmoid
and min-max normalised per frame, is the activation map ``A`` [T, N]; an attribute head on the
final query gives multi-label logits averaged over the selected frames. Appearance branch on the
2D tokens (APP_NUM attributes), motion branch on the 3D tokens (MOT_NUM attributes).

Every frame's map depends only on that frame, so we compute the maps for all frames once and let
the frame selection enter only through masked means (which is also what makes two-pass inference
cheap: pass 2 only changes the mask).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tastvg.config import BRANCHES
from tastvg.models.bca import BCALayer, PredictionHead


def minmax_normalise(s: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-row ``(s - min) / (max - min)`` over the last dim (over ``valid`` entries only; the
    others become 0).

    The official code has no epsilon, so a constant row divides 0 by 0 (NaN). Here a constant
    row carries no spatial information and maps to all ones (plain mean pooling).
    """
    if valid is None:
        lo = s.min(dim=-1, keepdim=True).values
        hi = s.max(dim=-1, keepdim=True).values
    else:
        lo = s.masked_fill(~valid, float("inf")).min(dim=-1, keepdim=True).values
        hi = s.masked_fill(~valid, float("-inf")).max(dim=-1, keepdim=True).values
    span = hi - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    out = torch.where(span > 0, (s - lo) / safe, torch.ones_like(s))
    return out if valid is None else out * valid.to(out.dtype)


class SpatialActivation(nn.Module):
    """One ASA branch, frames as the batch: tokens ``[BT, N, d]`` + query ``[BT, 1, d]`` -> map
    ``[BT, N]``, logits ``[BT, V]``."""

    def __init__(self, d: int, heads: int, layers: int, vocab: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.layer_ca = nn.ModuleList(BCALayer(d, heads, dropout) for _ in range(layers))
        self.head = PredictionHead(d, vocab)

    def forward(self, tokens: Tensor, query: Tensor, token_pad: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, probs = query, None
        for layer in self.layer_ca:
            x, probs = layer(x, tokens, token_pad)
        assert probs is not None
        valid = None if token_pad is None else ~token_pad
        activation = minmax_normalise(probs[:, :, 0, :].sum(dim=1).sigmoid(), valid)
        return activation, self.head(x[:, 0])


class AttributeAwareSpatialActivation(nn.Module):
    """Both ASA branches (or one of them: ``branches``)."""

    def __init__(self, d: int, heads: int, layers: int, app_num: int, mot_num: int,
                 branches: tuple[str, ...] = BRANCHES) -> None:
        super().__init__()
        if "appearance" in branches:
            self.appearance = SpatialActivation(d, heads, layers, app_num)
        if "motion" in branches:
            self.motion = SpatialActivation(d, heads, layers, mot_num)
        self.branches = tuple(branches)

    def forward(self, m2d: Tensor, m3d: Tensor, query: Tensor, token_pad: Tensor | None = None) -> dict[str, Tensor]:
        """``m2d``, ``m3d`` [B, T, N, d] (detached); ``query`` [B, d]; ``token_pad`` [B, N] (True =
        padded token, spatially padded batches only) -> per-frame maps and logits.

        Returns ``map_app``, ``map_mot`` [B, T, N] and ``frame_logits_app`` [B, T, APP_NUM],
        ``frame_logits_mot`` [B, T, MOT_NUM] (the keys of the existing branches only).
        """
        b, t, n, d = m2d.shape
        q = query[:, None, None, :].expand(b, t, 1, d).reshape(b * t, 1, d)
        pad = None if token_pad is None else token_pad[:, None].expand(b, t, n).reshape(b * t, n)
        out: dict[str, Tensor] = {}
        for branch, tokens, key in (("appearance", m2d, "app"), ("motion", m3d, "mot")):
            if branch in self.branches:
                act, logits = getattr(self, branch)(tokens.reshape(b * t, n, d), q, pad)
                out[f"map_{key}"], out[f"frame_logits_{key}"] = act.view(b, t, n), logits.view(b, t, -1)
        return out


def masked_frame_mean(x: Tensor, selected: Tensor) -> Tensor:
    """Mean of ``x`` [B, T, ...] over the selected frames ``selected`` [B, T] -> [B, ...]."""
    w = selected.to(x.dtype).view(*selected.shape, *([1] * (x.dim() - 2)))
    return (x * w).sum(dim=1) / w.sum(dim=1).clamp(min=1)


def pool_query(tokens: Tensor, activation: Tensor, selected: Tensor, token_pad: Tensor | None = None) -> Tensor:
    """Initial query ``mean over (k, n) of tokens[k, n] * A[k, n]`` over the selected frames.

    ``tokens`` [B, T, N, d] (not detached), ``activation`` [B, T, N] (0 on padded tokens),
    ``selected`` [B, T], ``token_pad`` [B, N] or None -> [B, d]. The mean over n counts each
    video's valid tokens only.
    """
    if token_pad is None:
        weighted = (tokens * activation.unsqueeze(-1)).mean(dim=2)  # [B, T, d]: mean over n
    else:
        count = (~token_pad).sum(1).to(tokens.dtype)[:, None, None]
        weighted = (tokens * activation.unsqueeze(-1)).sum(dim=2) / count
    return masked_frame_mean(weighted, selected)
