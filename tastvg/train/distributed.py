"""Distributed data parallel without hand-made process launching: ``torchrun`` sets the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), this
module reads it. NCCL on GPUs, gloo on CPUs.

    torchrun --nproc_per_node 8 --max-restarts 3 -m tastvg.train --config paper-hcstvg ... --resume auto
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --nproc_per_node 8 -m tastvg.train ... --resume auto
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: this process's GPU when CUDA is available, else the CPU."""
    if requested == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available; use --device cpu or auto")
    return device


def _attempt_store(world_size: int) -> dist.Store:
    """The rendezvous store of this attempt (``torchrun --max-restarts`` restarts keep the store that
    torchrun's agent hosts): keys are prefixed with the restart count, so that a restarted worker
    never reads the address of a dead worker of an earlier attempt."""
    from datetime import timedelta

    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ.get("MASTER_ADDR", "localhost"), int(os.environ.get("MASTER_PORT", "29500")),
                          world_size, is_master=not agent_store and os.environ.get("RANK", "0") == "0",
                          timeout=timedelta(minutes=10), multi_tenant=not agent_store)
    return dist.PrefixStore(f"tastvg/attempt_{attempt}/", store)


def init_distributed(requested_device: str = "auto") -> DistInfo:
    """Join the process group that ``torchrun`` prepared, or run alone when there is none."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", store=_attempt_store(world_size),
                                rank=rank, world_size=world_size)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a list of one element when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, device: torch.device | None = None) -> bool:
    """True on every rank if ``flag`` is True on any rank (``flag`` itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device or torch.device("cpu"))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """The mean over ranks of each scalar (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist()))


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
