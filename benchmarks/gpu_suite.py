"""The GPU suite of issue 17: memory and speed of the paper training step, batching, the real CLI, evaluation.

    python benchmarks/gpu_suite.py --device cuda --json benchmarks/results/gpu_suite.json   # one H200: < 8 min
    python benchmarks/gpu_suite.py --device cpu --smoke --json /tmp/gpu_suite_smoke.json   # CPU rehearsal, ~1 min

Parts (each with its own wall-time budget; a part over budget stops after the step it is in and
records what it measured; a part that fails records its error and the suite goes on):

1. ``train_step``: the paper step (paper-hcstvg, 64 frames, 420x588, B = 1) in fp32, bf16 autocast,
   bf16 + fused attention, bf16 + fused attention + activation checkpointing; peak
   ``torch.cuda.max_memory_allocated`` and the median step time over the timed steps after warm-up.
   Goal: a configuration at <= 24 GiB peak and >= 2x faster than fp32 (judged only on CUDA at full size).
2. ``batched``: B = 2 and 4 with the best switches of part 1: peak memory, videos/s against B = 1.
3. ``cli``: ``torchrun --nproc_per_node 1 -m tastvg.train --config synth`` on a generated SynthSTVG set:
   a few hundred bf16 steps with the final evaluation, a ``--resume`` continuation, a few fp16 steps
   (GradScaler).
4. ``evaluate``: ``tastvg evaluate --checkpoint`` with a random-weight paper checkpoint written in the
   official layout and converted by ``tastvg convert-official``, on generated HC-STVG-format videos at
   the real size (20 s, 640x360); videos/s with decoding, B = 1 (the CLI) against batched (in-process).

``--smoke`` shrinks everything (tiny / synth presets, 4 frames, 64x96, 2 timed steps). The sizes
and budgets of a full run are in FULL and BUDGETS below. Not run by CI (tests/test_gpu_suite.py
checks the argument parsing, the JSON shape and the goal logic).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_utils import Budget, machine_info, markdown_table, peak_rss_gib  # noqa: E402

PARTS = ("train_step", "batched", "cli", "evaluate")
BUDGETS = {"train_step": 190.0, "batched": 70.0, "cli": 120.0, "evaluate": 90.0}  # seconds; sum 470 < 480
GOAL_PEAK_GIB = 24.0
GOAL_SPEEDUP = 2.0
SUMMARY_LINES = 45  # lines of torch.cuda.memory_summary kept in the JSON when the goal is missed


@dataclass(frozen=True)
class Sizes:
    """Everything a run's size depends on (FULL for the GPU, SMOKE for the CPU rehearsal)."""

    preset: str = "paper-hcstvg"
    frames: int = 64
    height: int = 420
    width: int = 588
    warmup: int = 2
    steps: int = 10
    batches: tuple[int, ...] = (2, 4)
    batch_steps: int = 5
    synth_videos: int = 40
    synth_steps: int = 300
    resume_steps: int = 50
    fp16_steps: int = 5
    eval_preset: str = "paper-hcstvg"
    eval_videos: int = 8
    eval_width: int = 640
    eval_height: int = 360
    eval_seconds: float = 20.0
    eval_fps: float = 25.0
    eval_batch: int = 4
    eval_workers: int = 4
    eval_resize: int | None = None  # None: the official 420-pixel frame height


FULL = Sizes()
SMOKE = Sizes(preset="tiny", frames=4, height=64, width=96, warmup=1, steps=2, batches=(2,), batch_steps=2,
              synth_videos=8, synth_steps=4, resume_steps=2, fp16_steps=2, eval_preset="tiny", eval_videos=2,
              eval_width=112, eval_height=64, eval_seconds=20.0, eval_fps=3.0, eval_batch=2, eval_workers=0,
              eval_resize=64)


def part_configs() -> list[tuple[str, str, list[str]]]:
    """(name, amp, config overrides) of part 1, in order; the first is the fp32 reference."""
    from train_step import CHECKPOINTING, FUSED_ATTENTION

    return [("fp32", "off", []), ("bf16", "bf16", []), ("bf16+fused", "bf16", [FUSED_ATTENTION]),
            ("bf16+fused+ckpt", "bf16", [FUSED_ATTENTION, CHECKPOINTING])]


# ------------------------------------------------------------------------------------ measuring
def memory_facts(device: Any) -> dict[str, float]:
    """Peak memory since the last reset: CUDA allocator (allocated, reserved) or the process's peak RSS."""
    import torch

    if device.type == "cuda":
        return {"peak_GiB": torch.cuda.max_memory_allocated(device) / 2**30,
                "peak_reserved_GiB": torch.cuda.max_memory_reserved(device) / 2**30}
    return {"peak_GiB": peak_rss_gib()}  # process high-water mark: cumulative over the whole run


def time_steps(runner: Any, warmup: int, steps: int, budget: Budget) -> tuple[list[float], float]:
    """Warm-up steps, then up to ``steps`` timed steps while the budget lasts (at least one)."""
    loss = float("nan")
    for _ in range(warmup):
        _, loss = runner.timed_step()
    times: list[float] = []
    while len(times) < steps and (not times or not budget.over()):
        seconds, loss = runner.timed_step()
        times.append(seconds)
    return times, loss


def measure(name: str, amp: str, overrides: list[str], sizes: Sizes, device: Any, budget: Budget,
            batch: int = 1, snapshot: Path | None = None) -> dict[str, Any]:
    """Build one configuration and measure its training step; returns one table row."""
    import torch

    from train_step import TrainStep, case_config, release_memory

    row: dict[str, Any] = {"config": name, "amp": amp, "batch": batch, "overrides": " ".join(overrides)}
    runner = None
    try:
        cfg = case_config(sizes.preset, overrides, where=name)
        runner = TrainStep(cfg, sizes.frames, sizes.height, sizes.width, device, amp, batch=batch)
        if device.type == "cuda":
            row["weights_GiB"] = torch.cuda.memory_allocated(device) / 2**30
            torch.cuda.reset_peak_memory_stats(device)
        times, loss = time_steps(runner, sizes.warmup, sizes.steps, budget)
        row.update(step_row(times, batch, loss), **memory_facts(device))
        if device.type == "cuda":  # weights + gradients-free optimiser state between steps
            row["between_steps_GiB"] = torch.cuda.memory_allocated(device) / 2**30
            row["memory_summary"] = "\n".join(torch.cuda.memory_summary(device, abbreviated=True)
                                              .splitlines()[:SUMMARY_LINES])
            if snapshot is not None:
                record_snapshot(runner, snapshot)
                row["snapshot"] = str(snapshot)
    except torch.OutOfMemoryError as err:
        row.update(status="out of memory", error=str(err).splitlines()[0], **memory_facts(device))
    finally:
        if runner is not None:
            runner.close()
        release_memory(device)
    return row


def step_row(times: list[float], batch: int, loss: float) -> dict[str, Any]:
    """Median step time, throughput and status of a list of timed steps."""
    median = statistics.median(times)
    return {"status": "ok", "timed_steps": len(times), "median_s": median, "videos_per_s": batch / median,
            "loss": loss}


def record_snapshot(runner: Any, path: Path) -> None:
    """One more step under the CUDA memory-history recorder; the snapshot (pickle) goes to ``path``."""
    import torch

    torch.cuda.memory._record_memory_history(max_entries=100_000)
    try:
        runner.step()
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.cuda.memory._dump_snapshot(str(path))
    finally:
        torch.cuda.memory._record_memory_history(enabled=None)


def judge_goal(rows: list[dict[str, Any]], device: str, smoke: bool) -> dict[str, Any]:
    """Speed-ups against fp32 (filled into ``rows``) and the verdict on the 24 GiB / 2x goal."""
    goal = {"target": f"peak <= {GOAL_PEAK_GIB:g} GiB and >= {GOAL_SPEEDUP:g}x faster per step than fp32"}
    ref = next((r for r in rows if r["config"] == "fp32" and r.get("status") == "ok"), None)
    for r in rows:
        if ref is not None and r.get("status") == "ok":
            r["speedup_vs_fp32"] = ref["median_s"] / r["median_s"]
    if device != "cuda" or smoke:
        return {**goal, "verdict": "not judged (CPU or smoke sizes)", "met_by": []}
    if ref is None:
        return {**goal, "verdict": "not judged: the fp32 reference was not measured", "met_by": []}
    met = [r["config"] for r in rows if r.get("status") == "ok" and r["peak_GiB"] <= GOAL_PEAK_GIB
           and r["speedup_vs_fp32"] >= GOAL_SPEEDUP]
    return {**goal, "verdict": f"met by {', '.join(met)}" if met else "not met", "met_by": met}


def best_config(rows: list[dict[str, Any]], goal: dict[str, Any], device: str = "cuda") -> str:
    """Part 2's switches: the fastest configuration that met the goal, else the one with the lowest peak
    (on CUDA; a CPU peak RSS is cumulative over the run, so there it is the full switch set)."""
    if device != "cuda":
        return part_configs()[-1][0]
    ok = [r for r in rows if r.get("status") == "ok" and r["config"] != "fp32"]
    met = [r for r in ok if r["config"] in goal.get("met_by", [])]
    if met:
        return min(met, key=lambda r: r["median_s"])["config"]
    if ok:
        return min(ok, key=lambda r: r["peak_GiB"])["config"]
    return part_configs()[-1][0]


# ------------------------------------------------------------------------------------ parts 1-2
TRAIN_COLUMNS = ["config", "batch", "status", "timed_steps", "median_s", "videos_per_s", "speedup_vs_fp32",
                 "peak_GiB", "peak_reserved_GiB", "weights_GiB", "between_steps_GiB"]


def part_train_step(ctx: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Part 1: the four precision / memory-switch configurations of the paper step at B = 1."""
    configs = part_configs()
    rows: list[dict[str, Any]] = []
    for i, (name, amp, overrides) in enumerate(configs):
        if budget.over():
            rows.append({"config": name, "status": "not run: part over budget"})
            continue
        share = Budget(budget.left() / (len(configs) - i))
        snapshot = ctx["snapshot"] if i == len(configs) - 1 else None
        rows.append(measure(name, amp, overrides, ctx["sizes"], ctx["device"], share, snapshot=snapshot))
    goal = judge_goal(rows, ctx["device"].type, ctx["smoke"])
    if not goal["verdict"].startswith("not met"):
        for r in rows:
            r.pop("memory_summary", None)  # kept only to explain a missed goal
    ctx["part1"] = {"rows": rows, "goal": goal}
    return {"rows": rows, "goal": goal, "columns": TRAIN_COLUMNS}


def part_batched(ctx: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Part 2: B = 2, 4 with the best switches of part 1, against its B = 1 row."""
    part1 = ctx.get("part1", {"rows": [], "goal": {}})
    name = best_config(part1["rows"], part1["goal"], ctx["device"].type)
    amp, overrides = next((a, o) for n, a, o in part_configs() if n == name)
    base = next((r for r in part1["rows"] if r["config"] == name and r.get("status") == "ok"), None)
    sizes = ctx["sizes"]
    rows = [dict(base, config=f"{name} (part 1)")] if base else []
    steps_sizes = Sizes(**{**asdict(sizes), "warmup": 1, "steps": sizes.batch_steps})
    for i, batch in enumerate(sizes.batches):
        if budget.over():
            rows.append({"config": name, "batch": batch, "status": "not run: part over budget"})
            continue
        share = Budget(budget.left() / (len(sizes.batches) - i))
        row = measure(name, amp, overrides, steps_sizes, ctx["device"], share, batch=batch)
        row.pop("memory_summary", None)
        rows.append(row)
        if row.get("status") != "ok":
            break  # a larger batch will not fit either
    for r in rows:
        if base and r.get("status") == "ok":
            r["throughput_vs_B1"] = r["videos_per_s"] / base["videos_per_s"]
    return {"switches": name, "rows": rows,
            "columns": ["config", "batch", "status", "timed_steps", "median_s", "videos_per_s", "throughput_vs_B1",
                        "peak_GiB", "peak_reserved_GiB"]}


def part_cli(ctx: dict[str, Any], budget: Budget) -> dict[str, Any]:
    from suite_cli import run_cli_part

    return run_cli_part(ctx["sizes"], ctx["device"].type, ctx["workdir"], budget)


def part_evaluate(ctx: dict[str, Any], budget: Budget) -> dict[str, Any]:
    from suite_cli import run_evaluate_part

    return run_evaluate_part(ctx["sizes"], ctx["device"], ctx["workdir"], budget)


PART_FUNCTIONS: dict[str, Callable[[dict[str, Any], Budget], dict[str, Any]]] = {
    "train_step": part_train_step, "batched": part_batched, "cli": part_cli, "evaluate": part_evaluate}


# ------------------------------------------------------------------------------------ the suite
def run_part(name: str, ctx: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Run one part under its budget; failures become a record, never an exception."""
    budget = Budget(seconds)
    try:
        result = PART_FUNCTIONS[name](ctx, budget)
        rows = result.get("rows", [])
        incomplete = any(str(r.get("status", "ok")) != "ok" for r in rows)
        status = "over budget" if budget.over() else ("partial" if incomplete else "ok")
    except Exception as err:  # noqa: BLE001 - the suite records and goes on
        result = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-3000:]}
        status = "failed"
    return {"status": status, "budget_s": seconds, "seconds": round(budget.elapsed(), 1), **result}


def print_part(name: str, part: dict[str, Any]) -> None:
    print(f"\n## part {PARTS.index(name) + 1}: {name}  ({part['status']}, {part['seconds']:.0f} s of "
          f"{part['budget_s']:.0f} s)")
    if "error" in part:
        print(f"error: {part['error']}")
    if part.get("rows"):
        print(markdown_table(part["rows"], part.get("columns") or list(part["rows"][0])))
    for key in ("goal", "switches", "notes"):
        if key in part:
            print(f"{key}: {part[key]}")
    sys.stdout.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (CPU rehearsal)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--json", type=Path, default=None, help="write the full result here")
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder for generated data and runs "
                   "(default: a temporary folder, deleted at the end)")
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply every part's wall-time budget")
    p.add_argument("--snapshot", type=Path, default=None,
                   help="CUDA: dump a memory snapshot (torch.cuda.memory._dump_snapshot) of one step of the "
                        "last part-1 configuration here (view at https://pytorch.org/memory_viz)")
    return p.parse_args(argv)


def run_suite(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA device is visible (use --device cpu --smoke to rehearse)")
    sizes = SMOKE if args.smoke else FULL
    ctx = {"sizes": sizes, "device": torch.device(args.device), "smoke": args.smoke, "workdir": workdir,
           "snapshot": args.snapshot if args.device == "cuda" else None}
    result: dict[str, Any] = {"machine": machine_info(args.device), "smoke": args.smoke, "sizes": asdict(sizes),
                              "budgets_s": {p: BUDGETS[p] * args.budget_scale for p in args.parts}, "parts": {}}
    print(f"device: {result['machine'].get('gpu', result['machine'].get('cpu'))}  torch {torch.__version__}  "
          f"{result['machine']['date_utc']}  {'smoke' if args.smoke else 'full'} sizes")
    total = Budget(float("inf"))
    for name in args.parts:
        part = run_part(name, ctx, BUDGETS[name] * args.budget_scale)
        result["parts"][name] = part
        print_part(name, part)
        if args.json:  # after every part, so a killed run keeps what it measured
            write_result(args.json, result)
    result["total_s"] = round(total.elapsed(), 1)
    print(f"\ntotal: {result['total_s']:.0f} s")
    return result


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run_suite(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="tastvg-gpu-suite-") as tmp:
            result = run_suite(args, Path(tmp))
    if args.json:
        write_result(args.json, result)
        print(f"wrote {args.json}")
    return 0 if all(p["status"] != "failed" for p in result["parts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
