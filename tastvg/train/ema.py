"""Exponential moving average of the weights, used for every evaluation (as officially).

After each optimiser step, ``w_ema <- decay * w_ema + (1 - decay) * w`` over the whole state dict
(parameters and floating-point buffers). Integer buffers (e.g. token position ids) are copied: the
official code also blends them, which only works because it never reads them.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel (or similar) wrapper."""
    return model.module if hasattr(model, "module") else model


class ModelEMA:
    """A frozen copy of a model whose weights follow the model's as an exponential average."""

    def __init__(self, model: nn.Module, decay: float = 0.9998) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        current = unwrap(model).state_dict()
        for key, ema_value in self.module.state_dict().items():
            value = current[key].detach()
            if ema_value.is_floating_point():
                ema_value.mul_(self.decay).add_(value.to(ema_value.dtype), alpha=1.0 - self.decay)
            else:
                ema_value.copy_(value)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.module.load_state_dict(state["module"])
