"""Dataset API details: the dense test clip and its halves, config validation, attribute-id checks."""

import pytest
import torch

from tastvg.data import DataConfig, build_dataset, split_sample
from tastvg.data.annotations import AnnotationError
from tastvg.paths import data_samples_dir


def test_test_clip_is_dense_and_splits_into_halves():
    ds = build_dataset("hcstvg", data_samples_dir() / "hcstvg", "test", DataConfig(resize_height=32))
    s = ds[0]
    r = ds.records[0]
    assert s["frame_ids"].tolist() == list(range(r.frame_count - 1))  # 6.4 fps > video fps: every candidate
    even, odd = split_sample(s)
    assert even["frame_ids"].tolist() == s["frame_ids"][0::2].tolist()
    assert odd["frame_ids"].tolist() == s["frame_ids"][1::2].tolist()
    assert torch.equal(odd["frames"], s["frames"][1::2])
    assert even["gt_boxes"].shape[0] + odd["gt_boxes"].shape[0] == s["gt_boxes"].shape[0]
    assert s["size"] == (32, 44)  # int(32 * 1.4)


def test_train_sampling_is_reproducible_per_epoch():
    ds = build_dataset("synth", data_samples_dir() / "synth", "train", seed=5)
    ids = [ds[i]["frame_ids"].tolist() for i in range(6)]
    assert ids == [ds[i]["frame_ids"].tolist() for i in range(6)]
    changed = False
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        changed |= [ds[i]["frame_ids"].tolist() for i in range(6)] != ids
    assert changed  # temporal crop redrawn


def test_config_defaults_and_validation():
    hc, vs, sy = (DataConfig.for_dataset(d) for d in ("hcstvg", "vidstg", "synth"))
    assert (hc.sampling, hc.train_fps, hc.flip_prob, hc.temp_crop_prob, hc.app_num, hc.mot_num) == ("fps", 3.2, 0.7, 0.5, 15, 60)
    assert (vs.sampling, vs.train_frames, vs.test_frames, vs.app_num, vs.mot_num) == ("linspace", 64, 128, 20, 34)
    assert (sy.resize_height, sy.app_num, sy.mot_num) == (None, 16, 16)
    with pytest.raises(ValueError, match="flip_prob"):
        DataConfig(flip_prob=1.5)
    with pytest.raises(ValueError, match="sampling"):
        DataConfig(sampling="random")
    with pytest.raises(ValueError, match="unknown dataset"):
        DataConfig.for_dataset("kinetics")


def test_attribute_ids_outside_vocabulary_name_the_record():
    cfg = DataConfig.for_dataset("synth", app_num=4)
    ds = build_dataset("synth", data_samples_dir() / "synth", "test", cfg)
    with pytest.raises(AnnotationError, match=r"record 'synth_000\d\d.mp4', field 'adj_index_list'"):
        for i in range(len(ds)):
            ds[i]
