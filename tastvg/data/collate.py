"""Batch B >= 1 samples of :class:`~tastvg.data.dataset.STVGDataset` whose clips differ in length
(and possibly in frame size) into padded tensors.

Mask convention: **True = padding** (as ``key_padding_mask`` in ``torch.nn.MultiheadAttention``
and ``frame_pad`` of :class:`tastvg.models.tastvg.TASTVG`). Frames are padded at the end of the
clip and at the bottom/right of each frame with zeros.

Output::

    frames     float32 [B, T_max, 3, H_max, W_max]
    frame_pad  bool    [B, T_max]            True = padded frame
    image_pad  bool    [B, H_max, W_max]     True = padded pixel (all False when sizes agree)
    text_ids, text_mask  int64 [B, L]        only with a tokenizer; mask 1 = real token
    targets:   boxes [B, T_max, 4] (normalised to each video's own H0 x W0), actioness [B, T_max],
               frame_ids [B, T_max] (-1 on padding), attr_app [B, APP], attr_mot [B, MOT],
               sizes [B, 2] (H0, W0), orig_sizes [B, 2] (h, w)
    item_ids, video_ids, sentences, subjects, texts, qtypes: lists of length B
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch


def collate_stvg(samples: Sequence[dict[str, Any]], tokenizer: Optional[Callable[..., Any]] = None) -> dict[str, Any]:
    """Pad and stack ``samples``; with a Hugging Face ``tokenizer``, also tokenize ``text``
    (``"subject sentence"``) with padding to the longest and no truncation (official)."""
    if not samples:
        raise ValueError("collate_stvg: empty batch")
    b = len(samples)
    t_max = max(s["frames"].shape[0] for s in samples)
    h_max = max(s["frames"].shape[2] for s in samples)
    w_max = max(s["frames"].shape[3] for s in samples)
    frames = samples[0]["frames"].new_zeros(b, t_max, 3, h_max, w_max)
    frame_pad = torch.ones(b, t_max, dtype=torch.bool)
    image_pad = torch.ones(b, h_max, w_max, dtype=torch.bool)
    boxes = torch.zeros(b, t_max, 4)
    actioness = torch.zeros(b, t_max)
    frame_ids = torch.full((b, t_max), -1, dtype=torch.long)
    for i, s in enumerate(samples):
        t, _, h, w = s["frames"].shape
        frames[i, :t, :, :h, :w] = s["frames"]
        frame_pad[i, :t] = False
        image_pad[i, :h, :w] = False
        boxes[i, :t] = s["boxes"]
        actioness[i, :t] = s["actioness"]
        frame_ids[i, :t] = s["frame_ids"]
    targets = {"boxes": boxes, "actioness": actioness, "frame_ids": frame_ids,
               "attr_app": torch.stack([s["attr_app"] for s in samples]),
               "attr_mot": torch.stack([s["attr_mot"] for s in samples]),
               "sizes": torch.tensor([list(s["size"]) for s in samples], dtype=torch.long),
               "orig_sizes": torch.tensor([list(s["orig_size"]) for s in samples], dtype=torch.long)}
    batch: dict[str, Any] = {"frames": frames, "frame_pad": frame_pad, "image_pad": image_pad, "targets": targets}
    for key in ("item_id", "video_id", "sentence", "subject", "text", "qtype"):
        batch[key + "s"] = [s[key] for s in samples]
    if tokenizer is not None:
        enc = tokenizer(batch["texts"], padding=True, return_tensors="pt")
        batch["text_ids"], batch["text_mask"] = enc["input_ids"], enc["attention_mask"]
    return batch


class Collator:
    """Picklable ``collate_fn`` for ``DataLoader(num_workers > 0)`` carrying a tokenizer."""

    def __init__(self, tokenizer: Optional[Callable[..., Any]] = None) -> None:
        self.tokenizer = tokenizer

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return collate_stvg(samples, self.tokenizer)
