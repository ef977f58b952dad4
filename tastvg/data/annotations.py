"""HC-STVG (v1, v2) annotation files -> validated :class:`STVGRecord` lists, and the pieces every
format shares (the record type, the error type, box checks, ground truth for the evaluator).

VidSTG lives in :mod:`tastvg.data.vidstg`. Both formats become one normalised record: 0-based
*inclusive* ground-truth span, one ``xyxy`` pixel box per ground-truth frame, frame size, the
sentence, and the TA-STVG fields ``sub`` / ``adj_index_list`` / ``verb_index_list`` when present.

HC-STVG follows the official loader (``datasets/hcstvg.py`` of HengLan/TA-STVG @ 904ad0c)::

    span     st_frame - 1 .. st_frame - 1 + len(bbox) - 1      (st_frame is 1-based; ed_frame unused)
    box      [x, y, w, h] -> [x, y, min(x + w, W), min(y + h, H)]  (negative x, y are kept)

A record the official construction fails on is an :class:`AnnotationError` naming file, record and
field: a span that leaves the video, or a ground truth that covers only the video's last frame
(the sampler never uses it). Deliberate deviation: a box sticking out past the right or bottom
edge fails the official construction (an assertion); here it is clipped to the frame with one
warning per file (the real v2 files have such boxes, HC-STVG issue #18); ``clip_boxes=False``
raises instead. ``clip_negative=True`` also clips negative coordinates to 0 (not official).
"""

from __future__ import annotations

import importlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional


class AnnotationError(ValueError):
    """A malformed annotation record; ``file``, ``record`` and ``field`` say where."""

    def __init__(self, file: str | Path, record: str, field: str, problem: str) -> None:
        self.file, self.record, self.field = str(file), str(record), field
        super().__init__(f"{file}: record '{record}', field '{field}': {problem}")


@dataclass
class STVGRecord:
    """One sentence grounded in one video. Frame ids are 0-based absolute ids of the video.

    ``boxes`` holds one ``[x1, y1, x2, y2]`` pixel box per frame ``t_start .. t_end`` (inclusive),
    so ``len(boxes) == t_end - t_start + 1``. ``segment`` is the inclusive range of frames the
    sampler may use (HC-STVG: the whole video; VidSTG: ``used_segment``). For VidSTG the span may
    start before the segment (the official loader keeps ``ori_temp_gt.begin_fid`` unclipped).

    ``frame_count`` is the video's length when ``exact_frame_count`` (HC-STVG ``img_num``); for
    VidSTG, whose files do not store it, it is the least length the record needs
    (``used_segment.end_fid + 1``).
    """

    item_id: str  # unique key: HC-STVG video file name, VidSTG sentence-pair id
    video_id: str
    video_path: Path
    sentence: str
    t_start: int
    t_end: int
    boxes: list[list[float]]
    width: int
    height: int
    frame_count: int
    segment: tuple[int, int]
    fps: Optional[float] = None
    qtype: Optional[str] = None
    subject: Optional[str] = None
    app_ids: Optional[list[int]] = None
    mot_ids: Optional[list[int]] = None
    source: str = ""  # annotation file, for error messages
    extra: dict[str, Any] = field(default_factory=dict)
    exact_frame_count: bool = True

    def box_at(self, frame_id: int) -> list[float]:
        return self.boxes[frame_id - self.t_start]


# ----------------------------------------------------------------------------------------------
def _need(rec: Mapping[str, Any], key: str | tuple[str, ...], file: Path, rid: str) -> Any:
    keys = (key,) if isinstance(key, str) else key
    for k in keys:
        if k in rec:
            return rec[k]
    raise AnnotationError(file, rid, " or ".join(keys), "missing")


def _int(value: Any, file: Path, rid: str, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise AnnotationError(file, rid, name, f"expected an integer, got {value!r}")
    if value < minimum:
        raise AnnotationError(file, rid, name, f"{value} is below {minimum}")
    return int(value)


def _sentence(value: Any, file: Path, rid: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(file, rid, name, f"empty or not a string: {value!r}")
    return value.strip()


class BoxChecker:
    """Checks ``xyxy`` boxes of one file and applies the box policy; one warning per file.

    Args:
        clip_far: a box past the right/bottom edge is clipped there with a warning (True), is an
            error (False), or is kept as given (None, VidSTG: the official loader never checks).
        clip_negative: clip negative ``x1``/``y1`` to 0 (not official; both loaders keep them).
    """

    def __init__(self, file: Path, clip_far: Optional[bool] = True, clip_negative: bool = False) -> None:
        self.file, self.clip_far, self.clip_negative = file, clip_far, clip_negative
        self.clipped, self.examples = 0, []

    def __call__(self, box: Iterable[Any], rid: str, name: str, width: int, height: int) -> list[float]:
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise AnnotationError(self.file, rid, name, f"expected four numbers, got {box!r}") from None
        raw = [x1, y1, x2, y2]
        if not all(v == v and abs(v) != float("inf") for v in raw):
            raise AnnotationError(self.file, rid, name, f"non-finite coordinate in {box!r}")
        if x2 < x1 or y2 < y1:
            raise AnnotationError(self.file, rid, name, f"negative box size: {raw}")
        out = list(raw)
        if self.clip_negative:
            out = [max(out[0], 0.0), max(out[1], 0.0), max(out[2], 0.0), max(out[3], 0.0)]
        if self.clip_far is not None and (out[2] > width or out[3] > height):
            if not self.clip_far:
                raise AnnotationError(self.file, rid, name, f"box {raw} sticks out of the {width}x{height} frame")
            out = [out[0], out[1], min(out[2], width), min(out[3], height)]
        if out != raw:
            if out[2] <= out[0] or out[3] <= out[1]:
                raise AnnotationError(self.file, rid, name, f"box {raw} lies entirely outside the {width}x{height} frame")
            self.clipped += 1
            if len(self.examples) < 3:
                self.examples.append(f"{rid}:{name}")
        return out

    def report(self) -> None:
        if self.clipped:
            warnings.warn(f"{self.file}: clipped {self.clipped} out-of-frame box(es) to the frame "
                          f"(e.g. {', '.join(self.examples)})", stacklevel=3)


def attributes(rec: Mapping[str, Any], file: Path, rid: str) -> tuple[Optional[str], Optional[list[int]], Optional[list[int]]]:
    """The TA-STVG fields ``sub``, ``adj_index_list``, ``verb_index_list`` (None when absent)."""
    sub = rec.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise AnnotationError(file, rid, "sub", f"expected a string, got {sub!r}")
    lists = []
    for key in ("adj_index_list", "verb_index_list"):
        ids = rec.get(key)
        if ids is not None:
            if not isinstance(ids, list):
                raise AnnotationError(file, rid, key, f"expected a list of integers, got {ids!r}")
            ids = [_int(i, file, rid, key) for i in ids]
        lists.append(ids)
    return sub, lists[0], lists[1]


def load_json(path: Path) -> dict[str, Any]:
    """An annotation file that must hold a JSON object keyed by record id."""
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as err:
            raise AnnotationError(path, "-", "-", f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, "-", "-", f"expected a JSON object keyed by id, got {type(data).__name__}")
    return data


# ----------------------------------------------------------------------------------------------
def _hcstvg_size(rec: Mapping[str, Any], file: Path, rid: str) -> tuple[int, int]:
    """``(width, height)`` from v1's ``width``/``height`` or v2's ``img_size = [h, w]``."""
    if "width" in rec or "height" in rec or "img_size" not in rec:
        width = _int(_need(rec, "width", file, rid), file, rid, "width", 1)
        height = _int(_need(rec, "height", file, rid), file, rid, "height", 1)
        return width, height
    size = rec["img_size"]
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise AnnotationError(file, rid, "img_size", f"expected [height, width], got {size!r}")
    height, width = (_int(v, file, rid, "img_size", 1) for v in size)
    return width, height


def _hcstvg_span(rec: Mapping[str, Any], n: int, n_boxes: int, file: Path, rid: str) -> tuple[int, int]:
    """0-based inclusive span; the records the official construction fails on are errors."""
    st = _int(_need(rec, "st_frame", file, rid), file, rid, "st_frame", 1)  # 1-based
    t_start, t_end = st - 1, st - 1 + n_boxes - 1
    if t_end > n - 1:
        raise AnnotationError(file, rid, "st_frame", f"span {t_start}..{t_end} (0-based, {n_boxes} boxes) "
                              f"ends after the last frame {n - 1} (img_num={n})")
    if t_start > n - 2:
        raise AnnotationError(file, rid, "st_frame", f"the ground truth covers only frame {t_start}, the video's "
                              f"last frame, which the sampler never uses (candidates 0..{n - 2}); the official "
                              "loader fails on this record")
    return t_start, t_end


def parse_hcstvg_record(rid: str, rec: Mapping[str, Any], file: Path, video_dir: Path, check: BoxChecker) -> STVGRecord:
    """One HC-STVG entry (v1 field names, or v2's ``img_size`` [h, w] / ``English``)."""
    if not isinstance(rec, Mapping):
        raise AnnotationError(file, rid, "-", f"expected an object, got {type(rec).__name__}")
    width, height = _hcstvg_size(rec, file, rid)
    n = _int(_need(rec, "img_num", file, rid), file, rid, "img_num", 1)
    raw = _need(rec, "bbox", file, rid)
    if not isinstance(raw, list) or not raw:
        raise AnnotationError(file, rid, "bbox", "expected a non-empty list of [x, y, w, h]")
    t_start, t_end = _hcstvg_span(rec, n, len(raw), file, rid)
    boxes = []
    for i, b in enumerate(raw):
        if not isinstance(b, (list, tuple)) or len(b) != 4 or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b):
            raise AnnotationError(file, rid, f"bbox[{i}]", f"expected [x, y, w, h] (four numbers), got {b!r}")
        x, y, w, h = b
        boxes.append(check([x, y, x + w, y + h], rid, f"bbox[{i}]", width, height))
    sentence = _sentence(_need(rec, ("caption", "English"), file, rid), file, rid, "caption").lower()
    sub, app, mot = attributes(rec, file, rid)
    ed = rec.get("ed_frame")
    extra = {"ed_frame_mismatch": True} if isinstance(ed, int) and ed != t_end + 1 else {}
    return STVGRecord(item_id=rid, video_id=rid, video_path=video_dir / rid, sentence=sentence,
                      t_start=t_start, t_end=t_end, boxes=boxes, width=width, height=height, frame_count=n,
                      segment=(0, n - 1), fps=None, qtype=None, subject=sub, app_ids=app, mot_ids=mot,
                      source=str(file), extra=extra)


def load_hcstvg(anno_file: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                removed: Iterable[str] = (), clip_negative: bool = False) -> list[STVGRecord]:
    """Read ``annos/{train,test}.json`` of HC-STVG v1 or v2; records sorted by video name.

    Args:
        anno_file: a dict keyed by video file name (v1 or v2 field names).
        video_dir: folder of the videos (``v1_video`` / ``v2_video``).
        clip_boxes: clip boxes past the right/bottom edge with a warning (True) or raise (False).
        removed: video names to drop (the official loader hard-removes two broken v1 videos).
        clip_negative: also clip negative coordinates to 0 (not official).
    """
    file = Path(anno_file)
    return hcstvg_records(load_json(file), file, video_dir, clip_boxes, removed, clip_negative)


def hcstvg_records(data: Mapping[str, Any], source: str | Path, video_dir: str | Path, clip_boxes: bool = True,
                   removed: Iterable[str] = (), clip_negative: bool = False) -> list[STVGRecord]:
    """HC-STVG records from an already loaded dict (``source`` names it in errors)."""
    file, drop = Path(source), set(removed)
    check = BoxChecker(file, clip_boxes, clip_negative)
    records = [parse_hcstvg_record(str(k), data[k], file, Path(video_dir), check) for k in sorted(data) if k not in drop]
    check.report()
    odd = [r.item_id for r in records if r.extra.get("ed_frame_mismatch")]
    if odd:
        warnings.warn(f"{file}: {len(odd)} record(s) whose ed_frame is not st_frame + len(bbox) - 1 (e.g. {odd[0]}); "
                      "the span follows the boxes, as in the official loader", stacklevel=2)
    return records


# ----------------------------------------------------------------------------------------------
def ground_truth(records: Iterable[STVGRecord]) -> dict[str, dict[str, Any]]:
    """Records -> the evaluator's ground truth ``{item_id: {"t_start", "t_end", "boxes", "qtype"?}}``.

    Inclusive frame ids and absolute ``xyxy`` pixel boxes (``tastvg.evaluation``). Keyed by
    ``item_id``: the video name for HC-STVG, the sentence-pair id for VidSTG (several sentences
    can share one VidSTG video).
    """
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.item_id in out:
            raise ValueError(f"{r.source}: duplicate item id '{r.item_id}'")
        entry: dict[str, Any] = {"t_start": r.t_start, "t_end": r.t_end,
                                 "boxes": {r.t_start + i: list(b) for i, b in enumerate(r.boxes)}}
        if r.qtype is not None:
            entry["qtype"] = r.qtype
        out[r.item_id] = entry
    return out


_MOVED = {"load_vidstg", "vidstg_records", "parse_vidstg_record", "clean_vidstg_sentence", "VIDSTG_TYPOS"}


def __getattr__(name: str) -> Any:
    """VidSTG names moved to :mod:`tastvg.data.vidstg`; still importable from here."""
    if name in _MOVED:
        return getattr(importlib.import_module("tastvg.data.vidstg"), name)
    raise AttributeError(f"module 'tastvg.data.annotations' has no attribute '{name}'")
