"""Parameter groups and learning-rate schedules of the official recipe.

The official code builds five AdamW groups by parameter-name substring and, **after** every
optimiser step ``k = 1, 2, ...``, sets each group's learning rate to ``lr_group * factor(k)``.
So the very first step runs at the full configured rates, warm-up groups included.

With ``S`` total steps, ``E`` epochs, ``S_w = round(warmup_prop * S)`` and the epoch
``e = k // round(S / E)``:

* ``multistep_with_warmup`` (HC-STVG): base, vision and target-aware (TTS/ASA) groups use
  ``0.1 ** (number of drop epochs <= e)``; the text and temporal-decoder groups warm up linearly
  from 0 over ``S_w`` steps, then decay linearly to 0 at ``S``.
* ``multistep_with_warmup_all`` (VidSTG): every group warms up linearly over ``S_w`` steps, then
  uses ``0.1 ** (number of drop epochs <= e)``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from tastvg.models import PARAM_GROUPS

# The one definition of the optimiser groups (names, and the name prefixes that assign TA-STVG's
# parameters to them) is the model's; toy models in tests pass rules of their own.
GROUPS = PARAM_GROUPS
SCHEDULES = ("multistep_with_warmup", "multistep_with_warmup_all", "constant")


def lr_factors(
    schedule: str,
    step: int,
    total_steps: int,
    epochs: int,
    drop_epochs: Sequence[int],
    warmup_prop: float = 0.01,
) -> dict[str, float]:
    """The multiplier of each group's configured learning rate after optimiser step ``step``.

    Args:
        schedule: one of ``SCHEDULES`` (``"constant"``: factor 1 everywhere, for small runs).
        step: the number of optimiser steps taken so far (>= 1 when called after a step).
        total_steps: ``S``, the planned number of optimiser steps of the whole run.
        epochs: ``E``, the planned number of epochs (sets the epoch length ``round(S / E)``).
        drop_epochs: the epochs from which the rate is multiplied by a further 0.1.
        warmup_prop: the warm-up length as a fraction of ``S``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if schedule == "constant":
        return dict.fromkeys(GROUPS, 1.0)
    if total_steps < 1 or epochs < 1:
        raise ValueError(f"total_steps ({total_steps}) and epochs ({epochs}) must be >= 1")
    warmup = round(warmup_prop * total_steps)
    epoch = step // max(1, round(total_steps / epochs))
    drop = 0.1 ** bisect_right(list(drop_epochs), epoch)
    if schedule == "multistep_with_warmup":
        if step < warmup:
            ramp = step / max(1, warmup)
        else:
            ramp = max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        return {"base": drop, "vision": drop, "tts_asa": drop, "text": ramp, "temporal_decoder": ramp}
    factor = step / max(1, warmup) if step < warmup else drop
    return dict.fromkeys(GROUPS, factor)


def assign_param_groups(model: nn.Module, rules: Sequence[tuple[str, str]]) -> dict[str, list[nn.Parameter]]:
    """Split the trainable parameters of ``model`` into the named groups.

    Args:
        rules: ``(prefix, group)`` pairs tried in order on each parameter name; the first
            prefix the name starts with decides the group; no match means ``"base"``.
            TA-STVG's are :data:`tastvg.models.PARAM_GROUP_PREFIXES`. (The official code
            matches the substrings ``vis_encoder``, ``text_encoder``,
            ``ground_decoder.time_decoder`` and ``_clas`` of its own names.)

    Returns:
        ``{group: [parameters]}`` for every group of ``GROUPS`` (possibly empty lists).
    """
    unknown = {g for _, g in rules} - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown parameter groups {sorted(unknown)}; choose among {GROUPS}")
    groups: dict[str, list[nn.Parameter]] = {g: [] for g in GROUPS}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        group = next((g for prefix, g in rules if name.startswith(prefix)), "base")
        groups[group].append(param)
    return groups


def build_optimizer(
    model: nn.Module,
    rules: Sequence[tuple[str, str]],
    lrs: Mapping[str, float],
    weight_decay: float = 1e-4,
) -> torch.optim.AdamW:
    """AdamW with one parameter group per entry of ``GROUPS`` (empty groups are kept, so group
    indices are stable), each with its configured rate stored as ``initial_lr``."""
    missing = [g for g in GROUPS if g not in lrs]
    if missing:
        raise ValueError(f"no learning rate for parameter groups {missing}")
    params = assign_param_groups(model, rules)
    param_groups = [
        {"params": params[g], "lr": float(lrs[g]), "initial_lr": float(lrs[g]), "name": g} for g in GROUPS
    ]
    return torch.optim.AdamW(param_groups, lr=float(lrs["base"]), weight_decay=weight_decay)


def apply_lr(optimizer: torch.optim.Optimizer, factors: Mapping[str, float]) -> None:
    """Set every named group's rate to ``initial_lr * factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factors[group["name"]]


def current_lrs(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    return {group["name"]: group["lr"] for group in optimizer.param_groups}


def count_parameters(groups: Mapping[str, Iterable[nn.Parameter]]) -> dict[str, int]:
    return {g: sum(p.numel() for p in ps) for g, ps in groups.items()}
