"""Parts 3 and 4 of benchmarks/gpu_suite.py: the real training CLI, and evaluation throughput.

Part 3 runs ``torchrun --nproc_per_node 1 -m tastvg.train --config synth`` (as
``python -m torch.distributed.run --standalone``, the same program) on a SynthSTVG set made by
``tastvg synth``: bf16 steps with the final evaluation, a ``--resume`` continuation, fp16 steps.

Part 4 writes HC-STVG v1-format videos at the real size (SynthSTVG scenes scaled up to 640x360 and
stretched to 20 s), a random-weight paper model in the official checkpoint layout, converts it with
``tastvg convert-official``, times ``tastvg evaluate --checkpoint`` (B = 1: the CLI has no batch option)
and the same prediction loop in-process at B = 1 and batched, decoding included.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench_utils import REPO, Budget, run_command

TOKENIZER = REPO / "data_samples" / "tokenizer"  # ~1000-token stand-in for roberta-base: only timing matters


def tastvg(*args: str) -> list[str]:
    """The ``tastvg`` console script of this interpreter's environment (PATH may hold another)."""
    script = Path(sys.executable).with_name("tastvg")
    return [str(script) if script.is_file() else "tastvg", *args]


# ------------------------------------------------------------------------------------ part 3
def train_command(device: str, data: Path, out: Path, amp: str, steps: int, resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
           "-m", "tastvg.train", "--config", "synth", "--data-root", str(data), "--out", str(out),
           "--device", device]
    if resume:
        cmd.append("--resume")
    return cmd + [f"train.amp={amp}", f"train.max_steps={steps}", "train.progress=false",
                  f"train.log_every={max(1, min(50, steps // 4))}", f"train.checkpoint_every={max(1, steps // 2)}"]


def read_log(run: Path) -> dict[str, Any]:
    """Last step, last train clips/s and the last test scores of a run's log.csv."""
    path = run / "log.csv"
    if not path.is_file():
        return {}
    rows = list(csv.DictReader(path.open(newline="")))
    last = lambda key: next((float(r[key]) for r in reversed(rows) if r.get(key)), None)  # noqa: E731
    return {"last_step": int(max(float(r["step"]) for r in rows)) if rows else None,
            "clips_per_s": last("train/clips_per_s"), "train_loss": last("train/loss"),
            "test_m_vIoU": last("test/m_vIoU"), "test_m_tIoU": last("test/m_tIoU")}


def scaler_scale(run: Path) -> float | None:
    """The GradScaler scale saved in ``run/last.pth`` (None when there is none)."""
    import torch

    path = run / "last.pth"
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False).get("scaler") or {}
    return state.get("scale")


def cli_stage(name: str, cmd: list[str], run: Path, budget: Budget, expect_step: int,
              must_print: str = "") -> dict[str, Any]:
    """Run one CLI stage under the part's remaining budget and check it reached ``expect_step``."""
    if budget.over():
        return {"stage": name, "status": "not run: part over budget"}
    res = run_command(cmd, timeout=budget.left())
    row = {"stage": name, "rc": res["rc"], "wall_s": res["seconds"], **read_log(run)}
    problems = []
    if res["timed_out"]:
        problems.append("stopped: over budget")
    elif res["rc"] != 0:
        problems.append(f"rc {res['rc']}: {res['error_line'][:160]}" if res["error_line"] else f"rc {res['rc']}")
    if row.get("last_step") != expect_step:
        problems.append(f"reached step {row.get('last_step')} of {expect_step}")
    if must_print and must_print not in res["output_tail"]:
        problems.append(f"no '{must_print}' in the output")
    row["status"] = "; ".join(problems) or "ok"
    if problems:
        row.update(error_line=res["error_line"], output_tail=res["output_tail"][-1500:])
    return row


def run_cli_part(sizes: Any, device: str, work: Path, budget: Budget) -> dict[str, Any]:
    """Part 3: synth data, bf16 training + evaluation, resume, fp16 + GradScaler."""
    data = work / "synth"
    gen = run_command(tastvg("synth", "--out", str(data), "--videos", str(sizes.synth_videos), "--seed", "0"),
                      timeout=budget.left())
    rows: list[dict[str, Any]] = [{"stage": "tastvg synth", "rc": gen["rc"], "wall_s": gen["seconds"],
                                   "status": "ok" if gen["rc"] == 0 else gen["output_tail"][-500:]}]
    if gen["rc"] != 0:
        return {"rows": rows, "columns": CLI_COLUMNS}
    n, extra = sizes.synth_steps, sizes.resume_steps
    bf16 = work / "run_bf16"
    rows.append(cli_stage(f"train bf16, {n} steps + eval", train_command(device, data, bf16, "bf16", n),
                          bf16, budget, n))
    if (bf16 / "last.pth").is_file():
        rows.append(cli_stage(f"--resume to {n + extra}", train_command(device, data, bf16, "bf16", n + extra, True),
                              bf16, budget, n + extra, must_print="resumed from"))
    fp16 = work / "run_fp16"
    row = cli_stage(f"train fp16 + GradScaler, {sizes.fp16_steps} steps",
                    train_command(device, data, fp16, "fp16", sizes.fp16_steps), fp16, budget, sizes.fp16_steps)
    row["grad_scale"] = scaler_scale(fp16)
    rows.append(row)
    return {"rows": rows, "columns": CLI_COLUMNS}


CLI_COLUMNS = ["stage", "status", "rc", "wall_s", "last_step", "clips_per_s", "train_loss", "test_m_vIoU",
               "grad_scale"]


# ------------------------------------------------------------------------------------ part 4 data
def stretch(frames: np.ndarray, width: int, height: int, repeat: int) -> np.ndarray:
    """Nearest-neighbour resize of ``[T, h, w, 3]`` to ``height x width``, each frame ``repeat`` times."""
    _, h, w, _ = frames.shape
    rows = np.arange(height) * h // height
    cols = np.arange(width) * w // width
    return np.repeat(frames[:, rows][:, :, cols], repeat, axis=0)


def hcstvg_record(anno: dict[str, Any], width: int, height: int, repeat: int, fps: float, app_num: int,
                  mot_num: int) -> dict[str, Any]:
    """A SynthSTVG record scaled to ``width x height`` and ``repeat`` times longer, as an HC-STVG v1 entry."""
    sx, sy = width / anno["width"], height / anno["height"]
    boxes = [[round(x * sx), round(y * sy), max(1, round(w * sx)), max(1, round(h * sy))]
             for x, y, w, h in anno["bbox"] for _ in range(repeat)]
    start = (anno["st_frame"] - 1) * repeat  # 0-based
    return {"width": width, "height": height, "img_num": anno["img_num"] * repeat, "st_frame": start + 1,
            "bbox": boxes, "st_time": round(start / fps, 3), "ed_time": round((start + len(boxes)) / fps, 3),
            "caption": anno["caption"][0].upper() + anno["caption"][1:] + ".", "sub": anno["sub"],
            "adj_index_list": [i % app_num for i in anno["adj_index_list"]],
            "verb_index_list": [i % mot_num for i in anno["verb_index_list"]]}


def write_one_video(root: Path, index: int, sizes: Any, app_num: int, mot_num: int, repeat: int) -> tuple[str, dict]:
    """Render, stretch and encode video ``index``; returns its name and HC-STVG record."""
    from tastvg.data.synth import SynthKnobs, make_video
    from tastvg.data.video import write_video

    total = int(round(sizes.eval_seconds * sizes.eval_fps))
    v = make_video(17, index, SynthKnobs(size=64, frames=max(8, -(-total // repeat))))
    frames = stretch(v.frames, sizes.eval_width, sizes.eval_height, repeat)
    name = f"{index}_bench{index:03d}.mp4"
    write_video(root / "v1_video" / name, frames, fps=sizes.eval_fps)
    return name, hcstvg_record(v.annotation, sizes.eval_width, sizes.eval_height, repeat, sizes.eval_fps,
                               app_num, mot_num)


def write_hcstvg_videos(root: Path, sizes: Any, app_num: int, mot_num: int, repeat: int = 5) -> list[str]:
    """``root/v1_video/*.mp4`` and ``root/annos/{train,test}.json``: ``eval_videos`` HC-STVG v1 videos,
    encoded in parallel (spawned processes: the parent may hold a CUDA context)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    n = sizes.eval_videos
    workers = max(1, min(n, (os.cpu_count() or 1) - 1))
    args = [(root, i, sizes, app_num, mot_num, repeat) for i in range(n)]
    if workers == 1:
        done = [write_one_video(*a) for a in args]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(write_one_video, *zip(*args)))
    test = dict(done)
    (root / "annos").mkdir(parents=True, exist_ok=True)
    (root / "annos" / "test.json").write_text(json.dumps(test))
    first = next(iter(test))
    (root / "annos" / "train.json").write_text(json.dumps({first: test[first]}))
    return list(test)


def official_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """Our parameter names back to the official ones (the inverse of tastvg.convert.PREFIX_MAP)."""
    from tastvg.convert import PREFIX_MAP

    out = {}
    for key, value in state.items():
        old, new = next(((o, n) for o, n in PREFIX_MAP if key.startswith(n)), (None, None))
        if old is None:
            raise ValueError(f"no official name for {key}")
        out[old + key[len(new):]] = value
    return out


def random_paper_checkpoint(model: Any, preset: str, work: Path, budget: Budget) -> tuple[Path | None, dict]:
    """Save ``model`` in the official layout and convert it with the real ``tastvg convert-official``."""
    import torch

    official = work / "official_random.pth"
    torch.save({"model_ema": official_state_dict(model.state_dict())}, official)
    converted = work / "converted_random.pth"
    res = run_command(tastvg("convert-official", str(official), str(converted), "--preset", preset),
                      timeout=budget.left())
    official.unlink()
    row = {"mode": "tastvg convert-official", "wall_s": res["seconds"],
           "status": "ok" if res["rc"] == 0 else f"rc {res['rc']}: {res['output_tail'][-400:]}"}
    return (converted if res["rc"] == 0 else None), row


# ------------------------------------------------------------------------------------ part 4 timing
def eval_data_config(cfg: Any, sizes: Any) -> Any:
    """The official HC-STVG data settings (frames resized to 420 high), or ``sizes.eval_resize`` high."""
    from tastvg.data.config import DataConfig

    extra = {} if sizes.eval_resize is None else {"resize_height": sizes.eval_resize}
    return DataConfig.for_dataset("hcstvg", app_num=cfg.model.app_num, mot_num=cfg.model.mot_num, **extra)


def record_data_config(checkpoint: Path, data_cfg: Any) -> None:
    """Store ``data_cfg`` in a converted checkpoint, as a training checkpoint does (the CLI then uses it)."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state["config"]["data"] = data_cfg.to_dict()
    torch.save(state, checkpoint)


def predict_loop(model: Any, cfg: Any, data_cfg: Any, root: Path, device: Any, batch: int, workers: int,
                 amp: str) -> dict:
    """Predict every test video (decoding included, after one untimed warm-up batch); videos/s."""
    import contextlib

    import torch
    from torch.utils.data import DataLoader

    from tastvg.data.collate import Collator
    from tastvg.data.dataset import build_dataset
    from tastvg.losses import TASTVGLoss
    from tastvg.train.setup import load_tokenizer
    from tastvg.train.task import GroundingTask

    dataset = build_dataset("hcstvg", root, "test", data_cfg, train=False)
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), device, split_test=data_cfg.split_test_clip)
    loader = DataLoader(dataset, batch_size=batch, collate_fn=Collator(load_tokenizer(TOKENIZER, cfg.name)),
                        num_workers=workers)
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp == "bf16" else contextlib.nullcontext
    with ctx():
        task.predict(model, next(iter(loader)))  # warm-up: kernels, allocator
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        n = sum(len(task.predict(model, b)) for b in loader)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    return {"videos": n, "wall_s": seconds, "videos_per_s": n / seconds}


def run_evaluate_part(sizes: Any, device: Any, work: Path, budget: Budget) -> dict[str, Any]:
    """Part 4: generated videos, converted random checkpoint, CLI B = 1 vs in-process batched."""
    import torch

    from tastvg.config import resolve_config
    from tastvg.models.tastvg import build_model

    cfg = resolve_config(sizes.eval_preset)
    root = work / "hcstvg"
    t0 = time.perf_counter()
    names = write_hcstvg_videos(root, sizes, cfg.model.app_num, cfg.model.mot_num)
    rows: list[dict[str, Any]] = [{"mode": f"write {len(names)} videos {sizes.eval_width}x{sizes.eval_height}, "
                                           f"{sizes.eval_seconds:g} s at {sizes.eval_fps:g} fps",
                                   "wall_s": time.perf_counter() - t0, "status": "ok"}]
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    checkpoint, row = random_paper_checkpoint(model, sizes.eval_preset, work, budget)
    rows.append(row)
    data_cfg = eval_data_config(cfg, sizes)
    if checkpoint is not None and sizes.eval_resize is not None:
        record_data_config(checkpoint, data_cfg)
    if checkpoint is not None:  # the CLI first: it is the path users run
        rows.append(evaluate_cli(checkpoint, root, device.type, len(names), budget))
    model.to(device)
    for batch, workers, amp in ((1, 0, "off"), (sizes.eval_batch, sizes.eval_workers, "off"),
                                (sizes.eval_batch, sizes.eval_workers, "bf16")):
        row = {"mode": "in-process predict", "batch": batch, "workers": workers, "amp": amp}
        if budget.over():
            rows.append({**row, "status": "not run: part over budget"})
            continue
        with torch.no_grad():
            rows.append({**row, **predict_loop(model, cfg, data_cfg, root, device, batch, workers, amp), "status": "ok"})
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"rows": rows, "columns": ["mode", "status", "batch", "workers", "amp", "videos", "wall_s", "videos_per_s"],
            "notes": "CLI wall time includes start-up, model build and checkpoint load; in-process rows time "
                     "decoding + prediction only. Videos are synthetic scenes (decode faster than real footage)."}


def evaluate_cli(checkpoint: Path, root: Path, device: str, videos: int, budget: Budget) -> dict[str, Any]:
    """``tastvg evaluate --checkpoint`` on the generated videos (B = 1, fp32), timed end to end."""
    row: dict[str, Any] = {"mode": "tastvg evaluate --checkpoint", "batch": 1, "workers": 0, "amp": "off"}
    if budget.over():
        return {**row, "status": "not run: part over budget"}
    res = run_command(tastvg("evaluate", "--checkpoint", str(checkpoint), "--data-root", str(root),
                       "--dataset", "hcstvg", "--tokenizer", str(TOKENIZER), "--device", device,
                       "--pred-out", str(root / "pred.json")), timeout=budget.left(), env={"TQDM_DISABLE": "1"})
    ok = res["rc"] == 0 and "m_vIoU" in res["output_tail"]
    row.update(videos=videos, wall_s=res["seconds"], videos_per_s=videos / res["seconds"],
               status="ok" if ok else ("stopped: over budget" if res["timed_out"] else f"rc {res['rc']}"))
    if not ok:
        row["output_tail"] = res["output_tail"][-1500:]
    return row
