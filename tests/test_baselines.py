"""Blind baselines: every choice made on the training split, scored with the official metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tastvg.experiments.baselines import (baseline_predictions, baseline_table, blind_baselines, constant_span, mean_box,
                              span_from_fractions, synth_actor_tubes)
from tastvg.data.annotations import STVGRecord


def rec(name: str, t0: int, t1: int, box=(10, 20, 30, 60), frames: int = 51, size=(100, 200)) -> STVGRecord:
    boxes = [list(map(float, box)) for _ in range(t0, t1 + 1)]
    return STVGRecord(item_id=name, video_id=name, video_path=Path(name), sentence="s", t_start=t0, t_end=t1,
                      boxes=boxes, width=size[0], height=size[1], frame_count=frames, segment=(0, frames - 1))


def test_constant_span_recovers_a_shared_span_and_scores_it_exactly():
    train = [rec(f"a{i}", 10, 30) for i in range(5)]
    lo, hi = constant_span(train, "inclusive", grid=50)
    assert (lo, hi) == (0.2, 0.6)  # frames 10 and 30 of a 51-frame clip
    res = blind_baselines(train, [rec("t", 10, 30)], protocol="inclusive")
    assert res["constant span + mean box"]["m_tIoU"] == pytest.approx(1.0)
    assert res["constant span + mean box"]["m_vIoU"] == pytest.approx(1.0)  # identical boxes everywhere
    assert res["whole clip + mean box"]["m_tIoU"] == pytest.approx(21 / 51)


def test_official_protocol_drops_the_last_gt_frame():
    train = [rec(f"a{i}", 10, 30) for i in range(3)]
    # the evaluator scores the GT as [10, 30) and a prediction [s, e] as [s, e + 1): the best
    # constant span under the official protocol ends one frame early
    assert constant_span(train, "official") == (0.2, 0.58)
    res = blind_baselines(train, [rec("t", 10, 30)], protocol="official")
    assert res["constant span + mean box"]["m_tIoU"] == pytest.approx(1.0)


def test_mean_box_is_frame_relative_and_rescaled_per_video():
    train = [rec("a", 0, 0, box=(0, 0, 50, 100), size=(100, 200)), rec("b", 0, 0, box=(0, 0, 100, 200), size=(200, 400))]
    assert mean_box(train).tolist() == [0, 0, 0.5, 0.5]
    test = rec("t", 0, 3, size=(40, 80))
    pred = baseline_predictions(train, [test])["whole clip + mean box"]["t"]
    assert pred["boxes"][2] == [0.0, 0.0, 20.0, 40.0]
    assert (pred["t_start"], pred["t_end"]) == (0, 50)


def test_span_is_chosen_on_train_not_test():
    train = [rec(f"a{i}", 0, 10) for i in range(4)]
    test = [rec("t", 40, 50)]
    res = blind_baselines(train, test, protocol="inclusive")
    assert res["constant span + mean box"]["m_tIoU"] == 0.0  # train's span misses the test span
    assert span_from_fractions(test[0], *res["constant span + mean box"]["span"]) == (0, 10)


def test_random_actor_uses_the_actor_tubes():
    train = [rec("a", 5, 20)]
    test = [rec("t", 5, 20)]
    target = np.tile(np.array([10, 20, 30, 60], float), (51, 1))
    other = np.tile(np.array([60, 100, 90, 190], float), (51, 1))
    only_target = blind_baselines(train, test, "inclusive", actor_tubes={"t": target[None]})
    assert only_target["constant span + random actor"]["m_vIoU"] == pytest.approx(1.0)
    only_other = blind_baselines(train, test, "inclusive", actor_tubes={"t": other[None]})
    assert only_other["constant span + random actor"]["m_vIoU"] == 0.0
    table = baseline_table(only_other)
    assert list(table.index)[-1] == "constant span + random actor" and table.loc["whole clip + mean box", "m_tIoU"] > 0


def test_synth_actor_tubes_contain_the_target_box():
    from tastvg.data.annotations import hcstvg_records
    from tastvg.data.synth import SynthKnobs, generate

    knobs = SynthKnobs(size=32, frames=8, distractors=2)
    videos = generate(3, seed=5, knobs=knobs)
    records = hcstvg_records({v.name: v.annotation for v in videos}, "<memory>", Path("<memory>"))
    tubes = synth_actor_tubes(records, seed=5, knobs=knobs)
    for r in records:
        assert tubes[r.item_id].shape == (3, 8, 4)
        t = r.t_start
        gt = np.array(r.box_at(t))
        # the target is one of the actors: its rendered box matches the annotation (xywh ints -> xyxy)
        assert np.abs(tubes[r.item_id][:, t] - gt).max(1).min() <= 1.0


def test_empty_train_split_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        constant_span([], "official")
