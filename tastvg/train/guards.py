"""Stop a run before anything non-finite reaches a checkpoint.

Three checks per optimiser step, each naming the step, the micro-batch, the sample ids and, for
gradients and weights, the first offending parameter:

1. every micro-batch's loss is finite (on every rank: all ranks stop together under DDP);
2. the global gradient norm is finite, checked before clipping (skipped under an fp16 gradient
   scaler, which skips such steps by design); the gradients are all-reduced, so every rank agrees;
3. the updated weights are finite.

A weight can also blow up to a *finite* value (1e30 after one step at a huge learning rate) that
only the next loss reveals. That is why the engine commits a periodic checkpoint of step ``k`` only
once step ``k + 1`` has produced a finite loss and gradient from those weights
(:meth:`tastvg.train.engine.Trainer.train_step`).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

from tastvg.train.distributed import all_gather_objects, any_rank


class NonFiniteLossError(RuntimeError):
    """The loss, the gradient or the weights became NaN or infinite; nothing was saved for this step."""


def _where(step: int, micro: int | None, ids: Iterable[str]) -> str:
    at = f"optimiser step {step}" + (f" (micro-batch {micro})" if micro is not None else "")
    return f"{at}; samples {list(ids)}"


def check_loss(loss: torch.Tensor, parts: dict[str, float], step: int, micro: int, ids: list[str],
               last_good: str) -> None:
    """Raise on every rank if the loss of this micro-batch is non-finite on any rank."""
    bad = not bool(torch.isfinite(loss.detach()).all())
    if not any_rank(bad, loss.device):
        return
    reports = all_gather_objects((bad, float(loss.detach()), ids, parts))
    rank, (_, value, bad_ids, terms) = next((i, r) for i, r in enumerate(reports) if r[0])
    on = f" on rank {rank}" if len(reports) > 1 else ""
    raise NonFiniteLossError(f"loss is {value}{on} at {_where(step, micro, bad_ids)}; terms {terms}. "
                             f"Nothing was saved for this step; {last_good}")


def first_non_finite(named: Iterable[tuple[str, torch.Tensor | None]]) -> str | None:
    """The name of the first tensor holding a NaN or an infinity (None if all are finite).

    One reduction over all tensors first (a single device sync); names are searched only on failure.
    """
    items = [(n, t.detach()) for n, t in named if t is not None]
    if not items:
        return None
    norms = torch._foreach_norm([t.float() for _, t in items])
    if bool(torch.isfinite(torch.stack(norms)).all()):
        return None  # (a norm overflows only if some entry is above ~1e19: then the search below decides)
    return next((n for n, t in items if not bool(torch.isfinite(t).all())), None)


def non_finite_gradient(model: nn.Module, step: int, ids: list[str], last_good: str) -> NonFiniteLossError:
    """The error for a non-finite global gradient norm, naming the first parameter with a bad
    gradient (call it before clipping, which spreads a NaN to every gradient)."""
    grads = [p.grad.detach().float() for p in model.parameters() if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))) if grads else float("nan")
    name = first_non_finite((n, p.grad) for n, p in model.named_parameters())
    return NonFiniteLossError(f"gradient norm is {norm} at {_where(step, None, ids)}; first parameter with a "
                              f"non-finite gradient: {name}. Nothing was saved for this step; {last_good}")


def check_weights(model: nn.Module, step: int, ids: list[str], last_good: str) -> None:
    """Raise if an update left a non-finite weight, naming the first one."""
    name = first_non_finite(model.named_parameters())
    if name is not None:
        raise NonFiniteLossError(f"weights became non-finite at {_where(step, None, ids)}; first parameter: {name}. "
                                 f"Nothing was saved for this step; {last_good}")


def describe_last_good(path: Any, step: int | None) -> str:
    """The end of every guard message: which checkpoint is known good."""
    if step is None:
        return "no checkpoint was written yet"
    return f"the last good checkpoint is {path} (step {step}; resume it with a lower learning rate)"
