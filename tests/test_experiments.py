"""The ablation runner on a tiny grid: JSON contents, skipping finished runs, the summary table."""

from __future__ import annotations

import argparse
import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tastvg import experiments as ex  # noqa: E402
from tastvg.cli import ablate as ablate_cli  # noqa: E402

TINY = ex.Setup(preset="tiny", videos=6, test_fraction=0.34, knobs={"frames": 8, "size": 32, "distractors": 1},
                epochs=1, batch_size=2, detail_seeds=[0])


def test_grids_name_known_variants_and_overrides_resolve():
    for grid, variants in ex.GRIDS.items():
        assert variants and all(v in ex.VARIANTS for v in variants), grid
    assert set(ex.PRIORITY) == set(ex.GRIDS)
    cfg = ex.resolve_variant("tiny", {"model.query_init": "zero", "model.tts_threshold": 0.3})
    assert cfg.model.query_init == "zero" and cfg.model.tts_threshold == 0.3
    with pytest.raises(ValueError, match="no field 'nope'"):
        ex.resolve_variant("tiny", {"model.nope": 1})
    with pytest.raises(ValueError, match="not one of"):
        ex.resolve_variant("tiny", {"model.query_init": "random"})
    runs = ex.grid_runs(["queries", "activation"], [0, 1])
    assert len(runs) == len(set(runs)) == 2 * 4  # the baseline is shared by both grids
    with pytest.raises(ValueError, match="unknown grid"):
        ex.grid_runs(["nope"], [0])


def test_setup_key_ignores_threads_but_not_data():
    assert ex.Setup(threads=1).key() == ex.Setup(threads=2).key()
    assert ex.Setup().key() != ex.Setup(videos=10).key()
    assert ex.Setup().key() != ex.Setup(knobs={"distractors": 1}).key()


def test_runner_writes_json_skips_finished_runs_and_summarises(tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(1)
    out, cache = tmp_path / "out", tmp_path / "cache"
    monkeypatch.setitem(ex.GRIDS, "mini", ["zero_queries", "oracle_queries"])
    logs: list[str] = []
    records = ex.run_grid(["mini"], [0], TINY, out, cache, log=logs.append)
    assert [r["variant"] for r in records] == ["zero_queries", "oracle_queries"]
    assert not ex.weights_path(out, "zero_queries", 0).exists()  # only the seed-0 baseline keeps weights

    rec = json.loads(ex.run_path(out, "zero_queries", 0).read_text())
    assert rec["seed"] == 0 and rec["overrides"] == {"model.query_init": "zero"}
    assert rec["config"]["model"]["query_init"] == "zero" and rec["config"]["name"] == "tiny"
    assert rec["setup_key"] == TINY.key() and rec["setup"]["videos"] == 6
    assert set(ex.METRICS) <= set(rec["metrics"]) and all(0.0 <= rec["metrics"][k] <= 1.0 for k in ex.METRICS)
    assert rec["train"] == {"steps": 2, "train_videos": 4, "test_videos": 2}
    assert rec["wall_time_s"] > 0 and rec["code_version"]["tastvg"]
    assert 0.0 <= rec["analysis"]["attn_in_box_last"] <= 1.0
    detail = json.loads(ex.detail_path(out, "zero_queries", 0).read_text())
    assert len(detail) == 2 and all(len(d["tts"]) == len(d["frame_ids"]) == 8 for d in detail.values())
    # the oracle run evaluated with ground-truth queries (it would raise without targets)
    assert json.loads(ex.run_path(out, "oracle_queries", 0).read_text())["metrics"]

    # rerun: nothing trains again
    logs.clear()
    assert ex.run_grid(["mini"], [0], TINY, out, cache, log=logs.append) == []
    assert logs == ["skip zero_queries seed 0: finished", "skip oracle_queries seed 0: finished"]
    # a different setup does not count as finished
    assert not ex.is_finished(out, "zero_queries", 0, ex.Setup(preset="tiny", videos=7))
    # nor does a run whose resolved config differs from what the preset gives now (an edited preset)
    stale = json.loads(ex.run_path(out, "zero_queries", 0).read_text())
    stale["config"]["optim"]["lr_base"] *= 2
    ex.run_path(out, "zero_queries", 0).write_text(json.dumps(stale))
    assert not ex.is_finished(out, "zero_queries", 0, TINY) and ex.is_finished(out, "oracle_queries", 0, TINY)

    df = ex.write_summary(out, TINY.key(), command="tastvg ablate --grids mini")
    mini = df[df["grid"] == "mini"]
    assert list(mini["variant"]) == ["zero_queries", "oracle_queries"] and list(mini["seeds"]) == [1, 1]
    assert mini["m_vIoU mean"].iloc[0] == pytest.approx(round(100 * rec["metrics"]["m_vIoU"], 2))
    assert set(df["grid"]) == {"mini", "queries"}  # grids with no finished run are left out
    md = (out / "summary.md").read_text()
    assert "`tastvg ablate --grids mini`" in md and "| mini | zero_queries | 1 |" in md
    # the seed-0 baseline of a grid keeps its EMA weights for readers: OUT/baseline/seed0.pth
    monkeypatch.setitem(ex.GRIDS, "base", ["baseline"])
    ex.run_grid(["base"], [0], TINY, tmp_path / "out2", cache, log=logs.append)
    assert ex.weights_path(tmp_path / "out2", "baseline", 0).is_file()
    assert (out / "summary.csv").is_file()


def test_cli_arguments_and_bad_knob(tmp_path):
    parser = argparse.ArgumentParser()
    ablate_cli.add_arguments(parser)
    args = parser.parse_args(["--grids", "queries", "--seeds", "0", "--knob", "distractors=2", "--out", str(tmp_path)])
    setup = ablate_cli.setup_from_args(args)
    assert setup.knobs == {"distractors": 2} and args.grids == ["queries"]
    assert "--knob distractors=2" in ablate_cli.canonical_command(args)
    bad = parser.parse_args(["--knob", "speed=3"])
    with pytest.raises(SystemExit, match="speed=3"):
        ablate_cli.setup_from_args(bad)


def test_lock_files_let_parallel_workers_share_a_grid(tmp_path):
    lock = ex.run_path(tmp_path, "baseline", 0).with_suffix(".lock")
    assert ex._claim(tmp_path, "baseline", 0) and lock.read_text() == str(os.getpid())
    assert not ex._claim(tmp_path, "baseline", 0)  # held by a live process (this one)
    lock.write_text("999999999")  # a worker that died: its lock is taken over
    assert ex._claim(tmp_path, "baseline", 0)
    assert ablate_cli._argv_without_jobs(["ablate", "--jobs", "2", "--seeds", "0"]) == ["--seeds", "0"]


def test_sweep_sets_each_value_on_the_ema_model_and_restores_it():
    class Tts:
        threshold, appearance_weight = 0.7, 0.5

    class FakeTrainer:  # evaluate() reports the TTS setting it was called with
        def __init__(self):
            self.ema = type("Ema", (), {"module": type("M", (), {"tts": Tts()})()})()
            self.seen = []

        def evaluate(self):
            tts = self.ema.module.tts
            self.seen.append((tts.threshold, tts.appearance_weight))
            return {k: tts.threshold + tts.appearance_weight for k in ex.METRICS}

    trainer = FakeTrainer()
    sweeps = ex.sweep_tts_at_test_time(trainer)
    thetas, deltas = ex.TEST_TIME_SWEEPS["theta"][1], ex.TEST_TIME_SWEEPS["delta"][1]
    assert trainer.seen == [(t, 0.5) for t in thetas] + [(0.7, d) for d in deltas]
    assert [r["m_vIoU"] for r in sweeps["theta"]] == [t + 0.5 for t in thetas]
    assert [r["m_tIoU"] for r in sweeps["delta"]] == [0.7 + d for d in deltas]
    tts = trainer.ema.module.tts
    assert (tts.threshold, tts.appearance_weight) == (0.7, 0.5)  # restored


def test_baseline_run_records_test_time_sweeps(tmp_path):
    import torch

    torch.set_num_threads(1)
    rec = ex.run_one("baseline", 0, TINY, tmp_path / "out", tmp_path / "cache")
    sweeps = rec["test_time_sweeps"]
    assert [r["value"] for r in sweeps["theta"]] == ex.TEST_TIME_SWEEPS["theta"][1]
    assert [r["value"] for r in sweeps["delta"]] == ex.TEST_TIME_SWEEPS["delta"][1]
    # the trained setting, evaluated again, gives exactly the run's metrics
    trained = {"theta": rec["config"]["model"]["tts_threshold"], "delta": rec["config"]["model"]["tts_appearance_weight"]}
    for name, value in trained.items():
        row = next(r for r in sweeps[name] if r["value"] == value)
        assert {k: row[k] for k in ex.METRICS} == {k: rec["metrics"][k] for k in ex.METRICS}, name
    zero = ex.run_one("zero_queries", 0, TINY, tmp_path / "out", tmp_path / "cache", keep_weights=True)
    assert zero["test_time_sweeps"] is None
    # the kept EMA weights reproduce the run's numbers through `tastvg evaluate --checkpoint`'s path
    from tastvg.evaluation import evaluate
    from tastvg.train.predict import predict_from_checkpoint

    path = ex.weights_path(tmp_path / "out", "zero_queries", 0)
    assert path.stat().st_size < 10_000_000
    # initialisation files named by the run's config (relative paths, absent elsewhere) are not read:
    # the kept weights replace every tensor they would set
    import torch

    state = torch.load(path, weights_only=True)
    state["config"]["model"]["model"]["grounding_weights"] = "results/pretrain/not-here.pth"
    state["config"]["model"]["video_swin"]["weights"] = "results/pretrain/not-here-either.pth"
    torch.save(state, path)
    gt, pred = predict_from_checkpoint(path, ex.prepare_data(TINY, tmp_path / "cache"))
    again = evaluate(gt, pred)
    assert {k: again[k] for k in ex.METRICS} == pytest.approx({k: zero["metrics"][k] for k in ex.METRICS}, abs=1e-6)  # batch 1 vs 4
    # a run made before a probe was added gets it from its kept weights, the rest unchanged
    import json

    out = tmp_path / "out"
    detail = json.loads(ex.detail_path(out, "zero_queries", 0).read_text())
    stripped = {vid: {k: v for k, v in e.items() if k != "tattn_last"} for vid, e in detail.items()}
    ex.detail_path(out, "zero_queries", 0).write_text(json.dumps(stripped))
    analysis = ex.reanalyse(out, "zero_queries", 0, TINY, tmp_path / "cache")
    assert analysis == pytest.approx(zero["analysis"], abs=1e-4)
    assert json.loads(ex.detail_path(out, "zero_queries", 0).read_text()) == detail
    assert json.loads(ex.run_path(out, "zero_queries", 0).read_text())["analysis"] == analysis
