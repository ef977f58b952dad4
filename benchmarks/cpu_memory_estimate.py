"""CPU estimate of the peak memory of one paper training step, extrapolated to 64 frames.

    OMP_NUM_THREADS=1 python benchmarks/cpu_memory_estimate.py                 # 4, 8, 16 frames, 420x588
    python benchmarks/cpu_memory_estimate.py --frames 2 4 8 --json out.json    # smaller set

Each case (frames x memory switches off/on) runs ONE training step (forward + loss + backward +
AdamW, fp32, B = 1, random inputs) of the ``paper-hcstvg`` preset in a fresh subprocess and reports
that process's peak resident set size (``ru_maxrss``) and its RSS after building the model.
A line ``peak = a + b * frames`` is fitted per switch setting and evaluated at 64 frames.

This is an ESTIMATE: CPU RSS is not the CUDA caching allocator's peak (RSS also holds Python,
the libraries and freed-but-kept heap pages; CPU kernels keep other workspaces than cuDNN, and
the fused attention kernel on CPU is not the CUDA one). It says how memory grows with frames,
not what a GPU will show. Cases whose frame count needs more memory than is available are skipped
(and recorded as skipped); the machine's available memory is checked before each case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_utils import available_memory_gib, machine_info, markdown_table, peak_rss_gib, run_command  # noqa: E402
from train_step import CHECKPOINTING, FUSED_ATTENTION  # noqa: E402

SWITCHES = {"off": [], "on": [FUSED_ATTENTION, CHECKPOINTING]}
COLUMNS = ["frames", "switches", "status", "rss_after_build_GiB", "peak_rss_GiB", "step_s"]


def child(preset: str, frames: int, height: int, width: int, switches: str) -> int:
    """Run one training step in this process and print its memory facts as one JSON line."""
    import time

    import torch

    from train_step import TrainStep, case_config

    torch.manual_seed(0)
    cfg = case_config(preset, SWITCHES[switches])
    runner = TrainStep(cfg, frames, height, width, torch.device("cpu"), amp="off")
    built = peak_rss_gib()
    t0 = time.perf_counter()
    runner.step()
    print(json.dumps({"rss_after_build_GiB": built, "peak_rss_GiB": peak_rss_gib(),
                      "step_s": time.perf_counter() - t0}))
    return 0


def need_gib(frames: int) -> float:
    """A generous guess of what one fp32 CPU step needs at 420x588 (model + optimiser + activations)."""
    return 4.0 + 0.6 * frames


def run_case(args: argparse.Namespace, frames: int, switches: str) -> dict[str, Any]:
    """One case in a fresh subprocess (one thread), or a row saying why it was skipped."""
    row: dict[str, Any] = {"frames": frames, "switches": switches}
    free = available_memory_gib()
    row["available_GiB_before"] = round(free, 1)
    limit = max(need_gib(frames), args.min_free_16 if frames >= 16 else 0.0)
    if free < limit:
        return {**row, "status": f"skipped: {free:.1f} GiB available < {limit:.0f} GiB"}
    cmd = [sys.executable, __file__, "--child", args.preset, str(frames), f"{args.height}x{args.width}", switches]
    res = run_command(cmd, timeout=args.case_timeout, env={"OMP_NUM_THREADS": str(args.threads),
                                                           "MKL_NUM_THREADS": str(args.threads)})
    if res["rc"] != 0:
        why = "timed out" if res["timed_out"] else f"failed (rc {res['rc']})"
        return {**row, "status": why, "output_tail": res["output_tail"][-800:]}
    last = [line for line in res["output_tail"].splitlines() if line.startswith("{")][-1]
    return {**row, "status": "ok", **json.loads(last)}


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``y = a + b x`` through ``points`` (None with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - b * mx, b


def summarise(rows: list[dict[str, Any]], target: int) -> list[dict[str, Any]]:
    """Per switch setting: the fit of peak RSS against frames and its value at ``target`` frames."""
    out = []
    for switches in SWITCHES:
        ok = [r for r in rows if r["switches"] == switches and r["status"] == "ok"]
        fit = fit_line([(r["frames"], r["peak_rss_GiB"]) for r in ok])
        act = fit_line([(r["frames"], r["peak_rss_GiB"] - r["rss_after_build_GiB"]) for r in ok])
        row: dict[str, Any] = {"switches": switches, "frames_measured": ",".join(str(r["frames"]) for r in ok)}
        if fit is not None and act is not None:
            row.update(a_GiB=fit[0], b_GiB_per_frame=fit[1], **{f"estimate_{target}f_GiB": fit[0] + fit[1] * target},
                       step_minus_build_GiB_per_frame=act[1])
        out.append(row)
    return out


def merge_runs(files: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of earlier runs (their JSON files): per case the run with the lowest peak RSS, and all rows.

    The RSS high-water mark only errs upwards (heap pages kept after a free, transient workspaces),
    so the lowest of repeated measurements is the better estimate of what a step needs."""
    every = [dict(r, run=str(f)) for f in files for r in json.loads(f.read_text())["rows"]]
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for r in every:
        key = (r["frames"], r["switches"])
        ok = r["status"] == "ok"
        if key not in best or (ok and (best[key]["status"] != "ok" or r["peak_rss_GiB"] < best[key]["peak_rss_GiB"])):
            best[key] = r
    runs = len(files)
    for r in best.values():
        r["runs_of_case"] = sum(1 for e in every if (e["frames"], e["switches"]) == (r["frames"], r["switches"]))
    return [best[k] for k in sorted(best)], every if runs > 1 else []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=4, metavar=("PRESET", "FRAMES", "HxW", "SWITCHES"), help=argparse.SUPPRESS)
    p.add_argument("--preset", default="paper-hcstvg")
    p.add_argument("--frames", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--height", type=int, default=420)
    p.add_argument("--width", type=int, default=588)
    p.add_argument("--target-frames", type=int, default=64, help="extrapolate the fit to this many frames")
    p.add_argument("--threads", type=int, default=1, help="OMP threads of each case (default 1)")
    p.add_argument("--case-timeout", type=float, default=300.0, help="seconds per case before it is stopped")
    p.add_argument("--min-free-16", type=float, default=14.0,
                   help="skip cases of 16+ frames when less memory (GiB) is available")
    p.add_argument("--json", type=Path, default=None, help="write rows, fits and machine facts here")
    p.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                   help="run nothing: combine the rows of earlier runs (lowest peak per case) and fit them")
    args = p.parse_args(argv)
    if args.child:
        preset, frames, size, switches = args.child
        height, width = map(int, size.split("x"))
        return child(preset, int(frames), height, width, switches)
    every: list[dict[str, Any]] = []
    if args.merge:
        rows, every = merge_runs(args.merge)
    else:
        rows = []
        for frames in sorted(args.frames):
            for switches in SWITCHES:
                row = run_case(args, frames, switches)
                rows.append(row)
                print(markdown_table([row], COLUMNS, digits=2).splitlines()[-1], flush=True)
    fits = summarise(rows, args.target_frames)
    print(f"\npeak RSS of one {args.preset} training step, B = 1, {args.height}x{args.width}, fp32, "
          f"{args.threads} thread(s); switches on = {' '.join(SWITCHES['on'])}\n")
    print(markdown_table(rows, COLUMNS + (["runs_of_case"] if every else []), digits=2))
    if every:
        print("\nevery run:\n")
        print(markdown_table(every, COLUMNS + ["run"], digits=2))
    print(f"\nlinear fit peak = a + b * frames, ESTIMATE at {args.target_frames} frames (CPU RSS, not CUDA memory):\n")
    cols = ["switches", "frames_measured", "a_GiB", "b_GiB_per_frame", f"estimate_{args.target_frames}f_GiB",
            "step_minus_build_GiB_per_frame"]
    print(markdown_table(fits, cols, digits=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine_info("cpu"), "preset": args.preset,
                                         "size": [args.height, args.width], "threads": args.threads,
                                         "switches_on": SWITCHES["on"], "rows": rows, "fits": fits, "all_runs": every,
                                         "note": "estimate: CPU peak RSS, not torch.cuda.max_memory_allocated"},
                                        indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
