"""The ``tastvg`` command line: evaluate mode, errors, help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def test_evaluate_names_a_missing_or_broken_file(files, tmp_path):
    gt, _ = files
    with pytest.raises(SystemExit, match="not found"):
        main(["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "nope.json")])
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(SystemExit, match="broken.json"):
        main(["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "broken.json")])


def test_console_script_help_runs():
    proc = subprocess.run([sys.executable, "-m", "tastvg.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "evaluate" in proc.stdout


def test_info_prints_versions_as_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["python"].startswith("3.") and "torch" in info
