"""What passes between the stages of TA-STVG: small dataclasses with their shapes.

One naming rule for counts, everywhere in :mod:`tastvg.models`:

- ``B`` videos in the batch, ``T`` frames per video (padded at the end, ``frame_pad`` [B, T]);
- ``N = h * w`` visual tokens per frame (the backbones' feature map, stride 32 officially; in a
  spatially padded batch ``h x w`` is the largest map and each video's own ``(h_i, w_i)`` sits at
  its top-left);
- ``L`` text tokens (padded at the end, ``text_pad`` [B, L]);
- ``BT = B * T``: frames as a batch, video-major (row ``i * T + t`` is frame t of video i);
- ``d`` the model width; ``layers`` the decoder depth.

Stages::

    encode  -> EncoderOutput          (memory and its token groups)
    TTS/ASA -> dicts of named logits and maps (the keys of the model's output dict)
    QueryInit strategy -> Queries     (Q_s0, Q_t0)
    decode  -> DecoderOutput          (per-layer boxes, start/end logits, actioness)

``TASTVG.forward(..., return_intermediates=True)`` also returns an :class:`Intermediates`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from torch import Tensor


def frame_rows(x: Tensor, t: int) -> Tensor:
    """``[B, ...]`` -> ``[BT, ...]``: each video's row repeated for its T frames."""
    return x.unsqueeze(1).expand(x.shape[0], t, *x.shape[1:]).reshape(x.shape[0] * t, *x.shape[1:])


@dataclass
class EncoderOutput:
    """The multimodal encoder's result, and what the later stages need to read it."""

    memory: Tensor
    """``M`` [2N+L, BT, d]: per frame, [2D tokens (N) ; text tokens (L) ; 3D tokens (N)]."""
    pos: Tensor
    """2D sine position code of the N visual tokens of every frame [N, BT, d] (zero on padded tokens)."""
    m2d: Tensor
    """Appearance tokens ``M2d`` [B, T, N, d] (a regrouping of ``memory[:N]``)."""
    m3d: Tensor
    """Motion tokens ``M3d`` [B, T, N, d] (``memory[N + L:]``)."""
    mtxt: Tensor
    """Text tokens as encoded with each frame [B, T, L, d] (``memory[N:N + L]``)."""
    frames_cls: Tensor
    """Mean of each frame's memory over its valid tokens [B, T, d] (input of the anchor head)."""
    frame_pad: Tensor
    """[B, T] bool, True = padded frame."""
    text_pad: Tensor
    """[B, L] bool, True = padded text token."""
    vis_pad: Optional[Tensor]
    """[B, N] bool, True = spatially padded token; None when every video has the full map."""
    hw: tuple[int, int]
    """``(h, w)`` of the token grid, ``N = h * w``."""
    maps: list[tuple[int, int]] = field(default_factory=list)
    """Each video's own ``(h_i, w_i)`` (tokens outside it are padding)."""

    @property
    def tokens_per_frame(self) -> int:
        """``N``."""
        return self.hw[0] * self.hw[1]

    @property
    def text_length(self) -> int:
        """``L``."""
        return self.text_pad.shape[1]

    @property
    def text_pad_rows(self) -> Tensor:
        """``text_pad`` repeated for every frame [BT, L]."""
        return frame_rows(self.text_pad, self.frame_pad.shape[1])

    @property
    def visual_pad_rows(self) -> Tensor:
        """``vis_pad`` repeated for every frame [BT, N] (all False without spatial padding)."""
        b, t = self.frame_pad.shape
        if self.vis_pad is None:
            return self.text_pad.new_zeros(b * t, self.tokens_per_frame)
        return frame_rows(self.vis_pad, t)

    @property
    def text_pos(self) -> Tensor:
        """The text tokens' position code: zeros [L, BT, d]."""
        return self.pos.new_zeros(self.text_length, *self.pos.shape[1:])


@dataclass
class Queries:
    """The decoders' initial content queries (one per video, repeated over its T frames)."""

    q_s0: Tensor
    """``Q_s0`` [B, d], the spatial decoder's initial query."""
    q_t0: Tensor
    """``Q_t0`` [B, d], the temporal decoder's initial query."""
    q_t_frames: Optional[Tensor] = None
    """[B, T, d] added to ``Q_t0`` frame by frame (``model.tracked_temporal_query``), or None."""


@dataclass
class DecoderOutput:
    """Both decoders and the prediction heads, per decoder layer, batch first."""

    boxes: Tensor
    """[layers, B, T, 4] boxes (cx, cy, w, h) in [0, 1] of every spatial decoder layer."""
    sted: Tensor
    """[layers, B, T, 2] start / end logits of every temporal decoder layer."""
    actioness: Tensor
    """[layers, B, T] actioness logits of every temporal decoder layer."""
    anchors: Tensor
    """[B, T, 4] the initial anchors ``σ(anchor_head(frames_cls))`` (cx, cy, w, h)."""
    spatial_attention: Optional[Tensor] = None
    """[layers, B, T, N + L] spatial decoder cross-attention (heads averaged) over the memory it
    sees, [2D tokens ; text]; only when decoded with ``keep_attention``."""
    temporal_attention: Optional[Tensor] = None
    """[layers, B, T, L + N] temporal decoder cross-attention (heads averaged) over [text ; 3D
    tokens]; only when decoded with ``keep_attention``."""


@dataclass
class PassIntermediates:
    """One decoding pass: the frames it pooled, its queries and everything the decoders made."""

    selected: Tensor
    """[B, T] bool: the frames whose tokens formed the queries (pass 1: TTS; pass 2: actioness)."""
    q_s0: Tensor
    """``Q_s0`` [B, d]."""
    q_t0: Tensor
    """``Q_t0`` [B, d]."""
    boxes: Tensor
    """[layers, B, T, 4] per-layer boxes (the last layer's are ``pred_boxes`` of the final pass)."""
    sted: Tensor
    """[layers, B, T, 2] per-layer start / end logits."""
    actioness: Tensor
    """[layers, B, T] per-layer actioness logits."""
    spatial_attention: Tensor
    """[layers, B, T, N + L] spatial decoder cross-attention, heads averaged, over [2D tokens ; text]."""
    temporal_attention: Tensor
    """[layers, B, T, L + N] temporal decoder cross-attention, heads averaged, over [text ; 3D tokens]."""
    logits_r_a: Optional[Tensor] = None
    """[B, APP] ASA appearance attribute logits averaged over this pass's ``selected`` frames."""
    logits_r_m: Optional[Tensor] = None
    """[B, MOT] ASA motion attribute logits averaged over this pass's ``selected`` frames."""


@dataclass
class Intermediates:
    """``out["intermediates"]`` of ``TASTVG.forward(..., return_intermediates=True)``.

    Everything readers and probes look at, without hooks. Tensors are the ones the forward
    computed (not detached), except the attention weights (detached). A module switched off
    (``use_tts``, ``use_asa``) or a branch left out of ``model.branches`` leaves its fields None.
    """

    encoder: EncoderOutput
    """The encoder's output (memory, token groups, padding)."""
    anchors: Tensor
    """[B, T, 4] initial anchors (the same in both passes)."""
    passes: list[PassIntermediates]
    """One entry per decoding pass: 1 in training or single-pass inference, 2 with two-pass inference."""
    att_sequences: Optional[Tensor] = None
    """[B, T] TTS relevance ``a_t``."""
    logits_f_a: Optional[Tensor] = None
    """[B, T] TTS appearance-branch logits."""
    logits_f_m: Optional[Tensor] = None
    """[B, T] TTS motion-branch logits."""
    map_app: Optional[Tensor] = None
    """[B, T, N] ASA appearance activation map."""
    map_mot: Optional[Tensor] = None
    """[B, T, N] ASA motion activation map."""
    frame_logits_app: Optional[Tensor] = None
    """[B, T, APP] ASA appearance attribute logits of every frame."""
    frame_logits_mot: Optional[Tensor] = None
    """[B, T, MOT] ASA motion attribute logits of every frame."""

    @property
    def pass1(self) -> PassIntermediates:
        return self.passes[0]

    @property
    def pass2(self) -> Optional[PassIntermediates]:
        """The second pass (two-pass inference), else None."""
        return self.passes[1] if len(self.passes) > 1 else None

    @property
    def final(self) -> PassIntermediates:
        """The pass whose predictions the model returns."""
        return self.passes[-1]

    @property
    def selected_pass1(self) -> Tensor:
        """[B, T] the TTS selection (all valid frames without TTS)."""
        return self.passes[0].selected

    @property
    def selected_pass2(self) -> Optional[Tensor]:
        """[B, T] the actioness re-selection of the second pass, else None."""
        return self.passes[1].selected if len(self.passes) > 1 else None
