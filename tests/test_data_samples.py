"""data_samples/: every record of every format loads through the same dataset API; the tokenizer
loads offline; the folder is what ``python -m tastvg.data.samples`` writes."""

import json
import warnings

import pytest

from tastvg.data import DataConfig, build_dataset, collate_stvg, ground_truth
from tastvg.data.attributes import AttributeLabeler, AttributeVocabulary
from tastvg.paths import data_samples_dir

FORMATS = ["synth", "hcstvg", "hcstvg2", "vidstg"]


@pytest.mark.parametrize("dataset", FORMATS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_every_record_loads(dataset, split):
    root = data_samples_dir() / dataset
    cfg = DataConfig.for_dataset(dataset, resize_height=None if dataset == "synth" else 64)
    vocab = root / ("vocabulary.json" if dataset == "synth" else "vocabulary_rederived.json")
    labeler = AttributeLabeler(AttributeVocabulary.from_json(vocab))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = build_dataset(dataset, root, split, cfg, labeler=labeler)
    if dataset == "hcstvg2" and split == "train":  # real-v2-like boxes: x2 past the edge clipped, x1 < 0 kept
        assert [str(w.message).split(": ", 1)[1][:26] for w in caught] == ["clipped 1 out-of-frame box"]
        assert ds.records[0].boxes[0][0] == -4
    samples = [ds[i] for i in range(len(ds))]
    assert len(samples) >= (2 if dataset != "synth" else 8)
    batch = collate_stvg(samples)
    assert batch["frames"].shape[:2] == (len(ds), max(s["frames"].shape[0] for s in samples))
    for s, r in zip(samples, ds.records):
        assert s["actioness"].sum() > 0 and s["text"].endswith(s["sentence"])
        assert s["attr_app"].shape == (cfg.app_num,) and s["attr_mot"].shape == (cfg.mot_num,)
        if dataset != "synth":
            assert s["size"] == (64, 89)  # 112x64 is wider than 1.4:1 -> width int(64 * 1.4)
        assert ((s["gt_boxes"] >= 0) & (s["gt_boxes"] <= 1)).all()
    gt = ground_truth(ds.records)
    assert len(gt) == len(ds)
    if dataset == "vidstg":
        assert {g["qtype"] for g in gt.values()} == {"declar", "inter"}
        assert all(r.segment[0] > 0 for r in ds.records if split == "train")  # segments start late


def test_vidstg_samples_have_a_gt_before_its_segment_and_a_dropped_record(caplog):
    import logging

    from tastvg.data.dataset import load_records

    with caplog.at_level(logging.WARNING, logger="tastvg.data.vidstg"):
        records = load_records("vidstg", data_samples_dir() / "vidstg", "train")
    assert [r.item_id for r in records] == ["0", "1", "3", "4"]
    assert "dropped 1 record(s)" in caplog.text and "(1 box count): 2" in caplog.text
    early = records[2]
    assert early.t_start < early.segment[0]  # GT 28..51, segment 31..59
    raw = json.loads((data_samples_dir() / "vidstg" / "annos" / "train.json").read_text())
    assert raw["3"]["temp_gt"]["begin_fid"] == -3 and raw["3"]["frame_count"] == 29  # the segment's length


def test_tokenizer_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(data_samples_dir() / "tokenizer"))
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id) == (0, 1, 2)  # RoBERTa layout
    ids = tok("the big striped red square moves left")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == "the big striped red square moves left"
    assert len(tok) <= 8192  # fits the synth preset's text vocabulary


def test_samples_are_regenerated_identically(tmp_path):
    """Annotations and the tokenizer vocabulary must match byte for byte; videos must decode to the
    same frames (their bytes may differ across FFmpeg builds)."""
    import numpy as np

    from tastvg.data.samples import regenerate
    from tastvg.data.video import read_frames, probe_video

    regenerate(tmp_path)
    shipped = data_samples_dir()
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        rel = path.relative_to(tmp_path)
        stale = f"data_samples/{rel} is stale: run python -m tastvg.data.samples"
        assert (shipped / rel).is_file(), stale
        if path.suffix == ".json" and rel.parts[0] != "tokenizer" or path.name in ("vocab.json", "merges.txt"):
            assert (shipped / rel).read_bytes() == path.read_bytes(), stale
        elif path.suffix == ".mp4":
            n = probe_video(path)["frames"]
            assert probe_video(shipped / rel)["frames"] == n, stale
            ids = [0, n // 2, n - 1]
            diff = np.abs(read_frames(path, ids).astype(int) - read_frames(shipped / rel, ids).astype(int)).mean()
            assert diff < 2.0, stale
    stats = json.loads((shipped / "synth" / "stats.json").read_text())
    assert (stats["train"], stats["test"]) == (24, 8)
