"""Convert an official TA-STVG checkpoint (``HengLan/TA-STVG``) to this package's parameter names.

``tastvg convert-official IN OUT [--preset paper-hcstvg]``: IN is a ``.pth`` holding ``model_ema``
and/or ``model`` (``model_ema`` is preferred, like the official test script) or a bare state_dict;
OUT is a ``.pth`` with ``{"model": state_dict, "config": <resolved config dict>}``.

The mapping is a short table of prefix renames. Dropped on purpose, and only these:
the official dead modules (they get no gradient and stay at their initial values, see the
manifest README), the 10 alias keys of the shared box/actioness heads (checked to be equal to
their owners) and RoBERTa's ``position_ids`` buffer (transformers < 4.31). Anything else that does
not map, a missing key or a shape mismatch raises ``ValueError`` listing the keys.
"""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

# official prefix -> our prefix (first match wins)
PREFIX_MAP: list[tuple[str, str]] = [
    ("vis_encoder.0.body.", "backbone2d.body."),
    ("input_proj.", "backbone2d.input_proj."),
    ("input_proj2.", "video_proj."),
    ("vid.", "video_swin."),
    ("text_encoder.body.", "text.roberta."),
    ("text_encoder.resizer.", "text.resizer."),
    ("s_temporal_clas.", "tts.appearance."),
    ("t_temporal_clas.", "tts.motion."),
    ("s_spatial_clas.", "asa.appearance."),
    ("t_spatial_clas.", "asa.motion."),
    ("ground_encoder.encoder.spatial_layers.", "encoder.layers."),
    ("ground_encoder.encoder.norm.", "encoder.norm."),
    ("ground_decoder.decoder.layers.", "spatial_decoder.layers."),
    ("ground_decoder.decoder.query_scale.", "spatial_decoder.query_scale."),
    ("ground_decoder.decoder.ref_point_head.", "spatial_decoder.ref_point_head."),
    ("ground_decoder.time_decoder.", "temporal_decoder."),
    ("ground_decoder.time_embed.", "temporal_pos."),
    ("ground_decoder.pos_fc.", "anchor_head."),
    ("temp_embed.", "sted_head."),
    ("bbox_embed.", "box_head."),
    ("action_embed.", "actioness_head."),
]

# Official tensors that forward() never uses (checked on the official model; manifest "never get a gradient").
DEAD_PATTERNS: list[str] = [
    r"ground_encoder\.encoder\.temporal_layers\.",
    r"ground_encoder\.encoder\.(local_pos_embed|frame_cls|video_cls)\.",
    r"ground_encoder\.encoder\.time_embed\.te$",  # sine buffer of the unused temporal layers
    r"ground_encoder\.fusion\.",
    r"text_encoder\.body\.pooler\.",
    r"[st]_(temporal|spatial)_clas\.(class_embedding|positional_embedding)$",
    r"[st]_(temporal|spatial)_clas\.layer_ca\.\d+\.memory_intermediate\.",
    r"ground_decoder\.decoder\.layers\.\d+\.ca_qtime_proj\.",
    r"ground_decoder\.decoder\.(norm|norm2|gf_mlp|gf_mlp2|fuse_linear)\.",
    r"ground_decoder\.time_fc\.",
]

# second names of shared modules: alias key prefix -> owner prefix
ALIASES: dict[str, str] = {
    "ground_decoder.decoder.bbox_embed.": "bbox_embed.",
    "ground_decoder.time_embed2.": "action_embed.",
}

POSITION_IDS = "text_encoder.body.embeddings.position_ids"
_DEAD_RE = re.compile("|".join(f"(?:{p})" for p in DEAD_PATTERNS))


def is_dead(key: str) -> bool:
    return _DEAD_RE.match(key) is not None


def _rename(key: str) -> str | None:
    for old, new in PREFIX_MAP:
        if key.startswith(old):
            return new + key[len(old):]
    return None


def to_official_name(name: str) -> str:
    """Our parameter name -> the official one: :data:`PREFIX_MAP` read backwards (first match wins).

    The inverse of the renaming :func:`convert_official_checkpoint` applies, e.g.
    ``"backbone2d.input_proj.weight"`` -> ``"input_proj.weight"``. Raises ``KeyError`` for a name
    under none of our prefixes.
    """
    for official, ours in PREFIX_MAP:
        if name.startswith(ours):
            return official + name[len(ours):]
    raise KeyError(f"{name!r} is under none of our prefixes in PREFIX_MAP")


def _expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """State-dict shapes of our model for ``config``, built on the meta device (no memory)."""
    from tastvg.config import resolve_config
    from tastvg.models.build import build_model

    cfg = copy.deepcopy(resolve_config(config))  # never touch the caller's config
    cfg.backbone2d.weights = cfg.video_swin.weights = cfg.text.weights = None
    with torch.device("meta"):
        model = build_model(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _fmt(keys: list[str], limit: int = 20) -> str:
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def convert_official_checkpoint(state_dict: Mapping[str, Tensor], config: Any) -> dict[str, Tensor]:
    """Map an official TA-STVG state_dict onto ours for ``config`` (preset name or config).

    Raises ``ValueError`` on unknown keys, missing keys, shape mismatches or alias keys whose
    values differ from their owners.
    """
    out: dict[str, Tensor] = {}
    unknown, alias_mismatch = [], []
    for key, value in state_dict.items():
        if key == POSITION_IDS or is_dead(key):
            continue
        alias = next((a for a in ALIASES if key.startswith(a)), None)
        if alias is not None:
            owner = ALIASES[alias] + key[len(alias):]
            if owner in state_dict and not torch.equal(state_dict[owner], value):
                alias_mismatch.append(key)
            continue
        new = _rename(key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    expected = _expected_shapes(config)
    missing = sorted(k for k in expected if k not in out)
    extra = sorted(k for k in out if k not in expected)
    shapes = sorted(f"{k}: {tuple(out[k].shape)} vs ours {expected[k]}"
                    for k in out if k in expected and tuple(out[k].shape) != expected[k])
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} unknown official key(s): {_fmt(unknown)}")
    if extra:
        problems.append(f"{len(extra)} key(s) map to no parameter of ours: {_fmt(extra)}")
    if missing:
        problems.append(f"{len(missing)} key(s) of ours missing from the checkpoint: {_fmt(missing)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {_fmt(shapes)}")
    if alias_mismatch:
        problems.append(f"alias key(s) differ from their owner: {_fmt(alias_mismatch)}")
    if problems:
        raise ValueError("cannot convert official checkpoint: " + "; ".join(problems))
    return out


def extract_state_dict(obj: Any, key: str | None = None) -> dict[str, Tensor]:
    """The state_dict inside a loaded official ``.pth`` (``model_ema`` preferred, then ``model``)."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a dict in the checkpoint, got {type(obj).__name__}")
    if key is not None:
        if key not in obj:
            raise ValueError(f"checkpoint has no '{key}' entry (entries: {', '.join(map(str, obj))})")
        return dict(obj[key])
    for k in ("model_ema", "model"):
        if k in obj and isinstance(obj[k], Mapping):
            return dict(obj[k])
    if all(torch.is_tensor(v) for v in obj.values()):
        return dict(obj)
    raise ValueError(f"no 'model_ema'/'model' entry and not a bare state_dict (entries: {_fmt(list(map(str, obj)))})")


def read_official(src: Path, trust_pickle: bool = False) -> Any:
    """``torch.load`` of an official ``.pth`` with one clear line, naming the file, for each failure."""
    try:
        return torch.load(src, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        if not trust_pickle and "weights_only" in str(err):
            raise SystemExit(f"error: convert-official: {src} holds objects beyond tensors and containers; rerun "
                             "with --trust-pickle if you trust the file") from None
        raise SystemExit(f"error: convert-official: {src} is not a PyTorch checkpoint (not a .pth file?)") from None
    except Exception as err:  # zip errors of a truncated file, a text file's stray bytes, ...
        from tastvg.train.checkpoint import first_line

        raise SystemExit(f"error: convert-official: cannot read {src} as a PyTorch checkpoint: truncated or not "
                         f"a .pth file ({first_line(err)})") from None
