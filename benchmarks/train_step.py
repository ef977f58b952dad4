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
FUSED_ATTENTION = "model.efficient_attention=true"
CHECKPOINTING = "model.checkpointing=[backbone2d,encoder]"


def parse_case(case: str) -> tuple[str, int, int, int, list[str]]:
    """``PRESET:FRAMES:HxW[+SECTION.FIELD=VALUE...]`` -> (preset, frames, height, width, overrides)."""
    spec, *overrides = case.split("+")
    preset, frames, size = spec.split(":")
    height, width = map(int, size.lower().split("x"))
    return preset, int(frames), height, width, overrides


def case_config(preset: str, overrides: list[str], where: str = "benchmark"):
    """The resolved config of ``preset`` with ``section.field=value`` overrides (VALUE as YAML)."""
    tree = resolve_config(preset).to_dict()
    for item in overrides:  # section.field=value, e.g. model.two_pass=false
        key, value = item.split("=", 1)
        section, name = key.split(".")
        tree[section][name] = yaml.safe_load(value)
    return config_from_dict(tree, where=where)


def fake_batch(cfg, frames: int, height: int, width: int, device: torch.device, text_len: int = 24,
               batch: int = 1):
    """Random model inputs and targets for ``batch`` videos (the same clip repeated)."""
    g = torch.Generator().manual_seed(0)
    video = torch.randn(1, frames, 3, height, width, generator=g).expand(batch, -1, -1, -1, -1).contiguous()
    pad = torch.zeros(batch, frames, dtype=torch.bool)
    ids = torch.randint(3, min(cfg.text.vocab_size, 1000), (1, text_len), generator=g).repeat(batch, 1)
    ids[:, 0], ids[:, -1] = 0, 2  # <s> ... </s>
    mask = torch.ones(batch, text_len, dtype=torch.long)
    act = torch.zeros(batch, frames)
    act[:, frames // 4 : frames // 4 + max(2, frames // 2)] = 1
    boxes = torch.tensor([0.5, 0.5, 0.3, 0.4]).expand(batch, frames, 4).clone()
    targets = {"boxes": boxes, "actioness": act,
               "attr_app": (torch.rand(1, cfg.model.app_num, generator=g) > 0.8).float().repeat(batch, 1),
               "attr_mot": (torch.rand(1, cfg.model.mot_num, generator=g) > 0.9).float().repeat(batch, 1)}
    move = lambda x: x.to(device)
    return move(video), move(pad), move(ids), move(mask), {k: move(v) for k, v in targets.items()}


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB on Linux


class TrainStep:
    """Model, loss and AdamW of one config on fixed random inputs; ``step()`` runs one training step
    (forward + loss + backward + clip + AdamW, under autocast when ``amp`` is bf16/fp16)."""

    def __init__(self, cfg, frames: int, height: int, width: int, device: torch.device, amp: str,
                 batch: int = 1) -> None:
        self.device = device
        self.model = build_model(cfg).to(device).train()
        self.criterion = TASTVGLoss(cfg.loss, cfg.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=1e-5, weight_decay=1e-4)
        self.cfg, self.shape = cfg, (frames, height, width)
        self.set_batch(batch)
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def set_batch(self, batch: int) -> None:
        """Use ``batch`` videos per step from now on."""
        self.batch = batch
        self.inputs = fake_batch(self.cfg, *self.shape, self.device, batch=batch)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()

    def step(self) -> float:
        video, pad, ids, mask, targets = self.inputs
        with self.autocast():
            out = self.model(video, pad, ids, mask, targets)
            loss = self.criterion(out, targets)["loss"]
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.params, 0.1)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    def timed_step(self) -> tuple[float, float]:
        """(seconds, loss) of one step, synchronised on CUDA."""
        sync(self.device)
        t0 = time.perf_counter()
        loss = self.step()
        sync(self.device)
        return time.perf_counter() - t0, loss

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def close(self) -> None:
        """Drop the model and optimiser and give the memory back."""
        del self.model, self.opt, self.criterion, self.params, self.inputs
        release_memory(self.device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_case(case: str, device: torch.device, amp: str, steps: int, overrides: list[str]) -> dict:
    preset, frames, height, width, case_overrides = parse_case(case)
    cfg = case_config(preset, [*overrides, *case_overrides], where=case)
    runner = TrainStep(cfg, frames, height, width, device, amp)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    runner.step()  # warm-up (allocator, cuDNN autotuning)
    times, loss = [], float("nan")
    for _ in range(steps):
        seconds, loss = runner.timed_step()
        times.append(seconds)
    seconds = sum(times) / max(len(times), 1)
    row = {"case": case, "params_M": runner.n_params() / 1e6, "amp": amp, "s_per_step": seconds,
           "clips_per_s": 1.0 / seconds, "peak_GB": peak_memory_gb(device), "loss": loss}
    runner.close()
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--cases", nargs="+", default=None, help="PRESET:FRAMES:HxW ... (default: small CPU cases)")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.FIELD=VALUE", help="config overrides")
    p.add_argument("--checkpointing", action="store_true",
                   help=f"activation checkpointing of the trainable ResNet stages and encoder layers ({CHECKPOINTING})")
    args = p.parse_args(argv)
    if args.checkpointing:
        args.set = [*args.set, CHECKPOINTING]
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
