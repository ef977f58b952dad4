"""The training loop on a toy task: learning, run folder, resume equality, NaN guard, DDP."""

from __future__ import annotations

import csv
import dataclasses
import random
import signal
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import Crash, ToyDataset, ToyModel, ToyTask, collate  # noqa: E402

from tastvg.config import OptimConfig, lr_field  # noqa: E402
from tastvg.train.checkpoint import load_checkpoint  # noqa: E402
from tastvg.train.distributed import DistInfo  # noqa: E402
from tastvg.train.engine import NonFiniteLossError, Trainer, TrainConfig, TrainingInterrupted, autocast_dtype  # noqa: E402
from tastvg.train.sampler import ResumableSampler  # noqa: E402

RULES = [("encoder", "vision")]


def config(**kw) -> TrainConfig:
    """The toy run's TrainConfig; recipe fields (``epochs``, ``schedule``, ..., and the rates as
    ``lrs={group: rate}``) go into its OptimConfig, the rest steer the run."""
    lrs = kw.pop("lrs", {"base": 0.05, "vision": 0.05, "text": 0.0, "temporal_decoder": 0.0, "tts_asa": 0.0})
    recipe = dict(epochs=6, schedule="multistep_with_warmup", drop_epochs=[4], ema_decay=0.5,
                  **{lr_field(g): rate for g, rate in lrs.items()})
    recipe.update({k: kw.pop(k) for k in list(kw) if k in {f.name for f in dataclasses.fields(OptimConfig)}})
    base = dict(batch_size=4, accum=1, group_rules=RULES, log_every=2, checkpoint_every=5, progress=False, seed=7)
    base.update(kw)
    return TrainConfig(recipe=OptimConfig(**recipe), **base)


def trainer(run_dir, task=None, **kw) -> Trainer:
    torch.manual_seed(0)
    return Trainer(ToyModel(), task or ToyTask(), ToyDataset(24), ToyDataset(8, seed=1), collate, config(**kw),
                   run_dir, DistInfo(), config_dict={"preset": "toy"})


def test_training_learns_and_writes_a_complete_run_folder(tmp_path):
    t = trainer(tmp_path)
    result = t.fit()
    assert t.step == 6 * (24 // 4)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) == 36 // 2 and losses[-1] < losses[0] / 3
    assert any(r.get("test/m_vIoU") for r in rows)
    for name in ("last.pth", "best.pth", "environment.json", "train_config.json", "predictions_last.json"):
        assert (tmp_path / name).exists(), name
    assert 0.0 <= result["m_vIoU"] <= 1.0
    state = load_checkpoint(tmp_path / "last.pth")
    assert state["step"] == 36 and state["config"] == {"preset": "toy"}


def test_learning_rates_follow_the_schedule(tmp_path):
    t = trainer(tmp_path, epochs=10, drop_epochs=[5])
    t.cfg.max_steps = 31  # epoch 5 starts at step 30
    t.fit()
    lrs = {g["name"]: g["lr"] for g in t.optimizer.param_groups}
    assert lrs["base"] == pytest.approx(0.005) and lrs["vision"] == pytest.approx(0.005)


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    full = trainer(tmp_path / "full")
    full.fit()

    first = trainer(tmp_path / "part")
    first.cfg.max_steps = 13  # "killed" after step 13 (mid-epoch), last.pth written at step 10 and 13
    first.fit()
    resumed = trainer(tmp_path / "part")
    resumed.resume(tmp_path / "part" / "last.pth")
    assert resumed.step == 13
    resumed.fit()
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    for a, b in zip(full.ema.module.state_dict().values(), resumed.ema.module.state_dict().values()):
        assert torch.equal(a, b)


def test_nan_loss_stops_with_step_and_samples_and_keeps_the_last_good_checkpoint(tmp_path):
    t = trainer(tmp_path, task=ToyTask(nan_at_step=8))
    with pytest.raises(NonFiniteLossError, match=r"optimiser step 8 .*toy_"):
        t.fit()
    assert load_checkpoint(tmp_path / "last.pth")["step"] == 5  # written at step 5, untouched since


def test_gradient_accumulation_counts_optimiser_steps(tmp_path):
    t = trainer(tmp_path, batch_size=2, accum=3, epochs=2)
    t.fit()
    assert t.step == 2 * (24 // 6)


def test_sampler_covers_each_epoch_once_across_ranks_and_resumes():
    ranks = [ResumableSampler(10, world_size=2, rank=r, seed=3, batch_size=2) for r in range(2)]
    seen = ranks[0].indices() + ranks[1].indices()
    assert len(seen) == 8 and len(set(seen)) == 8  # 2 steps x 2 samples x 2 ranks; 2 dropped
    s = ResumableSampler(10, seed=3, batch_size=2)
    full = list(s)
    s.advance(4)
    assert list(s) == full[4:]
    s.set_epoch(1)
    assert list(s) != full and sorted(s) == sorted(set(s))


def test_amp_choice():
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError):
        autocast_dtype("fp8", torch.device("cpu"))


def assert_same_weights(a: Trainer, b: Trainer) -> None:
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name
    for x, y in zip(a.ema.module.state_dict().values(), b.ema.module.state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_current_step_and_the_run_resumes_bit_exact(tmp_path, signum):
    full = trainer(tmp_path / "full")
    full.fit()
    stopped = trainer(tmp_path / "stopped", task=ToyTask(signal_at_call=9, signum=signum))
    with pytest.raises(TrainingInterrupted, match=f"{signal.Signals(signum).name} at step 9") as info:
        stopped.fit()  # the signal arrives during step 9: the step finishes, then last.pth is saved
    assert info.value.exit_code == 128 + signum and info.value.step == 9
    assert load_checkpoint(tmp_path / "stopped" / "last.pth")["step"] == 9  # not 5, the last periodic one
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    resumed = trainer(tmp_path / "stopped")
    resumed.resume(tmp_path / "stopped" / "last.pth")
    resumed.fit()
    assert_same_weights(full, resumed)


def test_weights_blown_up_to_a_finite_value_never_become_the_last_good_checkpoint(tmp_path):
    # lr 1e30: after step 1 the weights are ~1e30 (finite); the loss of step 2 is infinite
    huge = dict.fromkeys(["base", "vision", "text", "temporal_decoder", "tts_asa"], 1e30)
    t = trainer(tmp_path, lrs=huge, schedule="constant", checkpoint_every=1)
    with pytest.raises(NonFiniteLossError, match=r"optimiser step 2 .*toy_.*last good checkpoint .*\(step 0;"):
        t.fit()
    state = load_checkpoint(tmp_path / "last.pth")
    assert state["step"] == 0  # step 1's weights produced no finite loss: never committed
    assert all(v.abs().max() < 10 for v in state["model"].values())


def test_a_non_finite_gradient_names_the_step_the_samples_and_the_parameter(tmp_path):
    t = trainer(tmp_path, checkpoint_every=2)
    t.cfg.max_steps = 4
    t.fit()
    t.cfg.max_steps = 0
    t.model.head.weight.register_hook(lambda g: g * float("inf"))
    with pytest.raises(NonFiniteLossError, match=r"gradient norm is (nan|inf) at optimiser step 5; samples "
                                                 r"\['toy_.*parameter with a non-finite gradient: head.weight"):
        t.fit()
    assert load_checkpoint(tmp_path / "last.pth")["step"] == 4


def test_non_finite_updated_weights_name_the_first_parameter(tmp_path):
    t = trainer(tmp_path, lrs=dict.fromkeys(["base", "vision", "text", "temporal_decoder", "tts_asa"], float("inf")))
    with pytest.raises(NonFiniteLossError, match=r"weights became non-finite at optimiser step 1; .*first parameter: encoder"):
        t.fit()
    assert load_checkpoint(tmp_path / "last.pth")["step"] == 0


def test_a_resumed_run_drops_the_log_rows_after_its_checkpoint(tmp_path):
    crashed = trainer(tmp_path, task=ToyTask(crash_at_call=8), log_every=1)
    with pytest.raises(Crash):
        crashed.fit()  # died during step 8: log rows 1..7, last.pth at step 5
    resumed = trainer(tmp_path, log_every=1)
    resumed.resume(tmp_path / "last.pth")
    resumed.fit()
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "log.csv")) if r.get("train/loss")]
    assert steps == list(range(1, 37))


class CallOrderToy(ToyDataset):
    """A dataset drawing from one generator in call order (as ``STVGDataset(rng=...)``)."""

    def __init__(self) -> None:
        super().__init__(24)
        self.rng = random.Random(5)

    def __getitem__(self, i: int):
        item = super().__getitem__(i)
        return {**item, "x": item["x"] + self.rng.random()}


def test_a_call_order_dataset_generator_is_saved_and_restored(tmp_path):
    def make(run):
        torch.manual_seed(0)
        return Trainer(ToyModel(), ToyTask(), CallOrderToy(), None, collate, config(), run, DistInfo())

    full = make(tmp_path / "full")
    full.fit()
    part = make(tmp_path / "part")
    part.cfg.max_steps = 13
    part.fit()
    resumed = make(tmp_path / "part")
    resumed.resume(tmp_path / "part" / "last.pth")
    resumed.fit()
    assert_same_weights(full, resumed)
