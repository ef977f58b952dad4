"""TA-STVG assembled: encoders -> multimodal encoder -> TTS + ASA -> target-aware queries -> decoders.

Shapes (B videos, T frames each, padded at the end; N = h*w tokens per frame; L text tokens)::

    frames [B, T, 3, H, W], frame_pad [B, T] (True = padded frame)
    text_ids, text_mask [B, L]  (token ids of "<s> subject sentence </s>", 1 = real token)
    -> pred_boxes [B, T, 4] (cx, cy, w, h in [0, 1]), pred_sted [B, T, 2] (start/end logits),
       pred_actioness [B, T], aux_outputs (layers 0 .. L-2), TTS / ASA logits.

B = 1 reproduces the official single-video computation; each video's frames only interact with
that video's frames (Video Swin runs per video on its valid frames).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tastvg.config import TASTVGConfig, resolve_config
from tastvg.models.asa import AttributeAwareSpatialActivation, box_token_mask_grid, masked_frame_mean, pool_query
from tastvg.models.backbone2d import Backbone2D
from tastvg.models.decoder import MLP, SpatialDecoder, TemporalDecoder
from tastvg.models.encoder import MultimodalEncoder
from tastvg.models.position import TemporalSine, sine_position_2d
from tastvg.models.text import TextEncoder
from tastvg.models.tts import TextGuidedTemporalSampling, fallback_to_valid
from tastvg.models.video_swin import VideoSwin

# The official optimiser groups by parameter-name prefix; no match means "base".
PARAM_GROUPS = ("base", "vision", "text", "temporal_decoder", "tts_asa")
PARAM_GROUP_PREFIXES = (("backbone2d.body.", "vision"), ("text.", "text"), ("temporal_decoder.", "temporal_decoder"),
                        ("tts.", "tts_asa"), ("asa.", "tts_asa"))


class TASTVG(nn.Module):
    def __init__(self, cfg: TASTVGConfig) -> None:
        super().__init__()
        self.cfg = cfg
        m = cfg.model
        d = m.d_model
        self.backbone2d = Backbone2D(cfg.backbone2d, d)
        self.video_swin = VideoSwin(cfg.video_swin)
        self.video_proj = nn.Conv2d(self.video_swin.out_channels, d, kernel_size=1)
        self.text = TextEncoder(cfg.text, d)
        self.encoder = MultimodalEncoder(d, m.heads, m.ffn, m.dropout, m.enc_layers, m.efficient_attention)
        self.tts = TextGuidedTemporalSampling(d, m.bca_heads, m.bca_layers, m.tts_threshold, m.tts_appearance_weight,
                                              tuple(m.branches))
        self.asa = AttributeAwareSpatialActivation(d, m.bca_heads, m.bca_layers, m.app_num, m.mot_num, tuple(m.branches))
        self.temporal_pos = TemporalSine(m.max_video_len + 1, d)
        # initial anchors from frames_cls: LN -> dropout -> Linear(d, 4) -> ReLU -> LN(4) (then sigmoid)
        self.anchor_head = nn.Sequential(nn.LayerNorm(d, eps=1e-12), nn.Dropout(m.dropout), nn.Linear(d, 4),
                                         nn.ReLU(), nn.LayerNorm(4, eps=1e-12))
        self.spatial_decoder = SpatialDecoder(d, m.heads, m.ffn, m.dropout, m.dec_layers)
        self.temporal_decoder = TemporalDecoder(d, m.heads, m.ffn, m.dropout, m.dec_layers)
        self.box_head = MLP(d, d, 4, 3)
        self.sted_head = MLP(d, d, 2, 2, dropout=m.head_dropout)
        self.actioness_head = MLP(d, d, 1, 2, dropout=m.head_dropout)
        self._init_weights()
        if m.checkpointing:
            from tastvg.models.checkpointing import enable_activation_checkpointing

            enable_activation_checkpointing(self, tuple(m.checkpointing))

    def _init_weights(self) -> None:
        """Xavier-uniform for every >= 2-D tensor of the encoder, decoders and anchor head (official)."""
        for module in (self.encoder, self.spatial_decoder, self.temporal_decoder, self.anchor_head):
            for p in module.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

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
        """ResNet and Video Swin features ``[B*T, d, h, w]`` each, and the per-video map sizes.

        Without spatial padding the ResNet runs on all B*T frames at once; with it, each video runs
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
               image_pad: Tensor | None = None) -> dict[str, Any]:
        """Backbones + multimodal encoder. Returns token groups as ``[B, T, n, d]``."""
        b, t = frame_pad.shape
        lengths, sizes = self._check_padding(frames, frame_pad, image_pad)
        f2d, f3d, maps = self.visual_features(frames, lengths, sizes)
        d, h, w = f2d.shape[1:]
        n = h * w
        text, text_pad = self.text(text_ids, text_mask)  # [B, L, d], [B, L]
        l = text.shape[1]
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
        txt = text.unsqueeze(1).expand(b, t, l, d).reshape(b * t, l, d).transpose(0, 1)  # [L, B*T, d]
        x = torch.cat([f2d.flatten(2).permute(2, 0, 1), txt, f3d.flatten(2).permute(2, 0, 1)])
        zeros = pos.new_zeros(l, b * t, d)
        seq_pos = torch.cat([pos, zeros, pos])
        # key-padding masks are passed even when all False, as the official code does
        txt_pad = text_pad.unsqueeze(1).expand(b, t, l).reshape(b * t, l)
        if vis_pad is None:
            vis_rows = txt_pad.new_zeros(b * t, n)
        else:
            vis_rows = vis_pad.unsqueeze(1).expand(b, t, n).reshape(b * t, n)
        enc_pad = torch.cat([vis_rows, txt_pad, vis_rows], dim=1)
        mem = self.encoder(x, seq_pos, enc_pad)  # [2N+L, B*T, d]
        if bool(text_pad.any()) or vis_pad is not None:
            keep = (~enc_pad).to(mem.dtype).transpose(0, 1).unsqueeze(-1)
            frames_cls = (mem * keep).sum(0) / keep.sum(0)
        else:
            frames_cls = mem.mean(dim=0)  # [B*T, d]

        def group(a: Tensor) -> Tensor:
            return a.transpose(0, 1).reshape(b, t, a.shape[0], d)

        return {
            "frame_pad": frame_pad, "memory": mem, "pos": pos, "zeros": zeros,
            "txt_pad": txt_pad, "vis_rows": vis_rows, "vis_pad": vis_pad,
            "m2d": group(mem[:n]), "m3d": group(mem[n + l:]), "mtxt": group(mem[n:n + l]),
            "text_pad": text_pad, "frames_cls": frames_cls.view(b, t, d), "hw": (h, w), "maps": maps, "n": n, "l": l,
        }

    # ------------------------------------------------------------------------------------------
    def initial_queries(self, enc: dict[str, Any], asa: dict[str, Tensor] | None, selected: Tensor,
                        targets: dict[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        """(Q_s0, Q_t0), each [B, d], per ``cfg.model.query_init``."""
        m2d, m3d = enc["m2d"], enc["m3d"]
        mode = self.cfg.model.query_init
        if mode == "zero":
            zero = m2d.new_zeros(m2d.shape[0], m2d.shape[-1])
            return zero, zero
        if mode == "oracle":
            if targets is None or "boxes" not in targets or "actioness" not in targets:
                raise ValueError("query_init='oracle' needs targets with 'boxes' [B, T, 4] and 'actioness' [B, T]")
            h, w = enc["hw"]
            cells = box_token_mask_grid(targets["boxes"].to(m2d.dtype), enc["maps"], h, w)  # [B, T, N]
            gt_frames = targets["actioness"].to(m2d.dtype) * (~enc["frame_pad"]).to(m2d.dtype)
            cells = cells * gt_frames.unsqueeze(-1)
            count = cells.sum(dim=(1, 2)).clamp(min=1).unsqueeze(-1)
            return ((m2d * cells.unsqueeze(-1)).sum((1, 2)) / count, (m3d * cells.unsqueeze(-1)).sum((1, 2)) / count)
        pad = enc["vis_pad"]
        # no ASA (use_asa = False) or no such ASA branch: plain mean of the selected frames' tokens
        ones = m2d.new_ones(m2d.shape[:3])
        if pad is not None:
            ones = ones * (~pad).to(ones.dtype)[:, None, :]
        asa = asa or {}
        return (pool_query(m2d, asa.get("map_app", ones), selected, pad),
                pool_query(m3d, asa.get("map_mot", ones), selected, pad))

    def decode(self, enc: dict[str, Any], q_s: Tensor, q_t: Tensor, frame_pad: Tensor) -> dict[str, Tensor]:
        """Both decoders and heads. Returns per-layer tensors, batch first."""
        b, t = frame_pad.shape
        n, l, mem = enc["n"], enc["l"], enc["memory"]
        d = mem.shape[-1]
        time = self.temporal_pos(t).unsqueeze(1).expand(t, b, d)
        anchors = self.anchor_head(enc["frames_cls"]).sigmoid().transpose(0, 1)  # [T, B, 4]
        txt_pad, vis_rows = enc["txt_pad"], enc["vis_rows"]
        # the official spatial decoder uses no masks; we need them only when something is padded
        padded = bool(txt_pad.any()) or enc["vis_pad"] is not None
        s_pad = torch.cat([vis_rows, txt_pad], 1) if padded else None
        t_pad = torch.cat([txt_pad, vis_rows], 1)
        boxes = self.spatial_decoder(q_s.unsqueeze(0).expand(t, b, d), anchors, mem[: n + l],
                                     torch.cat([enc["pos"], enc["zeros"]]), s_pad, frame_pad, time, self.box_head)
        states = self.temporal_decoder(q_t.unsqueeze(0).expand(t, b, d), mem[n:],
                                       torch.cat([enc["zeros"], enc["pos"]]), t_pad, frame_pad, time)
        return {"boxes": boxes.transpose(1, 2), "sted": self.sted_head(states).transpose(1, 2),
                "actioness": self.actioness_head(states).squeeze(-1).transpose(1, 2)}

    # ------------------------------------------------------------------------------------------
    def forward(self, frames: Tensor, frame_pad: Tensor, text_ids: Tensor, text_mask: Tensor,
                targets: dict[str, Tensor] | None = None, image_pad: Tensor | None = None) -> dict[str, Any]:
        """One forward pass (two decoder passes in eval mode with ``two_pass``).

        ``image_pad`` [B, H, W] (True = padded pixel, bottom/right) lets videos of different frame
        sizes share a batch; each video then gets exactly its B = 1 numbers. ``targets`` is read
        only by ``query_init="oracle"`` (``boxes`` [B, T, 4], ``actioness`` [B, T]).

        Returns ``pred_boxes`` [B, T, 4], ``pred_sted`` [B, T, 2], ``pred_actioness`` [B, T],
        ``aux_outputs`` (same keys, decoder layers 0 .. L-2), ``logits_f_a`` /
        ``logits_f_m`` / ``att_sequences`` [B, T] (TTS, first pass), ``logits_r_a`` [B, APP] /
        ``logits_r_m`` [B, MOT] and ``map_app`` / ``map_mot`` [B, T, N] (ASA), ``selected``
        [B, T] (frames whose tokens formed the queries), ``frame_pad``, ``feature_hw`` (h, w) and
        ``feature_sizes`` (each video's own (h_i, w_i); tokens outside it are padding). The TTS/ASA
        keys of a module switched off (``use_tts``, ``use_asa``) or of a branch that
        ``model.branches`` leaves out are absent.
        """
        m = self.cfg.model
        enc = self.encode(frames, frame_pad, text_ids, text_mask, image_pad)
        out: dict[str, Any] = {"frame_pad": frame_pad, "feature_hw": enc["hw"], "feature_sizes": enc["maps"]}
        text_mean = masked_frame_mean(enc["mtxt"], ~frame_pad)  # [B, L, d]
        if m.use_tts:
            tts = self.tts(enc["m2d"].detach(), enc["m3d"].detach(), text_mean.detach(),
                           enc["text_pad"] if bool(enc["text_pad"].any()) else None, frame_pad, enc["vis_pad"])
            selected = tts.pop("selected")
            out.update(tts)
        else:
            selected = ~frame_pad
        asa = None
        if m.use_asa:
            asa = self.asa(enc["m2d"].detach(), enc["m3d"].detach(), text_mean[:, 0].detach(), enc["vis_pad"])
            out.update({k: v for k, v in asa.items() if k.startswith("map_")})
        q_s, q_t = self.initial_queries(enc, asa, selected, targets)
        dec = self.decode(enc, q_s, q_t, frame_pad)
        if not self.training and m.two_pass and m.query_init == "target_aware":
            selected = (dec["actioness"][-1].sigmoid() > m.action_threshold) & ~frame_pad
            selected = fallback_to_valid(selected, frame_pad)
            q_s, q_t = self.initial_queries(enc, asa, selected, targets)
            dec = self.decode(enc, q_s, q_t, frame_pad)
        for key, logits in (("logits_r_a", "frame_logits_app"), ("logits_r_m", "frame_logits_mot")):
            if asa is not None and logits in asa:
                out[key] = masked_frame_mean(asa[logits], selected)
        out["selected"] = selected
        out["pred_boxes"] = dec["boxes"][-1]
        out["pred_sted"], out["pred_actioness"] = dec["sted"][-1], dec["actioness"][-1]
        out["aux_outputs"] = [
            {"pred_boxes": dec["boxes"][i], "pred_sted": dec["sted"][i], "pred_actioness": dec["actioness"][i]}
            for i in range(len(dec["boxes"]) - 1)
        ]
        return out


def build_model(config: "str | TASTVGConfig | dict[str, Any]") -> TASTVG:
    """Build TA-STVG from a preset name, a YAML path, a dict or a :class:`TASTVGConfig`.

    Weights are random unless the config names local weight files (never downloaded here).
    """
    return TASTVG(resolve_config(config))
