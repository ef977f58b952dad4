"""HC-STVG reader (and the shared ground truth): normalisation, the official box and span rules, and every
malformed-record case (file, record, field named). VidSTG: test_data_vidstg.py."""

import json
import warnings

import pytest

from helpers import vidstg_error as vs_error, write_annotations as write
from tastvg.data.annotations import AnnotationError, ground_truth, load_hcstvg
from tastvg.data.vidstg import load_vidstg

HC = {"width": 100, "height": 50, "img_num": 40, "st_frame": 11, "caption": "The man turns left.",
      "bbox": [[10, 5, 20, 30], [12, 5, 20, 30], [14, 5, 20, 30]], "st_time": 5.0, "ed_time": 6.5,
      "sub": "the man", "adj_index_list": [1], "verb_index_list": [2, 3]}
VS = {"vid": "0000/123", "fps": 30.0, "frame_count": 50, "width": 100, "height": 50,
      "used_segment": {"begin_fid": 5, "end_fid": 45}, "ori_temp_gt": {"begin_fid": 10, "end_fid": 12},
      "temp_gt": {"begin_fid": 5, "end_fid": 7}, "id": 7, "qtype": "inter",
      "sentence": {"description": "What is next_to the Dog?", "target_id": 1},
      "target_bboxs": [{"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}] * 3}


def hc_error(tmp_path, rec, **kw):
    path = write(tmp_path, {"v.mp4": rec})
    with pytest.raises(AnnotationError) as info:
        load_hcstvg(path, tmp_path, **kw)
    err = info.value
    assert err.file == str(path) and err.record == "v.mp4" and str(path) in str(err) and "v.mp4" in str(err)
    return err



def test_hcstvg_normalised(tmp_path):
    (r,) = load_hcstvg(write(tmp_path, {"v.mp4": HC}), tmp_path / "v1_video")
    assert (r.t_start, r.t_end) == (10, 12)  # st_frame 11 is 1-based
    assert r.boxes[0] == [10, 5, 30, 35] and r.box_at(12) == [14, 5, 34, 35]  # xywh -> xyxy
    assert (r.width, r.height, r.frame_count, r.segment) == (100, 50, 40, (0, 39))
    assert r.sentence == "the man turns left." and r.subject == "the man"
    assert r.app_ids == [1] and r.mot_ids == [2, 3] and r.video_path == tmp_path / "v1_video" / "v.mp4"


def test_hcstvg_v2_field_names(tmp_path):
    rec = {k: v for k, v in HC.items() if k not in ("width", "height", "caption", "sub", "adj_index_list", "verb_index_list")}
    rec.update(img_size=[50, 100], English="A woman sits.")
    (r,) = load_hcstvg(write(tmp_path, {"v.mp4": rec}), tmp_path)
    assert (r.width, r.height, r.sentence) == (100, 50, "a woman sits.")
    assert r.subject is None and r.app_ids is None


def test_hcstvg_removed_videos(tmp_path):
    path = write(tmp_path, {"v.mp4": HC, "1_aMYcLyh9OhU.mkv": HC})
    assert [r.item_id for r in load_hcstvg(path, tmp_path, removed=["1_aMYcLyh9OhU.mkv"])] == ["v.mp4"]


@pytest.mark.parametrize("field", ["width", "img_num", "st_frame", "bbox", "caption"])
def test_hcstvg_missing_field(tmp_path, field):
    rec = {k: v for k, v in HC.items() if k != field}
    err = hc_error(tmp_path, rec)
    assert field in err.field and "missing" in str(err)


def test_hcstvg_ed_frame_is_ignored_like_the_official_loader(tmp_path):
    # official: the span is st_frame - 1 .. + len(bbox) - 1; ed_frame is never read (one warning)
    with pytest.warns(UserWarning, match="1 record.*ed_frame"):
        (r,) = load_hcstvg(write(tmp_path, {"v.mp4": dict(HC, ed_frame=14)}), tmp_path)  # 4 frames, 3 boxes
    assert (r.t_start, r.t_end) == (10, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_hcstvg(write(tmp_path, {"v.mp4": dict(HC, ed_frame=13)}), tmp_path)  # consistent: silent


def test_hcstvg_span_outside_video(tmp_path):
    assert hc_error(tmp_path, dict(HC, st_frame=39)).field == "st_frame"  # 38..40 but img_num 40
    assert hc_error(tmp_path, dict(HC, st_frame=0)).field == "st_frame"  # 1-based: 0 is invalid


def test_hcstvg_gt_only_on_the_last_frame_is_rejected(tmp_path):
    # img_num 40: candidates 0..38; st_frame 40 with one box is frame 39 only -> the official loader fails
    err = hc_error(tmp_path, dict(HC, st_frame=40, bbox=[[10, 5, 20, 30]]))
    assert err.field == "st_frame" and "last frame" in str(err) and "candidates 0..38" in str(err)
    (r,) = load_hcstvg(write(tmp_path, {"v.mp4": dict(HC, st_frame=39, bbox=[[10, 5, 20, 30]] * 2)}), tmp_path)
    assert (r.t_start, r.t_end) == (38, 39)  # frame 38 is a candidate: accepted
    one = dict(HC, img_num=1, st_frame=1, bbox=[[10, 5, 20, 30]])  # a one-frame video has no candidate at all
    assert hc_error(tmp_path, one).field == "st_frame"


def test_hcstvg_negative_box_size(tmp_path):
    err = hc_error(tmp_path, dict(HC, bbox=[[10, 5, -20, 30]] * 3))
    assert err.field == "bbox[0]" and "negative box size" in str(err)


def test_hcstvg_malformed_box(tmp_path):
    assert hc_error(tmp_path, dict(HC, bbox=[[10, 5, 20]] * 3)).field == "bbox[0]"
    assert hc_error(tmp_path, dict(HC, bbox=[[10, 5, 20, "a"]] * 3)).field == "bbox[0]"


def test_hcstvg_negative_coordinates_are_kept_like_the_official_loader(tmp_path):
    rec = dict(HC, bbox=[[-5, -3, 20, 30], [12, 5, 20, 30], [-30, 5, 20, 30]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing is changed
        (r,) = load_hcstvg(write(tmp_path, {"v.mp4": rec}), tmp_path)
    assert r.boxes[0] == [-5, -3, 15, 27] and r.boxes[2] == [-30, 5, -10, 35]  # [x, y, x + w, y + h]
    with pytest.warns(UserWarning, match="clipped 1 out-of-frame"):
        (c,) = load_hcstvg(write(tmp_path, {"v.mp4": dict(rec, bbox=rec["bbox"][:2] + [HC["bbox"][2]])}),
                           tmp_path, clip_negative=True)
    assert c.boxes[0] == [0, 0, 15, 27]  # the old, non-official clipping on request


def test_hcstvg_box_past_the_far_edge_is_clipped_with_warning(tmp_path):
    # official: x2, y2 = min(x + w, W), min(y + h, H), but an assertion rejects x + w > W: we clip and warn
    rec = dict(HC, bbox=[[-5, 5, 20, 30], [90, 40, 20, 30], [14, 5, 20, 30]])
    with pytest.warns(UserWarning, match="clipped 1 out-of-frame"):
        (r,) = load_hcstvg(write(tmp_path, {"v.mp4": rec}), tmp_path)
    assert r.boxes[0] == [-5, 5, 15, 35] and r.boxes[1] == [90, 40, 100, 50]


def test_hcstvg_box_past_the_far_edge_is_an_error_without_clipping(tmp_path):
    err = hc_error(tmp_path, dict(HC, bbox=[[85, 5, 20, 30]] * 3), clip_boxes=False)
    assert err.field == "bbox[0]" and "sticks out" in str(err)
    (r,) = load_hcstvg(write(tmp_path, {"v.mp4": dict(HC, bbox=[[-5, 5, 20, 30]] * 3)}), tmp_path, clip_boxes=False)
    assert r.boxes[0] == [-5, 5, 15, 35]  # negative coordinates are fine either way


def test_hcstvg_box_entirely_outside(tmp_path):
    err = hc_error(tmp_path, dict(HC, bbox=[[200, 5, 20, 30]] * 3))
    assert err.field == "bbox[0]" and "entirely outside" in str(err)


@pytest.mark.parametrize("caption", ["", "   ", None])
def test_hcstvg_empty_sentence(tmp_path, caption):
    assert hc_error(tmp_path, dict(HC, caption=caption)).field == "caption"


def test_hcstvg_bad_attribute_list(tmp_path):
    assert hc_error(tmp_path, dict(HC, adj_index_list="1")).field == "adj_index_list"
    assert hc_error(tmp_path, dict(HC, verb_index_list=[-1])).field == "verb_index_list"


def test_not_json_and_not_a_dict(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_hcstvg(bad, tmp_path)
    with pytest.raises(AnnotationError, match="keyed by id"):
        load_hcstvg(write(tmp_path, [HC]), tmp_path)
    with pytest.raises(FileNotFoundError):
        load_vidstg(tmp_path / "missing.json", tmp_path)


def test_ground_truth_format(tmp_path):
    hc = load_hcstvg(write(tmp_path, {"v.mp4": HC}, "a.json"), tmp_path)
    vs = load_vidstg(write(tmp_path, {"7": VS}, "b.json"), tmp_path)
    gt = ground_truth(hc + vs)
    assert gt["v.mp4"] == {"t_start": 10, "t_end": 12, "boxes": {10: [10, 5, 30, 35], 11: [12, 5, 32, 35], 12: [14, 5, 34, 35]}}
    assert gt["7"]["qtype"] == "inter" and sorted(gt["7"]["boxes"]) == [10, 11, 12]
    with pytest.raises(ValueError, match="duplicate"):
        ground_truth(hc + hc)
    from tastvg.evaluation import evaluate  # the lead's evaluator accepts it: a perfect prediction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluate({"v.mp4": gt["v.mp4"]}, {"v.mp4": gt["v.mp4"]}, protocol="inclusive")
    assert res["m_vIoU"] == pytest.approx(1.0)
