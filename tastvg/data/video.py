"""Video decoding with PyAV: only the requested frames, with errors that name the file and sample.

The official loader decodes a whole video to raw RGB with ``ffmpeg`` and, for HC-STVG, silently
substitutes an all-ones clip when that fails. Here :func:`read_frames` streams the decoder,
converts only the requested frames to arrays, stops after the last one it needs, and raises
:class:`VideoError` for a missing, unreadable, truncated or wrongly sized video, or one whose frame
count disagrees with the annotation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import av
import numpy as np


class VideoError(RuntimeError):
    """A video that cannot serve a sample; ``path`` and ``sample`` say which."""

    def __init__(self, path: str | Path, problem: str, sample: Optional[str] = None) -> None:
        self.path, self.sample = str(path), sample
        where = f" (sample '{sample}')" if sample is not None else ""
        super().__init__(f"{path}{where}: {problem}")


def _open(path: Path, sample: Optional[str]) -> "av.container.InputContainer":
    if not path.is_file():
        raise VideoError(path, "video file not found", sample)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise VideoError(path, f"cannot open the video ({err})", sample) from None
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream in the file", sample)
    return container


def probe_video(path: str | Path, sample: Optional[str] = None) -> dict[str, float]:
    """Container metadata: ``frames`` (0 when the container does not store it), ``width``,
    ``height``, ``fps``."""
    path = Path(path)
    container = _open(path, sample)
    try:
        s = container.streams.video[0]
        fps = float(s.average_rate) if s.average_rate else 0.0
        return {"frames": int(s.frames or 0), "width": s.codec_context.width, "height": s.codec_context.height, "fps": fps}
    finally:
        container.close()


def read_frames(path: str | Path, frame_ids: Sequence[int], expected_frames: Optional[int] = None,
                expected_size: Optional[tuple[int, int]] = None, sample: Optional[str] = None,
                min_frames: Optional[int] = None) -> np.ndarray:
    """Decode the frames ``frame_ids`` (0-based decode order; any order, repeats allowed).

    Args:
        expected_frames: the annotation's frame count; checked against the container's count
            when it stores one (mp4 does). Truncation is always detected: a requested frame past
            the end of the decoded stream is an error.
        expected_size: the annotation's ``(width, height)``; the decoded size must match, since
            boxes are in those pixel coordinates.
        min_frames: the least frame count the annotation needs (VidSTG: ``used_segment`` end + 1),
            checked against the container's count when it stores one.
    Returns:
        ``uint8`` array ``[T, H, W, 3]`` (RGB), in the order of ``frame_ids``.
    """
    path = Path(path)
    if len(frame_ids) == 0:
        raise VideoError(path, "no frame requested", sample)
    if min(frame_ids) < 0:
        raise VideoError(path, f"negative frame id {min(frame_ids)} requested", sample)
    container = _open(path, sample)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stored = int(stream.frames or 0)
        if expected_frames is not None and stored and stored != expected_frames:
            raise VideoError(path, f"the video has {stored} frames, the annotation says {expected_frames}", sample)
        if min_frames is not None and stored and stored < min_frames:
            raise VideoError(path, f"the video has {stored} frames, the annotation's segment needs {min_frames}", sample)
        wanted = set(int(f) for f in frame_ids)
        last = max(wanted)
        got: dict[int, np.ndarray] = {}
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    if expected_size is not None and (frame.width, frame.height) != tuple(expected_size):
                        raise VideoError(path, f"decoded frames are {frame.width}x{frame.height}, the annotation "
                                         f"says {expected_size[0]}x{expected_size[1]}", sample)
                    got[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
        except av.FFmpegError as err:
            raise VideoError(path, f"decoding failed after {index + 1} frames ({err})", sample) from None
        if last not in got:
            raise VideoError(path, f"truncated: decoded {index + 1} frames, frame {last} was requested", sample)
        return np.stack([got[int(f)] for f in frame_ids])
    finally:
        container.close()


def write_video(path: str | Path, frames: np.ndarray, fps: float = 10.0, codec: str = "mpeg4",
                bit_rate: int = 400_000) -> None:
    """Write ``uint8 [T, H, W, 3]`` RGB frames to an mp4 (yuv420p: use even H and W).

    The default ``mpeg4`` encoder gives the same bytes for the same frames; PyAV's ``libx264``
    (also accepted) does not, even single-threaded, so it is not the default.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    t, h, w, _ = frames.shape
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = w, h, "yuv420p", bit_rate
        stream.thread_count = 1
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
