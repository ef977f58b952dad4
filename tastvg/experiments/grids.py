"""The ablation variants and grids of :mod:`tastvg.experiments.runner`: what each named configuration
changes, which variants answer one question together, and how a variant resolves to a config.

    from tastvg.experiments.grids import GRIDS, VARIANTS, resolve_variant
    cfg = resolve_variant("synth", VARIANTS["zero_queries"])   # a TASTVGConfig with query_init="zero"
"""

from __future__ import annotations

from typing import Any, Iterable

# variant -> overrides (SECTION.FIELD -> value). "baseline" is the official TA-STVG configuration.
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "zero_queries": {"model.query_init": "zero"},
    "oracle_queries": {"model.query_init": "oracle"},
    "tts_only": {"model.use_asa": False},
    "asa_only": {"model.use_tts": False},
    "no_tts_no_asa": {"model.use_tts": False, "model.use_asa": False},
    "instance_activation": {"model.activation": "instance"},
    "appearance_branch_only": {"model.branches": ["appearance"]},
    "motion_branch_only": {"model.branches": ["motion"]},
    "theta_0.3": {"model.tts_threshold": 0.3},
    "theta_0.5": {"model.tts_threshold": 0.5},
    "theta_0.9": {"model.tts_threshold": 0.9},
    "delta_0": {"model.tts_appearance_weight": 0.0},
    "delta_0.25": {"model.tts_appearance_weight": 0.25},
    "delta_0.75": {"model.tts_appearance_weight": 0.75},
    "delta_1": {"model.tts_appearance_weight": 1.0},
}

# grid -> variants, in display order. Grids share variants (the baseline is run once).
GRIDS: dict[str, list[str]] = {
    "queries": ["zero_queries", "baseline", "oracle_queries"],
    "tts_asa": ["no_tts_no_asa", "tts_only", "asa_only", "baseline"],
    "activation": ["instance_activation", "baseline"],
    "branches": ["appearance_branch_only", "motion_branch_only", "baseline"],
    "theta": ["theta_0.3", "theta_0.5", "baseline", "theta_0.9"],
    "delta": ["delta_0", "delta_0.25", "baseline", "delta_0.75", "delta_1"],
}
# Evaluated again after training, on the same EMA weights, with a TTS setting changed at test time
# only (cheap: no retraining). Recorded in the run JSON under "test_time_sweeps".
TEST_TIME_SWEEPS: dict[str, tuple[str, list[float]]] = {
    "theta": ("threshold", [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    "delta": ("appearance_weight", [0.0, 0.25, 0.5, 0.75, 1.0]),
}
SWEEP_VARIANTS = ("baseline",)
# the order in which a full run trains the grids: the paper's central claims first
PRIORITY = ["queries", "tts_asa", "activation", "branches", "theta", "delta"]
METRICS = ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")


def grid_runs(grids: Iterable[str], seeds: Iterable[int]) -> list[tuple[str, int]]:
    """(variant, seed) pairs of ``grids``, each once, in grid order, seeds outermost per grid."""
    runs: list[tuple[str, int]] = []
    seeds = list(seeds)
    for g in grids:
        if g not in GRIDS:
            raise ValueError(f"unknown grid {g!r} (known: {', '.join(GRIDS)})")
        for s in seeds:
            for v in GRIDS[g]:
                if (v, s) not in runs:
                    runs.append((v, s))
    return runs


def resolve_variant(preset: str, overrides: dict[str, Any]):
    """The preset with dotted overrides applied -> a validated :class:`TASTVGConfig`
    (:func:`tastvg.config.apply_overrides`, as the training CLI's overrides)."""
    from tastvg.config import apply_overrides, load_preset

    return apply_overrides(load_preset(preset), overrides, where=f"{preset} + overrides")
