"""Building VidSTG annos/{split}.json from VidSTG sentence files and VidOR box files (library and
`tastvg data build-vidstg`), on small generated files in both input formats."""

import json
import logging
import re

import pytest

from tastvg.cli import main
from tastvg.data.vidstg import load_vidstg
from tastvg.data.vidstg_build import build_vidstg, target_boxes, vidor_file

W, H = 64, 48


def box(i):
    return {"xmin": i, "ymin": 1, "xmax": i + 10, "ymax": 20}


def trajectories(frames, tid, missing=()):
    """VidOR's per-frame list of {tid, bbox}; tid 9 is another object everywhere."""
    return [[{"tid": 9, "bbox": box(0)}] + ([] if f in missing else [{"tid": tid, "bbox": box(f)}])
            for f in range(frames)]


def make_inputs(tmp_path, vidor_layout="training"):
    """Two videos: v0 (segment 100..159 of 200 frames) and v1 (segment 0..29 of 40 frames)."""
    entries = [
        {"vid": "0000/111", "frame_count": 200, "fps": 30, "width": W, "height": H,
         "used_segment": {"begin_fid": 100, "end_fid": 159}, "temporal_gt": {"begin_fid": 110, "end_fid": 120},
         "subject/objects": [{"tid": 0, "category": "dog"}, {"tid": 1, "category": "adult"}],
         "captions": [{"target_id": 0, "description": "A dog runs.", "type": "subject"}],
         "questions": [{"target_id": 1, "description": "Who holds the dog?", "type": "subject"},
                       {"target_id": 0, "description": "What runs?", "type": "subject"}]},
        {"vid": "0001/222", "frame_count": 40, "fps": 30, "width": W, "height": H,
         "used_segment": {"begin_fid": 0, "end_fid": 29}, "temporal_gt": {"begin_fid": 20, "end_fid": 35},
         "subject/objects": [{"tid": 0, "category": "cat"}],
         "captions": [{"target_id": 0, "description": "There is a cat.", "type": "subject"}], "questions": []},
    ]
    sent = tmp_path / "vidstg" / "sent_annos"
    sent.mkdir(parents=True)
    (sent / "train_annotations.json").write_text(json.dumps(entries))
    (sent / "test_annotations.json").write_text(json.dumps(entries[1:]))
    vidor = tmp_path / "vidor"
    files = {"0000/111": {"trajectories": [f[:1] + [{"tid": 0, "bbox": box(i)}] +
                                           ([] if i in (115,) else [{"tid": 1, "bbox": box(i + 1)}])
                                           for i, f in enumerate(trajectories(200, 5))]},
             "0001/222": {"trajectories": trajectories(40, 0, missing=(35,))}}
    for vid, data in files.items():
        path = vidor / vidor_layout / f"{vid}.json" if vidor_layout else vidor / f"{vid.split('/')[1]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return tmp_path / "vidstg", vidor


def test_records_as_the_official_builder_writes_them(tmp_path):
    vidstg, vidor = make_inputs(tmp_path)
    (train, test) = sorted(build_vidstg(vidstg, vidor, tmp_path / "out", progress=False), key=lambda r: r.split != "train")
    data = json.loads((tmp_path / "out" / "annos" / "train.json").read_text())
    # ids 0 (caption), 1, 2 (questions) for v0, 3 for v1; id 1 is spoiled (tid 1 has no box in frame 115)
    assert list(data) == ["0", "2", "3"] and train.records == 3 and list(train.spoiled) == [1]
    assert "frame 115" in train.spoiled[1]
    r0 = data["0"]
    assert (r0["id"], r0["qtype"], r0["target_category"], r0["frame_count"]) == (0, "declar", "dog", 60)
    assert r0["used_segment"] == {"begin_fid": 100, "end_fid": 159} and r0["ori_temp_gt"] == {"begin_fid": 110, "end_fid": 120}
    assert r0["temp_gt"] == {"begin_fid": 10, "end_fid": 20}
    assert r0["target_bboxs"] == [box(i) for i in range(110, 121)]  # absolute frames 110..120
    assert r0["sentence"] == {"target_id": 0, "description": "A dog runs.", "type": "subject"}  # raw
    assert (data["2"]["qtype"], data["2"]["sentence"]["description"]) == ("inter", "What runs?")
    # v1: GT 20..35 in a 40-frame video, boxes for 20..35; temp_gt end clipped to the segment: 20..29
    r3 = data["3"]
    assert r3["temp_gt"] == {"begin_fid": 20, "end_fid": 29} and len(r3["target_bboxs"]) == 16
    assert test.records == 1 and list(json.loads(test.path.read_text())) == ["0"]  # numbering restarts per split


def test_last_frame_copy_and_loading_the_built_file(tmp_path, caplog):
    vidstg, vidor = make_inputs(tmp_path)
    build_vidstg(vidstg, vidor, tmp_path / "out", splits=["train"], progress=False)
    data = json.loads((tmp_path / "out" / "annos" / "train.json").read_text())
    # v1's target has no box in frame 35, the last of the span 20..min(35 + 1, 40) - 1: frame 34's is copied
    assert data["3"]["target_bboxs"][-2:] == [box(34), box(34)]
    with caplog.at_level(logging.WARNING, logger="tastvg.data.vidstg"):
        records = load_vidstg(tmp_path / "out" / "annos" / "train.json", tmp_path / "videos")
    # record 3: 16 boxes but temp_gt 20..29 spans 10 frames -> skipped by the loader, as officially
    assert [r.item_id for r in records] == ["0", "2"]
    assert "dropped 1 record(s)" in caplog.text and caplog.text.rstrip().endswith(": 3")
    assert records[0].segment == (100, 159) and (records[0].t_start, records[0].t_end) == (110, 120)
    assert records[0].sentence == "a dog runs"


def test_target_boxes_rules():
    traj = trajectories(10, 0, missing=(4, 9))
    assert target_boxes(traj, 0, 5, 10) == ([box(5), box(6), box(7), box(8), box(8)], None)  # last frame: copied
    boxes, problem = target_boxes(traj, 0, 2, 7)
    assert problem == "target 0 has no box in frame 4"  # inside the span: spoiled
    assert target_boxes(traj, 0, 9, 10)[1] == "target 0 has no box in frame 9"  # nothing to copy from
    assert "has 10 frames" in target_boxes(traj, 0, 5, 12)[1]


def test_vidor_layouts(tmp_path):
    for layout in ("", "training", "validation"):
        root = tmp_path / (layout or "direct")
        path = root / layout / "0000" / "111.json"
        path.parent.mkdir(parents=True)
        path.write_text("{}")
        assert vidor_file(root, "0000/111") == path
    flat = tmp_path / "flat" / "111.json"
    flat.parent.mkdir()
    flat.write_text("{}")
    assert vidor_file(tmp_path / "flat", "0000/111") == flat  # the official merge copies files flat
    with pytest.raises(FileNotFoundError, match="'0000/999' not found"):
        vidor_file(tmp_path / "flat", "0000/999")


def test_flat_vidor_folder_gives_the_same_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_vidstg(*make_inputs(a), a / "out", progress=False)
    build_vidstg(*make_inputs(b, vidor_layout=""), b / "out", progress=False)
    assert (a / "out/annos/train.json").read_text() == (b / "out/annos/train.json").read_text()


def test_cli(tmp_path, capsys):
    vidstg, vidor = make_inputs(tmp_path)
    assert main(["data", "build-vidstg", "--vidstg", str(vidstg), "--vidor", str(vidor), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 records" in out and "1 spoiled pair(s) left out: 1" in out and "test: 1 records" in out
    assert (tmp_path / "o" / "annos" / "test.json").is_file()
    for argv, message in [(["--vidor", str(tmp_path / "nope"), "--vidstg", str(vidstg)], "--vidor .* is not a folder"),
                          (["--vidor", str(vidor), "--vidstg", str(vidstg), "--splits", "val"], "no val_annotations.json")]:
        with pytest.raises(SystemExit) as info:
            main(["data", "build-vidstg", "--out", str(tmp_path / "x"), *argv])
        assert info.value.code == 2 and re.search(f"error: .*{message}", capsys.readouterr().err)
    with pytest.raises(SystemExit) as info:
        main(["data"])
    assert info.value.code == 2 and "give an action" in capsys.readouterr().err
