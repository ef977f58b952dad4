"""The ``tastvg`` command line: evaluate mode, errors, help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import one_error_line
from tastvg.cli import main


def write(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def files(tmp_path):
    gt = {
        "a": {"t_start": 0, "t_end": 3, "boxes": {str(f): [0, 0, 10, 10] for f in range(4)}, "qtype": "declar"},
        "b": {"t_start": 2, "t_end": 5, "boxes": {str(f): [0, 0, 10, 10] for f in range(2, 6)}, "qtype": "inter"},
    }
    pred = {
        "a": {"t_start": 0, "t_end": 3, "boxes": {str(f): [0, 0, 10, 10] for f in range(4)}},
        "b": {"t_start": 2, "t_end": 5, "boxes": {str(f): [0, 0, 10, 5] for f in range(6)}},
    }
    return write(tmp_path / "gt.json", gt), write(tmp_path / "pred.json", pred)


def test_evaluate_prints_a_table_and_writes_json(files, tmp_path, capsys):
    gt, pred = files
    out = tmp_path / "res" / "result.json"
    assert main(["evaluate", "--gt", str(gt), "--pred", str(pred), "--protocol", "inclusive", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "protocol: inclusive" in printed and "declar" in printed and "inter" in printed
    result = json.loads(out.read_text())
    assert result["m_tIoU"] == 1.0 and result["m_vIoU"] == 0.75
    assert result["by_qtype"]["inter"]["m_vIoU"] == 0.5
    assert not list(out.parent.glob("*.tmp"))


def test_evaluate_rejects_mismatched_predictions(files, tmp_path, capsys):
    gt, _ = files
    pred = write(tmp_path / "bad.json", {"a": {"t_start": 0, "t_end": 3, "boxes": {}}})
    assert main(["evaluate", "--gt", str(gt), "--pred", str(pred)]) == 1
    assert "'b'" in capsys.readouterr().err



def test_evaluate_names_a_missing_or_broken_file(files, tmp_path, capsys):
    gt, _ = files
    assert "not found" in one_error_line(["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "nope.json")], capsys)
    (tmp_path / "broken.json").write_text("{not json")
    assert "broken.json" in one_error_line(["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "broken.json")],
                                           capsys)
    assert "either" in one_error_line(["evaluate"], capsys)
    assert "go together" in one_error_line(["evaluate", "--checkpoint", str(tmp_path / "x.pth")], capsys)


def test_convert_official_names_a_truncated_text_or_missing_file(tmp_path, capsys):
    import torch

    torch.save({"model": {"a": torch.zeros(1000)}}, tmp_path / "good.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "good.pth").read_bytes()[:300])
    (tmp_path / "text.pth").write_text("just some text")
    for name, message in (("cut.pth", "truncated or not a .pth file"), ("text.pth", "truncated or not a .pth file"),
                          ("missing.pth", "does not exist")):
        line = one_error_line(["convert-official", str(tmp_path / name), str(tmp_path / "out.pth"), "--preset", "tiny"],
                              capsys)
        assert name in line and message in line
    assert "key(s) of ours missing" in one_error_line(
        ["convert-official", str(tmp_path / "good.pth"), str(tmp_path / "out.pth"), "--preset", "tiny"], capsys)


def test_load_checkpoint_refuses_pickled_code(tmp_path, capsys):
    import torch

    marker = tmp_path / "ran"
    torch.save({"format": 2, "payload": RunsCode(str(marker))}, tmp_path / "evil.pth")
    line = one_error_line(["evaluate", "--checkpoint", str(tmp_path / "evil.pth"), "--data-root", str(tmp_path)], capsys)
    assert "not loaded for safety" in line and not marker.exists()


class RunsCode:
    """Unpickling this touches a file: what a hostile checkpoint could do with weights_only=False."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_console_script_help_runs():
    proc = subprocess.run([sys.executable, "-m", "tastvg.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "evaluate" in proc.stdout


def test_info_prints_versions_as_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["python"].startswith("3.") and "torch" in info
