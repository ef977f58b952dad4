"""Regenerate ``data_samples/`` deterministically: ``python -m tastvg.data.samples [--out DIR]``.

Contents (all tiny, for tests, CI and the CPU chapters)::

    synth/      SynthSTVG, 24 train + 8 test videos, 64x64, 32 frames (``tastvg synth`` output)
    hcstvg/     HC-STVG v1 format: annos/{train,test}.json (v1 field names), v1_video/*.mp4
    hcstvg2/    HC-STVG v2 format: img_size / English field names, two out-of-frame boxes, v2_video/
    vidstg/     VidSTG: sent_annos/ + bbox_annos/ (public files), annos/{train,test}.json built from
                them, videos/<folder>/<vid>.mp4, declar + inter, one record the loader drops
    tokenizer/  byte-level BPE tokenizer in the RoBERTa format, trained on the SynthSTVG vocabulary

The real-format videos are rendered SynthSTVG scenes padded to a wide frame (112x64, wider than
1.4:1, so the resize rule squashes them like 16:9 HC-STVG videos).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from tastvg.data.attributes import AttributeLabeler, AttributeVocabulary
from tastvg.data.synth import SynthKnobs, make_video, write_dataset
from tastvg.data.synth_scene import APPEARANCE, MOTION
from tastvg.data.video import write_video

SEED = 0
WIDE = (112, 64)  # width, height of the real-format sample videos
PAD_LEFT = 24


def _wide_video(index: int, frames: int) -> tuple[np.ndarray, dict[str, Any]]:
    """A SynthSTVG scene on a 112x64 canvas; the target boxes are shifted accordingly."""
    v = make_video(SEED + 1, index, SynthKnobs(size=64, frames=frames, distractors=2))
    canvas = np.zeros((frames, WIDE[1], WIDE[0], 3), np.uint8)
    canvas[:] = (40, 40, 48)
    canvas[:, :, PAD_LEFT:PAD_LEFT + 64] = v.frames
    a = dict(v.annotation)
    a["bbox"] = [[x + PAD_LEFT, y, w, h] for x, y, w, h in a["bbox"]]
    return canvas, a


def _hcstvg(out: Path, version: int) -> None:
    folder = out / ("hcstvg" if version == 1 else "hcstvg2")
    videos = folder / ("v1_video" if version == 1 else "v2_video")
    splits: dict[str, dict[str, Any]] = {"train": {}, "test": {}}
    for i in range(5):
        n = 60 + 10 * i
        frames, a = _wide_video(10 * version + i, n)
        name = f"{i}_sample{version}{i}.mp4"
        write_video(videos / name, frames, fps=n / 20)
        rec: dict[str, Any] = {"img_num": n, "st_frame": a["st_frame"], "bbox": a["bbox"], "st_time": a["st_time"],
                               "ed_time": a["ed_time"]}
        caption = a["caption"][0].upper() + a["caption"][1:] + "."
        if version == 1:
            rec.update(width=WIDE[0], height=WIDE[1], caption=caption)
        else:
            rec.update(img_size=[WIDE[1], WIDE[0]], English=caption)
            if i == 0:  # like the real v2 files: boxes sticking out of the frame
                x, y, w, h = rec["bbox"][0]
                rec["bbox"][0] = [-4, y, x + w + 4, h]  # x1 = -4 < 0: kept, as officially
                x, y, w, h = rec["bbox"][1]
                rec["bbox"][1] = [x, y, WIDE[0] - x + 3, h]  # x2 = 115 > 112: clipped with a warning
        splits["train" if i < 3 else "test"][name] = rec
    _label(splits, folder, 15, 60, skip={f"4_sample{version}4.mp4"})  # one record without TA-STVG fields
    (folder / "annos").mkdir(parents=True, exist_ok=True)
    for split, data in splits.items():
        (folder / "annos" / f"{split}.json").write_text(json.dumps(data, indent=1))


def _vidstg_entry(vid: str, n: int, seg: tuple[int, int], gt: tuple[int, int], shape: str,
                  texts: list[tuple[str, str]]) -> dict[str, Any]:
    """One entry of VidSTG's ``sent_annos/{split}_annotations.json`` (target tid 0)."""
    kinds = {"declar": "captions", "inter": "questions"}
    entry: dict[str, Any] = {"vid": vid, "frame_count": n, "fps": 10, "width": WIDE[0], "height": WIDE[1],
                             "used_segment": {"begin_fid": seg[0], "end_fid": seg[1]},
                             "temporal_gt": {"begin_fid": gt[0], "end_fid": gt[1]},
                             "subject/objects": [{"tid": 0, "category": shape}], "captions": [], "questions": []}
    for qtype, text in texts:
        entry[kinds[qtype]].append({"target_id": 0, "description": text, "type": "subject"})
    return entry


def _vidor_boxes(vid: str, n: int, first: int, bbox: list[list[int]], shape: str) -> dict[str, Any]:
    """VidOR's ``<vid>.json``: the target's trajectory on its ground-truth frames."""
    traj: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for k, (x, y, w, h) in enumerate(bbox):
        traj[first + k] = [{"tid": 0, "bbox": {"xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h},
                            "generated": 0, "tracker": "none"}]
    return {"video_id": vid.split("/")[1], "frame_count": n, "fps": 10, "width": WIDE[0], "height": WIDE[1],
            "subject/objects": [{"tid": 0, "category": shape}], "trajectories": traj, "relation_instances": []}


def _vidstg(out: Path) -> None:
    """VidSTG's public files (``sent_annos/``, VidOR ``bbox_annos/``) and the ``annos/`` built from them.

    Segments start late (the normal case); video 1's ground truth begins 3 frames before its segment;
    a second entry of video 0 has a segment that ends inside the ground truth, so its record has more
    boxes than ``temp_gt`` frames and the loader drops it, as the official one does.
    """
    from tastvg.data.vidstg_build import build_vidstg

    folder = out / "vidstg"
    entries: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for i in range(3):
        n = 50 + 10 * i
        frames, a = _wide_video(30 + i, n)
        vid = f"000{i}/{2401075270 + i}"
        write_video(folder / "videos" / f"{vid}.mp4", frames, fps=10)
        s, e = a["st_frame"] - 1, a["st_frame"] - 2 + len(a["bbox"])
        target = a["synth"]["target_attributes"]
        action = a["caption"][len(a["sub"]) + 1:]
        texts = [("declar", f"There is a {a['sub'][4:]} that {action}!"), ("inter", f"Which {target['shape']} {action}?")]
        seg = (s + 3 if i == 1 else max(0, s - 8), min(n - 1, e + 8))
        split = "test" if i == 2 else "train"
        entries[split].append(_vidstg_entry(vid, n, seg, (s, e), target["shape"], texts))
        if i == 0:  # dropped by the loader: the segment ends 4 frames before the ground truth does
            entries[split].append(_vidstg_entry(vid, n, (seg[0], e - 4), (s, e), target["shape"], texts[:1]))
        path = folder / "bbox_annos" / f"{vid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_vidor_boxes(vid, n, s, a["bbox"], target["shape"])))
    (folder / "sent_annos").mkdir(parents=True, exist_ok=True)
    for split, data in entries.items():
        (folder / "sent_annos" / f"{split}_annotations.json").write_text(json.dumps(data, indent=1))
    build_vidstg(folder, folder / "bbox_annos", folder, progress=False)
    splits = {split: json.loads((folder / "annos" / f"{split}.json").read_text()) for split in entries}
    _label(splits, folder, 20, 34)
    for split, data in splits.items():
        (folder / "annos" / f"{split}.json").write_text(json.dumps(data, indent=1))


def _label(splits: dict[str, dict[str, Any]], folder: Path, app_num: int, mot_num: int, skip: set[str] = set()) -> None:
    """Fill ``sub`` / ``adj_index_list`` / ``verb_index_list`` with the re-derived labeler (the authors'
    vocabulary is not public) and save that vocabulary next to the annotations."""
    from tastvg.data.vidstg import clean_vidstg_sentence

    def text(rec: dict[str, Any]) -> str:
        return clean_vidstg_sentence(rec["sentence"]["description"]) if "sentence" in rec else \
            rec.get("caption", rec.get("English", "")).lower()

    train = [text(r) for r in splits["train"].values()]
    vocab = AttributeVocabulary.from_sentences(train, app_num=app_num, mot_num=mot_num)
    labeler = AttributeLabeler(vocab)
    for data in splits.values():
        for key, rec in data.items():
            if key not in skip:
                sub, app, mot = labeler(text(rec))
                rec.update(sub=sub, adj_index_list=app, verb_index_list=mot)
    folder.mkdir(parents=True, exist_ok=True)
    vocab.save(folder / "vocabulary_rederived.json")


def tokenizer_corpus() -> list[str]:
    """Every SynthSTVG subject phrase x action, plus the appearance and motion words."""
    from tastvg.data.synth import GROUP_VALUES

    sizes, textures = GROUP_VALUES["size"], [t for t in GROUP_VALUES["texture"] if t != "plain"]
    lines = []
    for colour, shape in itertools.product(GROUP_VALUES["colour"], GROUP_VALUES["shape"]):
        for adj in ([], *[[s] for s in sizes], *[[t] for t in textures]):
            subject = " ".join(["the", *adj, colour, shape])
            lines += [f"{subject} {m}" for m in MOTION]
    lines += [" ".join(APPEARANCE), " ".join(MOTION), "which there is a that left right"]
    return lines


def write_tokenizer(folder: Path, vocab_size: int = 1000) -> None:
    """Byte-level BPE in the RoBERTa layout: ``AutoTokenizer.from_pretrained(folder)`` works offline."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(tokenizer_corpus(), vocab_size=vocab_size, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))  # vocab.json + merges.txt
    tok = RobertaTokenizerFast.from_pretrained(str(folder), model_max_length=512)
    tok.save_pretrained(str(folder))
    config_file = folder / "tokenizer_config.json"  # drop keys that record how it was loaded here
    config = json.loads(config_file.read_text())
    for key in ("local_files_only", "is_local"):
        config.pop(key, None)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def regenerate(out: str | Path) -> None:
    out = Path(out)
    for name in ("synth", "hcstvg", "hcstvg2", "vidstg", "tokenizer"):
        shutil.rmtree(out / name, ignore_errors=True)
    write_dataset(out / "synth", 32, seed=SEED, knobs=SynthKnobs(size=64, frames=32), test_fraction=0.25)
    _hcstvg(out, 1)
    _hcstvg(out, 2)
    _vidstg(out)
    write_tokenizer(out / "tokenizer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from tastvg.paths import repository_root

    root = repository_root()
    default = root / "data_samples" if root is not None else None
    parser.add_argument("--out", type=Path, default=default, help=f"output folder (default {default})")
    args = parser.parse_args()
    if args.out is None:
        parser.error("not running from a repository checkout: pass --out DIR")
    regenerate(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
