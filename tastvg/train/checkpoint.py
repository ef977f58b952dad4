"""Checkpoints that lose nothing: atomic writes and complete training state.

A checkpoint is one ``torch.save`` file holding::

    {"format": 1, "step", "epoch", "sampler": {...}, "model", "ema", "optimizer", "scaler",
     "rng": {"python", "numpy", "torch", "cuda"}, "config": {...}, "metrics": {...}}

It is written to ``NAME.tmp`` in the same folder, flushed to disk, then renamed over ``NAME``:
a crash at any moment leaves either the previous file or the new one, never half of one.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 1
CONVERTED = "converted-official"  # written by `tastvg convert-official`: weights + model config only


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def rng_state() -> dict[str, Any]:
    """Every random state a training run draws from."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    allow_converted: bool = False) -> dict[str, Any]:
    """Read a checkpoint written by this package, with a clear error for anything else.

    ``allow_converted``: also accept the output of ``tastvg convert-official`` (weights only: fine
    for evaluation, not for resuming a training run).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    if allow_converted and isinstance(ckpt, dict) and ckpt.get("format") == CONVERTED:
        return ckpt
    if isinstance(ckpt, dict) and ckpt.get("format") == CONVERTED:
        raise ValueError(f"{path} holds converted official weights: evaluate them with `tastvg evaluate "
                         "--checkpoint`; a training run cannot resume from them")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a tastvg training checkpoint (an official TA-STVG .pth must first go "
            "through `tastvg convert-official`)"
        )
    return ckpt


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """``RUN_DIR/last.pth`` if it exists (the file ``--resume`` continues from)."""
    path = Path(run_dir) / "last.pth"
    return path if path.is_file() else None
