"""Run by the DDP tests under `torchrun --nproc_per_node 2`: gloo DDP on the toy task.

    ddp_toy_run.py RUN_DIR [--max-steps N] [--resume no|yes|auto] [--kill-rank R --kill-at-call N]

Each rank builds its model from its own seed (as `tastvg train` does: seed + rank), so DDP's
broadcast is what makes the ranks agree. ``--kill-rank R --kill-at-call N``: rank R SIGKILLs itself
at its N-th loss call, on the first attempt only (``TORCHELASTIC_RESTART_COUNT`` 0), so an elastic
restart (``torchrun --max-restarts``) with ``--resume auto`` must finish the run. Each rank writes
its EMA to RUN_DIR/ema_rank{R}.pt; rank 0 writes the final metrics to RUN_DIR/result.json.
"""

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyDataset, ToyModel, ToyTask, collate  # noqa: E402

from tastvg.config import OptimConfig, lr_field  # noqa: E402
from tastvg.train.distributed import cleanup, init_distributed  # noqa: E402
from tastvg.train.engine import Trainer, TrainConfig  # noqa: E402
from tastvg.train.run_folder import resume_source  # noqa: E402

GROUPS = ["base", "vision", "text", "temporal_decoder", "tts_asa"]


def toy_config(max_steps: int = 0) -> TrainConfig:
    """The recipe every DDP toy run shares (9 optimiser steps: 3 epochs of 24 / (2 ranks x 4))."""
    recipe = OptimConfig(epochs=3, schedule="constant", **{lr_field(g): 0.05 for g in GROUPS})
    return TrainConfig(recipe=recipe, batch_size=4, group_rules=[],
                       log_every=1, checkpoint_every=2, max_steps=max_steps, progress=False, seed=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--resume", default="no")
    parser.add_argument("--kill-rank", type=int, default=-1)
    parser.add_argument("--kill-at-call", type=int, default=0)
    args = parser.parse_args()
    info = init_distributed("cpu")
    torch.manual_seed(100 + info.rank)  # different on each rank, like the CLI's seed + rank
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    kill = args.kill_at_call if info.rank == args.kill_rank and first_attempt else None
    task = ToyTask(signal_at_call=kill, signum=signal.SIGKILL)
    resume_from = resume_source(args.run_dir, args.resume)
    trainer = Trainer(ToyModel(), task, ToyDataset(24), ToyDataset(8, seed=1), collate, toy_config(args.max_steps),
                      args.run_dir, info, config_dict={"preset": "toy"})
    if resume_from is not None:
        trainer.resume(resume_from)
    result = trainer.fit()
    torch.save(trainer.ema.state_dict(), args.run_dir / f"ema_rank{info.rank}.pt")
    if info.is_main:
        (args.run_dir / "result.json").write_text(json.dumps({k: result[k] for k in ("m_tIoU", "m_vIoU")}))
        print(f"world_size={info.world_size} m_vIoU={result['m_vIoU']:.3f} resumed={resume_from is not None}")
    cleanup()


if __name__ == "__main__":
    main()
