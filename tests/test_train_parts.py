"""Training building blocks: schedules, parameter groups, EMA, atomic checkpoints, RNG, logs."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import torch
from torch import nn

from tastvg.train import checkpoint as ckpt
from tastvg.train.distributed import all_gather_objects, all_reduce_mean, init_distributed
from tastvg.train.ema import ModelEMA
from tastvg.train.logger import RunLogger, environment_info
from tastvg.train.schedule import GROUPS, apply_lr, assign_param_groups, build_optimizer, lr_factors


# ---------------------------------------------------------------- schedules
def test_hcstvg_schedule_by_hand():
    # S = 1000 steps, E = 10 epochs of 100 steps, drops at epochs 5 and 9, warm-up 10 steps
    f = lambda k: lr_factors("multistep_with_warmup", k, 1000, 10, [5, 9], 0.01)
    assert f(1)["base"] == 1.0 and f(1)["text"] == pytest.approx(0.1)
    assert f(9)["temporal_decoder"] == pytest.approx(0.9)
    assert f(10)["text"] == 1.0                                   # end of warm-up
    assert f(505)["text"] == pytest.approx(495 / 990)             # linear decay to 0 at S
    assert f(499)["base"] == 1.0 and f(500)["base"] == pytest.approx(0.1)   # epoch 5 starts at 500
    assert f(900)["vision"] == pytest.approx(0.01) and f(900)["tts_asa"] == pytest.approx(0.01)
    assert f(1000)["text"] == 0.0


def test_vidstg_schedule_warms_every_group_then_drops():
    f = lambda k: lr_factors("multistep_with_warmup_all", k, 1100, 11, [9, 11], 0.01)
    assert set(f(5).values()) == {5 / 11}
    assert set(f(11).values()) == {1.0}
    assert all(v == pytest.approx(0.1) for v in f(990).values())  # epoch 9 = step 900 onwards
    assert set(f(899).values()) == {1.0}


def test_unknown_schedule():
    with pytest.raises(ValueError, match="schedule"):
        lr_factors("cosine", 1, 10, 1, [])


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.vis_backbone = nn.Linear(3, 3)
        self.text_encoder = nn.Linear(3, 3)
        self.temporal_decoder = nn.Linear(3, 3)
        self.tts = nn.Linear(3, 1)
        self.head = nn.Linear(3, 2)
        self.frozen = nn.Linear(3, 3).requires_grad_(False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("running", torch.zeros(3))

    def forward(self, x):
        return self.head(self.vis_backbone(x)) + self.tts(self.text_encoder(x)) + self.temporal_decoder(x)[:, :2]


RULES = [("vis_backbone", "vision"), ("text_encoder", "text"), ("temporal_decoder", "temporal_decoder"), ("tts", "tts_asa")]


def test_param_groups_follow_the_rules_and_skip_frozen_parameters():
    groups = assign_param_groups(Toy(), RULES)
    assert {g: len(p) for g, p in groups.items()} == {"base": 2, "vision": 2, "text": 2, "temporal_decoder": 2, "tts_asa": 2}
    with pytest.raises(ValueError, match="unknown parameter groups"):
        assign_param_groups(Toy(), [("x", "decoder")])


def test_optimizer_groups_and_lr_application():
    lrs = dict(zip(GROUPS, [2e-4, 1e-6, 5e-5, 2e-4, 5e-4]))
    opt = build_optimizer(Toy(), RULES, lrs)
    assert [g["name"] for g in opt.param_groups] == list(GROUPS)
    apply_lr(opt, lr_factors("multistep_with_warmup", 1, 1000, 10, [5], 0.01))
    by_name = {g["name"]: g["lr"] for g in opt.param_groups}
    assert by_name["base"] == 2e-4 and by_name["text"] == pytest.approx(5e-6)
    with pytest.raises(ValueError, match="no learning rate"):
        build_optimizer(Toy(), RULES, {"base": 1.0})


# ---------------------------------------------------------------- EMA
def test_ema_blends_floats_and_copies_integers():
    model = Toy()
    ema = ModelEMA(model, decay=0.75)
    before = ema.module.head.weight.clone()
    with torch.no_grad():
        model.head.weight.add_(4.0)
        model.steps.fill_(7)
    ema.update(model)
    torch.testing.assert_close(ema.module.head.weight, before + 1.0)
    assert int(ema.module.steps) == 7
    assert not any(p.requires_grad for p in ema.module.parameters())


# ---------------------------------------------------------------- checkpoints
def test_atomic_save_keeps_the_previous_file_when_a_write_crashes(tmp_path, monkeypatch):
    path = tmp_path / "last.pth"
    ckpt.atomic_torch_save({"format": ckpt.FORMAT, "step": 1}, path)

    real_save = torch.save

    def crashing_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        f.truncate(10)  # half a file on disk ...
        raise OSError("disk full")  # ... then the process dies

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError):
        ckpt.atomic_torch_save({"format": ckpt.FORMAT, "step": 2}, path)
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path)["step"] == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_load_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        ckpt.load_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        ckpt.load_checkpoint(tmp_path / "junk.pth")
    torch.save({"model": {}}, tmp_path / "official.pth")
    with pytest.raises(ValueError, match="convert-official"):
        ckpt.load_checkpoint(tmp_path / "official.pth")


def test_rng_state_roundtrip():
    state = ckpt.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    ckpt.set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


# ---------------------------------------------------------------- logs and single-process distributed
def test_run_logger_grows_columns_and_survives_a_restart(tmp_path):
    log = RunLogger(tmp_path, tensorboard=False)
    log.log(1, {"loss": 2.0})
    log.log(2, {"loss": 1.5, "lr": 0.1})
    log.close()
    RunLogger(tmp_path, tensorboard=False).log(3, {"loss": 1.0})
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["step"] for r in rows] == ["1", "2", "3"] and rows[1]["lr"] == "0.1" and rows[0]["lr"] == ""


def test_single_process_distributed_helpers():
    info = init_distributed("cpu")
    assert info.world_size == 1 and info.is_main and not info.distributed
    assert all_gather_objects({"a": 1}) == [{"a": 1}]
    assert all_reduce_mean({"x": 2.0}, info.device) == {"x": 2.0}
    assert environment_info()["torch"] == torch.__version__


def test_split_batch_interleaved_makes_even_and_odd_sub_clips():
    from tastvg.train.task import split_batch_interleaved

    frames = torch.arange(2 * 5, dtype=torch.float32).view(2, 5, 1, 1, 1).expand(2, 5, 3, 2, 2).clone()
    pad = torch.tensor([[False] * 5, [False] + [True] * 4])
    batch = {"frames": frames, "frame_pad": pad, "item_ids": ["a", "b"],
             "text_ids": torch.tensor([[0, 7, 2], [0, 8, 2]]), "text_mask": torch.ones(2, 3, dtype=torch.long),
             "image_pad": torch.zeros(2, 2, 2, dtype=torch.bool),
             "targets": {"frame_ids": torch.tensor([[10, 12, 14, 16, 18], [40, -1, -1, -1, -1]]),
                         "orig_sizes": torch.tensor([[90, 160], [90, 160]])}}
    inputs, metas = split_batch_interleaved(batch)
    assert [m["frame_ids"] for m in metas] == [[10, 14, 18], [12, 16], [40], [40]]
    assert [m["video_id"] for m in metas] == ["a", "a", "b", "b"] and metas[0]["width"] == 160
    assert inputs["frames"][1, :2, 0, 0, 0].tolist() == [1.0, 3.0]
    assert inputs["frame_pad"].tolist() == [[False] * 3, [False, False, True], [False, True, True], [False, True, True]]
    assert inputs["text_ids"][3].tolist() == [0, 8, 2]


def test_ranks_that_disagree_on_resuming_stop_with_one_line():
    from tastvg.train.run_folder import check_ranks_agree

    check_ranks_agree(["run/last.pth", "run/last.pth"])
    check_ranks_agree([None, None])
    with pytest.raises(SystemExit, match="rank 1: a new run"):
        check_ranks_agree(["run/last.pth", None])


def test_only_this_packages_partial_writes_are_removed(tmp_path):
    from tastvg.train.checkpoint import remove_partial_writes

    for name in ("last.pth.tmp", "log.csv.tmp", "train_config.json.tmp123", "notes.tmp"):
        (tmp_path / name).write_text("x")
    removed = {p.name for p in remove_partial_writes(tmp_path)}
    assert removed == {"last.pth.tmp", "log.csv.tmp", "train_config.json.tmp123"}
    assert (tmp_path / "notes.tmp").exists()


def test_rank_random_states_by_checkpoint_format():
    from tastvg.train.checkpoint import rank_rng_state

    old = {"rng": {"python": "rank0"}}  # format 1, whatever the number of processes that wrote it
    assert rank_rng_state(old, rank=3, world_size=4) == {"python": "rank0"}
    new = {"rng": [{"python": "r0"}, {"python": "r1"}], "world_size": 2}
    assert rank_rng_state(new, rank=1, world_size=2) == {"python": "r1"}
    with pytest.raises(ValueError, match="2 process"):
        rank_rng_state(new, rank=0, world_size=4)


def test_a_call_order_dataset_generator_refuses_data_workers(tmp_path):
    import random

    from tastvg.train.distributed import DistInfo
    from tastvg.train.engine import Trainer, TrainConfig

    class Data(torch.utils.data.Dataset):
        rng = random.Random(0)

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

    dist = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="num_workers=0"):
        Trainer(torch.nn.Linear(1, 1), None, Data(), None, list, TrainConfig(num_workers=2), tmp_path, dist)
