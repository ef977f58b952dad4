"""Initialisation from MDETR's ResNet-101 pre-training (as the official training does), from a local file only.

The official training renames its keys to MDETR names and loads whatever matches, non-strictly:
ResNet (incl. frozen-BN statistics), RoBERTa and the resizer, ``input_proj``, ``bbox_embed``, the
six encoder layers, and the spatial-decoder parts whose names and shapes coincide (standard
self-attention, FFN and norms). Everything else keeps its random initialisation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor, nn

# MDETR prefix -> our prefix
MDETR_MAP: list[tuple[str, str]] = [
    ("backbone.0.body.", "backbone2d.body."),
    ("input_proj.", "backbone2d.input_proj."),
    ("transformer.text_encoder.", "text.roberta."),
    ("transformer.resizer.", "text.resizer."),
    ("transformer.encoder.layers.", "encoder.layers."),
    ("bbox_embed.", "box_head."),
    ("transformer.decoder.layers.", "spatial_decoder.layers."),
]
# of the decoder layers only the parts that exist under the same name in ours
_DECODER_PART = re.compile(r"spatial_decoder\.layers\.\d+\.(self_attn|linear1|linear2|norm1|norm3|norm4)\.")


def mdetr_to_ours(state: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The subset of an MDETR state_dict that maps onto ``own`` with equal shapes."""
    out = {}
    for key, value in state.items():
        for old, new in MDETR_MAP:
            if key.startswith(old):
                ours = new + key[len(old):]
                if ours.startswith("spatial_decoder.") and not _DECODER_PART.match(ours):
                    break
                if ours in own and own[ours].shape == value.shape:
                    out[ours] = value
                break
    return out


def load_mdetr_weights(model: nn.Module, path: str | Path) -> list[str]:
    """Load ``path`` (MDETR ``pretrained_resnet101_checkpoint.pth``) into ``model``; returns the keys set."""
    import argparse

    with torch.serialization.safe_globals([argparse.Namespace]):  # MDETR stores its args as a Namespace
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("model", ckpt)
    own = model.state_dict()
    matched = mdetr_to_ours(state, own)
    model.load_state_dict(matched, strict=False)
    return sorted(matched)
