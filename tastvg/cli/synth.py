"""Generate a SynthSTVG dataset (mp4 videos + HC-STVG-format annotations): ``tastvg synth``.

    tastvg synth --out data/synth --videos 200 --seed 0
    -> videos/synth_00000.mp4 ...  annos/{train,test}.json  vocabulary.json  stats.json

The generator and its knobs are :mod:`tastvg.data.synth`.
"""

from __future__ import annotations

import argparse
import time

from tastvg.data.synth import SynthKnobs, write_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SynthKnobs()
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--videos", type=int, default=200, help="number of videos (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.25, help="share of videos in the test split")
    for name, help_text in (("size", "frame side in pixels"), ("frames", "frames per video"), ("fps", "video fps"),
                            ("distractors", "distractor actors per video"),
                            ("overlap", "P(a distractor shares all named attributes but one)"),
                            ("same-action", "P(a distractor does the target's action at another time)"),
                            ("clutter", "background clutter density, 0..1"), ("occlusion", "P(an occluder bar)")):
        default = getattr(d, name.replace("-", "_"))
        parser.add_argument(f"--{name}", type=type(default), default=default, help=f"{help_text} (default {default})")


def run(args: argparse.Namespace) -> int:
    knobs = SynthKnobs(size=args.size, frames=args.frames, fps=args.fps, distractors=args.distractors,
                       overlap=args.overlap, same_action=args.same_action, clutter=args.clutter,
                       occlusion=args.occlusion)
    if knobs.size % 2 or knobs.size < 16 or knobs.frames < 8 or args.videos < 1:
        raise SystemExit("tastvg synth: need an even --size >= 16, --frames >= 8 and --videos >= 1")
    start = time.perf_counter()
    stats = write_dataset(args.out, args.videos, args.seed, knobs, args.test_fraction)
    print(f"wrote {args.videos} videos ({stats['train']} train / {stats['test']} test) to {args.out} "
          f"in {time.perf_counter() - start:.1f} s; target identifiable only by combining attributes: "
          f"{stats['needs_combination']:.1%}; same action by a distractor at another time: "
          f"{stats['same_action_distractor']:.1%}")
    return 0
