"""A distributed, shuffling sampler that can stop mid-epoch and resume at the same sample.

Each epoch draws one permutation from ``seed + epoch`` (the same on every rank), keeps a whole
number of optimiser steps for every rank (the rest is dropped, as ``drop_last``), and gives rank
``r`` the positions ``r, r + world, r + 2 world, ...``. ``advance(k)`` records that ``k`` samples
of the epoch were consumed; a new iterator starts after them.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    def __init__(self, num_samples: int, world_size: int = 1, rank: int = 0, seed: int = 0,
                 batch_size: int = 1, shuffle: bool = True) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.num_samples, self.world_size, self.rank = num_samples, world_size, rank
        self.seed, self.batch_size, self.shuffle = seed, batch_size, shuffle
        self.batches_per_epoch = num_samples // (world_size * batch_size)
        self.per_rank = self.batches_per_epoch * batch_size
        self.epoch = 0
        self.consumed = 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.consumed = epoch, 0

    def advance(self, n: int) -> None:
        self.consumed += n

    def indices(self) -> list[int]:
        """This rank's sample indices for the current epoch, in order."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=g).tolist()
        else:
            order = list(range(self.num_samples))
        order = order[: self.per_rank * self.world_size]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices()[self.consumed :])

    def __len__(self) -> int:
        return max(0, self.per_rank - self.consumed)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed:
            raise ValueError(f"checkpoint was written with data seed {state['seed']}, this run uses {self.seed}")
        self.epoch, self.consumed = state["epoch"], state["consumed"]
