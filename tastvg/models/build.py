"""``build_model(cfg)``: make every part of TA-STVG from the config and wire them (DETR's ``build()``).

The encoders and the query initialisation are chosen by name from small registries:

- :data:`BACKBONE2D` by ``backbone2d.kind``: ``cls(cfg.backbone2d, d_model)``, a module mapping
  frames ``[BT, 3, H, W]`` to ``[BT, d, H/s, W/s]`` (s = ``backbone2d.output_stride``, 32
  officially); its ``body`` is the optimiser's "vision" group and what activation checkpointing
  wraps (``body.layer*``);
- :data:`BACKBONE3D` by ``video_swin.kind``: ``cls(cfg.video_swin)``, a frozen module mapping one
  clip ``[1, 3, T, H, W]`` to per-frame features ``[T, C, H/s, W/s]`` (the same grid), with
  ``out_channels = C``;
- :data:`TEXT_ENCODERS` by ``text.kind``: ``cls(cfg.text, d_model)``, a module mapping
  ``(input_ids, attention_mask)`` [B, L] to (``E`` [B, L, d], padding mask [B, L], True = pad);
- :data:`tastvg.models.queries.QUERY_INITS` by ``model.query_init``.

A new encoder is one class and one registry line, e.g. ``TEXT_ENCODERS["clip"] = ClipText``;
the config then accepts ``text.kind: clip``. Parts are made in a fixed order (the order of the
official model's constructor), so the random initialisation under a seed is always the same.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import torch
from torch import nn

from tastvg.config import TASTVGConfig, resolve_config
from tastvg.models.asa import AttributeAwareSpatialActivation
from tastvg.models.backbone2d import Backbone2D
from tastvg.models.decoder import MLP, SpatialDecoder, TemporalDecoder
from tastvg.models.encoder import MultimodalEncoder
from tastvg.models.queries import QUERY_INITS
from tastvg.models.tastvg import TASTVG
from tastvg.models.text import TextEncoder
from tastvg.models.tts import TextGuidedTemporalSampling
from tastvg.models.video_swin import VideoSwin

BACKBONE2D: dict[str, Callable[..., nn.Module]] = {"resnet": Backbone2D}
BACKBONE3D: dict[str, Callable[..., nn.Module]] = {"video_swin": VideoSwin}
TEXT_ENCODERS: dict[str, Callable[..., nn.Module]] = {"roberta": TextEncoder}

T = TypeVar("T")


def choose(registry: dict[str, T], kind: str, field: str) -> T:
    """``registry[kind]``, or a ValueError naming the config field and the choices."""
    if kind not in registry:
        raise ValueError(f"{field}: {kind!r} is not one of {list(registry)}")
    return registry[kind]


def anchor_head(d: int, dropout: float) -> nn.Sequential:
    """Initial anchors from ``frames_cls``: LN -> dropout -> Linear(d, 4) -> ReLU -> LN(4) (then sigmoid)."""
    return nn.Sequential(nn.LayerNorm(d, eps=1e-12), nn.Dropout(dropout), nn.Linear(d, 4), nn.ReLU(),
                         nn.LayerNorm(4, eps=1e-12))


def init_transformer_weights(model: TASTVG) -> None:
    """Xavier-uniform for every >= 2-D tensor of the encoder, decoders and anchor head (official),
    in this order, after all parts exist."""
    for module in (model.encoder, model.spatial_decoder, model.temporal_decoder, model.anchor_head):
        for p in module.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)


def without_initial_weights(cfg: TASTVGConfig) -> TASTVGConfig:
    """A copy of ``cfg`` that loads no initialisation file (``backbone2d.weights``,
    ``video_swin.weights``, ``model.grounding_weights``): for rebuilding a trained model whose own
    state dict replaces every tensor those files set, so that it loads from any working folder,
    without the (often relative) pretraining paths its run was configured with."""
    import copy

    out = copy.deepcopy(cfg)
    out.backbone2d.weights = out.video_swin.weights = out.model.grounding_weights = None
    return out


def load_grounding_weights(model: nn.Module, path: str) -> list[str]:
    """Load the tensors of a `tastvg pretrain grounding` checkpoint (``model.grounding_weights``:
    the CPU book's MDETR stand-in, in TA-STVG's own names, :mod:`tastvg.grounding_pretrain`) whose
    names and shapes match ``model``; returns their names. A file that matches nothing is an error,
    naming the file. A departure where used: the official MDETR load covers only the spatial
    decoder's standard parts."""
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(f"model.grounding_weights: {path} is not a file (made by `tastvg pretrain grounding`)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(f"model.grounding_weights: {path}: no tensor matches this model's names and shapes")
    model.load_state_dict(matched, strict=False)
    return sorted(matched)


def build_model(config: "str | TASTVGConfig | dict[str, Any]") -> TASTVG:
    """Build TA-STVG from a preset name, a YAML path, a dict or a :class:`TASTVGConfig`.

    Weights are random unless the config names local weight files (never downloaded here).
    """
    cfg = resolve_config(config)
    m, d = cfg.model, cfg.model.d_model
    make_2d = choose(BACKBONE2D, cfg.backbone2d.kind, "backbone2d.kind")
    make_3d = choose(BACKBONE3D, cfg.video_swin.kind, "video_swin.kind")
    make_text = choose(TEXT_ENCODERS, cfg.text.kind, "text.kind")
    make_queries = choose(QUERY_INITS, m.query_init, "model.query_init")
    branches = tuple(m.branches)
    backbone2d = make_2d(cfg.backbone2d, d)
    video_swin = make_3d(cfg.video_swin)
    video_proj = nn.Conv2d(video_swin.out_channels, d, kernel_size=1)
    text = make_text(cfg.text, d)
    encoder = MultimodalEncoder(d, m.heads, m.ffn, m.dropout, m.enc_layers, m.efficient_attention)
    tts = TextGuidedTemporalSampling(d, m.bca_heads, m.bca_layers, m.tts_threshold, m.tts_appearance_weight, branches)
    asa = AttributeAwareSpatialActivation(d, m.bca_heads, m.bca_layers, m.app_num, m.mot_num, branches)
    anchors = anchor_head(d, m.dropout)
    spatial_decoder = SpatialDecoder(d, m.heads, m.ffn, m.dropout, m.dec_layers)
    temporal_decoder = TemporalDecoder(d, m.heads, m.ffn, m.dropout, m.dec_layers)
    box_head = MLP(d, d, 4, 3)
    sted_head = MLP(d, d, 2, 2, dropout=m.head_dropout)
    actioness_head = MLP(d, d, 1, 2, dropout=m.head_dropout)
    # a learned strategy draws its numbers without moving the global generator, so every other
    # part starts from the same weights under a seed whatever the query initialisation
    with torch.random.fork_rng(devices=[]):
        query_init = make_queries(m)
    model = TASTVG(cfg, backbone2d=backbone2d, video_swin=video_swin, video_proj=video_proj, text=text,
                   encoder=encoder, tts=tts, asa=asa, anchor_head=anchors, spatial_decoder=spatial_decoder,
                   temporal_decoder=temporal_decoder, box_head=box_head, sted_head=sted_head,
                   actioness_head=actioness_head, query_init=query_init)
    init_transformer_weights(model)
    if m.grounding_weights:
        load_grounding_weights(model, m.grounding_weights)
    if m.checkpointing:
        from tastvg.models.checkpointing import enable_activation_checkpointing

        enable_activation_checkpointing(model, tuple(m.checkpointing))
    return model
