"""`tastvg train` and `tastvg evaluate --checkpoint` on the shipped SynthSTVG sample: resume modes,
a resume validated before anything is written, interrupts, and one clean line for every error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import free_port, one_error_line as fails
from tastvg.cli import main
from tastvg.paths import data_samples_dir
from tastvg.train.checkpoint import load_checkpoint

SYNTH = str(data_samples_dir() / "synth")
FAST = ["optim.epochs=1", "train.batch_size=2", "train.progress=false", "train.log_every=1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def train(run: Path, *extra: str) -> list[str]:
    return ["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), *FAST, *extra]



@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A two-step tiny run (its folder is shared: copy it before changing it)."""
    run = tmp_path_factory.mktemp("tiny") / "run"
    assert main(train(run, "train.max_steps=2")) == 0
    return run


@pytest.mark.parametrize("argv, message", [
    (["--data-root", "/nonexistent"], "not a folder"),
    (["--config", "no-such-preset"], "no-such-preset"),
    (["decoder.layers=2"], "unknown override section"),
    (["model.no_such_field=2"], "model.no_such_field"),
    (["train.epochs=2"], "optim"),
    (["train.batch_size"], "SECTION.FIELD=VALUE"),
    (["--config", "paper-hcstvg", "--dataset", "synth"], "--tokenizer"),
    (["train.max_steps=abc"], "train.max_steps: expected int, got 'abc'"),
    (["data.flip_prob=high"], "data.flip_prob: expected float"),
    (["model.branches=[motion"], "not a valid YAML value"),
    (["--resume"], "does not exist"),
    (["--resume", "sometimes"], "--resume takes no value or `auto`"),
    (["--init-mdetr", "/nonexistent.pth"], "not a file"),
])
def test_bad_arguments_fail_at_once_in_one_line_naming_the_fix(argv, message, tmp_path, capsys):
    base = {"--config": "tiny", "--data-root": SYNTH}
    for flag in list(base):
        if flag in argv:
            base.pop(flag)
    args = [x for kv in base.items() for x in kv]
    assert message in fails(["train", "--out", str(tmp_path / "run"), *args, *argv], capsys)
    assert not (tmp_path / "run").exists()  # nothing written


def test_broken_annotations_end_in_one_line(tmp_path, capsys):
    (tmp_path / "annos").mkdir()
    (tmp_path / "annos" / "train.json").write_text('{"v.mp4": {"width": 10}}')
    (tmp_path / "annos" / "test.json").write_text("{}")
    assert "train.json" in fails(["train", "--config", "tiny", "--data-root", str(tmp_path), "--out",
                                  str(tmp_path / "run")], capsys)


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    argv = ["evaluate", "--checkpoint", str(junk), "--data-root", SYNTH]
    with pytest.raises(ValueError, match="junk.pth"):
        main([*argv, "--debug"])
    monkeypatch.setenv("TASTVG_DEBUG", "1")
    with pytest.raises(ValueError, match="junk.pth"):
        main(argv)


def test_help_lists_only_train_fields_it_accepts(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  train.")]
    assert "train.max_steps" in listed and "train.lrs" not in listed
    from tastvg.cli.train import add_arguments, resolve
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    from tastvg.train.engine import TrainConfig

    for name in listed:
        value = json.dumps(getattr(TrainConfig(), name.split(".")[1]))
        resolve(parser.parse_intermixed_args(["--config", "tiny", "--data-root", SYNTH, f"{name}={value}"]))


def test_resume_modes_overrides_anywhere_and_leftover_tmp_files(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert load_checkpoint(run / "last.pth")["step"] == 2
    assert "--resume" in fails(train(run), capsys)  # an existing run is never overwritten
    (run / "last.pth.tmp").write_bytes(b"half a checkpoint")  # left by a kill during a write
    # overrides on both sides of the options; --resume swallowing an override gives it back
    argv = ["train", "train.max_steps=3", "--config", "tiny", *FAST, "--data-root", SYNTH, "--out", str(run), "--resume"]
    assert main(argv) == 0
    assert load_checkpoint(run / "last.pth")["step"] == 3 and not (run / "last.pth.tmp").exists()
    assert "resumed from" in capsys.readouterr().out
    assert main([*train(run), "--resume", "train.max_steps=4"]) == 0
    assert load_checkpoint(run / "last.pth")["step"] == 4
    fresh = tmp_path / "fresh"
    assert main([*train(fresh, "train.max_steps=1"), "--resume", "auto"]) == 0  # auto on a new folder: start
    assert load_checkpoint(fresh / "last.pth")["step"] == 1  # (auto continuing: the DDP tests)


def test_a_resume_with_another_config_names_the_fields_and_rewrites_nothing(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    record = {name: (run / name).read_bytes() for name in ("config.yaml", "environment.json", "train_config.json",
                                                          "last.pth", "log.csv")}
    line = fails(["train", "--config", "synth", "--data-root", SYNTH, "--out", str(run), *FAST, "--resume"], capsys)
    assert "model.name: checkpoint 'tiny', now 'synth'" in line and "field(s) differ" in line
    line = fails([*train(run, "train.seed=3"), "--resume", "auto"], capsys)
    assert "train.seed: checkpoint 2021, now 3" in line
    assert {name: (run / name).read_bytes() for name in record} == record


def test_evaluate_the_checkpoint_and_its_errors(tiny_run, tmp_path, capsys):
    out = tmp_path / "result.json"
    pred = tmp_path / "pred.json"
    assert main(["evaluate", "--checkpoint", str(tiny_run / "last.pth"), "--data-root", SYNTH, "--json", str(out),
                 "--pred-out", str(pred)]) == 0
    result = json.loads(out.read_text())
    assert result["num_videos"] == len(json.loads((data_samples_dir() / "synth/annos/test.json").read_text()))
    assert pred.exists()
    batched = tmp_path / "batched.json"
    assert main(["evaluate", "--checkpoint", str(tiny_run / "last.pth"), "--data-root", SYNTH, "--json",
                 str(tmp_path / "result3.json"), "--pred-out", str(batched), "--batch-size", "3"]) == 0
    one, three = json.loads(pred.read_text()), json.loads(batched.read_text())
    assert one.keys() == three.keys()
    for vid in one:  # a padded batch gives every video its B = 1 tube
        assert (one[vid]["t_start"], one[vid]["t_end"]) == (three[vid]["t_start"], three[vid]["t_end"])
        for f, box in one[vid]["boxes"].items():
            assert three[vid]["boxes"][f] == pytest.approx(box, abs=1e-3)
    assert "--batch-size" in fails(["evaluate", "--checkpoint", str(tiny_run / "last.pth"), "--data-root", SYNTH,
                                    "--batch-size", "0"], capsys)
    capsys.readouterr()
    vidstg = str(data_samples_dir() / "vidstg")
    assert "pass --dataset" in fails(["evaluate", "--checkpoint", str(tiny_run / "last.pth"), "--data-root", vidstg],
                                     capsys)
    text, cut = tmp_path / "text.pth", tmp_path / "cut.pth"
    text.write_text("hello")
    cut.write_bytes((tiny_run / "last.pth").read_bytes()[:4000])
    for path in (text, cut, tmp_path / "missing.pth"):
        assert path.name in fails(["evaluate", "--checkpoint", str(path), "--data-root", SYNTH], capsys)


def test_init_mdetr_loads_before_training_and_fails_clearly(tmp_path, capsys):
    import torch

    from tastvg.models.tastvg import build_model

    own = build_model("tiny").state_dict()
    mdetr = {"transformer.encoder.layers.0.linear1.weight": torch.full_like(own["encoder.layers.0.linear1.weight"], 0.5),
             "bbox_embed.layers.2.bias": torch.full_like(own["box_head.layers.2.bias"], 0.25)}
    torch.save({"model": mdetr}, tmp_path / "mdetr.pth")
    run = tmp_path / "run"
    assert main([*train(run, "train.max_steps=1"), "--init-mdetr", str(tmp_path / "mdetr.pth")]) == 0
    assert "initialised 2 tensors from MDETR" in capsys.readouterr().out
    state = load_checkpoint(run / "last.pth")
    for ours, theirs in (("box_head.layers.2.bias", "bbox_embed.layers.2.bias"),
                         ("encoder.layers.0.linear1.weight", "transformer.encoder.layers.0.linear1.weight")):
        assert torch.allclose(state["model"][ours], mdetr[theirs], atol=5e-3), ours  # one AdamW step away
        assert torch.allclose(state["ema"]["module"][ours], mdetr[theirs], atol=5e-3), ours  # EMA started there too
    assert main([*train(run, "train.max_steps=2"), "--resume"]) == 0  # a resumed run still says where it started
    assert load_checkpoint(run / "last.pth")["config"]["init_mdetr"] == str(tmp_path / "mdetr.pth")
    torch.save({"model": {"something.else": torch.zeros(2)}}, tmp_path / "foreign.pth")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    for name, message in (("foreign.pth", "no tensor maps"), ("corrupt.pth", "cannot read")):
        assert message in fails([*train(tmp_path / name, "train.max_steps=1"), "--init-mdetr", str(tmp_path / name)],
                                capsys)


def test_a_blown_up_run_exits_1_in_one_line_and_keeps_a_good_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    line = fails(train(run, "optim.lr_base=1e30", "optim.schedule=constant", "train.checkpoint_every=1"), capsys, code=1)
    assert "optimiser step 2" in line and "synth_" in line and "(step 0;" in line
    state = load_checkpoint(run / "last.pth")
    assert state["step"] == 0


def test_ctrl_c_saves_the_current_step_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "tastvg.train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run),
           "--device", "cpu", *FAST, "optim.epochs=200", "train.checkpoint_every=1000"]
    # far more steps than the test waits for, so the signal always lands in training
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.time() + 240
        while not ((run / "log.csv").exists() and len((run / "log.csv").read_text().splitlines()) >= 3):
            assert proc.poll() is None and time.time() < deadline, "the run ended or stalled before step 2"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted by SIGINT at step" in lines[0] and "--resume auto" in lines[0], err
    step = int(lines[0].split("at step ")[1].split(":")[0])
    assert step >= 2 and load_checkpoint(run / "last.pth")["step"] == step


def test_two_process_gloo_ddp_metrics_equal_a_single_process_evaluation(tmp_path, capsys):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "tastvg.train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), "--device", "cpu",
           *FAST, "train.max_steps=2", "--resume", "auto"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "world size 2" in proc.stdout and "m_vIoU" in proc.stdout
    state = load_checkpoint(run / "last.pth")
    assert state["step"] == 2 and len(state["rng"]) == 2
    import csv

    logged = [r for r in csv.DictReader(open(run / "log.csv")) if r.get("test/m_tIoU")][-1]
    out = tmp_path / "single.json"
    assert main(["evaluate", "--checkpoint", str(run / "last.pth"), "--data-root", SYNTH, "--json", str(out),
                 "--pred-out", str(tmp_path / "pred.json")]) == 0
    single = json.loads(out.read_text())
    for key in ("m_tIoU", "m_vIoU"):  # rank 1's shard was predicted by the same EMA as rank 0's
        assert single[key] == pytest.approx(float(logged[f"test/{key}"]), abs=1e-6), key


def test_init_loads_pretrained_parts_and_records_them(tmp_path, capsys):
    """`--init backbone2d=PTH` (a `tastvg pretrain` checkpoint) loads before training and is
    recorded in the run's config; bad parts and missing files fail in one line."""
    import torch
    import yaml

    from tastvg.models import build_model

    body = build_model("tiny").backbone2d.body.state_dict()
    pretrained = {k: torch.full_like(v, 0.01) if v.is_floating_point() else v for k, v in body.items()}
    torch.save(pretrained, tmp_path / "b2d.pth")
    run = tmp_path / "run"
    assert main([*train(run, "train.max_steps=1"), "--init", f"backbone2d={tmp_path / 'b2d.pth'}"]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["backbone2d"]["weights"] == str(tmp_path / "b2d.pth")
    state = load_checkpoint(run / "last.pth")
    bn = "backbone2d.body.bn1.weight"  # frozen batch norm: still exactly the loaded value
    assert torch.equal(state["model"][bn], pretrained[bn.removeprefix("backbone2d.body.")])
    capsys.readouterr()
    assert "PART one of backbone2d, video_swin, text" in fails([*train(tmp_path / "r2"), "--init", "decoder=x.pth"], capsys)
    assert "no such file" in fails([*train(tmp_path / "r3"), "--init", "video_swin=/nonexistent.pth"], capsys)
