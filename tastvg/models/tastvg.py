"""TA-STVG assembled: encoders -> multimodal encoder -> TTS + ASA -> target-aware queries -> decoders.

Shapes (the naming rule of :mod:`tastvg.models.outputs`: B videos, T frames each, padded at the
end; N = h*w visual tokens per frame; L text tokens; BT = B*T)::

    frames [B, T, 3, H, W], frame_pad [B, T] (True = padded frame)
    text_ids, text_mask [B, L]  (token ids of "<s> subject sentence </s>", 1 = real token)
    -> pred_boxes [B, T, 4] (cx, cy, w, h in [0, 1]), pred_sted [B, T, 2] (start/end logits),
       pred_actioness [B, T], aux_outputs (decoder layers 0 .. layers-2), TTS / ASA logits.

The model receives its parts (DETR style); :func:`tastvg.models.build.build_model` makes them
from a config and wires them. B = 1 reproduces the official single-video computation; each
video's frames only interact with that video's frames (Video Swin runs per video on its valid
frames).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.config import TASTVGConfig
from tastvg.models.asa import masked_frame_mean
from tastvg.models.attention import keeping_attention
from tastvg.models.outputs import DecoderOutput, EncoderOutput, Intermediates, PassIntermediates, Queries, frame_rows
from tastvg.models.position import TemporalSine, sine_position_2d
from tastvg.models.queries import QueryInit, tracked_motion
from tastvg.models.tts import fallback_to_valid

# The official optimiser groups by parameter-name prefix; no match means "base".
PARAM_GROUPS = ("base", "vision", "text", "temporal_decoder", "tts_asa")
PARAM_GROUP_PREFIXES = (("backbone2d.body.", "vision"), ("text.", "text"), ("temporal_decoder.", "temporal_decoder"),
                        ("tts.", "tts_asa"), ("asa.", "tts_asa"))


class TASTVG(nn.Module):
    """The assembled model. Parts (their attribute names are the state-dict prefixes):

    - ``backbone2d``: frames ``[BT, 3, H, W]`` -> ``F2d`` ``[BT, d, h, w]`` (its ``body`` is the
      optimiser's "vision" group);
    - ``video_swin``: one clip ``[1, 3, T_i, H_i, W_i]`` -> ``[T_i, C, h_i, w_i]`` (frozen, run
      without gradients), then ``video_proj`` (1x1 conv ``C -> d``) -> ``F3d``;
    - ``text``: ``(text_ids, text_mask)`` [B, L] -> (``E`` [B, L, d], pad mask [B, L]);
    - ``encoder``: :class:`~tastvg.models.encoder.MultimodalEncoder`; ``tts``, ``asa``: the two
      target-aware modules; ``query_init``: a :class:`~tastvg.models.queries.QueryInit` strategy;
    - ``anchor_head`` (frames_cls -> initial anchors), ``spatial_decoder``, ``temporal_decoder``,
      ``box_head``, ``sted_head``, ``actioness_head``.

    ``cfg`` is the whole config (``model.cfg.loss`` etc. are read by losses and training); the
    forward reads the switches ``use_tts``, ``use_asa``, ``two_pass``, ``action_threshold`` from
    ``cfg.model`` at every call (the query initialisation is fixed by the strategy given here).
    """

    def __init__(self, cfg: TASTVGConfig, *, backbone2d: nn.Module, video_swin: nn.Module, video_proj: nn.Module,
                 text: nn.Module, encoder: nn.Module, tts: nn.Module, asa: nn.Module, anchor_head: nn.Module,
                 spatial_decoder: nn.Module, temporal_decoder: nn.Module, box_head: nn.Module, sted_head: nn.Module,
                 actioness_head: nn.Module, query_init: QueryInit) -> None:
        super().__init__()
        self.cfg = cfg
        # assignment order = state-dict key order (kept from the official layout)
        self.backbone2d = backbone2d
        self.video_swin = video_swin
        self.video_proj = video_proj
        self.text = text
        self.encoder = encoder
        self.tts = tts
        self.asa = asa
        self.temporal_pos = TemporalSine(cfg.model.max_video_len + 1, cfg.model.d_model)
        self.anchor_head = anchor_head
        self.spatial_decoder = spatial_decoder
        self.temporal_decoder = temporal_decoder
        self.box_head = box_head
        self.sted_head = sted_head
        self.actioness_head = actioness_head
        self.query_init = query_init

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters in the official optimiser groups.

        ``vision``: ResNet body (trainable stages); ``text``: RoBERTa + resizer; ``temporal_decoder``;
        ``tts_asa``: the TTS/ASA branches; ``base``: everything else (input projections,
        encoder, spatial decoder, anchor and prediction heads). Video Swin is frozen and absent.
        """
        groups: dict[str, list[nn.Parameter]] = {k: [] for k in PARAM_GROUPS}
        for name, p in self.named_parameters():
            if p.requires_grad:
                groups[next((g for pre, g in PARAM_GROUP_PREFIXES if name.startswith(pre)), "base")].append(p)
        return groups

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_padding(frames: Tensor, frame_pad: Tensor, image_pad: Tensor | None) -> tuple[Tensor, list]:
        """Valid lengths [B] and valid (H_i, W_i) per video; padding must be at the end / bottom-right."""
        b, t = frame_pad.shape
        lengths = (~frame_pad).sum(dim=1)
        if bool((frame_pad != (torch.arange(t, device=frame_pad.device) >= lengths[:, None])).any()):
            raise ValueError("frame_pad must mark a suffix of padded frames per video (True = padded)")
        if bool((lengths == 0).any()):
            raise ValueError("every video needs at least one valid frame")
        hh, ww = frames.shape[-2:]
        if image_pad is None or not bool(image_pad.any()):
            return lengths, [(hh, ww)] * b
        rows, cols = (~image_pad).any(dim=2).sum(1), (~image_pad).any(dim=1).sum(1)
        ar_h, ar_w = torch.arange(hh, device=image_pad.device), torch.arange(ww, device=image_pad.device)
        expected = (ar_h[None, :, None] >= rows[:, None, None]) | (ar_w[None, None, :] >= cols[:, None, None])
        if bool((expected != image_pad).any()):
            raise ValueError("image_pad must mark bottom/right padding of each video's frames (True = padded)")
        return lengths, [(int(r), int(c)) for r, c in zip(rows, cols)]

    def visual_features(self, frames: Tensor, lengths: Tensor, sizes: list) -> tuple[Tensor, Tensor, list]:
        """ResNet and Video Swin features ``[BT, d, h, w]`` each, and the per-video map sizes.

        Without spatial padding the ResNet runs on all BT frames at once; with it, each video runs
        on its own valid region (so its numbers equal a B = 1 run) and maps are zero-padded.
        """
        b, t = frames.shape[:2]
        uniform = all(sz == tuple(frames.shape[-2:]) for sz in sizes)
        f2d_list = [] if not uniform else [self.backbone2d(frames.flatten(0, 1)).unflatten(0, (b, t))]
        f3d_list = []
        with torch.no_grad():
            for i in range(b):
                hi, wi = sizes[i]
                clip = frames[i, : int(lengths[i]), :, :hi, :wi]  # [T_i, 3, H_i, W_i]
                f3d_list.append(self.video_swin(clip.permute(1, 0, 2, 3).unsqueeze(0)))  # [T_i, C4, h_i, w_i]
        if not uniform:
            f2d_list = [self.backbone2d(frames[i, : int(lengths[i]), :, : sizes[i][0], : sizes[i][1]])
                        for i in range(b)]
        maps = [tuple(f.shape[-2:]) for f in f3d_list]
        h, w = max(m[0] for m in maps), max(m[1] for m in maps)

        def pad(x: Tensor) -> Tensor:  # [T_i, c, h_i, w_i] -> [T, c, h, w]
            x = F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]))
            return torch.cat([x, x.new_zeros((t - x.shape[0], *x.shape[1:]))])

        f3d = self.video_proj(torch.stack([pad(f) for f in f3d_list]).flatten(0, 1))
        f2d = f2d_list[0].flatten(0, 1) if uniform else torch.stack([pad(f) for f in f2d_list]).flatten(0, 1)
        if f3d.shape[-2:] != f2d.shape[-2:]:
            raise ValueError(f"2D and 3D feature maps differ: {tuple(f2d.shape[-2:])} vs {tuple(f3d.shape[-2:])}")
        return f2d, f3d, maps

    def encode(self, frames: Tensor, frame_pad: Tensor, text_ids: Tensor, text_mask: Tensor,
               image_pad: Tensor | None = None) -> EncoderOutput:
        """Backbones + multimodal encoder -> :class:`EncoderOutput` (memory and token groups)."""
        b, t = frame_pad.shape
        lengths, sizes = self._check_padding(frames, frame_pad, image_pad)
        f2d, f3d, maps = self.visual_features(frames, lengths, sizes)
        d, h, w = f2d.shape[1:]
        n = h * w
        text, text_pad = self.text(text_ids, text_mask)  # [B, L, d], [B, L]
        l = text.shape[1]  # noqa: E741
        if all(m == (h, w) for m in maps):
            vis_pad = None
            pos = sine_position_2d(h, w, d, device=frames.device).flatten(2).permute(2, 0, 1)  # [N, 1, d]
            pos = pos.expand(n, b * t, d)
        else:  # each video's own sine code on its valid map, zeros on padded tokens (masked anyway)
            codes = [F.pad(sine_position_2d(hi, wi, d, device=frames.device)[0], (0, w - wi, 0, h - hi))
                     for hi, wi in maps]
            pos = torch.stack(codes).flatten(2).permute(2, 0, 1)  # [N, B, d]
            pos = pos.unsqueeze(2).expand(n, b, t, d).reshape(n, b * t, d)
            valid = torch.zeros(b, h, w, dtype=torch.bool, device=frames.device)
            for i, (hi, wi) in enumerate(maps):
                valid[i, :hi, :wi] = True
            vis_pad = ~valid.flatten(1)  # [B, N]
        txt = text.unsqueeze(1).expand(b, t, l, d).reshape(b * t, l, d).transpose(0, 1)  # [L, BT, d]
        x = torch.cat([f2d.flatten(2).permute(2, 0, 1), txt, f3d.flatten(2).permute(2, 0, 1)])  # [2N+L, BT, d]
        seq_pos = torch.cat([pos, pos.new_zeros(l, b * t, d), pos])  # text tokens: no position code
        # key-padding masks are passed even when all False, as the official code does
        txt_pad = frame_rows(text_pad, t)  # [BT, L]
        vis_rows = txt_pad.new_zeros(b * t, n) if vis_pad is None else frame_rows(vis_pad, t)  # [BT, N]
        enc_pad = torch.cat([vis_rows, txt_pad, vis_rows], dim=1)  # [BT, 2N+L]
        mem = self.encoder(x, seq_pos, enc_pad)  # [2N+L, BT, d]
        if bool(text_pad.any()) or vis_pad is not None:
            keep = (~enc_pad).to(mem.dtype).transpose(0, 1).unsqueeze(-1)
            frames_cls = (mem * keep).sum(0) / keep.sum(0)
        else:
            frames_cls = mem.mean(dim=0)  # [BT, d]

        def group(a: Tensor) -> Tensor:  # [S, BT, d] -> [B, T, S, d]
            return a.transpose(0, 1).reshape(b, t, a.shape[0], d)

        return EncoderOutput(memory=mem, pos=pos, m2d=group(mem[:n]), m3d=group(mem[n + l:]), mtxt=group(mem[n:n + l]),
                             frames_cls=frames_cls.view(b, t, d), frame_pad=frame_pad, text_pad=text_pad,
                             vis_pad=vis_pad, hw=(h, w), maps=maps)

    def decode(self, enc: EncoderOutput, queries: Queries, keep_attention: bool = False) -> DecoderOutput:
        """Both decoders and the heads, from ``queries`` -> :class:`DecoderOutput` (per layer, batch first).

        ``keep_attention``: also return each layer's cross-attention weights (heads averaged).
        """
        frame_pad = enc.frame_pad
        b, t = frame_pad.shape
        n, l, mem = enc.tokens_per_frame, enc.text_length, enc.memory  # noqa: E741
        d = mem.shape[-1]
        time = self.temporal_pos(t).unsqueeze(1).expand(t, b, d)  # [T, B, d]
        anchors = self.anchor_head(enc.frames_cls).sigmoid().transpose(0, 1)  # [T, B, 4]
        txt_pad, vis_rows = enc.text_pad_rows, enc.visual_pad_rows  # [BT, L], [BT, N]
        # the official spatial decoder uses no masks; we need them only when something is padded
        padded = bool(txt_pad.any()) or enc.vis_pad is not None
        s_pad = torch.cat([vis_rows, txt_pad], 1) if padded else None
        t_pad = torch.cat([txt_pad, vis_rows], 1)
        text_pos = enc.text_pos
        s_attn = [layer.cross_attn for layer in self.spatial_decoder.layers]
        t_attn = [layer.cross_attn_image for layer in self.temporal_decoder.layers]
        with keeping_attention(s_attn + t_attn, enabled=keep_attention):
            boxes = self.spatial_decoder(queries.q_s0.unsqueeze(0).expand(t, b, d), anchors, mem[: n + l],
                                         torch.cat([enc.pos, text_pos]), s_pad, frame_pad, time, self.box_head)
            q_t = queries.q_t0.unsqueeze(0).expand(t, b, d)
            if queries.q_t_frames is not None:  # model.tracked_temporal_query: one query per frame
                q_t = q_t + queries.q_t_frames.transpose(0, 1)
            states = self.temporal_decoder(q_t, mem[n:],
                                           torch.cat([text_pos, enc.pos]), t_pad, frame_pad, time)
        out = DecoderOutput(boxes=boxes.transpose(1, 2), sted=self.sted_head(states).transpose(1, 2),
                            actioness=self.actioness_head(states).squeeze(-1).transpose(1, 2),
                            anchors=anchors.transpose(0, 1))
        if keep_attention:  # [BT, heads, 1, S] per layer -> [layers, B, T, S], heads averaged
            out.spatial_attention = torch.stack([m.attn.flatten(2).mean(1) for m in s_attn]).unflatten(1, (b, t))
            out.temporal_attention = torch.stack([m.attn.flatten(2).mean(1) for m in t_attn]).unflatten(1, (b, t))
        return out

    # ------------------------------------------------------------------------------------------
    def forward(self, frames: Tensor, frame_pad: Tensor, text_ids: Tensor, text_mask: Tensor,
                targets: dict[str, Tensor] | None = None, image_pad: Tensor | None = None,
                return_intermediates: bool = False) -> dict[str, Any]:
        """One forward pass (two decoder passes in eval mode with ``two_pass``).

        ``image_pad`` [B, H, W] (True = padded pixel, bottom/right) lets videos of different frame
        sizes share a batch; each video then gets exactly its B = 1 numbers. ``targets`` is read
        only by a query initialisation with ``needs_targets`` (``"oracle"``: ``boxes`` [B, T, 4],
        ``actioness`` [B, T]).

        Returns ``pred_boxes`` [B, T, 4], ``pred_sted`` [B, T, 2], ``pred_actioness`` [B, T],
        ``aux_outputs`` (same keys, decoder layers 0 .. layers-2), ``logits_f_a`` /
        ``logits_f_m`` / ``att_sequences`` [B, T] (TTS, first pass), ``logits_r_a`` [B, APP] /
        ``logits_r_m`` [B, MOT] and ``map_app`` / ``map_mot`` [B, T, N] (ASA), ``selected``
        [B, T] (frames whose tokens formed the queries), ``frame_pad``, ``feature_hw`` (h, w) and
        ``feature_sizes`` (each video's own (h_i, w_i); tokens outside it are padding). The TTS/ASA
        keys of a module switched off (``use_tts``, ``use_asa``) or of a branch that
        ``model.branches`` leaves out are absent. With ``return_intermediates`` also
        ``intermediates``, an :class:`~tastvg.models.outputs.Intermediates` (every other output
        is unchanged by it).
        """
        m = self.cfg.model
        enc = self.encode(frames, frame_pad, text_ids, text_mask, image_pad)
        out: dict[str, Any] = {"frame_pad": frame_pad, "feature_hw": enc.hw, "feature_sizes": enc.maps}
        text_mean = masked_frame_mean(enc.mtxt, ~frame_pad)  # [B, L, d]
        tts: dict[str, Tensor] = {}
        if m.use_tts:
            tts = self.tts(enc.m2d.detach(), enc.m3d.detach(), text_mean.detach(),
                           enc.text_pad if bool(enc.text_pad.any()) else None, frame_pad, enc.vis_pad)
            selected = tts.pop("selected")
            out.update(tts)
        else:
            selected = ~frame_pad
        asa = None
        if m.use_asa:
            asa = self.asa(enc.m2d.detach(), enc.m3d.detach(), text_mean[:, 0].detach(), enc.vis_pad)
            out.update({k: v for k, v in asa.items() if k.startswith("map_")})
        queries = self._queries(enc, asa, selected, targets)
        dec = self.decode(enc, queries, return_intermediates)
        passes = [(selected, queries, dec)]
        if not self.training and m.two_pass and self.query_init.two_pass:  # re-select by actioness, decode again
            selected = (dec.actioness[-1].sigmoid() > m.action_threshold) & ~frame_pad
            selected = fallback_to_valid(selected, frame_pad)
            queries = self._queries(enc, asa, selected, targets)
            dec = self.decode(enc, queries, return_intermediates)
            passes.append((selected, queries, dec))
        out.update(self._attribute_logits(asa, selected))
        out["selected"] = selected
        out["pred_boxes"] = dec.boxes[-1]
        out["pred_sted"], out["pred_actioness"] = dec.sted[-1], dec.actioness[-1]
        out["aux_outputs"] = [
            {"pred_boxes": dec.boxes[i], "pred_sted": dec.sted[i], "pred_actioness": dec.actioness[i]}
            for i in range(len(dec.boxes) - 1)
        ]
        if return_intermediates:
            out["intermediates"] = self._intermediates(enc, tts, asa, passes)
        return out

    def _queries(self, enc: EncoderOutput, asa: dict[str, Tensor] | None, selected: Tensor,
                 targets: dict[str, Tensor] | None) -> Queries:
        """The query strategy's queries, plus the per-frame tracked motion term when switched on."""
        queries = self.query_init(enc, asa, selected, targets)
        if self.cfg.model.tracked_temporal_query and asa is not None and "map_app" in asa:
            queries = dataclasses.replace(queries, q_t_frames=tracked_motion(enc.m3d, asa["map_app"], enc.frame_pad))
        return queries

    @staticmethod
    def _attribute_logits(asa: dict[str, Tensor] | None, selected: Tensor) -> dict[str, Tensor]:
        """``logits_r_a`` [B, APP] / ``logits_r_m`` [B, MOT]: ASA's frame logits averaged over ``selected``."""
        out = {}
        for key, logits in (("logits_r_a", "frame_logits_app"), ("logits_r_m", "frame_logits_mot")):
            if asa is not None and logits in asa:
                out[key] = masked_frame_mean(asa[logits], selected)
        return out

    def _intermediates(self, enc: EncoderOutput, tts: dict[str, Tensor], asa: dict[str, Tensor] | None,
                       passes: list[tuple[Tensor, Queries, DecoderOutput]]) -> Intermediates:
        """Collect the intermediates of the passes ``(selected, queries, decoded)``."""
        per_pass = []
        for selected, queries, dec in passes:
            assert dec.spatial_attention is not None and dec.temporal_attention is not None
            per_pass.append(PassIntermediates(
                selected=selected, q_s0=queries.q_s0, q_t0=queries.q_t0, boxes=dec.boxes, sted=dec.sted,
                actioness=dec.actioness, spatial_attention=dec.spatial_attention,
                temporal_attention=dec.temporal_attention, **self._attribute_logits(asa, selected)))
        return Intermediates(encoder=enc, anchors=passes[0][2].anchors, passes=per_pass, **tts, **(asa or {}))


def __getattr__(name: str) -> Any:
    """``build_model`` lives in :mod:`tastvg.models.build` (which imports this module); re-exported lazily."""
    if name == "build_model":
        from tastvg.models.build import build_model

        return build_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
