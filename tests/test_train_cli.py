"""`tastvg train` and `tastvg evaluate --checkpoint` on the shipped SynthSTVG sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tastvg.cli import main
from tastvg.paths import data_samples_dir
from tastvg.train.checkpoint import load_checkpoint

SYNTH = str(data_samples_dir() / "synth")
FAST = ["optim.epochs=1", "train.batch_size=2", "train.progress=false", "train.log_every=1"]


@pytest.mark.parametrize("argv, message", [
    (["--config", "tiny", "--data-root", "/nonexistent"], "not a folder"),
    (["--config", "no-such-preset", "--data-root", SYNTH], "no-such-preset"),
    (["--config", "tiny", "--data-root", SYNTH, "decoder.layers=2"], "unknown override section"),
    (["--config", "tiny", "--data-root", SYNTH, "model.no_such_field=2"], "model.no_such_field"),
    (["--config", "tiny", "--data-root", SYNTH, "train.epochs=2"], "optim"),
    (["--config", "tiny", "--data-root", SYNTH, "train.batch_size"], "SECTION.FIELD=VALUE"),
    (["--config", "paper-hcstvg", "--data-root", SYNTH, "--dataset", "synth"], "--tokenizer"),
])
def test_bad_arguments_fail_at_once_naming_the_fix(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        main(["train", "--out", str(tmp_path / "run"), *argv])


def test_train_resume_and_evaluate_the_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), *FAST, "train.max_steps=2"]) == 0
    for name in ("last.pth", "best.pth", "config.yaml", "log.csv", "environment.json", "predictions_last.json"):
        assert (run / name).exists(), name
    assert load_checkpoint(run / "last.pth")["step"] == 2
    with pytest.raises(SystemExit, match="--resume"):
        main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), *FAST])
    assert main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), "--resume", *FAST,
                 "train.max_steps=3"]) == 0
    assert load_checkpoint(run / "last.pth")["step"] == 3
    assert "resumed from" in capsys.readouterr().out

    out = tmp_path / "result.json"
    assert main(["evaluate", "--checkpoint", str(run / "last.pth"), "--data-root", SYNTH, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["num_videos"] == len(json.loads((data_samples_dir() / "synth/annos/test.json").read_text()))
    assert (run / "predictions_test.json").exists()


def test_init_mdetr_loads_before_training_and_fails_clearly(tmp_path, capsys):
    import torch

    from tastvg.models.tastvg import build_model

    own = build_model("tiny").state_dict()
    mdetr = {"transformer.encoder.layers.0.linear1.weight": torch.full_like(own["encoder.layers.0.linear1.weight"], 0.5),
             "bbox_embed.layers.2.bias": torch.full_like(own["box_head.layers.2.bias"], 0.25)}
    torch.save({"model": mdetr}, tmp_path / "mdetr.pth")
    run = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), "--init-mdetr",
                 str(tmp_path / "mdetr.pth"), *FAST, "train.max_steps=1"]) == 0
    assert "initialised 2 tensors from MDETR" in capsys.readouterr().out
    state = load_checkpoint(run / "last.pth")
    for ours, theirs in (("box_head.layers.2.bias", "bbox_embed.layers.2.bias"),
                         ("encoder.layers.0.linear1.weight", "transformer.encoder.layers.0.linear1.weight")):
        assert torch.allclose(state["model"][ours], mdetr[theirs], atol=5e-3), ours  # one AdamW step away
        assert torch.allclose(state["ema"]["module"][ours], mdetr[theirs], atol=5e-3), ours  # EMA started there too
    assert main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), "--resume", *FAST,
                 "train.max_steps=2"]) == 0  # a resumed run still says where it started from
    assert load_checkpoint(run / "last.pth")["config"]["init_mdetr"] == str(tmp_path / "mdetr.pth")
    torch.save({"model": {"something.else": torch.zeros(2)}}, tmp_path / "foreign.pth")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    for name, message in (("missing.pth", "not a file"), ("foreign.pth", "no tensor maps"),
                          ("corrupt.pth", "cannot read")):
        with pytest.raises(SystemExit, match=message):
            main(["train", "--config", "tiny", "--data-root", SYNTH, "--out", str(tmp_path / name),
                  "--init-mdetr", str(tmp_path / name), *FAST, "train.max_steps=1"])


def test_evaluate_needs_exactly_one_mode(tmp_path):
    with pytest.raises(SystemExit, match="either"):
        main(["evaluate"])
    with pytest.raises(SystemExit, match="go together"):
        main(["evaluate", "--checkpoint", str(tmp_path / "x.pth")])


def test_two_process_gloo_ddp_trains_tastvg_and_rank0_checkpoint_loads(tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
           "-m", "tastvg.train", "--config", "tiny", "--data-root", SYNTH, "--out", str(run), "--device", "cpu",
           *FAST, "train.max_steps=2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "world size 2" in proc.stdout and "m_vIoU" in proc.stdout
    state = load_checkpoint(run / "last.pth")
    assert state["step"] == 2
    from tastvg.models.tastvg import build_model

    build_model("tiny").load_state_dict(state["model"])
