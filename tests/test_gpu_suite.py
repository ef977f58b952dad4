"""benchmarks/gpu_suite.py in a few seconds: arguments, goal logic, the JSON of its cheapest part on CPU,
and the pieces of parts 3-4 that need no GPU (random official checkpoint, HC-STVG video records).

The full CPU rehearsal (``python benchmarks/gpu_suite.py --device cpu --smoke``, ~2 min) is not run here."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpu_suite  # noqa: E402
import suite_cli  # noqa: E402


def rows(**peaks_and_times: tuple[float, float]) -> list[dict]:
    return [{"config": name, "status": "ok", "peak_GiB": peak, "median_s": s}
            for name, (peak, s) in peaks_and_times.items()]


def test_defaults_are_the_full_gpu_run() -> None:
    args = gpu_suite.parse_args([])
    assert args.device == "cuda" and not args.smoke and args.parts == list(gpu_suite.PARTS)
    assert sum(gpu_suite.BUDGETS.values()) <= 8 * 60
    assert (gpu_suite.FULL.preset, gpu_suite.FULL.frames, gpu_suite.FULL.height, gpu_suite.FULL.width) == \
        ("paper-hcstvg", 64, 420, 588)
    assert gpu_suite.FULL.steps >= 10


def test_goal_needs_both_conditions_on_cuda_at_full_size() -> None:
    r = rows(fp32=(30.0, 2.0), bf16=(34.0, 0.9), **{"bf16+fused": (25.0, 0.9), "bf16+fused+ckpt": (16.0, 1.0)})
    goal = gpu_suite.judge_goal(r, "cuda", smoke=False)
    assert goal["met_by"] == ["bf16+fused+ckpt"] and goal["verdict"].startswith("met by")
    assert r[1]["speedup_vs_fp32"] == pytest.approx(2.0 / 0.9)
    assert gpu_suite.best_config(r, goal) == "bf16+fused+ckpt"
    slow = rows(fp32=(30.0, 2.0), **{"bf16+fused+ckpt": (16.0, 1.5)})
    missed = gpu_suite.judge_goal(slow, "cuda", smoke=False)
    assert missed["verdict"] == "not met" and gpu_suite.best_config(slow, missed) == "bf16+fused+ckpt"


def test_goal_is_never_claimed_without_a_measurement() -> None:
    r = rows(fp32=(30.0, 2.0), bf16=(10.0, 0.5))
    assert gpu_suite.judge_goal(r, "cpu", smoke=False)["met_by"] == []
    assert gpu_suite.judge_goal(r, "cuda", smoke=True)["met_by"] == []
    no_ref = [{"config": "fp32", "status": "out of memory"}] + rows(bf16=(10.0, 0.5))
    assert gpu_suite.judge_goal(no_ref, "cuda", smoke=False)["verdict"].startswith("not judged")


def test_cheapest_part_writes_the_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(gpu_suite.SMOKE, frames=2, height=64, width=64, batch_steps=1)
    monkeypatch.setattr(gpu_suite, "SMOKE", small)
    out = tmp_path / "suite.json"
    assert gpu_suite.main(["--device", "cpu", "--smoke", "--parts", "batched", "--json", str(out),
                           "--workdir", str(tmp_path / "work")]) == 0
    result = json.loads(out.read_text())
    assert {"machine", "smoke", "sizes", "budgets_s", "parts"} <= set(result)
    part = result["parts"]["batched"]
    assert part["status"] == "ok" and part["switches"] == "bf16+fused+ckpt"
    assert [r["batch"] for r in part["rows"]] == list(small.batches)
    assert part["rows"][0]["timed_steps"] == small.batch_steps and part["rows"][0]["videos_per_s"] > 0


def test_a_failing_part_is_recorded_and_the_suite_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx, budget):
        raise RuntimeError("no GPU here")

    monkeypatch.setitem(gpu_suite.PART_FUNCTIONS, "cli", boom)
    part = gpu_suite.run_part("cli", {}, 5.0)
    assert part["status"] == "failed" and "no GPU here" in part["error"]


def test_random_official_checkpoint_converts_back() -> None:
    from tastvg.convert import convert_official_checkpoint
    from tastvg.models import build_model

    state = build_model("tiny").state_dict()
    back = convert_official_checkpoint(suite_cli.official_state_dict(state), "tiny")
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_generated_video_records_parse_as_hcstvg(tmp_path: Path) -> None:
    from tastvg.data.annotations import hcstvg_records
    from tastvg.data.synth import SynthKnobs, make_video

    frames = np.zeros((3, 64, 64, 3), np.uint8)
    assert suite_cli.stretch(frames, 112, 48, repeat=2).shape == (6, 48, 112, 3)
    v = make_video(0, 0, SynthKnobs(frames=16))
    rec = suite_cli.hcstvg_record(v.annotation, 640, 360, repeat=4, fps=3.2, app_num=15, mot_num=60)
    (r,) = hcstvg_records({"0_x.mp4": rec}, tmp_path / "test.json", tmp_path)
    assert r.frame_count == 64 and (r.width, r.height) == (640, 360)
    assert r.t_end - r.t_start + 1 == 4 * len(v.annotation["bbox"])
    assert max(r.app_ids) < 15 and max(r.mot_ids) < 60
