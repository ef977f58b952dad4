"""The training loop, written out: one function a reader can follow from top to bottom.

The loop knows nothing about STVG. What is specific to a model lives in a *task* object::

    task.loss(model, batch)          -> (total loss: scalar Tensor, {name: float} to log)
    task.predict(model, batch)       -> {video_id: tube}  (the format of tastvg.evaluation)
    task.ground_truth(dataset)       -> {video_id: tube}
    task.sample_ids(batch)           -> [str]  (named when a loss is NaN)

so the same loop trains TA-STVG on SynthSTVG on a CPU, on one GPU in Colab, or on many GPUs under
``torchrun``, and a toy task can test it in milliseconds.

Per optimiser step: ``accum`` micro-batches under autocast (bf16, or fp16 with a gradient scaler,
on GPU; fp32 on CPU) -> unscale -> clip the global gradient norm -> step -> set the learning rates
for the next step (official order) -> EMA update -> log / evaluate (EMA weights) / checkpoint.

What makes a run trustworthy on many GPUs:

* the EMA is copied *after* DDP has broadcast rank 0's weights, so every rank holds the same EMA
  and the sharded evaluation scores one model;
* each rank's random states are saved and each rank gets its own back on resume;
* a periodic checkpoint of step ``k`` is committed only once step ``k + 1`` has computed a finite
  loss and gradient from its weights (see :mod:`tastvg.train.guards`), so "the last good
  checkpoint" is good;
* SIGINT/SIGTERM save ``last.pth`` at the current step and raise
  :class:`~tastvg.train.interrupt.TrainingInterrupted` (see :mod:`tastvg.train.interrupt`).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tastvg.config import OptimConfig
from tastvg.evaluation import evaluate
from tastvg.train import checkpoint as ckpt
from tastvg.train.distributed import DistInfo, all_gather_objects, all_reduce_mean, any_rank, barrier
from tastvg.train.ema import ModelEMA, unwrap
from tastvg.train.guards import NonFiniteLossError, check_loss, check_weights, describe_last_good, non_finite_gradient
from tastvg.train.interrupt import GracefulStop, TrainingInterrupted, ignore_stop_signals_in_worker
from tastvg.train.logger import RunLogger, environment_info
from tastvg.train.sampler import ResumableSampler
from tastvg.train.schedule import apply_lr, build_optimizer, current_lrs, lr_factors


class Task(Protocol):
    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...
    def predict(self, model: nn.Module, batch: Any) -> dict[str, dict]: ...
    def ground_truth(self, dataset: Dataset) -> dict[str, dict]: ...
    def sample_ids(self, batch: Any) -> list[str]: ...


__all__ = ["NonFiniteLossError", "Task", "TrainConfig", "Trainer", "TrainingInterrupted", "autocast_dtype"]


@dataclass
class Snapshot:
    """The small parts of the training state at the end of an optimiser step.

    A checkpoint due at step ``k`` is written during step ``k + 1`` (once its loss and gradient are
    finite); weights, EMA, optimiser and scaler are unchanged until then, the rest is kept here.
    """

    step: int
    sampler: dict[str, int]
    rng: dict[str, Any]
    buffers: dict[str, torch.Tensor]
    best: dict[str, Any]


@dataclass
class TrainConfig:
    """How to run the loop. What to optimise with — per-group rates, weight decay, clipping,
    schedule, epochs, EMA — is one object, the ``recipe`` (:class:`~tastvg.config.OptimConfig`,
    the model config's ``optim`` section); the other fields only steer the run."""

    recipe: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 1  # videos per process per micro-batch (official: 1)
    accum: int = 1  # micro-batches per optimiser step
    group_rules: list[tuple[str, str]] = field(default_factory=list)  # (name prefix, group); see tastvg.models
    amp: str = "auto"  # auto (bf16 if supported, else fp16, on GPU; off on CPU) | bf16 | fp16 | off
    log_every: int = 10
    eval_every: int = 0  # optimiser steps; 0 = at the end only
    checkpoint_every: int = 500
    max_steps: int = 0  # stop after this many optimiser steps (0 = the full schedule)
    num_workers: int = 0
    seed: int = 2021
    progress: bool = True


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None = full precision)."""
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise ValueError(f"amp must be auto, bf16, fp16 or off, got {amp!r}")
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


class Trainer:
    """Owns the model, its EMA, the optimiser and the run folder; ``fit()`` runs the loop."""

    def __init__(self, model: nn.Module, task: Task, train_set: Dataset, test_set: Dataset | None,
                 collate: Callable, cfg: TrainConfig, run_dir: str | Path, dist: DistInfo,
                 config_dict: Mapping[str, Any] | None = None) -> None:
        self.cfg, self.task, self.dist = cfg, task, dist
        self.train_set, self.test_set, self.collate = train_set, test_set, collate
        if cfg.num_workers and self._dataset_rng() is not None:
            # each worker would draw from its own copy of the generator, and the checkpoint would
            # save the main process's copy, which never advances: resume would not be exact
            raise ValueError("a dataset that draws from one generator in call order (STVGDataset(rng=...)) "
                             "needs train.num_workers=0")
        self.run_dir = Path(run_dir)
        self.device = dist.device
        self.model = model.to(self.device)
        self.ddp = self.model
        if dist.distributed:  # DDP broadcasts rank 0's parameters and buffers to every rank here
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True)
        self.ema = ModelEMA(self.model, cfg.recipe.ema_decay)  # after the broadcast: the same EMA on every rank
        self.optimizer = build_optimizer(self.model, cfg.group_rules, cfg.recipe.lrs(), cfg.recipe.weight_decay)
        self.amp_dtype = autocast_dtype(cfg.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.sampler = ResumableSampler(len(train_set), dist.world_size, dist.rank, cfg.seed,
                                        batch_size=cfg.batch_size * cfg.accum)
        self.steps_per_epoch = self.sampler.batches_per_epoch
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(train_set)} training samples are fewer than one step needs "
                             f"(batch_size {cfg.batch_size} x accum {cfg.accum} x {dist.world_size} processes)")
        self.total_steps = self.steps_per_epoch * cfg.recipe.epochs
        self.step = 0
        self.best: dict[str, Any] = {}
        self.saved_step: int | None = None  # the step last.pth holds
        self._pending: Snapshot | None = None  # a checkpoint waiting for the next step's finite loss
        self.logger = RunLogger(self.run_dir, enabled=dist.is_main)
        self.config_dict = dict(config_dict or {})

    def write_run_record(self) -> None:
        """``environment.json`` and ``train_config.json`` (rank 0; called by ``fit`` after any resume)."""
        if self.dist.is_main:
            self.logger.write_json("environment.json", environment_info())
            self.logger.write_json("train_config.json", asdict(self.cfg))

    # ------------------------------------------------------------------ checkpoints
    def snapshot(self) -> Snapshot:
        """The state that changes before the next optimiser step (call on every rank)."""
        buffers = {k: v.detach().clone() for k, v in unwrap(self.model).named_buffers()}
        rng = ckpt.rng_state()
        data_rng = self._dataset_rng()
        if data_rng is not None:  # a dataset drawing from one generator in call order (STVGDataset(rng=...))
            rng["dataset"] = data_rng.getstate()
        return Snapshot(self.step, dict(self.sampler.state_dict()), rng, buffers, dict(self.best))

    def _dataset_rng(self) -> random.Random | None:
        rng = getattr(self.train_set, "rng", None)
        return rng if isinstance(rng, random.Random) else None

    def state(self, snap: Snapshot | None = None) -> dict[str, Any]:
        """The full checkpoint; gathers every rank's random states (a collective: call on every rank)."""
        snap = snap or self.snapshot()
        model = unwrap(self.model).state_dict()
        model.update({k: v for k, v in snap.buffers.items() if k in model})
        return {
            "format": ckpt.FORMAT, "step": snap.step, "world_size": self.dist.world_size, "sampler": snap.sampler,
            "model": model, "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": all_gather_objects(snap.rng), "config": self.config_dict, "best": snap.best,
        }

    def save(self, name: str, snap: Snapshot | None = None) -> None:
        """Write ``name`` (rank 0) from the current state or a snapshot (every rank must call this)."""
        state = self.state(snap)
        if self.dist.is_main:
            ckpt.atomic_torch_save(state, self.run_dir / name)
        if name == "last.pth":
            self.saved_step = state["step"]
        barrier()

    def resume(self, source: str | Path | Mapping[str, Any], path: str | Path | None = None) -> None:
        """Continue exactly where a checkpoint (a path, or a loaded one and its ``path``) stopped:
        weights, optimiser, data position, each rank's RNG; drops the log rows written after that
        step by the interrupted run."""
        path = path or source
        state = ckpt.load_checkpoint(source, map_location=self.device) if isinstance(source, (str, Path)) else source
        rng = ckpt.rank_rng_state(state, self.dist.rank, self.dist.world_size)
        try:
            unwrap(self.model).load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
        except RuntimeError as err:  # torch lists every mismatching tensor: keep the first lines
            lines = str(err).strip().splitlines()
            raise ValueError(f"{path}: its weights do not fit this model ({' '.join(lines[:3])[:400]} ...)") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"])
        self.step = self.saved_step = state["step"]
        self.best = state.get("best", {})
        self.logger.truncate(self.step)
        ckpt.set_rng_state(rng)
        if "dataset" in rng and self._dataset_rng() is not None:
            self._dataset_rng().setstate(rng["dataset"])

    def _last_good(self) -> str:
        return describe_last_good(self.run_dir / "last.pth", self.saved_step)

    # ------------------------------------------------------------------ one optimiser step
    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, micro_batches: Sequence[Any]) -> dict[str, float]:
        self.ddp.train()
        logs: dict[str, float] = {}
        for i, batch in enumerate(micro_batches):
            sync = i == len(micro_batches) - 1 or not self.dist.distributed
            with (contextlib.nullcontext() if sync else self.ddp.no_sync()), self.autocast():
                loss, parts = self.task.loss(self.ddp, batch)
            check_loss(loss, parts, self.step + 1, i, self.task.sample_ids(batch), self._last_good())
            self.scaler.scale(loss / len(micro_batches)).backward()
            for k, v in parts.items():
                logs[k] = logs.get(k, 0.0) + float(v) / len(micro_batches)
        ids = [s for batch in micro_batches for s in self.task.sample_ids(batch)]
        self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.requires_grad]
        try:  # an fp16 scaler skips non-finite steps by design; otherwise they stop the run
            clip = self.cfg.recipe.clip_norm
            grad_norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else math.inf,
                                                       error_if_nonfinite=not self.scaler.is_enabled())
        except RuntimeError:  # raised before clipping: the gradients still show which one is bad
            raise non_finite_gradient(self.model, self.step + 1, ids, self._last_good()) from None
        if self._pending is not None:  # its weights have just given a finite loss and gradient
            self.save("last.pth", self._pending)
            self._pending = None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        check_weights(self.model, self.step + 1, ids, self._last_good())
        self.step += 1
        recipe = self.cfg.recipe
        apply_lr(self.optimizer, lr_factors(recipe.schedule, self.step, self.total_steps, recipe.epochs,
                                            recipe.drop_epochs, recipe.warmup_fraction))
        self.ema.update(self.model)
        logs["grad_norm"] = float(grad_norm)
        return logs

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, use_ema: bool = True) -> dict[str, Any]:
        """Predict the test set (sharded over ranks), gather on rank 0, score with tastvg.evaluation."""
        if self.test_set is None:
            return {}
        model = self.ema.module if use_ema else unwrap(self.model)
        model.eval()
        indices = list(range(self.dist.rank, len(self.test_set), self.dist.world_size))
        loader = DataLoader(torch.utils.data.Subset(self.test_set, indices), batch_size=self.cfg.batch_size,
                            collate_fn=self.collate, num_workers=self.cfg.num_workers,
                            generator=torch.Generator().manual_seed(0))
        predictions: dict[str, dict] = {}
        for batch in loader:
            with self.autocast():
                predictions.update(self.task.predict(model, batch))
        merged: dict[str, dict] = {}
        for part in all_gather_objects(predictions):
            merged.update(part)
        if not self.dist.is_main:
            return {}
        result = evaluate(self.task.ground_truth(self.test_set), merged)
        result["predictions"] = merged
        return result

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict[str, Any]:
        """Train to the end of the schedule (or ``max_steps``), evaluate, save; see the module doc.

        Raises :class:`TrainingInterrupted` after saving on SIGINT/SIGTERM, and
        :class:`NonFiniteLossError` (without saving) when the loss, gradient or weights blow up.
        """
        self.write_run_record()
        with GracefulStop() as stop:
            return self._fit(stop)

    def _fit(self, stop: GracefulStop) -> dict[str, Any]:
        cfg = self.cfg
        last_step = self.total_steps if cfg.max_steps <= 0 else min(cfg.max_steps, self.total_steps)
        if self.step == 0:
            self.save("last.pth")  # a valid checkpoint exists from the start
        bar = None
        if cfg.progress and self.dist.is_main:
            from tqdm.auto import tqdm
            bar = tqdm(total=last_step, initial=self.step, desc="train", dynamic_ncols=True)
        clips, t0 = 0, time.perf_counter()
        result: dict[str, Any] = {}
        while self.step < last_step:
            epoch = self.step // self.steps_per_epoch
            self.sampler.set_epoch(epoch)
            if hasattr(self.train_set, "set_epoch"):  # per-epoch augmentation seeds (crop, flip)
                self.train_set.set_epoch(epoch)
            # a private generator: creating a loader must not draw from the global RNG, or a resumed
            # run would see a different random stream than an uninterrupted one
            loader = DataLoader(self.train_set, batch_size=cfg.batch_size, sampler=self.sampler,
                                collate_fn=self.collate, num_workers=cfg.num_workers, drop_last=True,
                                worker_init_fn=ignore_stop_signals_in_worker if cfg.num_workers else None,
                                generator=torch.Generator().manual_seed(cfg.seed + epoch))
            micro: list[Any] = []
            for batch in loader:
                micro.append(batch)
                if len(micro) < cfg.accum:
                    continue
                logs = self.train_step(micro)
                self.sampler.advance(len(micro) * cfg.batch_size)
                clips += len(micro) * cfg.batch_size * self.dist.world_size
                micro = []
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                                    lr=f"{self.optimizer.param_groups[0]['lr']:.2e}")
                if self.step % cfg.log_every == 0 or self.step == last_step:
                    logs = all_reduce_mean(logs, self.device)
                    logs["clips_per_s"] = clips / max(time.perf_counter() - t0, 1e-9)
                    logs.update({f"lr_{k}": v for k, v in current_lrs(self.optimizer).items()})
                    self.logger.log(self.step, logs, prefix="train/")
                    clips, t0 = 0, time.perf_counter()
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < last_step:
                    result = self._evaluate_and_keep_best()
                if self.step == last_step:
                    self.save("last.pth")
                elif self.step % cfg.checkpoint_every == 0:
                    self._pending = self.snapshot()  # written by the next step, once its loss is finite
                if any_rank(stop.requested, self.device):
                    self._stop(stop, bar)
                if self.step >= last_step:
                    break
        if bar is not None:
            bar.close()
        result = self._evaluate_and_keep_best()
        self.save("last.pth")
        self.logger.close()
        return result

    def _stop(self, stop: GracefulStop, bar: Any) -> None:
        """Save ``last.pth`` at the current step and raise :class:`TrainingInterrupted` (every rank)."""
        if bar is not None:
            bar.close()
        self._pending = None
        self.save("last.pth")
        self.logger.close()
        raise TrainingInterrupted(stop.signum or 15, self.step, self.run_dir / "last.pth")

    def _evaluate_and_keep_best(self) -> dict[str, Any]:
        result = self.evaluate()
        if self.dist.is_main and result:
            scores = {k: result[k] for k in ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")}
            self.logger.log(self.step, scores, prefix="test/")
            self.logger.write_json("predictions_last.json", result["predictions"])
            if scores["m_vIoU"] >= self.best.get("m_vIoU", -1.0):
                self.best = {"step": self.step, **scores}
        state = self.state() if self.test_set is not None else None  # gathers RNG states: every rank
        if self.dist.is_main and result and self.best.get("step") == self.step:
            ckpt.atomic_torch_save(state, self.run_dir / "best.pth")
        barrier()
        return result
