"""SynthSTVG: determinism, the sentence/label contract, distractors, CLI, in-memory path."""

import json

import numpy as np
import pytest

from tastvg.data.attributes import AttributeLabeler, AttributeVocabulary
from tastvg.data.synth import SynthKnobs, generate, make_scene, make_video, memory_dataset, statistics
from tastvg.data.synth_scene import APPEARANCE, MOTION


def test_deterministic_for_a_seed():
    a, b = make_video(3, 5, SynthKnobs()), make_video(3, 5, SynthKnobs())
    assert np.array_equal(a.frames, b.frames) and a.annotation == b.annotation
    c = make_video(4, 5, SynthKnobs())
    assert not np.array_equal(a.frames, c.frames)
    # video i does not depend on how many videos are generated
    assert generate(3, seed=3)[2].annotation == generate(1, seed=3, start=2)[0].annotation


def test_annotation_contract():
    lab = AttributeLabeler(AttributeVocabulary.synth())
    for i in range(30):
        v = make_video(0, i, SynthKnobs())
        a = v.annotation
        assert v.frames.shape == (32, 64, 64, 3) and v.frames.dtype == np.uint8
        assert 1 <= a["st_frame"] and a["st_frame"] - 1 + len(a["bbox"]) <= a["img_num"]
        assert a["caption"].startswith(a["sub"] + " ")
        assert lab(a["caption"]) == (a["sub"], a["adj_index_list"], a["verb_index_list"])
        assert all(w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64 for x, y, w, h in a["bbox"])
        assert MOTION[a["verb_index_list"][0]] == a["caption"][len(a["sub"]) + 1:]
        assert max(a["adj_index_list"]) < len(APPEARANCE)


def test_subject_identifies_target_and_distractors_share_attributes():
    shared = 0
    for i in range(40):
        scene, facts = make_scene(0, i, SynthKnobs(distractors=4))
        assert len(scene.actors) == 5
        target = scene.actors[scene.target]
        others = [a for j, a in enumerate(scene.actors) if j != scene.target]
        named = facts["named"]
        assert all(any(o.attribute(g) != target.attribute(g) for g in named) for o in others)  # unique
        shared += any(o.attribute(g) == target.attribute(g) for o in others for g in named)
        if facts["same_action_distractor"]:
            twin = [o for o in others if o.action == target.action]
            assert len(twin) == 1 and (twin[0].span[1] < target.span[0] or twin[0].span[0] > target.span[1])
        else:
            assert all(o.action != target.action for o in others)
    assert shared >= 30


def test_knobs_change_difficulty():
    easy = statistics(generate(40, knobs=SynthKnobs(overlap=0.0, same_action=0.0, distractors=1)))
    hard = statistics(generate(40, knobs=SynthKnobs(overlap=1.0, same_action=1.0, distractors=4)))
    assert hard["needs_combination"] > easy["needs_combination"]
    assert easy["same_action_distractor"] == 0 and hard["same_action_distractor"] > 0.8


def test_cli_writes_loadable_dataset(tmp_path):
    from tastvg.cli import main
    from tastvg.data.dataset import build_dataset

    assert main(["synth", "--out", str(tmp_path), "--videos", "6", "--seed", "1", "--frames", "16", "--size", "48"]) == 0
    train = json.loads((tmp_path / "annos" / "train.json").read_text())
    assert len(train) == 4 and len(json.loads((tmp_path / "annos" / "test.json").read_text())) == 2
    vocab = json.loads((tmp_path / "vocabulary.json").read_text())
    assert len(vocab["appearance"]) == 16 and len(vocab["motion"]) == 16
    assert 0 <= json.loads((tmp_path / "stats.json").read_text())["needs_combination"] <= 1
    ds = build_dataset("synth", tmp_path, "test")
    s = ds[0]
    assert s["frames"].shape == (16, 3, 48, 48) and s["attr_app"].shape == (16,)
    assert s["actioness"].sum() == s["gt_boxes"].shape[0] > 0


def test_cli_rejects_bad_knobs(tmp_path):
    from tastvg.cli import main

    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--videos", "2", "--size", "33"])


def test_memory_dataset_matches_annotations():
    ds = memory_dataset(3, seed=2, train=False)
    s = ds[1]
    a = make_video(2, 1, SynthKnobs()).annotation
    st = a["st_frame"] - 1
    assert s["actioness"].nonzero().flatten().tolist() == list(range(st, st + len(a["bbox"])))
    x, y, w, h = a["bbox"][0]
    assert s["gt_boxes"][0].tolist() == pytest.approx([(x + w / 2) / 64, (y + h / 2) / 64, w / 64, h / 64])


def test_survey_agrees_with_rendered_statistics():
    from tastvg.data.synth import survey

    fast, full = survey(12, seed=4), statistics(generate(12, seed=4))
    assert fast["needs_combination"] == full["needs_combination"]
    assert fast["same_action_distractor"] == full["same_action_distractor"]
