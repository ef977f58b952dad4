"""The probes read ``return_intermediates``; the oracle predicts through ``GroundingTask``; θ sweeps."""

from __future__ import annotations

import os
from typing import Any, Optional

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from helpers import recomputed_cross_attention  # noqa: E402
from tastvg.config import config_from_dict, load_preset  # noqa: E402
from tastvg.data.collate import Collator  # noqa: E402
from tastvg.data.config import DataConfig  # noqa: E402
from tastvg.data.dataset import build_dataset  # noqa: E402
from tastvg.experiments.probes import _r, analyse, theta_sweep  # noqa: E402
from tastvg.losses import TASTVGLoss  # noqa: E402
from tastvg.models import build_model  # noqa: E402
from tastvg.paths import data_samples_dir  # noqa: E402
from tastvg.train.ema import ModelEMA  # noqa: E402
from tastvg.train.setup import load_tokenizer  # noqa: E402
from tastvg.train.task import GroundingTask, needs_targets, split_batch_interleaved, to_device  # noqa: E402

# thresholds that keep some frames and drop others for random tiny weights (both passes)
THRESHOLDS = {"tts_threshold": 0.45, "action_threshold": 0.575}


def tiny(overrides: dict[str, Any], seed: int = 0):
    data = load_preset("tiny").to_dict()
    data["model"].update(THRESHOLDS | overrides)
    torch.manual_seed(seed)
    return build_model(config_from_dict(data)).eval()


class Short(torch.utils.data.Dataset):
    """Five SynthSTVG test videos cut to ``frames`` frames from 3 before the ground-truth span
    (quick on a CPU; frames inside and outside the span)."""

    def __init__(self, dataset, videos: tuple[int, ...] = (0, 2, 3, 4, 5), frames: int = 10) -> None:
        self.dataset, self.videos, self.frames = dataset, videos, frames

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict:
        sample = self.dataset[self.videos[i]]
        start = max(0, int(sample["actioness"].argmax()) - 3)
        for key in ("frames", "frame_ids", "actioness", "boxes"):
            sample[key] = sample[key][start:start + self.frames]
        return sample


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)  # the runner's setting; much quicker on a shared CPU
    cfg = DataConfig.for_dataset("synth", app_num=16, mot_num=16)
    test_set = build_dataset("synth", data_samples_dir() / "synth", "test", cfg, train=False)
    short = Short(test_set)
    assert all(0 < short[i]["actioness"].sum() < len(short[i]["actioness"]) for i in range(len(short)))
    return short, Collator(load_tokenizer(None, "synth"))


def predict_all(model, test_set, collate, task) -> dict:
    from torch.utils.data import DataLoader

    preds: dict = {}
    for batch in DataLoader(test_set, batch_size=4, collate_fn=collate):
        preds.update(task.predict(model, batch))
    return preds


def analyse_with_hooks(model, test_set, collate, predictions: dict, task, keep_detail: bool
                       ) -> tuple[dict, Optional[dict]]:
    """The probes as they were before ``return_intermediates``: the spatial decoder's cross-attention
    recomputed in forward hooks from the attention module's inputs (copied unchanged)."""
    from torch.utils.data import DataLoader

    from tastvg.boxes import box_token_mask_grid

    model.eval()
    captured: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(module, inputs, output):
            captured[name] = recomputed_cross_attention(module, inputs)  # [B*T, S] (last call = final pass)
        return fn

    layers = model.spatial_decoder.layers
    handles = [layers[0].cross_attn.register_forward_hook(hook("first")),
               layers[-1].cross_attn.register_forward_hook(hook("last")),
               model.temporal_decoder.layers[-1].cross_attn_image.register_forward_hook(
                   lambda m, args, kwargs, out: captured.__setitem__(  # torch's own weights, heads averaged
                       "temporal", torch.nn.MultiheadAttention.forward(m, *args, need_weights=True, **kwargs)[1][:, 0]),
                   with_kwargs=True)]
    sums: dict[str, list[float]] = {k: [] for k in ("tts_in_span", "tts_out_span", "asa_in_box",
                                                     "attn_in_box_first", "attn_in_box_last", "tattn_in_box_last",
                                                     "box_cells")}
    detail: dict[str, Any] = {}
    oracle = model.cfg.model.query_init == "oracle"
    try:
        with torch.no_grad():
            for batch in DataLoader(test_set, batch_size=4, collate_fn=collate):
                batch = to_device(batch, task.device)
                tg = batch["targets"]
                out = model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"],
                            tg if oracle else None, image_pad=batch["image_pad"])
                b, t = batch["frame_pad"].shape
                (hh, ww), n = out["feature_hw"], out["feature_hw"][0] * out["feature_hw"][1]
                cells = box_token_mask_grid(tg["boxes"].float(), out["feature_sizes"], hh, ww)  # [B, T, N]
                gt = (tg["actioness"] > 0.5) & ~batch["frame_pad"]
                att = {k: captured[k][:, :n].reshape(b, t, n) for k in ("first", "last")}
                att["temporal"] = captured["temporal"][:, -n:].reshape(b, t, n)  # keys: [text ; 3D tokens]
                for i in range(b):
                    g, valid = gt[i], ~batch["frame_pad"][i]
                    inbox = {k: ((a[i] * cells[i]).sum(-1) / a[i].sum(-1).clamp(min=1e-9)) for k, a in att.items()}
                    sums["attn_in_box_first"].append(float(inbox["first"][g].mean()))
                    sums["attn_in_box_last"].append(float(inbox["last"][g].mean()))
                    sums["tattn_in_box_last"].append(float(inbox["temporal"][g].mean()))
                    sums["box_cells"].append(float(cells[i][g].mean()))
                    if "att_sequences" in out:
                        s = out["att_sequences"][i]
                        sums["tts_in_span"].append(float(s[g].mean()))
                        if bool((valid & ~g).any()):
                            sums["tts_out_span"].append(float(s[valid & ~g].mean()))
                    if "map_app" in out or "map_mot" in out:  # the appearance map, else the motion map
                        m = out.get("map_app", out.get("map_mot"))[i]
                        sums["asa_in_box"].append(float(((m * cells[i]).sum(-1) / m.sum(-1).clamp(min=1e-9))[g].mean()))
                    if keep_detail:
                        vid = str(batch["item_ids"][i])
                        detail[vid] = {
                            "sentence": batch["texts"][i], "frame_ids": [int(f) for f in tg["frame_ids"][i][valid].tolist()],
                            "gt_frames": [bool(x) for x in g[valid].tolist()],
                            "tts": _r(out["att_sequences"][i][valid]) if "att_sequences" in out else None,
                            "selected": [bool(x) for x in out["selected"][i][valid].tolist()],
                            "map_app": _r(out["map_app"][i][valid]) if "map_app" in out else None,
                            "map_mot": _r(out["map_mot"][i][valid]) if "map_mot" in out else None,
                            "attn_last": _r(att["last"][i][valid]),
                            "tattn_last": _r(att["temporal"][i][valid]), "feature_hw": [hh, ww],
                            "prediction": {"t_start": predictions[vid]["t_start"], "t_end": predictions[vid]["t_end"],
                                           "boxes": {str(f): _r(bx, 1) for f, bx in predictions[vid]["boxes"].items()}},
                        }
    finally:
        for hd in handles:
            hd.remove()
    summary = {k: (round(sum(v) / len(v), 4) if v else None) for k, v in sums.items()}
    return summary, (detail if keep_detail else None)


@pytest.mark.parametrize("overrides", [{}, {"query_init": "oracle"}, {"branches": ["motion"]},
                                       {"use_tts": False, "use_asa": False, "query_init": "zero"}])
def test_analyse_reads_intermediates_with_the_hooks_numbers(data, overrides) -> None:
    test_set, collate = data
    model = tiny(overrides)
    task = GroundingTask(TASTVGLoss(model.cfg.loss, model.cfg.model), torch.device("cpu"), split_test=False)
    with torch.no_grad():
        preds = predict_all(model, test_set, collate, task)
    summary, detail = analyse(model, test_set, collate, preds, task, keep_detail=True)
    ref_summary, ref_detail = analyse_with_hooks(model, test_set, collate, preds, task, keep_detail=True)
    assert summary.keys() == ref_summary.keys()
    for k, v in ref_summary.items():
        assert (v is None) == (summary[k] is None), k
        if v is not None:
            assert abs(summary[k] - v) <= 1e-6, k
    assert detail == ref_detail
    if overrides.get("use_tts") is False:
        assert summary["tts_in_span"] is None and summary["asa_in_box"] is None
    else:
        assert summary["tts_in_span"] is not None and summary["asa_in_box"] is not None
    # no hook is left behind and nothing is stored after the call
    assert not any(layer.cross_attn._forward_hooks for layer in model.spatial_decoder.layers)
    assert not model.temporal_decoder.layers[-1].cross_attn_image._forward_hooks


def test_needs_targets_looks_through_wrappers() -> None:
    oracle, aware = tiny({"query_init": "oracle"}), tiny({})
    assert needs_targets(oracle) and not needs_targets(aware)
    assert needs_targets(ModelEMA(oracle)) and needs_targets(ModelEMA(oracle).module)
    wrapper = torch.nn.Module()
    wrapper.module = oracle  # what DistributedDataParallel looks like to unwrap
    assert needs_targets(wrapper) and not needs_targets(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("split_test", [False, True])
def test_an_oracle_model_predicts_through_grounding_task(data, split_test: bool) -> None:
    test_set, collate = data
    oracle, aware = tiny({"query_init": "oracle"}), tiny({})  # the same weights (oracle has none of its own)
    task = GroundingTask(TASTVGLoss(oracle.cfg.loss, oracle.cfg.model), torch.device("cpu"), split_test=split_test)
    batch = collate([test_set[i] for i in range(3)])
    with torch.no_grad():
        p_oracle, p_aware = task.predict(oracle, batch), task.predict(aware, batch)
    assert sorted(p_oracle) == sorted(p_aware) == sorted(batch["item_ids"])
    assert p_oracle != p_aware  # ground-truth queries change the tubes
    with pytest.raises(ValueError, match="oracle"):  # without the targets the oracle cannot run
        oracle(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"])


def test_split_sub_clips_carry_their_targets() -> None:
    pad = torch.tensor([[False] * 5, [False] + [True] * 4])
    boxes = torch.arange(2 * 5 * 4, dtype=torch.float32).view(2, 5, 4)
    act = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0]])
    batch = {"frames": torch.zeros(2, 5, 3, 2, 2), "frame_pad": pad, "item_ids": ["a", "b"],
             "text_ids": torch.tensor([[0, 7, 2], [0, 8, 2]]), "text_mask": torch.ones(2, 3, dtype=torch.long),
             "image_pad": torch.zeros(2, 2, 2, dtype=torch.bool),
             "targets": {"frame_ids": torch.tensor([[10, 12, 14, 16, 18], [40, -1, -1, -1, -1]]),
                         "orig_sizes": torch.tensor([[90, 160], [90, 160]]), "boxes": boxes, "actioness": act}}
    inputs, _ = split_batch_interleaved(batch)
    tg = inputs["targets"]
    assert tg["actioness"].tolist() == [[0, 1, 1], [1, 0, 0], [1, 0, 0], [1, 0, 0]]
    assert torch.equal(tg["boxes"][0], boxes[0, [0, 2, 4]]) and torch.equal(tg["boxes"][1, :2], boxes[0, [1, 3]])
    assert torch.equal(tg["boxes"][3, 0], boxes[1, 0]) and not tg["boxes"][1, 2].any()


def test_theta_sweep_by_hand() -> None:
    a = torch.tensor([[0.9, 0.8, 0.1, 0.2], [0.3, 0.2, 0.1, 0.0]])
    span = torch.tensor([[True, True, False, False], [False, True, True, False]])
    pad = torch.tensor([[False] * 4, [False, False, False, True]])
    low, mid, high = theta_sweep(a, span, pad, [0.0, 0.5, 0.95])
    # θ = 0: every valid frame but video 1's a_t = 0.0 (padded anyway) -> 7 frames, 4 of them in the span
    assert low == {"theta": 0.0, "precision": 4 / 7, "recall": 1.0, "fallback": 0.0, "frames_kept": 3.5}
    # θ = 0.5: video 0 keeps frames 0, 1 (both in the span); video 1 falls back to its 3 valid frames
    assert mid == {"theta": 0.5, "precision": 4 / 5, "recall": 1.0, "fallback": 0.5, "frames_kept": 2.5}
    # θ = 0.95: both videos fall back to all their valid frames
    assert high["fallback"] == 1.0 and high["frames_kept"] == 3.5 and high["precision"] == 4 / 7
