"""A tiny regression 'grounding' task for testing the training engine in milliseconds.

Each sample has 4 features; the model predicts where a 10-frame moment ends. Predictions become
tubes so the real evaluator scores them. ``ToyTask`` can also misbehave on purpose at its N-th loss
call: a NaN loss, a crash (an exception), a signal to its own process (SIGINT, SIGTERM, SIGKILL).
"""

from __future__ import annotations

import os
import signal

import torch
from torch import nn
from torch.utils.data import Dataset


class ToyDataset(Dataset):
    def __init__(self, n: int = 24, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([0.5, -0.3, 0.2, 0.1]) + 1.0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return {"id": f"toy_{i}", "x": self.x[i], "y": self.y[i]}


def collate(items):
    return {"ids": [it["id"] for it in items], "x": torch.stack([it["x"] for it in items]),
            "y": torch.stack([it["y"] for it in items])}


class ToyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 16)
        self.dropout = nn.Dropout(0.1)  # uses the RNG, so resume must restore it
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.dropout(torch.relu(self.encoder(x)))).squeeze(-1)


def tube(end: int) -> dict:
    return {"t_start": 0, "t_end": end, "boxes": {t: [0, 0, 10, 10] for t in range(end + 1)}}


class Crash(RuntimeError):
    """What ``ToyTask(crash_at_call=N)`` raises: a process dying between two checkpoints."""


class ToyTask:
    def __init__(self, nan_at_step: int | None = None, crash_at_call: int | None = None,
                 signal_at_call: int | None = None, signum: int = signal.SIGINT) -> None:
        self.nan_at_step, self.crash_at_call, self.calls = nan_at_step, crash_at_call, 0
        self.signal_at_call, self.signum = signal_at_call, signum

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.crash_at_call:
            raise Crash(f"crashed at loss call {self.calls}")
        if self.calls == self.signal_at_call:
            os.kill(os.getpid(), self.signum)
        err = model(batch["x"]) - batch["y"]
        loss = (err ** 2).mean()
        if self.nan_at_step is not None and self.calls >= self.nan_at_step:
            loss = loss * float("nan")
        return loss, {"loss": float(loss.detach())}

    def predict(self, model, batch):
        ends = (model(batch["x"]) * 5).round().clamp(0, 30).long().tolist()
        return {vid: tube(e) for vid, e in zip(batch["ids"], ends)}

    def ground_truth(self, dataset):
        return {f"toy_{i}": tube(int((dataset.y[i] * 5).round().clamp(0, 30))) for i in range(len(dataset))}

    def sample_ids(self, batch):
        return batch["ids"]
