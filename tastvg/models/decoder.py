"""Spatial (anchor-based, DAB-DETR style) and temporal decoders, one query per frame.

As in the official code (HengLan/TA-STVG @ 904ad0c).

Layout: queries are ``[T, B, d]`` (frames x videos). Self-attention runs across the T frame queries
of a video (padded frames masked as keys); cross-attention runs per frame: the query of frame t
(length 1) attends to that frame's memory tokens only, so the batch of that attention is
``BT = B*T`` (video-major: row ``i * T + t`` is frame t of video i). Memory is ``[S, BT, d]``:
``S = N + L`` (2D tokens, text) for the spatial decoder, ``S = L + N`` (text, 3D tokens) for the
temporal one.

Both cross-attentions keep their weights for inspection (:mod:`tastvg.models.attention`):
``spatial_decoder.layers[i].cross_attn.attn`` and ``temporal_decoder.layers[i].cross_attn_image.attn``,
``[BT, heads, 1, S]``, while ``keep_attention`` is on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.models.attention import InspectableMultiheadAttention, KeepsAttention
from tastvg.models.position import sine_box_embed


class MLP(nn.Module):
    """Linear layers with ReLU between; optional dropout after *every* layer (official heads)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        dims = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
            if self.dropout is not None:
                x = self.dropout(x)
        return x


class ConditionalCrossAttention(KeepsAttention, nn.Module):
    """Attention over pre-projected, head-wise concatenated [content ; position] queries/keys.

    q: ``[S_q, BT, 2d]``, k: ``[S, BT, 2d]`` (8 heads of 2d/8), v: ``[S, BT, d]`` (8 heads of d/8);
    scale (2d/8)^-0.5. Only an output projection has parameters (the projections live in the
    decoder layer). With ``keep_attention`` on, ``self.attn`` holds the softmax weights
    ``[BT, heads, S_q, S]`` (before dropout).
    """

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.out_proj = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_pad: Tensor | None) -> Tensor:
        sq, bt, dq = q.shape
        sk, dv = k.shape[0], v.shape[-1]
        h = self.heads
        q = q.reshape(sq, bt * h, dq // h).transpose(0, 1) * (dq // h) ** -0.5
        k = k.reshape(sk, bt * h, dq // h).transpose(0, 1)
        v = v.reshape(sk, bt * h, dv // h).transpose(0, 1)
        attn = q @ k.transpose(1, 2)  # [BT*h, sq, sk]
        if key_pad is not None:
            attn = attn.view(bt, h, sq, sk).masked_fill(key_pad[:, None, None, :], float("-inf")).view(bt * h, sq, sk)
        weights = attn.softmax(dim=-1)
        self.keep(weights.view(bt, h, sq, sk))
        out = (self.dropout(weights) @ v).transpose(0, 1).reshape(sq, bt, dv)
        return self.out_proj(out)


def _per_frame(x: Tensor) -> Tensor:
    """``[T, B, d]`` -> ``[1, BT, d]`` (video-major, frames in order: the memory's layout)."""
    t, b, d = x.shape
    return x.transpose(0, 1).reshape(1, b * t, d)


def _from_frames(x: Tensor, t: int, b: int) -> Tensor:
    return x.reshape(b, t, -1).transpose(0, 1)


class SpatialDecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int, dropout: float, first: bool) -> None:
        super().__init__()
        self.first = first
        for name in ("sa_qcontent_proj", "sa_qpos_proj", "sa_qtime_proj", "sa_kcontent_proj",
                     "sa_kpos_proj", "sa_ktime_proj", "sa_v_proj", "ca_qcontent_proj", "ca_kcontent_proj",
                     "ca_kpos_proj", "ca_v_proj", "ca_qpos_sine_proj"):
            setattr(self, name, nn.Linear(d, d))
        self.ca_qpos_proj = nn.Linear(d, d) if first else None
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.cross_attn = ConditionalCrossAttention(d, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm3, self.norm4 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout, self.dropout1 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.dropout3, self.dropout4 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.heads = heads

    def forward(self, q: Tensor, memory: Tensor, mem_pos: Tensor, mem_pad: Tensor | None, frame_pad: Tensor,
                query_pos: Tensor, sine_xy: Tensor, time: Tensor) -> Tensor:
        """``q``, ``query_pos``, ``sine_xy``, ``time`` [T, B, d]; ``memory``, ``mem_pos`` [S, BT, d]."""
        t, b, d = q.shape
        sq = self.sa_qcontent_proj(q) + self.sa_qtime_proj(time) + self.sa_qpos_proj(query_pos)
        sk = self.sa_kcontent_proj(q) + self.sa_ktime_proj(time) + self.sa_kpos_proj(query_pos)
        self_pad = frame_pad if bool(frame_pad.any()) else None  # official: no mask (b = 1)
        q2 = self.self_attn(sq, sk, self.sa_v_proj(q), key_padding_mask=self_pad)[0]
        q = self.norm1(q + self.dropout1(q2))

        cq = self.ca_qcontent_proj(q)
        ck = self.ca_kcontent_proj(memory)
        cv = self.ca_v_proj(memory)
        kpos = self.ca_kpos_proj(mem_pos)
        if self.first:
            assert self.ca_qpos_proj is not None
            cq = cq + self.ca_qpos_proj(query_pos)
            ck = ck + kpos
        h, s = self.heads, memory.shape[0]
        cq = _per_frame(cq).view(1, b * t, h, d // h)
        qsine = _per_frame(self.ca_qpos_sine_proj(sine_xy)).view(1, b * t, h, d // h)
        cq = torch.cat([cq, qsine], dim=3).view(1, b * t, 2 * d)
        ck = torch.cat([ck.view(s, b * t, h, d // h), kpos.view(s, b * t, h, d // h)], dim=3).view(s, b * t, 2 * d)
        q2 = _from_frames(self.cross_attn(cq, ck, cv, mem_pad), t, b)
        q = self.norm3(q + self.dropout3(q2))
        q2 = self.linear2(self.dropout(F.relu(self.linear1(q))))
        return self.norm4(q + self.dropout4(q2))


class SpatialDecoder(nn.Module):
    """Anchor-conditioned decoder. Each layer predicts *absolute* boxes ``σ(box_head(q))`` from the
    un-normalised state (no inverse-sigmoid residual, as in the official code); the next layer's anchor is the
    detached prediction."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float, layers: int) -> None:
        super().__init__()
        self.d = d
        self.layers = nn.ModuleList(SpatialDecoderLayer(d, heads, ffn, dropout, i == 0) for i in range(layers))
        self.query_scale = MLP(d, d, d, 2)
        self.ref_point_head = MLP(2 * d, d, d, 2)

    def forward(self, q: Tensor, anchors: Tensor, memory: Tensor, mem_pos: Tensor, mem_pad: Tensor | None,
                frame_pad: Tensor, time: Tensor, box_head: nn.Module) -> Tensor:
        """``q`` [T, B, d], ``anchors`` [T, B, 4] -> boxes per layer ``[layers, T, B, 4]`` (cx, cy, w, h)."""
        boxes = []
        ref = anchors
        for i, layer in enumerate(self.layers):
            sine = sine_box_embed(ref, self.d)  # [T, B, 2d]
            query_pos = self.ref_point_head(sine)
            sine_xy = sine[..., : self.d] if i == 0 else sine[..., : self.d] * self.query_scale(q)
            q = layer(q, memory, mem_pos, mem_pad, frame_pad, query_pos, sine_xy, time)
            box = box_head(q).sigmoid()
            boxes.append(box)
            ref = box.detach()
        return torch.stack(boxes)


class TemporalDecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout)
        self.cross_attn_image = InspectableMultiheadAttention(d, heads, dropout=dropout)  # keeps weights on request
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm3, self.norm4 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout, self.dropout1 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.dropout3, self.dropout4 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, q: Tensor, memory: Tensor, mem_pos: Tensor, mem_pad: Tensor | None, frame_pad: Tensor,
                time: Tensor) -> Tensor:
        t, b, _ = q.shape
        qk = q + time
        q = self.norm1(q + self.dropout1(self.self_attn(qk, qk, q, key_padding_mask=frame_pad)[0]))
        q2 = self.cross_attn_image(_per_frame(q), memory + mem_pos, memory, key_padding_mask=mem_pad)[0]
        q = self.norm3(q + self.dropout3(_from_frames(q2, t, b)))
        q2 = self.linear2(self.dropout(F.relu(self.linear1(q))))
        return self.norm4(q + self.dropout4(q2))


class TemporalDecoder(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int, dropout: float, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TemporalDecoderLayer(d, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, q: Tensor, memory: Tensor, mem_pos: Tensor, mem_pad: Tensor | None, frame_pad: Tensor,
                time: Tensor) -> Tensor:
        """``q`` [T, B, d] -> per-layer states through the shared final norm ``[layers, T, B, d]``."""
        out = []
        for layer in self.layers:
            q = layer(q, memory, mem_pos, mem_pad, frame_pad, time)
            out.append(self.norm(q))
        return torch.stack(out)
