"""HC-STVG / VidSTG readers: normalisation and every malformed-record case (file, record, field named)."""

import copy
import json
import warnings

import pytest

from tastvg.data.annotations import AnnotationError, clean_vidstg_sentence, ground_truth, load_hcstvg, load_vidstg

HC = {"width": 100, "height": 50, "img_num": 40, "st_frame": 11, "caption": "The man turns left.",
      "bbox": [[10, 5, 20, 30], [12, 5, 20, 30], [14, 5, 20, 30]], "st_time": 5.0, "ed_time": 6.5,
      "sub": "the man", "adj_index_list": [1], "verb_index_list": [2, 3]}
VS = {"vid": "0000/123", "fps": 30.0, "frame_count": 50, "width": 100, "height": 50,
      "used_segment": {"begin_fid": 5, "end_fid": 45}, "ori_temp_gt": {"begin_fid": 10, "end_fid": 12},
      "temp_gt": {"begin_fid": 5, "end_fid": 7}, "id": 7, "qtype": "inter",
      "sentence": {"description": "What is next_to the Dog?", "target_id": 1},
      "target_bboxs": [{"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}] * 3}


def write(tmp_path, data, name="train.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def hc_error(tmp_path, rec, **kw):
    path = write(tmp_path, {"v.mp4": rec})
    with pytest.raises(AnnotationError) as info:
        load_hcstvg(path, tmp_path, **kw)
    err = info.value
    assert err.file == str(path) and err.record == "v.mp4" and str(path) in str(err) and "v.mp4" in str(err)
    return err


def vs_error(tmp_path, rec, **kw):
    path = write(tmp_path, {"7": rec})
    with pytest.raises(AnnotationError) as info:
        load_vidstg(path, tmp_path, **kw)
    err = info.value
    assert err.file == str(path) and err.record == "7" and "'7'" in str(err)
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


def test_hcstvg_box_count_vs_span(tmp_path):
    err = hc_error(tmp_path, dict(HC, ed_frame=14))  # 4 frames, 3 boxes
    assert err.field == "bbox" and "3 boxes" in str(err)


def test_hcstvg_span_outside_video(tmp_path):
    assert hc_error(tmp_path, dict(HC, st_frame=39)).field == "st_frame"  # 38..40 but img_num 40
    assert hc_error(tmp_path, dict(HC, st_frame=0)).field == "st_frame"  # 1-based: 0 is invalid


def test_hcstvg_negative_box_size(tmp_path):
    err = hc_error(tmp_path, dict(HC, bbox=[[10, 5, -20, 30]] * 3))
    assert err.field == "bbox[0]" and "negative box size" in str(err)


def test_hcstvg_malformed_box(tmp_path):
    assert hc_error(tmp_path, dict(HC, bbox=[[10, 5, 20]] * 3)).field == "bbox[0]"
    assert hc_error(tmp_path, dict(HC, bbox=[[10, 5, 20, "a"]] * 3)).field == "bbox[0]"


def test_hcstvg_out_of_frame_box_clipped_with_warning(tmp_path):
    rec = dict(HC, bbox=[[-5, 5, 20, 30], [90, 40, 20, 30], [14, 5, 20, 30]])
    with pytest.warns(UserWarning, match="clipped 2 out-of-frame"):
        (r,) = load_hcstvg(write(tmp_path, {"v.mp4": rec}), tmp_path)
    assert r.boxes[0] == [0, 5, 15, 35] and r.boxes[1] == [90, 40, 100, 50]


def test_hcstvg_out_of_frame_box_error_without_clipping(tmp_path):
    err = hc_error(tmp_path, dict(HC, bbox=[[-5, 5, 20, 30]] * 3), clip_boxes=False)
    assert err.field == "bbox[0]" and "outside" in str(err)


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


def test_vidstg_normalised(tmp_path):
    (r,) = load_vidstg(write(tmp_path, {"7": VS}), tmp_path / "videos")
    assert (r.item_id, r.video_id, r.qtype) == ("7", "0000/123", "inter")
    assert (r.t_start, r.t_end, r.segment) == (10, 12, (5, 45))
    assert r.boxes == [[1, 2, 30, 40]] * 3
    assert r.sentence == "what is next to the dog"  # cleaned, typo table applied
    assert r.video_path == tmp_path / "videos" / "0000" / "123.mp4"


def test_vidstg_sentence_cleaning():
    assert clean_vidstg_sentence("A man, next_to 2 dogs!") == "a man next to dogs"
    assert clean_vidstg_sentence("Who's   there?", typos={}) == "who s there"


@pytest.mark.parametrize("field", ["vid", "width", "frame_count", "used_segment", "ori_temp_gt", "target_bboxs", "sentence"])
def test_vidstg_missing_field(tmp_path, field):
    rec = {k: v for k, v in VS.items() if k != field}
    assert field in vs_error(tmp_path, rec).field


def test_vidstg_box_count(tmp_path):
    err = vs_error(tmp_path, dict(VS, target_bboxs=VS["target_bboxs"][:2]))
    assert err.field == "target_bboxs" and "2 boxes" in str(err)


def test_vidstg_span_outside_segment_or_video(tmp_path):
    assert vs_error(tmp_path, dict(VS, ori_temp_gt={"begin_fid": 2, "end_fid": 4})).field == "ori_temp_gt"
    assert vs_error(tmp_path, dict(VS, used_segment={"begin_fid": 60, "end_fid": 70})).field == "used_segment"
    assert vs_error(tmp_path, dict(VS, ori_temp_gt={"begin_fid": 12, "end_fid": 10})).field == "ori_temp_gt"


def test_vidstg_bad_boxes_and_sentence(tmp_path):
    neg = copy.deepcopy(VS)
    neg["target_bboxs"][1] = {"xmin": 30, "ymin": 2, "xmax": 1, "ymax": 40}
    assert vs_error(tmp_path, neg).field == "target_bboxs[1]"
    neg["target_bboxs"][1] = {"xmin": 30, "ymin": 2, "xmax": 1}
    assert vs_error(tmp_path, neg).field == "target_bboxs[1].ymax"
    assert vs_error(tmp_path, dict(VS, sentence={"description": ""})).field == "sentence.description"
    assert vs_error(tmp_path, dict(VS, sentence={"description": "?! 42"})).field == "sentence.description"
    assert vs_error(tmp_path, dict(VS, qtype="other")).field == "qtype"
    out = copy.deepcopy(VS)
    out["target_bboxs"][0] = {"xmin": 1, "ymin": 2, "xmax": 130, "ymax": 40}
    assert vs_error(tmp_path, out, clip_boxes=False).field == "target_bboxs[0]"
    with pytest.warns(UserWarning, match="clipped 1"):
        (r,) = load_vidstg(write(tmp_path, {"7": out}), tmp_path)
    assert r.boxes[0] == [1, 2, 100, 40]


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
