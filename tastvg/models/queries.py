"""Initial content queries Q_s0, Q_t0 of the two decoders: one strategy class per initialisation.

``model.query_init`` in the config names an entry of :data:`QUERY_INITS`; the build makes the
strategy once and the model keeps it as ``model.query_init``. Each strategy says what it needs:

- ``needs_targets``: it reads ground-truth ``targets`` (``boxes`` [B, T, 4], ``actioness``
  [B, T]) at every forward, evaluation included (callers pass them when this is True);
- ``two_pass``: with ``model.two_pass``, inference decodes a second time on the frames whose
  actioness passes ``action_threshold``, with queries re-made on those frames.

The three of the paper:

- :class:`TargetAware` (TA-STVG): ASA-weighted mean of the encoder tokens of the TTS-selected
  frames (a plain mean without ASA or without that ASA branch);
- :class:`Zero`: zero queries, the STCAT-style baseline the paper improves on;
- :class:`Oracle`: mean of the encoder tokens inside the ground-truth boxes of the ground-truth
  frames, the paper's upper-bound experiment.

A new initialisation is one subclass and one registry entry::

    class FirstFrame(QueryInit):
        def forward(self, enc, asa, selected, targets):
            return Queries(enc.m2d[:, 0].mean(1), enc.m3d[:, 0].mean(1))

    QUERY_INITS["first_frame"] = FirstFrame   # now model.query_init: first_frame is a valid config

Strategies are ``nn.Module`` s, so a learned one can own parameters (they land in the model's
state dict under ``query_init.``); the three above have none.
"""

from __future__ import annotations

from typing import ClassVar, Optional

from torch import Tensor, nn

from tastvg.boxes import box_token_mask_grid
from tastvg.config import ModelConfig
from tastvg.models.asa import pool_query
from tastvg.models.outputs import EncoderOutput, Queries


class QueryInit(nn.Module):
    """Base class: ``forward(enc, asa, selected, targets) -> Queries``.

    ``enc``: the :class:`EncoderOutput`; ``asa``: the ASA module's output dict (``map_app``,
    ``map_mot`` [B, T, N], ...) or None without ASA; ``selected`` [B, T] bool: the frames chosen
    for this pass; ``targets``: the ground truth or None.
    """

    needs_targets: ClassVar[bool] = False
    two_pass: ClassVar[bool] = False

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()

    def forward(self, enc: EncoderOutput, asa: Optional[dict[str, Tensor]], selected: Tensor,
                targets: Optional[dict[str, Tensor]]) -> Queries:
        raise NotImplementedError


class TargetAware(QueryInit):
    """TA-STVG: ``Q_s0`` / ``Q_t0`` = mean over the selected frames k and tokens n of
    ``M2d[k, n] * A_app[k, n]`` / ``M3d[k, n] * A_mot[k, n]`` (:func:`pool_query`)."""

    two_pass = True

    def forward(self, enc: EncoderOutput, asa: Optional[dict[str, Tensor]], selected: Tensor,
                targets: Optional[dict[str, Tensor]]) -> Queries:
        m2d, m3d, pad = enc.m2d, enc.m3d, enc.vis_pad
        # no ASA (use_asa = False) or no such ASA branch: plain mean of the selected frames' tokens
        ones = m2d.new_ones(m2d.shape[:3])  # [B, T, N]
        if pad is not None:
            ones = ones * (~pad).to(ones.dtype)[:, None, :]
        asa = asa or {}
        return Queries(pool_query(m2d, asa.get("map_app", ones), selected, pad),
                       pool_query(m3d, asa.get("map_mot", ones), selected, pad))


class Zero(QueryInit):
    """Zero content queries [B, d] (the decoders start from the anchors and time codes only)."""

    def forward(self, enc: EncoderOutput, asa: Optional[dict[str, Tensor]], selected: Tensor,
                targets: Optional[dict[str, Tensor]]) -> Queries:
        zero = enc.m2d.new_zeros(enc.m2d.shape[0], enc.m2d.shape[-1])
        return Queries(zero, zero)


class Oracle(QueryInit):
    """Mean of the ``M2d`` / ``M3d`` tokens whose cells the ground-truth box covers
    (:func:`tastvg.boxes.box_token_mask_grid`), over the valid ground-truth frames."""

    needs_targets = True

    def forward(self, enc: EncoderOutput, asa: Optional[dict[str, Tensor]], selected: Tensor,
                targets: Optional[dict[str, Tensor]]) -> Queries:
        if targets is None or "boxes" not in targets or "actioness" not in targets:
            raise ValueError("query_init='oracle' needs targets with 'boxes' [B, T, 4] and 'actioness' [B, T]")
        m2d, m3d = enc.m2d, enc.m3d
        h, w = enc.hw
        cells = box_token_mask_grid(targets["boxes"].to(m2d.dtype), enc.maps, h, w)  # [B, T, N]
        gt_frames = targets["actioness"].to(m2d.dtype) * (~enc.frame_pad).to(m2d.dtype)
        cells = cells * gt_frames.unsqueeze(-1)
        count = cells.sum(dim=(1, 2)).clamp(min=1).unsqueeze(-1)
        return Queries((m2d * cells.unsqueeze(-1)).sum((1, 2)) / count, (m3d * cells.unsqueeze(-1)).sum((1, 2)) / count)


def tracked_motion(m3d: Tensor, map_app: Tensor, frame_pad: Tensor) -> Tensor:
    """The target's motion feature per frame (``model.tracked_temporal_query``, a departure): each
    frame's 3D tokens averaged with the weights of ASA's appearance map, which finds the target by
    its looks. ``m3d`` [B, T, N, d] (not detached), ``map_app`` [B, T, N] (0 on padded tokens),
    ``frame_pad`` [B, T] -> [B, T, d] (0 on padded frames)."""
    weights = map_app / map_app.sum(dim=-1, keepdim=True).clamp(min=1e-6)
    return (m3d * weights.unsqueeze(-1)).sum(dim=2) * (~frame_pad).unsqueeze(-1).to(m3d.dtype)


# config name -> strategy class; the config's check of ``model.query_init`` reads this registry
QUERY_INITS: dict[str, type[QueryInit]] = {"target_aware": TargetAware, "zero": Zero, "oracle": Oracle}


def build_query_init(cfg: ModelConfig) -> QueryInit:
    """The strategy ``cfg.query_init`` names."""
    if cfg.query_init not in QUERY_INITS:
        raise ValueError(f"model.query_init: {cfg.query_init!r} is not one of {list(QUERY_INITS)}")
    return QUERY_INITS[cfg.query_init](cfg)
