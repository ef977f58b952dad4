"""One dataset API for HC-STVG v1/v2, VidSTG and SynthSTVG: records -> model-ready samples.

``dataset[i]`` is a dict (``T`` sampled frames, ``n`` of them inside the ground-truth span)::

    frames      float32 [T, 3, H0, W0]  resized, (flipped), ImageNet-normalised
    frame_ids   int64   [T]             absolute frame ids of the video
    actioness   float32 [T]             1 inside the ground-truth span, else 0
    boxes       float32 [T, 4]          normalised (cx, cy, w, h) on GT frames, 0 elsewhere
    gt_boxes    float32 [n, 4]          the same boxes, GT frames only (the official target)
    attr_app    float32 [APP]           multi-hot appearance attributes
    attr_mot    float32 [MOT]           multi-hot motion attributes
    size        (H0, W0)   orig_size (h, w)
    item_id, video_id, sentence, subject, text ("subject sentence", the text-encoder input), qtype

A test sample holds the whole dense clip; :func:`split_sample` cuts it into the two interleaved
halves the official evaluation feeds the model. Use :func:`build_dataset` to read a dataset folder.

Random draws of one training sample, in the official order: the crop decision and crop window
(:func:`~tastvg.data.sampling.sample_frame_ids`), then one ``random()`` for the flip. Boxes are
flipped in original pixels, then scaled to the resized frame, then normalised, as the official
transform chain does.

**A clip without a ground-truth frame** (a short span that the fps or ``linspace`` sampling steps
over) makes the official ``__getitem__`` fail with an ``IndexError``. Here, by default
(``DataConfig.empty_gt_clip="raise"``), it raises :class:`EmptyClipError` naming the sample, its
span and the sampled frames; ``"zeros"`` serves the clip with all-zero ``actioness`` and no
``gt_boxes`` (the losses then supervise only "no frame is inside"). A training crop never causes
it: the HC-STVG crop keeps every sampled GT position, and a VidSTG crop whose ``linspace`` misses
the span falls back to the uncropped clip when that one has a GT frame.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any, Optional, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from tastvg.boxes import flip_boxes, normalize_boxes, scale_boxes
from tastvg.data.annotations import AnnotationError, STVGRecord, load_hcstvg
from tastvg.data.config import DataConfig
from tastvg.data.sampling import sample_frame_ids
from tastvg.data.transforms import flip_pairs, normalize, resize_frames, resized_size, swap_left_right, to_tensor
from tastvg.data.video import VideoError, read_frames
from tastvg.data.vidstg import VIDSTG_TYPOS, load_vidstg, read_typo_table

log = logging.getLogger(__name__)


class EmptyClipError(ValueError):
    """A sampled clip with no frame inside the ground truth (``DataConfig.empty_gt_clip="raise"``)."""

    def __init__(self, record: STVGRecord, ids: Sequence[int]) -> None:
        self.item_id = record.item_id
        shown = f"{list(ids[:3])} ... {list(ids[-2:])}" if len(ids) > 5 else str(list(ids))
        super().__init__(f"{record.source}: sample '{record.item_id}': none of the {len(ids)} sampled frames "
                         f"{shown} lies inside the ground truth {record.t_start}..{record.t_end} (the official "
                         "loader fails here too); DataConfig.empty_gt_clip='zeros' serves it with zero actioness")


class Labeler(Protocol):
    def __call__(self, sentence: str) -> tuple[str, list[int], list[int]]: ...


class STVGDataset(Dataset):
    """Samples of :class:`STVGRecord` s under a :class:`DataConfig`.

    Args:
        records: from :func:`load_hcstvg` / :func:`load_vidstg` / SynthSTVG.
        cfg: sizes, probabilities, sampling (``DataConfig.for_dataset(...)``).
        train: training sampling + augmentation (temporal crop, flip) or the test clip.
        seed: with :meth:`set_epoch`, makes each sample's random choices reproducible.
        labeler: fills subject / attribute ids for records that lack them (``attributes.py``).
        mot_names: motion attribute names; ids differing by left/right swap on flips.
        frames: optional in-memory videos ``{video_id: uint8 [N, H, W, 3]}`` (no decoding).
        rng: draw every sample's random numbers from this one generator, in call order, as the
            official loaders draw from Python's global ``random`` (``random.Random(s)`` then gives
            the official clips and flips of ``random.seed(s)``; use with ``num_workers=0``). By
            default each sample seeds its own generator from ``(seed, epoch, index)``.
    """

    def __init__(self, records: Sequence[STVGRecord], cfg: DataConfig, train: bool, seed: int = 0,
                 labeler: Optional[Labeler] = None, mot_names: Optional[Sequence[str]] = None,
                 app_names: Optional[Sequence[str]] = None,
                 frames: Optional[dict[str, np.ndarray]] = None, rng: Optional[random.Random] = None) -> None:
        self.records, self.cfg, self.train, self.seed, self.rng = list(records), cfg, train, seed, rng
        self.labeler, self.frames, self.epoch = labeler, frames, 0
        self.mot_pairs = flip_pairs(mot_names) if (mot_names and cfg.flip_swap_attributes) else {}
        self.app_pairs = flip_pairs(app_names) if (app_names and cfg.flip_swap_attributes) else {}
        self.bad_samples: list[str] = []  # item ids skipped because of VideoError (skip_bad_videos)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: reseeds the random choices and reports the samples skipped in the
        previous epoch (``skip_bad_videos``; counted per process, i.e. per DataLoader worker)."""
        self.report_skipped()
        self.epoch = epoch

    def report_skipped(self) -> list[str]:
        """Log and reset the item ids skipped since the last report; returns them."""
        skipped, self.bad_samples = self.bad_samples, []
        if skipped:
            log.warning("epoch %d: skipped %d sample(s) with unreadable videos: %s", self.epoch, len(skipped),
                        ", ".join(sorted(set(skipped))))
        return skipped

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not self.cfg.skip_bad_videos:
            return self.load(index)
        for attempt in range(len(self.records)):
            i = (index + attempt) % len(self.records)
            try:
                return self.load(i)
            except VideoError as err:
                self.bad_samples.append(self.records[i].item_id)
                log.warning("skipping sample %s (%d skipped so far): %s", self.records[i].item_id,
                            len(self.bad_samples), err)
        raise RuntimeError("every sample of the dataset failed to load")

    # ------------------------------------------------------------------------------------------
    def attributes(self, r: STVGRecord) -> tuple[str, list[int], list[int]]:
        subject, app, mot = r.subject, r.app_ids, r.mot_ids
        if (subject is None or app is None or mot is None) and self.labeler is not None:
            l_sub, l_app, l_mot = self.labeler(r.sentence)
            subject = l_sub if subject is None else subject
            app = l_app if app is None else app
            mot = l_mot if mot is None else mot
        for name, ids, n in (("adj_index_list", app, self.cfg.app_num), ("verb_index_list", mot, self.cfg.mot_num)):
            bad = [i for i in ids or [] if not 0 <= i < n]
            if bad:
                raise AnnotationError(r.source, r.item_id, name, f"ids {bad} outside the vocabulary of {n} attributes")
        return subject or "", list(app or []), list(mot or [])

    def decode(self, r: STVGRecord, ids: list[int]) -> np.ndarray:
        """``uint8 [T, h, w, 3]`` frames ``ids``; the video's length is checked against ``img_num``
        (HC-STVG) or must cover the used segment (VidSTG, whose files do not store it)."""
        check = self.cfg.check_frame_count
        if self.frames is not None and r.video_id in self.frames:
            video = self.frames[r.video_id]
            wrong = len(video) != r.frame_count if r.exact_frame_count else len(video) < r.frame_count
            if wrong:
                need = f"{r.frame_count}" if r.exact_frame_count else f"at least {r.frame_count}"
                raise VideoError(r.video_path, f"in-memory video has {len(video)} frames, the annotation needs {need}",
                                 r.item_id)
            return video[ids]
        return read_frames(r.video_path, ids, expected_frames=r.frame_count if check and r.exact_frame_count else None,
                           min_frames=r.frame_count if check and not r.exact_frame_count else None,
                           expected_size=(r.width, r.height), sample=r.item_id)

    def _flip_text(self, sentence: str, subject: str, app: list[int], mot: list[int]) -> tuple[str, str, list[int], list[int]]:
        cfg = self.cfg
        sentence = swap_left_right(sentence, cfg.flip_whole_words)
        if cfg.flip_subject:
            subject = swap_left_right(subject, cfg.flip_whole_words)
        return sentence, subject, [self.app_pairs.get(i, i) for i in app], [self.mot_pairs.get(i, i) for i in mot]

    def load(self, index: int) -> dict[str, Any]:
        r, cfg = self.records[index], self.cfg
        rng = self.rng if self.rng is not None else random.Random(f"{self.seed}/{self.epoch}/{index}")
        ids = sample_frame_ids(r.segment, r.frame_count, r.t_start, r.t_end, cfg, self.train, rng)
        inside = [r.t_start <= f <= r.t_end for f in ids]
        if not any(inside) and cfg.empty_gt_clip == "raise":
            raise EmptyClipError(r, ids)
        flip = self.train and rng.random() < cfg.flip_prob  # drawn for every training sample, as officially
        subject, app, mot = self.attributes(r)
        size = resized_size(r.width, r.height, cfg.resize_height, cfg.max_width)
        gt = torch.tensor([r.box_at(f) if ok else [0.0, 0.0, 1.0, 1.0] for f, ok in zip(ids, inside)],
                          dtype=torch.float32)  # xyxy pixels, dummy box outside the span
        frames = resize_frames(to_tensor(self.decode(r, ids)), size)  # [T, 3, H0, W0]
        sentence = r.sentence
        if flip:
            frames, gt = frames.flip(-1), flip_boxes(gt, r.width)  # boxes in original pixels, as officially
            if cfg.flip_sentence:
                sentence, subject, app, mot = self._flip_text(sentence, subject, app, mot)
        act = torch.tensor(inside, dtype=torch.float32)
        boxes = normalize_boxes(scale_boxes(gt, (r.height, r.width), size), size) * act[:, None]
        attr_app, attr_mot = torch.zeros(cfg.app_num), torch.zeros(cfg.mot_num)
        attr_app[app], attr_mot[mot] = 1.0, 1.0
        return {"frames": normalize(frames, cfg.mean, cfg.std), "frame_ids": torch.tensor(ids, dtype=torch.long),
                "actioness": act, "boxes": boxes, "gt_boxes": boxes[act > 0.5], "attr_app": attr_app,
                "attr_mot": attr_mot, "size": size, "orig_size": (r.height, r.width), "item_id": r.item_id,
                "video_id": r.video_id, "sentence": sentence, "subject": subject,
                "text": f"{subject} {sentence}" if subject else sentence, "qtype": r.qtype}


def split_sample(sample: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dense test sample -> its (even, odd) interleaved halves; per-frame fields are split."""
    per_frame = ("frames", "frame_ids", "actioness", "boxes")
    halves = []
    for start in (0, 1):
        half = dict(sample)
        for k in per_frame:
            half[k] = sample[k][start::2]
        half["gt_boxes"] = half["boxes"][half["actioness"] > 0.5]
        halves.append(half)
    return halves[0], halves[1]


# ----------------------------------------------------------------------------------------------
def _hcstvg_video_dir(root: Path, dataset: str) -> Path:
    """Official folder names (``v1_video`` / ``v2_video``); SynthSTVG and the samples use ``videos/``."""
    official = root / {"hcstvg": "v1_video", "hcstvg2": "v2_video", "synth": "videos"}[dataset]
    return root / "videos" if not official.is_dir() and (root / "videos").is_dir() else official


def load_records(dataset: str, root: str | Path, split: str, cfg: Optional[DataConfig] = None) -> list[STVGRecord]:
    """Read ``root/annos/{split}.json`` of ``dataset`` (``hcstvg``, ``hcstvg2``, ``vidstg``, ``synth``)."""
    root, cfg = Path(root), cfg or DataConfig.for_dataset(dataset)
    anno = root / "annos" / f"{split}.json"
    if dataset == "vidstg":
        typos = read_typo_table(cfg.vidstg_typos) if cfg.vidstg_typos else VIDSTG_TYPOS
        return load_vidstg(anno, root / "videos", clip_boxes=cfg.clip_boxes, typos=typos, strict=cfg.strict,
                           clip_negative=cfg.clip_negative_boxes)
    if dataset in ("hcstvg", "hcstvg2", "synth"):
        return load_hcstvg(anno, _hcstvg_video_dir(root, dataset), clip_boxes=cfg.clip_boxes, removed=cfg.removed_videos,
                           clip_negative=cfg.clip_negative_boxes)
    raise ValueError(f"unknown dataset '{dataset}'")


def build_dataset(dataset: str, root: str | Path, split: str, cfg: Optional[DataConfig] = None,
                  train: Optional[bool] = None, seed: int = 0, labeler: Optional[Labeler] = None) -> STVGDataset:
    """The dataset folder ``root`` (the official layout: ``annos/``, videos) as an :class:`STVGDataset`.

    ``train`` defaults to ``split == "train"``. A ``vocabulary.json`` in ``root`` (SynthSTVG)
    supplies attribute names, so flips also swap left/right attribute ids.
    """
    cfg = cfg or DataConfig.for_dataset(dataset)
    records = load_records(dataset, root, split, cfg)
    app_names = mot_names = None
    vocab = Path(root) / "vocabulary.json"
    if vocab.is_file():
        import json

        data = json.loads(vocab.read_text())
        app_names, mot_names = data.get("appearance"), data.get("motion")
    return STVGDataset(records, cfg, train=split == "train" if train is None else train, seed=seed,
                       labeler=labeler, app_names=app_names, mot_names=mot_names)
