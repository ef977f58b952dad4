"""The diagnosis ladder's rungs on made-up data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tastvg.experiments import ladder as L
from tastvg.experiments.scene_labels import frame_difference_features, scene_labels
from tastvg import experiments as ex


def test_reexported_from_experiments():
    assert ex.probe_motion_per_frame is L.probe_motion_per_frame and ex.tts_span_auc is L.tts_span_auc


def test_group_split_keeps_videos_whole():
    groups = np.repeat(np.arange(8), 5)
    train = L.group_split(groups, 0.25, seed=1)
    for g in range(8):
        assert len(set(train[groups == g])) == 1
    assert (~train).sum() == 10
    with pytest.raises(ValueError):
        L.group_split(np.zeros(4), 0.5)


def test_linear_probe_separable_and_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = rng.normal(size=(600, 8))
    x[:, 0] += 4 * y  # class is a shift along one feature
    train = np.arange(600) < 450
    r = L.linear_probe(x, y, train, steps=60)
    assert r.accuracy > 0.95 and r.balanced_accuracy > 0.95 and r.classes == 3
    y2 = (rng.random(600) < 0.8).astype(int)  # noise labels, 80 % majority
    r2 = L.linear_probe(rng.normal(size=(600, 8)), y2, train, balanced=False, steps=60)
    assert abs(r2.majority - (y2[~train] == 1).mean()) < 1e-6
    assert r2.accuracy <= r2.majority + 0.05 and abs(r2.balanced_accuracy - 0.5) < 0.12


def test_probe_motion_per_frame_on_a_visible_and_an_invisible_state():
    rng = np.random.default_rng(1)
    labels = np.zeros((40, 16), int)
    for v in range(40):
        s = rng.integers(0, 10)
        labels[v, s:s + 6] = 1
    visible = rng.normal(size=(40, 16, 6)) + 3 * labels[..., None]
    assert L.probe_motion_per_frame(visible, labels).accuracy > 0.95
    noise = L.probe_motion_per_frame(rng.normal(size=(40, 16, 6)), labels)
    assert abs(noise.balanced_accuracy - 0.5) < 0.12


def test_probe_subject_attributes_only_named_groups():
    rng = np.random.default_rng(2)
    colours = ["red", "blue", "green"]
    attrs, feats = [], []
    for _ in range(120):
        c = colours[rng.integers(3)]
        attrs.append({"colour": c, "shape": None})
        f = rng.normal(size=6)
        f[colours.index(c)] += 4
        feats.append(f)
    out = L.probe_subject_attributes(np.array(feats), attrs)
    assert set(out) == {"colour"} and out["colour"].accuracy > 0.9


def test_tts_span_auc():
    span = np.zeros((3, 10), bool)
    span[:, 3:7] = True
    assert L.tts_span_auc(span.astype(float), span)["auc"] == 1.0
    assert L.tts_span_auc(1 - span.astype(float), span)["auc"] == 0.0
    flat = L.tts_span_auc(np.full((3, 10), 0.5), span)
    assert flat["auc"] == 0.5 and flat["inside"] == flat["outside"] == 0.5
    valid = np.ones((3, 10), bool)
    valid[0] = False  # a padded video is left out
    assert L.tts_span_auc(span.astype(float), span, valid)["videos"] == 2


def test_train_tts_probe_learns_a_visible_span():
    torch.manual_seed(0)
    v, t = 24, 12
    span = torch.zeros(v, t, dtype=torch.bool)
    for i in range(v):
        s = int(torch.randint(0, 7, ()))
        span[i, s:s + 5] = True
    feats = torch.randn(v, t, 2, 4) + 2.0 * span[:, :, None, None].float()
    ids = torch.full((v, 3), 5)
    res = L.train_tts_probe(feats, ids, torch.ones(v, 3), span, np.arange(v) < 16, d=16, heads=2,
                            layers=1, steps=40, lr=5e-3, batch=8, vocab=8)
    assert res["auc"] > 0.9 and res["loss_last"] < res["loss_first"]


def test_attention_and_box_on_target():
    cells = np.zeros((2, 3, 4))
    cells[..., 1] = 1
    on = L.attention_on_target(cells * 5, cells)
    assert on["share"] == 1.0 and on["chance"] == 0.25 and on["ratio"] == 4.0
    assert abs(L.attention_on_target(np.ones((2, 3, 4)), cells)["ratio"] - 1.0) < 1e-9
    actors = np.array([[[0, 0, 10, 10]] * 3, [[20, 20, 30, 30]] * 3], float)  # [A=2, T=3, 4]
    r = L.box_on_target([actors[1], actors[0] + 1], [actors, actors], [1, 1])
    assert r["target_wins"] == 0.5 and r["chance"] == 0.5 and r["iou_target"] == 0.5


def old_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ladder's own IoU before it used tastvg.boxes (areas clipped, union floored at 1e-12)."""
    x1, y1 = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    x2, y2 = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: np.clip(z[..., 2] - z[..., 0], 0, None) * np.clip(z[..., 3] - z[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def test_box_on_target_matches_the_old_iou_with_empty_boxes():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 64, (5, 3, 7, 2, 2))  # 5 videos, 3 actors, 7 frames
    actors = np.concatenate([corners.min(3), corners.max(3)], -1)  # [5, A, T, 4]
    actors[0, 1, :3] = 0  # an actor with no silhouette on some frames (render writes zeros)
    pred = actors[:, 0] + rng.normal(0, 3, (5, 7, 4))
    pred[:, :, 2:] = np.maximum(pred[:, :, 2:], pred[:, :, :2])  # no inverted boxes
    pred[0, :3] = 0  # an empty prediction where that actor is empty too: zero union -> IoU 0
    targets = [0, 1, 2, 0, 1]
    r = L.box_on_target(list(pred), list(actors), targets)
    ious = [old_box_iou(p[None], a).mean(1) for p, a in zip(pred, actors)]
    assert r["target_wins"] == np.mean([int(np.argmax(i)) == t for i, t in zip(ious, targets)])
    assert abs(r["iou_target"] - np.mean([i[t] for i, t in zip(ious, targets)])) < 1e-12


def test_scene_labels_cells_are_the_box_centre_cells():
    from tastvg.data.synth import SynthKnobs

    k = SynthKnobs(size=48, frames=12, distractors=2)
    for index in range(3):
        for grid in ((2, 2), (3, 4)):
            lab = scene_labels(1, index, k, grid)
            h, w = grid
            ref = np.zeros_like(lab["cell_action"])
            for a in range(len(lab["boxes"])):  # the loop as it was written before (python floats)
                for t in np.flatnonzero(lab["in_action"][a]):
                    bx = lab["boxes"][a, t]
                    cx, cy = (bx[0] + bx[2]) / 2, (bx[1] + bx[3]) / 2
                    i, j = min(int(cy / 48 * h), h - 1), min(int(cx / 48 * w), w - 1)
                    ref[t, i * w + j] = 1 + lab["action"][a]
            assert np.array_equal(lab["cell_action"], ref)


def test_scene_labels_agree_with_the_annotation():
    from tastvg.data.synth import SynthKnobs, make_video

    k = SynthKnobs(size=32, frames=8, distractors=1)
    lab = scene_labels(0, 3, k)
    anno = make_video(0, 3, k).annotation
    t = int(lab["target"])
    s = anno["st_frame"] - 1
    assert lab["in_action"][t].sum() == len(anno["bbox"]) and lab["in_action"][t][s]
    assert lab["boxes"].shape == (2, 8, 4) and lab["cell_action"].shape == (8, 4)
    moving = lab["cell_action"] > 0
    assert moving.any(1).sum() <= lab["in_action"].any(0).sum()
    assert lab["changing"].dtype == bool


def test_frame_difference_features_see_motion():
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    frames[2, :4, :4] = 255  # something appears in the top-left cell at frame 2
    f = frame_difference_features(frames)
    assert f.shape == (4, 24)
    cells = f[2, :12].reshape(4, 3)  # the previous-frame difference: 2 x 2 cells x 3 channels
    assert f[0].sum() == 0 and cells[0].min() > 0 and cells[1:].sum() == 0


def test_train_asa_probe_instance_supervision_finds_the_target():
    rng = np.random.default_rng(3)
    f, n = 160, 4
    tokens = np.zeros((f, n, 5), np.float32)
    cells = np.zeros((f, n), np.float32)
    ids = np.zeros((f, 1), np.int64)
    labels = np.zeros((f, 4), np.float32)
    for i in range(f):
        colours = rng.permutation(4)  # one actor of each colour, one per cell
        tokens[i, np.arange(n), colours] = 1
        target = rng.integers(n)
        cells[i, target] = 1
        ids[i, 0] = 1 + colours[target]
        labels[i, colours[target]] = 1
    tokens[..., 4] = rng.normal(size=(f, n))
    args = [torch.from_numpy(a) for a in (tokens, ids, labels, cells)]
    res = L.train_asa_probe(*args, np.arange(f) < 120, supervision="instance", d=16, heads=2, layers=2,
                            steps=80, lr=5e-3, batch=32, vocab=8)
    assert res["chance"] == 0.25 and res["ratio"] > 1.6


def test_probe_cell_attributes_reads_a_legible_group_and_not_an_illegible_one():
    rng = np.random.default_rng(0)
    v, t, n = 40, 4, 4
    colour = rng.integers(0, 4, (v, t, n))  # 0 = no actor, 1..3 = a value
    shape = rng.integers(0, 4, (v, t, n)) * (colour > 0)
    feats = np.concatenate([np.eye(4)[colour], rng.normal(size=(v, t, n, 3))], -1)  # colour visible, shape not
    r = L.probe_cell_attributes(feats, {"colour": colour, "shape": shape})
    assert r["colour"].accuracy == 1.0 and r["colour"].classes == 3  # the empty cells are left out
    assert r["shape"].balanced_accuracy < 0.6 and r["shape"].chance_balanced == pytest.approx(1 / 3)


def test_backbone_cell_attributes_on_a_backbone_that_sees_colour():
    from tastvg.data.synth import SynthKnobs

    class MeanColour(torch.nn.Module):  # [F, 3, 32, 32] -> [F, 3, 2, 2]: the mean colour of each quadrant
        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, 16)

    knobs = SynthKnobs(size=32, frames=8, distractors=1, clutter=0.0, occlusion=0.0)
    r = L.backbone_cell_attributes(MeanColour(), 0, 24, knobs, frames_per_video=2)
    assert set(r) == {"size", "texture", "colour", "shape"}
    assert r["colour"].balanced_accuracy > 2 * r["colour"].chance_balanced


def test_legible_share_is_one_with_every_group_and_falls_without_them():
    from tastvg.data.synth import SynthKnobs

    k = SynthKnobs(distractors=3)
    assert L.legible_share(0, 60, k, ("size", "texture", "colour", "shape")) == 1.0  # the sentence is unique
    assert L.legible_share(0, 60, k, ()) == 0.0
    assert L.legible_share(0, 60, SynthKnobs(distractors=0), ()) == 1.0  # nothing to tell apart
    assert L.legible_share(0, 60, k, ("colour",)) < L.legible_share(0, 60, k, ("colour", "shape"))


def test_attention_by_span_separates_the_frames_inside_and_outside_the_span():
    """A map on the target's cell inside the span and uniform outside: 4x chance in, 1x out."""
    cells = np.zeros((1, 4, 4))
    cells[0, :, 2] = 1
    maps = np.ones((1, 4, 4))
    maps[0, 1:3] = cells[0, 1:3]  # frames 1 and 2 (the span) look only at the target's cell
    in_span = np.array([[False, True, True, False]])
    by = L.attention_by_span(maps, cells, in_span)
    assert by["in_span"]["ratio"] == pytest.approx(4.0) and by["out_span"]["ratio"] == pytest.approx(1.0)
    valid = np.array([[True, True, False, False]])  # a padded frame counts in neither
    assert L.attention_by_span(maps * 0 + 1, cells, in_span, valid)["in_span"]["ratio"] == pytest.approx(1.0)


def test_span_against_actors_tells_the_target_span_from_everyone_s():
    acts = np.zeros((3, 10), bool)
    acts[0, 2:5], acts[1, 5:9], acts[2, 0:2] = True, True, True  # target 0; distractors cover the rest
    on_target = np.zeros(10, bool)
    on_target[2:5] = True
    anything = acts.any(0)
    res = L.span_against_actors([on_target, anything], [acts, acts], [0, 0])
    assert res["tiou_target"] == pytest.approx((1.0 + 3 / 9) / 2)  # everyone acts on frames 0-8
    assert res["tiou_union"] == pytest.approx((3 / 9 + 1.0) / 2)
    assert res["follows_target"] == pytest.approx(0.5) and res["videos"] == 2
    assert np.isnan(L.span_against_actors([], [], [])["tiou_target"])
