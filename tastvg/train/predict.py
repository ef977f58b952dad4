"""Predict a dataset split with a trained checkpoint: what ``tastvg evaluate --checkpoint`` scores.

    gt, pred = predict_from_checkpoint("runs/synth/best.pth", "data/synth", split="test")
    tastvg.evaluate(gt, pred)

The model is rebuilt from the configuration the checkpoint recorded and gets its EMA weights (as the
official test script), or its raw ones with ``weights="model"``. A converted official checkpoint
(:mod:`tastvg.convert`) records no data settings: the dataset's official ones apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _build_eval_dataset(name: str, data_root: Path, split: str, data_cfg: Any, from_flag: bool) -> Any:
    """The split to evaluate; an annotation error names the dataset format it was read as and --dataset."""
    from tastvg.data.annotations import AnnotationError
    from tastvg.data.config import DATASETS
    from tastvg.data.dataset import build_dataset

    try:
        return build_dataset(name, data_root, split, data_cfg, train=False)
    except AnnotationError as err:
        source = "--dataset" if from_flag else "the checkpoint's dataset"
        raise SystemExit(f"error: {err} (read as {name!r}, {source}; if {data_root} holds another dataset, "
                         f"pass --dataset {'|'.join(DATASETS)} and a checkpoint trained on it)") from None


def predict_from_checkpoint(checkpoint: str | Path, data_root: str | Path, split: str = "test",
                            dataset: str | None = None, tokenizer_dir: str | Path | None = None,
                            weights: str = "ema", device: str = "auto", batch_size: int = 1,
                            workers: int = 0) -> tuple[dict, dict]:
    """Ground truth and predicted tubes (``{video_id: tube}`` each) of a trained model on ``split``.

    Args:
        checkpoint: a checkpoint written by ``tastvg train`` (or a converted official one).
        data_root: the dataset folder (``annos/`` + videos).
        dataset: the annotation format; default: the one the checkpoint recorded.
        tokenizer_dir: a local tokenizer folder; default: the recorded one, or the shipped one.
        weights: ``"ema"`` (default, as the official test) or ``"model"``.
        batch_size: videos per forward pass (1 as officially; a padded batch gives every video its
            B = 1 tube). ``workers``: data-loader processes that decode videos in parallel.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from tastvg.config import config_from_dict
    from tastvg.data.collate import Collator
    from tastvg.data.config import DataConfig
    from tastvg.losses import TASTVGLoss
    from tastvg.models.build import without_initial_weights
    from tastvg.models.tastvg import build_model
    from tastvg.train.checkpoint import load_checkpoint
    from tastvg.train.distributed import pick_device
    from tastvg.train.setup import load_tokenizer
    from tastvg.train.task import GroundingTask

    checkpoint, data_root = Path(checkpoint), Path(data_root)
    if not data_root.is_dir():
        raise SystemExit(f"error: --data-root {data_root} is not a folder")
    state = load_checkpoint(checkpoint, allow_converted=True)
    run_cfg = state.get("config") or {}
    if "model" not in run_cfg:
        raise SystemExit(f"error: {checkpoint} does not record its model configuration")
    cfg = config_from_dict(run_cfg["model"], where=f"{checkpoint}:config.model")
    name = dataset or run_cfg.get("dataset")
    if name is None:
        raise SystemExit(f"error: {checkpoint} does not say its dataset: pass --dataset")
    # a converted official checkpoint has no data settings: the dataset's official ones apply
    data_cfg = DataConfig(**run_cfg["data"]) if "data" in run_cfg else DataConfig.for_dataset(
        name, app_num=cfg.model.app_num, mot_num=cfg.model.mot_num)
    tokenizer_dir = tokenizer_dir or (Path(run_cfg["tokenizer"]) if run_cfg.get("tokenizer") else None)
    tokenizer = load_tokenizer(tokenizer_dir, cfg.name)
    torch_device = pick_device(device)
    model = build_model(without_initial_weights(cfg))  # the checkpoint sets every tensor
    model.load_state_dict(state["ema"]["module"] if weights == "ema" and "ema" in state else state["model"])
    model.to(torch_device).eval()
    split_set = _build_eval_dataset(name, data_root, split, data_cfg, from_flag=dataset is not None)
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), torch_device, split_test=data_cfg.split_test_clip)
    if batch_size < 1 or workers < 0:
        raise SystemExit("error: --batch-size must be >= 1 and --workers >= 0")
    loader = DataLoader(split_set, batch_size=batch_size, collate_fn=Collator(tokenizer), num_workers=workers)
    predictions: dict = {}
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"predict {split}", disable=None):
            predictions.update(task.predict(model, batch))
    return task.ground_truth(split_set), predictions
