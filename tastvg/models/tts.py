"""Text-guided temporal sampling (TTS): score each frame's relevance to the sentence, keep the
frames above θ (TA-STVG paper, arXiv 2502.11168).

Two branches with the same structure: appearance (on the 2D tokens ``M2d``) and motion (on the 3D
tokens ``M3d``). Each pools every frame spatially to one query, lets the frame queries attend to
the encoded text (averaged over frames) through two BCA layers, and predicts one logit per frame.
Inputs are detached by the caller, so TTS is trained only by its own BCE losses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tastvg.config import BRANCHES
from tastvg.models.bca import BCALayer, PredictionHead


class TemporalSampling(nn.Module):
    """One TTS branch: frame tokens ``[B, T, N, d]`` + text ``[B, L, d]`` -> logits ``[B, T]``."""

    def __init__(self, d: int, heads: int, layers: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.layer_ca = nn.ModuleList(BCALayer(d, heads, dropout) for _ in range(layers))
        self.head = PredictionHead(d, 1)

    def forward(self, tokens: Tensor, text: Tensor, text_pad: Tensor | None, token_pad: Tensor | None = None) -> Tensor:
        if token_pad is None:
            x = tokens.mean(dim=2)  # spatial average pool per frame -> [B, T, d]
        else:  # spatially padded batch: average the valid tokens only
            keep = (~token_pad).to(tokens.dtype)[:, None, :, None]
            x = (tokens * keep).sum(dim=2) / keep.sum(dim=2)
        for layer in self.layer_ca:
            x, _ = layer(x, text, text_pad)
        return self.head(x).squeeze(-1)


class TextGuidedTemporalSampling(nn.Module):
    """Both TTS branches (or one of them: ``branches``) and the frame selection."""

    def __init__(self, d: int, heads: int, layers: int, threshold: float, appearance_weight: float,
                 branches: tuple[str, ...] = BRANCHES) -> None:
        super().__init__()
        if "appearance" in branches:
            self.appearance = TemporalSampling(d, heads, layers)
        if "motion" in branches:
            self.motion = TemporalSampling(d, heads, layers)
        self.branches = tuple(branches)
        self.threshold = threshold
        self.appearance_weight = appearance_weight  # δ; 0.5 = official plain average

    def forward(self, m2d: Tensor, m3d: Tensor, text: Tensor, text_pad: Tensor | None,
                frame_pad: Tensor, token_pad: Tensor | None = None) -> dict[str, Tensor]:
        """``m2d``, ``m3d`` [B, T, N, d]; ``text`` [B, L, d]; ``frame_pad`` [B, T] (True = padded);
        ``token_pad`` [B, N] (True = spatially padded token) or None.

        Returns ``logits_f_a``, ``logits_f_m`` [B, T] (those of the existing branches),
        ``att_sequences`` (relevance a_t) [B, T] and ``selected`` [B, T] bool: ``a_t > θ`` among
        valid frames, all valid frames if none is. With one branch, a_t is that branch's σ(logit).
        """
        out: dict[str, Tensor] = {}
        if "appearance" in self.branches:
            out["logits_f_a"] = self.appearance(m2d, text, text_pad, token_pad)
        if "motion" in self.branches:
            out["logits_f_m"] = self.motion(m3d, text, text_pad, token_pad)
        delta = self.appearance_weight
        if len(out) == 1:
            score = next(iter(out.values())).sigmoid()
        elif delta == 0.5:
            score = (out["logits_f_m"].sigmoid() + out["logits_f_a"].sigmoid()) / 2  # official expression
        else:
            score = delta * out["logits_f_a"].sigmoid() + (1 - delta) * out["logits_f_m"].sigmoid()
        selected = (score > self.threshold) & ~frame_pad
        return out | {"att_sequences": score, "selected": fallback_to_valid(selected, frame_pad)}


def fallback_to_valid(selected: Tensor, frame_pad: Tensor) -> Tensor:
    """Per video: an empty selection becomes all valid frames."""
    empty = ~selected.any(dim=1, keepdim=True)
    return torch.where(empty, ~frame_pad, selected)
