"""Activation checkpointing: trade compute for memory on the parts that hold the most activations.

At 64 frames of 420x588 the trainable ResNet stages (layer2-4 run on every frame) and the 6
encoder layers (2N + L tokens per frame) keep most of the activations alive for the backward pass.
Wrapped modules keep only their inputs and recompute their forward during backward
(``torch.utils.checkpoint``, non-reentrant, RNG state preserved so dropout masks are identical:
the gradients are the same as without checkpointing).
"""

from __future__ import annotations

import types

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

PARTS = ("backbone2d", "encoder", "decoders")


def _checkpointed_forward(self: nn.Module, *args, **kwargs):
    forward = type(self).forward
    if self.training and torch.is_grad_enabled():
        return checkpoint(forward, self, *args, use_reentrant=False, **kwargs)
    return forward(self, *args, **kwargs)


def checkpoint_module(module: nn.Module) -> None:
    """Make ``module`` recompute its forward in backward whenever it trains with gradients.

    The wrapper is a method bound to ``module``, so a deep copy (the EMA model) gets a wrapper
    bound to the copy and runs on the copy's weights.
    """
    if isinstance(module.__dict__.get("forward"), types.MethodType):
        return  # already wrapped
    module.forward = types.MethodType(_checkpointed_forward, module)


def enable_activation_checkpointing(model: nn.Module, parts: tuple[str, ...] = ("backbone2d", "encoder")) -> list[str]:
    """Checkpoint the named parts of a TA-STVG model; returns the wrapped module names."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown checkpointing parts {sorted(unknown)}; choose among {PARTS}")
    targets: list[tuple[str, nn.Module]] = []
    if "backbone2d" in parts:
        body = model.backbone2d.body
        targets += [(f"backbone2d.body.{n}", m) for n, m in body.named_children()
                    if n.startswith("layer") and any(p.requires_grad for p in m.parameters())]
    if "encoder" in parts:
        targets += [(f"encoder.layers.{i}", m) for i, m in enumerate(model.encoder.layers)]
    if "decoders" in parts:
        targets += [(f"spatial_decoder.layers.{i}", m) for i, m in enumerate(model.spatial_decoder.layers)]
        targets += [(f"temporal_decoder.layers.{i}", m) for i, m in enumerate(model.temporal_decoder.layers)]
    for _, module in targets:
        checkpoint_module(module)
    return [name for name, _ in targets]
