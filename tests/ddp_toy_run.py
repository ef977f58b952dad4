"""Run by test_engine under `torchrun --nproc_per_node 2`: gloo DDP on the toy task."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyDataset, ToyModel, ToyTask, collate  # noqa: E402

from tastvg.train.distributed import cleanup, init_distributed  # noqa: E402
from tastvg.train.engine import Trainer, TrainConfig  # noqa: E402

if __name__ == "__main__":
    info = init_distributed("cpu")
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=3, batch_size=4, lrs=dict.fromkeys(["base", "vision", "text", "temporal_decoder", "tts_asa"], 0.05),
                      group_rules=[], schedule="constant", log_every=1, checkpoint_every=100, progress=False, seed=1)
    trainer = Trainer(ToyModel(), ToyTask(), ToyDataset(24), ToyDataset(8, seed=1), collate, cfg, sys.argv[1], info)
    result = trainer.fit()
    if info.is_main:
        print(f"world_size={info.world_size} m_vIoU={result['m_vIoU']:.3f}")
    cleanup()
