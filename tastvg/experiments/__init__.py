"""Experiments on SynthSTVG: ablation grids, their runner and summary, and the probes that read a
trained model.

* :mod:`~tastvg.experiments.grids` — the named variants (config overrides) and grids;
* :mod:`~tastvg.experiments.runner` — one (variant, seed) trained and evaluated into a JSON record,
  a grid of them resumable and shared between workers through lock files;
* :mod:`~tastvg.experiments.summary` — the run JSONs as a mean ± std table over seeds;
* :mod:`~tastvg.experiments.claims` — the paper's ablation claims, paired differences over seeds
  with a 95 % interval, and verdicts;
* :mod:`~tastvg.experiments.details` — the per-video outputs a run keeps and the SynthSTVG videos
  they name;
* :mod:`~tastvg.experiments.probes` — where a trained model looks (TTS relevance, ASA maps,
  decoder attention on the ground truth), recorded with every run;
* :mod:`~tastvg.experiments.ladder` — the diagnosis ladder: probes with known answers (rungs);
* :mod:`~tastvg.experiments.scene_labels` — the generator's dense labels the ladder and the pretraining read;
* :mod:`~tastvg.experiments.controls` — the positive controls (a)-(c) a model must pass before an
  ablation is read: thresholds, summaries of control runs, checks;
* :mod:`~tastvg.experiments.baselines` — blind baselines (a score before looking at anything).

The command is ``tastvg ablate`` (:mod:`tastvg.cli.ablate`). The names below are re-exported so
that ``import tastvg.experiments as ex; ex.run_one, ex.GRIDS, ex.Setup`` reads as one namespace.
"""

from tastvg.experiments.claims import (CLAIMS, Claim, PairedDifference, claims_table, outcome, paired_difference,
                                       seed_differences, verdict)
from tastvg.experiments.details import annotation_box, load_detail, middle_gt_frame, synth_index, synth_video
from tastvg.experiments.grids import (GRIDS, METRICS, PRIORITY, SWEEP_VARIANTS, TEST_TIME_SWEEPS, VARIANTS,
                                      grid_runs, resolve_variant)
from tastvg.experiments.ladder import (ProbeResult, attention_by_span, attention_on_target, backbone_cell_attributes, box_on_target,
                                       group_split, legible_share, linear_probe,
                                       probe_cell_attributes, probe_motion_per_frame, probe_subject_attributes,
                                       roc_auc, span_against_actors, train_asa_probe, train_tts_probe, tts_span_auc)
from tastvg.experiments.probes import analyse
from tastvg.experiments.scene_labels import frame_difference_features, scene_labels
from tastvg.experiments.runner import (Setup, _claim, code_version, detail_path, is_finished,
                                       prepare_data, reanalyse, run_grid, run_one, run_path, sweep_tts_at_test_time,
                                       weights_path)
from tastvg.experiments.controls import (THRESHOLDS, Check, check_control, control_summary, controls_table,
                                         load_controls, run_control, summarise_run)
from tastvg.experiments.summary import format_summary, load_records, summarize, write_summary

__all__ = [
    "CLAIMS", "Claim", "PairedDifference", "claims_table", "outcome", "paired_difference", "seed_differences",
    "verdict", "annotation_box", "load_detail", "middle_gt_frame", "synth_index", "synth_video",
    "GRIDS", "METRICS", "PRIORITY", "SWEEP_VARIANTS", "TEST_TIME_SWEEPS", "VARIANTS", "grid_runs", "resolve_variant",
    "ProbeResult", "attention_by_span", "attention_on_target", "span_against_actors", "box_on_target", "frame_difference_features", "group_split",
    "linear_probe", "probe_motion_per_frame", "probe_subject_attributes", "roc_auc", "scene_labels",
    "train_asa_probe", "train_tts_probe", "tts_span_auc", "analyse", "backbone_cell_attributes", "legible_share",
    "probe_cell_attributes",
    "Setup", "code_version", "detail_path", "is_finished", "prepare_data", "reanalyse", "run_grid", "run_one",
    "run_path", "sweep_tts_at_test_time", "weights_path", "THRESHOLDS", "Check", "check_control",
    "control_summary", "controls_table", "load_controls", "run_control", "summarise_run", "format_summary", "load_records", "summarize", "write_summary",
]
