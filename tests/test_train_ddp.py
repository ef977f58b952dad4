"""Two-rank gloo DDP on the toy task: one EMA on every rank, metrics equal to a single-process
evaluation, and a rank killed mid-epoch whose elastic restart (``torchrun --max-restarts``,
``--resume auto``) ends bit-equal to an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ddp_toy_run import toy_config  # noqa: E402
from toy_task import ToyDataset, ToyModel, ToyTask, collate  # noqa: E402

from helpers import free_port  # noqa: E402
from tastvg.train.checkpoint import load_checkpoint  # noqa: E402
from tastvg.train.distributed import DistInfo  # noqa: E402
from tastvg.train.engine import Trainer  # noqa: E402

SCRIPT = Path(__file__).parent / "ddp_toy_run.py"


def torchrun(run_dir: Path, *args: str, restarts: int = 0) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 ddp_toy_run.py RUN_DIR ARGS`` on localhost (gloo, one thread)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "--max-restarts", str(restarts), str(SCRIPT), str(run_dir), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ddp") / "full"
    torchrun(run)
    return run


def test_every_rank_holds_the_same_ema(uninterrupted):
    ema0 = torch.load(uninterrupted / "ema_rank0.pt", weights_only=True)["module"]
    ema1 = torch.load(uninterrupted / "ema_rank1.pt", weights_only=True)["module"]
    assert_same_weights(ema0, ema1)


def test_ddp_metrics_equal_a_single_process_evaluation_of_rank0_ema(uninterrupted, tmp_path):
    ddp = json.loads((uninterrupted / "result.json").read_text())
    single = Trainer(ToyModel(), ToyTask(), ToyDataset(24), ToyDataset(8, seed=1), collate, toy_config(),
                     tmp_path, DistInfo())
    single.ema.load_state_dict(load_checkpoint(uninterrupted / "last.pth")["ema"])
    result = single.evaluate()
    assert result["num_videos"] == 8
    # the same tube for every video (the rank-1 shard included); the means equal up to summation order
    assert json.loads(json.dumps(result["predictions"])) == json.loads((uninterrupted / "predictions_last.json").read_text())
    assert result["m_tIoU"] == pytest.approx(ddp["m_tIoU"], rel=1e-12, abs=0)
    assert result["m_vIoU"] == pytest.approx(ddp["m_vIoU"], rel=1e-12, abs=0)


def test_a_killed_rank_and_an_elastic_restart_end_bit_equal_to_an_uninterrupted_run(uninterrupted, tmp_path):
    run = tmp_path / "elastic"
    # rank 1 SIGKILLs itself at its 6th loss call (step 6); last.pth holds step 4, the middle of
    # epoch 1 (3 steps per epoch). torchrun restarts both workers with the same command line, and
    # --resume auto continues from last.pth with each rank's own random states.
    proc = torchrun(run, "--resume", "auto", "--kill-rank", "1", "--kill-at-call", "6", restarts=1)
    assert "resumed=True" in proc.stdout
    full, restarted = load_checkpoint(uninterrupted / "last.pth"), load_checkpoint(run / "last.pth")
    assert restarted["step"] == 9 and restarted["world_size"] == 2 and len(restarted["rng"]) == 2
    assert not torch.equal(restarted["rng"][0]["torch"], restarted["rng"][1]["torch"])  # each rank's own stream
    assert_same_weights(full["model"], restarted["model"])
    assert_same_weights(full["ema"]["module"], restarted["ema"]["module"])
