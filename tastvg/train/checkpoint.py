"""Checkpoints that lose nothing: atomic writes and complete training state.

A checkpoint is one ``torch.save`` file holding::

    {"format": 2, "step", "world_size", "sampler": {...}, "model", "ema", "optimizer", "scaler",
     "rng": [{"python", "numpy", "torch", "cuda"} of rank 0, of rank 1, ...], "config": {...},
     "best": {...}}

Every process keeps its own random streams (dropout, ...), so each rank's states are saved and
each rank gets its own back on resume. Only plain containers, numbers, strings and tensors are
stored, so :func:`load_checkpoint` reads files with ``torch.load(weights_only=True)``: a checkpoint
from elsewhere cannot run code. (The numpy state is stored as a tensor; older files that hold
numpy arrays load through a short allow-list of numpy's array types.)

It is written to ``NAME.tmp`` in the same folder, flushed to disk, then renamed over ``NAME``:
a crash at any moment leaves either the previous file or the new one, never half of one; a
``.tmp`` left by a kill is removed when a run starts (:func:`remove_partial_writes`).
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1: one RNG state (rank 0's) for every rank
CONVERTED = "converted-official"  # written by `tastvg convert-official`: weights + model config only
WEIGHTS = "weights"  # a trained model's (EMA) weights + its config only, e.g. the experiment runner's seedS.pth
WEIGHTS_ONLY = (CONVERTED, WEIGHTS)


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


PARTIAL_WRITES = ("*.pth.tmp", "*.csv.tmp", "*.json.tmp*", "*.yaml.tmp*")  # what this package writes


def remove_partial_writes(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed write of this package left in ``run_dir`` (checkpoints,
    logs, JSON and YAML records; nothing else); returns what was removed."""
    run_dir = Path(run_dir)
    leftovers = sorted({p for pattern in PARTIAL_WRITES for p in run_dir.glob(pattern)}) if run_dir.is_dir() else []
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _numpy_state() -> tuple[str, torch.Tensor, int, int, float]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return str(name), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)


def _set_numpy_state(state: Any) -> None:
    name, keys, pos, has_gauss, cached = state
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((name, keys.astype(np.uint32), pos, has_gauss, cached))


def rng_state() -> dict[str, Any]:
    """Every random state this process draws from (plain types and tensors only)."""
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    _set_numpy_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_rng_state(ckpt: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """The random states that rank ``rank`` saved, or a clear error if the world size changed."""
    if not isinstance(ckpt["rng"], list):  # format 1 kept rank 0's states only: every rank gets them
        return ckpt["rng"]
    saved_world = int(ckpt.get("world_size", len(ckpt["rng"])))
    if saved_world != world_size:
        raise ValueError(f"the checkpoint was written by {saved_world} process(es), this run has {world_size}: "
                         f"resume with the same number of processes (torchrun --nproc_per_node / --nnodes) "
                         "so that every rank continues its own data shard and random streams")
    return ckpt["rng"][rank]


def _numpy_safe_globals() -> list[Any]:
    """numpy's array-pickling types: the allow-list for format-1 files (they hold numpy arrays)."""
    core = getattr(np, "_core", None) or np.core
    found = [core.multiarray._reconstruct, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found.append(dtypes.UInt32DType)
    return found


def _torch_load(path: Path, map_location: str | torch.device) -> Any:
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        return torch.load(path, map_location=map_location, weights_only=True)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    allow_converted: bool = False) -> dict[str, Any]:
    """Read a checkpoint written by this package, with a clear error for anything else.

    ``allow_converted``: also accept the output of ``tastvg convert-official`` (weights only: fine
    for evaluation, not for resuming a training run). The file is read with
    ``weights_only=True``: pickled code from a foreign file is refused, not run.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = _torch_load(path, map_location)
    except pickle.UnpicklingError as err:  # pickled objects beyond tensors and containers
        if "weights_only" not in str(err) and "Weights only" not in str(err):
            raise ValueError(f"cannot read checkpoint {path}: not a PyTorch checkpoint (not a .pth file?)") from err
        raise ValueError(f"cannot read checkpoint {path}: it holds objects other than tensors, numbers and "
                         "containers, which are not loaded for safety (is it a checkpoint from elsewhere?)") from err
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"cannot read checkpoint {path}: truncated or not a .pth file ({first_line(err)})") from err
    if allow_converted and isinstance(ckpt, dict) and ckpt.get("format") in WEIGHTS_ONLY:
        return ckpt
    if isinstance(ckpt, dict) and ckpt.get("format") in WEIGHTS_ONLY:
        what = "converted official weights" if ckpt["format"] == CONVERTED else "weights only"
        raise ValueError(f"{path} holds {what}: evaluate them with `tastvg evaluate "
                         "--checkpoint`; a training run cannot resume from them")
    if not isinstance(ckpt, dict) or ckpt.get("format") not in READABLE_FORMATS:
        raise ValueError(
            f"{path} is not a tastvg training checkpoint (an official TA-STVG .pth must first go "
            "through `tastvg convert-official`)"
        )
    return ckpt


def save_weights(path: str | os.PathLike, weights: dict[str, torch.Tensor], config: dict[str, Any]) -> Path:
    """Write a model's weights and the run config that rebuilds it (``{"model": ..., "dataset": ...,
    "data": ...}``) atomically: a small file that ``tastvg evaluate --checkpoint`` reads (no
    optimiser or RNG state, so no resume)."""
    path = Path(path)
    atomic_torch_save({"format": WEIGHTS, "model": {k: v.detach().cpu() for k, v in weights.items()},
                       "config": config}, path)
    return path


def first_line(err: BaseException, limit: int = 200) -> str:
    """``Type: first sentence`` of an exception's message, for one-line errors."""
    text = str(err).strip()
    first = text.splitlines()[0].split(". ")[0] if text else ""
    return f"{type(err).__name__}: {first}"[:limit] if first else type(err).__name__


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """``RUN_DIR/last.pth`` if it exists (the file ``--resume`` continues from)."""
    path = Path(run_dir) / "last.pth"
    return path if path.is_file() else None
