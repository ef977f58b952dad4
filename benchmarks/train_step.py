"""Speed and peak memory of one TA-STVG training step (forward + loss + backward + AdamW step).

    python benchmarks/train_step.py                                   # CPU: synth, tiny, paper at small sizes
    python benchmarks/train_step.py --device cuda --amp bf16 --cases paper-hcstvg:64:420x588 \
        "paper-hcstvg:64:420x588+model.efficient_attention=true+model.checkpointing=[backbone2d,encoder]"

Each case is PRESET:FRAMES:HxW, optionally followed by +SECTION.FIELD=VALUE config overrides
(VALUE parsed as YAML). Inputs are random (a clip, a 24-token sentence, a ground-truth
span over the middle half); the numbers measure the model, not the data pipeline. Prints a table:
clips/s, seconds per step and peak memory (GPU: torch.cuda.max_memory_allocated; CPU: the process's
peak resident set size, which includes Python and libraries).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import sys
import time

import torch

import yaml

from tastvg.config import config_from_dict, resolve_config
from tastvg.losses import TASTVGLoss
from tastvg.models.tastvg import build_model

DEFAULT_CPU_CASES = ["synth:8:64x64", "tiny:8:64x64", "paper-hcstvg:4:224x224"]


def fake_batch(cfg, frames: int, height: int, width: int, device: torch.device, text_len: int = 24):
    g = torch.Generator().manual_seed(0)
    video = torch.randn(1, frames, 3, height, width, generator=g)
    pad = torch.zeros(1, frames, dtype=torch.bool)
    ids = torch.randint(3, min(cfg.text.vocab_size, 1000), (1, text_len), generator=g)
    ids[:, 0], ids[:, -1] = 0, 2  # <s> ... </s>
    mask = torch.ones(1, text_len, dtype=torch.long)
    act = torch.zeros(1, frames)
    act[:, frames // 4 : frames // 4 + max(2, frames // 2)] = 1
    boxes = torch.tensor([0.5, 0.5, 0.3, 0.4]).expand(1, frames, 4).clone()
    targets = {"boxes": boxes, "actioness": act,
               "attr_app": (torch.rand(1, cfg.model.app_num, generator=g) > 0.8).float(),
               "attr_mot": (torch.rand(1, cfg.model.mot_num, generator=g) > 0.9).float()}
    move = lambda x: x.to(device)
    return move(video), move(pad), move(ids), move(mask), {k: move(v) for k, v in targets.items()}


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB on Linux


def run_case(case: str, device: torch.device, amp: str, steps: int, overrides: list[str]) -> dict:
    spec, *case_overrides = case.split("+")
    preset, frames, size = spec.split(":")
    frames, (height, width) = int(frames), map(int, size.lower().split("x"))
    tree = resolve_config(preset).to_dict()
    for item in [*overrides, *case_overrides]:  # section.field=value, e.g. model.two_pass=false
        key, value = item.split("=", 1)
        section, name = key.split(".")
        tree[section][name] = yaml.safe_load(value)
    cfg = config_from_dict(tree, where=case)
    model = build_model(cfg).to(device).train()
    criterion = TASTVGLoss(cfg.loss, cfg.model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=1e-4)
    video, pad, ids, mask, targets = fake_batch(cfg, frames, height, width, device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    ctx = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext

    def step() -> float:
        with ctx():
            out = model(video, pad, ids, mask, targets)
            loss = criterion(out, targets)["loss"]
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step()  # warm-up (allocator, cuDNN autotuning)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - t0) / steps
    n_params = sum(p.numel() for p in model.parameters())
    row = {"case": case, "params_M": n_params / 1e6, "amp": amp, "s_per_step": seconds,
           "clips_per_s": 1.0 / seconds, "peak_GB": peak_memory_gb(device), "loss": loss}
    del model, opt, criterion
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--cases", nargs="+", default=None, help="PRESET:FRAMES:HxW ... (default: small CPU cases)")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.FIELD=VALUE", help="config overrides")
    args = p.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    amp = args.amp if args.amp != "auto" else ("bf16" if device.type == "cuda" else "off")
    cases = args.cases or DEFAULT_CPU_CASES
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU x{torch.get_num_threads()} threads"
    print(f"device: {name}   torch {torch.__version__}")
    header = f"{'case':<28}{'params (M)':>11}{'amp':>6}{'s/step':>9}{'clips/s':>9}{'peak (GB)':>11}{'loss':>9}"
    print(header)
    print("-" * len(header))
    for case in cases:
        try:
            r = run_case(case, device, amp, args.steps, args.set)
            print(f"{r['case']:<28}{r['params_M']:>11.1f}{r['amp']:>6}{r['s_per_step']:>9.3f}{r['clips_per_s']:>9.2f}"
                  f"{r['peak_GB']:>11.2f}{r['loss']:>9.3f}", flush=True)
        except torch.OutOfMemoryError as err:
            print(f"{case:<28}  out of memory: {str(err).splitlines()[0]}", flush=True)
            gc.collect()
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
