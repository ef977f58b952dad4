"""Golden forward outputs: a refactoring of the model must not change a single number.

``tests/data/golden_forward.pt`` holds, for a handful of configurations of the ``tiny`` and
``synth`` presets built under a fixed seed, the ordered state-dict keys, a float64 checksum of
every tensor, and every output of a fixed batch in eval mode (two-pass) and in train mode (dropout,
torch seed fixed before the call). The test rebuilds each model under the same seed, so the order
in which modules are constructed and initialised must stay the same. Integer and boolean outputs
(frame selections) must be equal; float outputs equal within round-off (other thread counts and CPU
kernels reorder sums). The restructuring of issue 14 was bit for bit equal at the same thread count.

Regenerate (only when a change of numbers is intended)::

    TASTVG_WRITE_GOLDEN=1 python -m pytest tests/test_model_golden.py
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import pytest
import torch

from tastvg.config import config_from_dict, load_preset
from tastvg.models import build_model

GOLDEN = Path(__file__).parent / "data" / "golden_forward.pt"

# name -> (preset, model overrides, use image_pad)
CASES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "tiny_target_aware": ("tiny", {}, False),
    "tiny_zero": ("tiny", {"query_init": "zero"}, False),
    "tiny_oracle": ("tiny", {"query_init": "oracle"}, False),
    "tiny_image_pad": ("tiny", {}, True),
    "tiny_image_pad_oracle": ("tiny", {"query_init": "oracle"}, True),
    "tiny_no_asa": ("tiny", {"use_asa": False}, False),
    "tiny_no_tts": ("tiny", {"use_tts": False}, False),
    "tiny_motion_only": ("tiny", {"branches": ["motion"]}, True),
    "tiny_checkpointing": ("tiny", {"checkpointing": ["backbone2d", "encoder", "decoders"]}, False),
    "synth_target_aware": ("synth", {"tts_threshold": 0.475, "action_threshold": 0.451}, False),
}
# thresholds that keep some frames and drop others (in both passes) for the random tiny weights
THRESHOLDS = {"tts_threshold": 0.45, "action_threshold": 0.575}


def make_config(preset: str, overrides: dict[str, Any]):
    data = load_preset(preset).to_dict()
    data["model"].update(THRESHOLDS | overrides)
    return config_from_dict(data)


def make_batch(image_pad: bool) -> dict[str, Any]:
    """B = 2 videos of 6 and 4 frames (frame padding), sentences of 8 and 5 tokens."""
    g = torch.Generator().manual_seed(11)
    lengths, text_lengths, size = [6, 4], [8, 5], (64, 96)
    b, t, l = 2, 6, 8
    frames = torch.randn(b, t, 3, *size, generator=g)
    pad = torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]
    frames[pad] = 0
    ids = torch.randint(3, 200, (b, l), generator=g)
    ids[:, 0] = 0
    for i, n in enumerate(text_lengths):
        ids[i, n - 1] = 2
        ids[i, n:] = 1
    mask = (torch.arange(l)[None, :] < torch.tensor(text_lengths)[:, None]).long()
    act = torch.zeros(b, t)
    act[0, 1:5] = 1
    act[1, 0:2] = 1
    targets = {"boxes": torch.rand(b, t, 4, generator=g) * 0.3 + 0.35, "actioness": act}
    batch = {"frames": frames, "frame_pad": pad, "text_ids": ids, "text_mask": mask, "targets": targets,
             "image_pad": None}
    if image_pad:
        ip = torch.zeros(b, *size, dtype=torch.bool)
        ip[1, 40:, :] = True  # video 1 is 40 x 40
        ip[1, :, 40:] = True
        frames[ip[:, None, None].expand_as(frames)] = 0
        batch["image_pad"] = ip
    return batch


def flatten(out: Any, prefix: str = "") -> dict[str, Any]:
    """Nested outputs (dicts, lists) -> {"a.0.b": leaf}."""
    if isinstance(out, dict):
        return {k2: v2 for k, v in out.items() for k2, v2 in flatten(v, f"{prefix}{k}.").items()}
    if isinstance(out, list) and out and isinstance(out[0], dict):
        return {k2: v2 for i, v in enumerate(out) for k2, v2 in flatten(v, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): out.detach().clone() if torch.is_tensor(out) else out}


def run_case(preset: str, overrides: dict[str, Any], image_pad: bool) -> dict[str, Any]:
    torch.manual_seed(0)
    model = build_model(make_config(preset, overrides))
    state = model.state_dict()
    batch = make_batch(image_pad)
    args = (batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"], batch["targets"])
    model.eval()
    with torch.no_grad():
        eval_out = flatten(model(*args, image_pad=batch["image_pad"]))
    model.train()
    torch.manual_seed(1)
    train_out = flatten(model(*args, image_pad=batch["image_pad"]))
    return {"keys": zlib.compress("\n".join(state).encode()),
            "checksums": torch.stack([v.double().sum() for v in state.values()]),
            "eval": eval_out, "train": train_out}


def write_golden() -> None:
    golden = {name: run_case(*spec) for name, spec in CASES.items()}
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    torch.save(golden, GOLDEN)


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    if os.environ.get("TASTVG_WRITE_GOLDEN") == "1":
        write_golden()
    return torch.load(GOLDEN, weights_only=False)


def assert_same(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    assert sorted(got) == sorted(want), where
    for key, value in want.items():
        if torch.is_tensor(value) and value.is_floating_point():
            # not bit for bit: thread counts and CPU kernels reorder float sums (~1e-6; up to 7e-5 in the
            # min-max normalised ASA maps); a changed operation moves outputs far more than this
            atol = 5e-4 if key.split(".")[-1].startswith("map_") else 1e-5  # min-max amplifies ~20x
            assert got[key].dtype == value.dtype and torch.allclose(got[key], value, rtol=1e-4, atol=atol), \
                f"{where}: {key}: max diff {(got[key] - value).abs().max():.3g}"
        elif torch.is_tensor(value):
            assert got[key].dtype == value.dtype and torch.equal(got[key], value), f"{where}: {key}"
        else:
            assert got[key] == value, f"{where}: {key}"


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_golden(golden: dict[str, Any], name: str) -> None:
    got, want = run_case(*CASES[name]), golden[name]
    keys = zlib.decompress(want["keys"]).decode().split("\n")
    assert zlib.decompress(got["keys"]).decode().split("\n") == keys  # same names, same order
    # init: same RNG draws. Not bit for bit: computed tables (the sinusoid ``te``) round in the last
    # float32 bit differently on CPUs with other vector units (4e-9 of the sum seen); a different
    # draw moves a checksum by far more than 1e-7 of it
    same = torch.isclose(got["checksums"], want["checksums"], rtol=1e-7, atol=1e-6)
    assert bool(same.all()), f"{name}: other init of {[k for k, ok in zip(keys, same) if not ok][:5]}"
    assert_same(got["eval"], want["eval"], f"{name} eval")
    assert_same(got["train"], want["train"], f"{name} train")


def test_golden_cases_select_some_frames(golden: dict[str, Any]) -> None:
    """The thresholds make both selections non-trivial in the reference case."""
    for name in ("tiny_target_aware", "synth_target_aware"):
        sel = golden[name]["eval"]["selected"]
        assert 0 < int(sel[0].sum()) < 6, name
