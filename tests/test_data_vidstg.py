"""VidSTG reader against the official loader's rules (datasets/vidstg.py, HengLan/TA-STVG @ 904ad0c):
segment ids are absolute and never clipped by ``frame_count``, the span's begin is not clipped, skipped
records are dropped and counted, crashing records are errors naming file, record and field."""

import copy
import json
import logging

import numpy as np
import pytest

from tastvg.data import DataConfig
from tastvg.data.annotations import AnnotationError, ground_truth
from tastvg.data.dataset import STVGDataset, build_dataset
from tastvg.data.video import VideoError, write_video
from helpers import vidstg_error as vs_error, write_annotations as write
from tastvg.data.vidstg import clean_vidstg_sentence, load_vidstg, read_typo_table, vidstg_records

VS = {"vid": "0000/123", "fps": 30.0, "frame_count": 41, "width": 100, "height": 50,
      "used_segment": {"begin_fid": 5, "end_fid": 45}, "ori_temp_gt": {"begin_fid": 10, "end_fid": 12},
      "temp_gt": {"begin_fid": 5, "end_fid": 7}, "id": 7, "qtype": "inter",
      "sentence": {"description": "What is next_to the Dog?", "target_id": 1},
      "target_bboxs": [{"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}] * 3}


def record(seg, ori, n_boxes=None, **kw):
    """A record as the official builder writes it: frame_count = segment length, temp_gt relative."""
    n = seg[1] - seg[0] + 1
    rel = (ori[0] - seg[0], min(n - 1, ori[1] - seg[0]))
    k = rel[1] - rel[0] + 1 if n_boxes is None else n_boxes
    boxes = [{"xmin": i, "ymin": 2, "xmax": i + 10, "ymax": 40} for i in range(k)]
    rec = dict(VS, frame_count=n, used_segment={"begin_fid": seg[0], "end_fid": seg[1]},
               ori_temp_gt={"begin_fid": ori[0], "end_fid": ori[1]}, temp_gt={"begin_fid": rel[0], "end_fid": rel[1]},
               target_bboxs=boxes)
    rec.update(kw)
    return rec



def test_vidstg_normalised(tmp_path):
    (r,) = load_vidstg(write(tmp_path, {"7": VS}), tmp_path / "videos")
    assert (r.item_id, r.video_id, r.qtype) == ("7", "0000/123", "inter")
    assert (r.t_start, r.t_end, r.segment) == (10, 12, (5, 45))
    assert (r.frame_count, r.exact_frame_count) == (46, False)  # the least video length: segment end + 1
    assert r.boxes == [[1, 2, 30, 40]] * 3
    assert r.sentence == "what is next to the dog"  # cleaned, typo table applied
    assert r.video_path == tmp_path / "videos" / "0000" / "123.mp4"


def test_segment_starting_late_is_kept_whole(tmp_path):
    # frame_count 81 is the segment length: the old reader clipped the segment to 0..80 and rejected this
    (r,) = load_vidstg(write(tmp_path, {"7": record((300, 380), (320, 330))}), tmp_path)
    assert r.segment == (300, 380) and (r.t_start, r.t_end) == (320, 330) and r.frame_count == 381
    assert r.box_at(320) == [0, 2, 10, 40] and r.box_at(330) == [10, 2, 20, 40]


def test_gt_beginning_before_the_segment(tmp_path):
    # ori 290..330 in segment 300..380: temp_gt -10..30, 41 boxes for frames 290..330; begin not clipped
    (r,) = load_vidstg(write(tmp_path, {"7": record((300, 380), (290, 330))}), tmp_path)
    assert (r.t_start, r.t_end, len(r.boxes)) == (290, 330, 41)
    assert r.box_at(300) == [10, 2, 20, 40]  # box k belongs to frame 290 + k
    gt = ground_truth([r])["7"]
    assert (gt["t_start"], gt["t_end"], min(gt["boxes"]), gt["boxes"][300]) == (290, 330, 290, [10, 2, 20, 40])


def test_gt_end_clipped_to_the_segment(tmp_path):
    # ori 350..400, segment ends at 380: temp_gt 50..80 -> 31 boxes, span 350..380
    (r,) = load_vidstg(write(tmp_path, {"7": record((300, 380), (350, 400))}), tmp_path)
    assert (r.t_start, r.t_end, len(r.boxes)) == (350, 380, 31)


def test_skipped_records_are_dropped_counted_and_logged(tmp_path, caplog):
    data = {"1": record((0, 99), (10, 20)),
            "2": record((0, 99), (90, 120), n_boxes=31),  # builder's boxes up to 120, temp_gt says 90..99: 10
            "3": record((100, 199), (10, 20)),  # no overlap with the segment (temp_gt -90..-80, 11 boxes)
            "4": record((100, 199), (150, 160), n_boxes=12)}  # one box too many
    path = write(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="tastvg.data.vidstg"):
        records = load_vidstg(path, tmp_path)
    assert [r.item_id for r in records] == ["1"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(path) in lines[0]
    assert "dropped 3 record(s)" in lines[0] and "2 box count, 1 outside the segment" in lines[0]
    assert lines[0].endswith(": 2, 3, 4")
    _, dropped = vidstg_records(data, path, tmp_path)
    assert sorted(dropped) == ["2", "3", "4"] and dropped["3"].startswith("ori_temp_gt")


def test_strict_raises_on_the_first_skipped_record(tmp_path):
    err = vs_error(tmp_path, record((100, 199), (10, 20)), strict=True)
    assert err.field == "ori_temp_gt" and "does not overlap" in str(err)
    err = vs_error(tmp_path, record((0, 99), (10, 20), n_boxes=3), strict=True)
    assert err.field == "target_bboxs" and "3 boxes" in str(err)


def test_records_the_official_loader_crashes_on_are_errors(tmp_path):
    # temp_gt agrees with the 3 boxes, but ori_temp_gt spans 5 frames: the official assertion fails
    bad = dict(VS, ori_temp_gt={"begin_fid": 10, "end_fid": 14})
    err = vs_error(tmp_path, bad)
    assert err.field == "temp_gt" and "10..14" in str(err)
    spoiled = copy.deepcopy(VS)
    spoiled["target_bboxs"][1] = {}  # the builder's marker of a missing box
    assert vs_error(tmp_path, spoiled).field == "target_bboxs[1].xmin"
    inverted = dict(VS, used_segment={"begin_fid": 11, "end_fid": 10}, temp_gt={"begin_fid": -1, "end_fid": 1})
    assert vs_error(tmp_path, inverted).field == "used_segment"  # overlaps, so not skipped: the loader fails


@pytest.mark.parametrize("field", ["vid", "width", "used_segment", "ori_temp_gt", "target_bboxs", "sentence"])
def test_vidstg_missing_field(tmp_path, field):
    rec = {k: v for k, v in VS.items() if k != field}
    assert field in vs_error(tmp_path, rec).field


def test_frame_count_and_temp_gt_are_optional(tmp_path):
    rec = {k: v for k, v in VS.items() if k not in ("frame_count", "temp_gt")}
    (r,) = load_vidstg(write(tmp_path, {"7": rec}), tmp_path)
    assert (r.t_start, r.t_end) == (10, 12)


def test_boxes_are_used_as_given(tmp_path):
    out = copy.deepcopy(VS)
    out["target_bboxs"][0] = {"xmin": -3, "ymin": 2, "xmax": 130, "ymax": 40}  # official: no check at all
    (r,) = load_vidstg(write(tmp_path, {"7": out}), tmp_path)
    assert r.boxes[0] == [-3, 2, 130, 40]
    assert vs_error(tmp_path, out, clip_boxes=False).field == "target_bboxs[0]"
    neg = copy.deepcopy(VS)
    neg["target_bboxs"][1] = {"xmin": 30, "ymin": 2, "xmax": 1, "ymax": 40}
    assert vs_error(tmp_path, neg).field == "target_bboxs[1]"


def test_bad_sentence_and_qtype(tmp_path):
    assert vs_error(tmp_path, dict(VS, sentence={"description": ""})).field == "sentence.description"
    assert vs_error(tmp_path, dict(VS, sentence={"description": "?! 42"})).field == "sentence.description"
    assert vs_error(tmp_path, dict(VS, qtype="other")).field == "qtype"


def test_sentence_cleaning_and_typo_tables(tmp_path):
    assert clean_vidstg_sentence("A man, next_to 2 dogs!") == "a man next to dogs"
    assert clean_vidstg_sentence("Who's   there?", typos={}) == "who s there"
    assert clean_vidstg_sentence("  The GREY 3d-cat ") == "the grey 3d cat"  # 'grey' is not in the official table
    words = tmp_path / "words.py"
    words.write_text("replace_dict = {\n    'blacj' : 'black',\n    'actmst' : '',\n}\n")
    table = read_typo_table(words)
    assert table == {"blacj": "black", "actmst": ""}
    assert clean_vidstg_sentence("a blacj actmst dog", table) == "a black  dog"  # official: '' leaves two spaces
    (tmp_path / "t.json").write_text('{"dgo": "dog"}')
    assert read_typo_table(tmp_path / "t.json") == {"dgo": "dog"}


def _vidstg_folder(tmp_path, video_frames, rec):
    (tmp_path / "annos").mkdir(parents=True)
    write(tmp_path / "annos", {"7": rec}, "test.json")
    write_video(tmp_path / "videos" / "0000" / "123.mp4", np.zeros((video_frames, 16, 32, 3), np.uint8))
    return tmp_path


def test_dataset_uses_the_whole_late_segment_and_checks_the_real_video_length(tmp_path):
    rec = record((30, 59), (28, 40), width=32, height=16)  # GT begins 2 frames before the segment
    root = _vidstg_folder(tmp_path, 60, rec)
    s = build_dataset("vidstg", root, "test", DataConfig.for_dataset("vidstg", resize_height=16))[0]
    assert s["frame_ids"].tolist() == list(range(30, 60))  # 30 <= 128 frames: all of them
    assert s["actioness"].tolist() == [1.0] * 11 + [0.0] * 19  # frames 30..40
    assert s["gt_boxes"].shape == (11, 4)
    short = _vidstg_folder(tmp_path / "short", 50, rec)  # the video ends before the segment does
    with pytest.raises(VideoError, match="50 frames, the annotation's segment needs 60"):
        build_dataset("vidstg", short, "test", DataConfig.for_dataset("vidstg", resize_height=16))[0]


def test_in_memory_video_must_cover_the_segment(tmp_path):
    (r,) = load_vidstg(write(tmp_path, {"7": record((30, 59), (35, 40), width=32, height=16)}), tmp_path)
    cfg = DataConfig.for_dataset("vidstg", resize_height=None)
    longer = STVGDataset([r], cfg, train=False, frames={r.video_id: np.zeros((75, 16, 32, 3), np.uint8)})
    assert longer[0]["frame_ids"].tolist() == list(range(30, 60))  # a longer video is fine
    short = STVGDataset([r], cfg, train=False, frames={r.video_id: np.zeros((59, 16, 32, 3), np.uint8)})
    with pytest.raises(VideoError, match="at least 60"):
        short[0]


def test_config_switches_reach_the_loader(tmp_path):
    from tastvg.data.dataset import load_records
    from tastvg.paths import data_samples_dir

    with pytest.raises(AnnotationError, match=r"record '2', field 'target_bboxs'.*skips"):
        load_records("vidstg", data_samples_dir() / "vidstg", "train", DataConfig.for_dataset("vidstg", strict=True))
    (tmp_path / "annos").mkdir()
    write(tmp_path / "annos", {"7": dict(VS, sentence={"description": "A dgo."})}, "test.json")
    (tmp_path / "typos.json").write_text('{"dgo": "dog"}')
    cfg = DataConfig.for_dataset("vidstg", vidstg_typos=str(tmp_path / "typos.json"))
    assert load_records("vidstg", tmp_path, "test", cfg)[0].sentence == "a dog"
