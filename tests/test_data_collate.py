"""Collation of B >= 1 clips of different lengths and sizes; True = padding."""


import pytest
import torch

from tastvg.data.collate import Collator, collate_stvg


def sample(t, h, w, value, item):
    act = torch.zeros(t)
    act[1:3] = 1
    boxes = torch.zeros(t, 4)
    boxes[1:3] = torch.tensor([0.5, 0.5, 0.2, 0.2])
    return {"frames": torch.full((t, 3, h, w), float(value)), "frame_ids": torch.arange(t) * 2, "actioness": act,
            "boxes": boxes, "gt_boxes": boxes[1:3], "attr_app": torch.tensor([1.0, 0.0]), "attr_mot": torch.tensor([0.0, 1.0, 0.0]),
            "size": (h, w), "orig_size": (h * 2, w * 2), "item_id": item, "video_id": item, "sentence": f"s {item}",
            "subject": "the x", "text": f"the x s {item}", "qtype": None}


def test_padding_and_masks():
    b = collate_stvg([sample(5, 8, 10, 1, "a"), sample(3, 6, 12, 2, "b")])
    assert b["frames"].shape == (2, 5, 3, 8, 12)
    assert b["frame_pad"].tolist() == [[False] * 5, [False] * 3 + [True] * 2]
    assert b["frames"][0, :, :, :, :10].eq(1).all() and b["frames"][0, :, :, :, 10:].eq(0).all()
    assert b["frames"][1, :3, :, :6].eq(2).all() and b["frames"][1, 3:].eq(0).all() and b["frames"][1, :, :, 6:].eq(0).all()
    assert b["image_pad"][0, :, 10:].all() and not b["image_pad"][0, :, :10].any()
    assert b["image_pad"][1, 6:].all() and not b["image_pad"][1, :6, :12].any()
    t = b["targets"]
    assert t["frame_ids"][1].tolist() == [0, 2, 4, -1, -1]
    assert t["actioness"][1].tolist() == [0, 1, 1, 0, 0] and t["boxes"][1, 3:].eq(0).all()
    assert t["attr_app"].shape == (2, 2) and t["attr_mot"].shape == (2, 3)
    assert t["sizes"].tolist() == [[8, 10], [6, 12]] and t["orig_sizes"].tolist() == [[16, 20], [12, 24]]
    assert b["item_ids"] == ["a", "b"] and b["texts"] == ["the x s a", "the x s b"]


def test_batch_of_one_has_no_padding():
    b = collate_stvg([sample(4, 6, 6, 1, "a")])
    assert b["frames"].shape == (1, 4, 3, 6, 6) and not b["frame_pad"].any() and not b["image_pad"].any()
    with pytest.raises(ValueError):
        collate_stvg([])


def test_collate_with_shipped_tokenizer(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    from tastvg.paths import data_samples_dir

    tok = AutoTokenizer.from_pretrained(str(data_samples_dir() / "tokenizer"))
    b = Collator(tok)([sample(2, 4, 4, 1, "a"), sample(2, 4, 4, 1, "bb long text")])
    ids, mask = b["text_ids"], b["text_mask"]
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert ids[0, 0] == tok.bos_token_id and mask[1].all()
    assert (ids[0][mask[0] == 0] == tok.pad_token_id).all() and mask[0].sum() < mask[1].sum()
