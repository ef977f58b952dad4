"""Ablations on SynthSTVG: a named grid of configurations, several seeds, one JSON per run.

An *ablation variant* is a name and a set of config overrides, e.g. ``"zero": {"model.query_init":
"zero"}``; a *grid* is a named list of variants (see :data:`VARIANTS`, :data:`GRIDS`). For every
(variant, seed) the runner trains the model on a SynthSTVG dataset that it generates once,
deterministically, into a cache folder (:func:`tastvg.data.synth.write_dataset`), evaluates the
EMA weights on the test split, and writes ``OUT/VARIANT/seedS.json`` with the resolved
config, the metrics, the wall time and the code version. A rerun skips every run whose JSON
exists with the same setup, so an interrupted grid resumes where it stopped; ``--jobs N`` runs N
worker processes (one thread each) that claim runs through lock files.

    tastvg ablate --grids queries tts_asa --seeds 0 1 2 --out results/ablations --jobs 2
    tastvg ablate --summary-only --out results/ablations     # rewrite summary.{csv,md}

Seed ``s`` sets the model initialisation and the data order; the dataset is the same for every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from tastvg.experiments.grids import METRICS, SWEEP_VARIANTS, TEST_TIME_SWEEPS, VARIANTS, grid_runs, resolve_variant
from tastvg.experiments.probes import analyse
from tastvg.io import write_json_atomic


@dataclass
class Setup:
    """Everything except the variant and the seed that a run's numbers depend on."""

    preset: str = "synth"
    videos: int = 200  # SynthSTVG videos (test_fraction of them form the test split)
    test_fraction: float = 0.25
    data_seed: int = 0
    knobs: dict[str, Any] = field(default_factory=dict)  # SynthKnobs fields that differ from the defaults
    epochs: int = 8
    batch_size: int = 4
    threads: int = 1
    detail_seeds: list[int] = field(default_factory=lambda: [0])  # seeds whose per-video outputs are saved

    def key(self) -> str:
        """A short hash of the fields that change numbers (threads and detail_seeds do not)."""
        d = dataclasses.asdict(self)
        d.pop("threads"), d.pop("detail_seeds")
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def code_version() -> dict[str, Any]:
    """``tastvg.__version__`` plus the git commit and whether ``tastvg/`` differed from it (changed or
    untracked files), when git is available."""
    import tastvg

    out: dict[str, Any] = {"tastvg": tastvg.__version__, "git": None, "dirty": None}
    root = Path(__file__).resolve().parents[2]  # the checkout holding tastvg/
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                    timeout=10, check=True).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "tastvg"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout
        out["dirty"] = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


# ------------------------------------------------------------------------------------ data
def prepare_data(setup: Setup, cache: Path) -> Path:
    """Generate the run's SynthSTVG dataset once under ``cache`` (deterministic; atomic rename)."""
    from tastvg.data.synth import SynthKnobs, write_dataset

    knobs = SynthKnobs(**setup.knobs)
    tag = hashlib.sha1(json.dumps([setup.videos, setup.data_seed, setup.test_fraction, dataclasses.asdict(knobs)],
                                  sort_keys=True).encode()).hexdigest()[:10]
    root = Path(cache) / f"synth-{setup.videos}v-seed{setup.data_seed}-{tag}"
    if (root / "stats.json").is_file():
        return root
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    write_dataset(tmp, setup.videos, seed=setup.data_seed, knobs=knobs, test_fraction=setup.test_fraction)
    try:
        os.replace(tmp, root)
    except OSError:  # another worker finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root


# ------------------------------------------------------------------------------------ one run
def run_one(variant: str, seed: int, setup: Setup, out: Path, cache: Path,
            overrides: Optional[dict[str, Any]] = None, progress: bool = False,
            keep_weights: bool = False) -> dict[str, Any]:
    """Train and evaluate one (variant, seed); write and return its JSON record.

    ``keep_weights`` also writes the EMA weights with the config that rebuilds them to
    ``OUT/VARIANT/seedS.pth`` (:func:`weights_path`; readable by ``tastvg evaluate --checkpoint``)."""
    import shutil

    import numpy as np
    import torch

    from tastvg.data.collate import Collator
    from tastvg.data.config import DataConfig
    from tastvg.data.dataset import build_dataset
    from tastvg.losses import TASTVGLoss
    from tastvg.models.tastvg import build_model
    from tastvg.train.setup import load_tokenizer
    from tastvg.train.distributed import DistInfo
    from tastvg.models import PARAM_GROUP_PREFIXES
    from tastvg.train.engine import Trainer, TrainConfig
    from tastvg.train.task import GroundingTask

    overrides = VARIANTS[variant] if overrides is None else overrides
    torch.set_num_threads(setup.threads)
    start = time.perf_counter()
    data_root = prepare_data(setup, cache)
    cfg = resolve_variant(setup.preset, overrides)
    data_cfg = DataConfig.for_dataset("synth", app_num=cfg.model.app_num, mot_num=cfg.model.mot_num)
    train_set = build_dataset("synth", data_root, "train", data_cfg, seed=seed)
    test_set = build_dataset("synth", data_root, "test", data_cfg, train=False)
    collate = Collator(load_tokenizer(None, "synth"))
    # the preset's recipe over the setup's epochs, the rate dropped for the last fifth
    recipe = dataclasses.replace(cfg.optim, epochs=setup.epochs, drop_epochs=[max(1, math.ceil(setup.epochs * 0.8))])
    train_cfg = TrainConfig(recipe=recipe, batch_size=setup.batch_size, group_rules=list(PARAM_GROUP_PREFIXES),
                            log_every=50, eval_every=0, checkpoint_every=10**9, seed=seed, progress=progress)
    torch.manual_seed(seed)
    np.random.seed(seed)
    device = torch.device("cpu")
    # the single-clip synth path; an oracle model gets the targets at prediction time too
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), device, split_test=False)
    work = Path(cache) / "work" / setup.key() / variant / f"seed{seed}"
    shutil.rmtree(work, ignore_errors=True)
    trainer = Trainer(build_model(cfg), task, train_set, test_set, collate, train_cfg, work,
                      DistInfo(device=device),
                      config_dict={"model": cfg.to_dict()})
    result = trainer.fit()
    train_time = time.perf_counter() - start
    sweeps = sweep_tts_at_test_time(trainer) if variant in SWEEP_VARIANTS else None
    keep_detail = seed in setup.detail_seeds
    analysis, detail = analyse(trainer.ema.module, test_set, collate, result["predictions"], task, keep_detail)
    record = {
        "variant": variant, "seed": seed, "overrides": overrides, "setup": dataclasses.asdict(setup),
        "setup_key": setup.key(), "config": cfg.to_dict(),
        "data": json.loads((data_root / "stats.json").read_text()) | {"folder": data_root.name},
        "train": {"steps": trainer.step, "train_videos": len(train_set), "test_videos": len(test_set)},
        "metrics": {k: float(result[k]) for k in (*METRICS, "m_sIoU") if k in result},
        "analysis": analysis, "test_time_sweeps": sweeps, "wall_time_s": round(time.perf_counter() - start, 1),
        "train_time_s": round(train_time, 1), "code_version": code_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    record["data"].pop("appearance_counts", None), record["data"].pop("motion_counts", None)
    path = run_path(out, variant, seed)
    if detail is not None:
        write_json_atomic(detail_path(out, variant, seed), detail)
    if keep_weights:
        from tastvg.train.checkpoint import save_weights

        save_weights(weights_path(out, variant, seed), trainer.ema.module.state_dict(),
                     {"model": cfg.to_dict(), "dataset": "synth", "data": data_cfg.to_dict(), "tokenizer": ""})
    write_json_atomic(path, record)
    shutil.rmtree(work, ignore_errors=True)
    return record


# ------------------------------------------------------------------------------------ analysis
def reanalyse(out: Path, variant: str, seed: int, setup: Setup, cache: Path) -> dict[str, Any]:
    """Re-run :func:`~tastvg.experiments.probes.analyse` on a finished run's kept EMA weights
    (``run_one(..., keep_weights=True)``) and its detail file's own predictions; update the
    record's ``analysis`` and the detail file in place, and return the new analysis. For runs made
    before a probe was added (the temporal decoder's attention, ``tattn_last``): nothing is trained."""
    import torch

    from tastvg.config import config_from_dict
    from tastvg.data.collate import Collator
    from tastvg.data.config import DataConfig
    from tastvg.data.dataset import build_dataset
    from tastvg.losses import TASTVGLoss
    from tastvg.models.build import build_model, without_initial_weights
    from tastvg.train.checkpoint import load_checkpoint
    from tastvg.train.setup import load_tokenizer
    from tastvg.train.task import GroundingTask

    path, details = run_path(out, variant, seed), detail_path(out, variant, seed)
    state = load_checkpoint(weights_path(out, variant, seed), allow_converted=True)
    cfg = config_from_dict(state["config"]["model"], where=f"{weights_path(out, variant, seed)}:config.model")
    model = build_model(without_initial_weights(cfg))  # the kept weights set every tensor
    model.load_state_dict(state["model"], strict=True)
    data_cfg = DataConfig.for_dataset("synth", app_num=cfg.model.app_num, mot_num=cfg.model.mot_num)
    test_set = build_dataset("synth", prepare_data(setup, cache), "test", data_cfg, train=False)
    task = GroundingTask(TASTVGLoss(cfg.loss, cfg.model), torch.device("cpu"), split_test=False)
    predictions = {vid: entry["prediction"] for vid, entry in json.loads(details.read_text()).items()}
    analysis, detail = analyse(model, test_set, Collator(load_tokenizer(None, "synth")), predictions, task, True)
    record = json.loads(path.read_text())
    record["analysis"] = analysis
    write_json_atomic(details, detail)
    write_json_atomic(path, record)
    return analysis


def sweep_tts_at_test_time(trainer) -> dict[str, list[dict[str, float]]]:
    """Metrics of the trained EMA model with θ / δ changed at test time only (:data:`TEST_TIME_SWEEPS`).

    With ``two_pass`` the second decoder pass re-selects frames by actioness, so θ and δ act through
    the first pass only; the trained value is restored afterwards.
    """
    tts = trainer.ema.module.tts
    sweeps: dict[str, list[dict[str, float]]] = {}
    for name, (attr, values) in TEST_TIME_SWEEPS.items():
        trained = getattr(tts, attr)
        rows = []
        try:
            for value in values:
                setattr(tts, attr, value)
                res = trainer.evaluate()
                rows.append({"value": value, **{k: float(res[k]) for k in METRICS}})
        finally:
            setattr(tts, attr, trained)
        sweeps[name] = rows
    return sweeps


def run_path(out: Path, variant: str, seed: int) -> Path:
    """``OUT/VARIANT/seedS.json`` (not under a ``runs/`` folder: the repository ignores those)."""
    return Path(out) / variant / f"seed{seed}.json"


def weights_path(out: Path, variant: str, seed: int) -> Path:
    """The EMA weights of a run kept with ``run_one(..., keep_weights=True)``."""
    return Path(out) / variant / f"seed{seed}.pth"


def detail_path(out: Path, variant: str, seed: int) -> Path:
    """Per-video outputs of a run (TTS scores, ASA maps, attention, prediction), when kept."""
    return Path(out) / variant / f"seed{seed}_detail.json"


def is_finished(out: Path, variant: str, seed: int, setup: Setup) -> bool:
    """A run is finished when its JSON exists and was made with the same setup and the same resolved
    model config (a preset edited since, e.g. a new learning rate, makes it stale). The recorded
    config is read back through :func:`tastvg.config.config_from_dict` first, so a field added
    since with a default (e.g. the encoders' ``kind``) does not make every record stale."""
    from tastvg.config import config_from_dict

    path = run_path(out, variant, seed)
    if not path.is_file():
        return False
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if rec.get("setup_key") != setup.key():
        return False
    overrides = VARIANTS[variant] if variant in VARIANTS else rec.get("overrides", {})
    try:
        recorded = config_from_dict(rec["config"], where=str(path)).to_dict()
    except (KeyError, TypeError, ValueError):  # no config, or one that no longer parses
        return False
    return recorded == resolve_variant(setup.preset, overrides).to_dict()


def _claim(out: Path, variant: str, seed: int) -> bool:
    """Create the run's lock file atomically; a lock of a dead process is taken over."""
    lock = run_path(out, variant, seed).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return True
        except FileExistsError:
            try:
                pid = int(lock.read_text() or "0")
                os.kill(pid, 0)
                return False  # alive: someone else runs it
            except (ValueError, ProcessLookupError, FileNotFoundError):
                lock.unlink(missing_ok=True)
            except PermissionError:
                return False
    return False


def run_grid(grids: Iterable[str], seeds: Iterable[int], setup: Setup, out: Path, cache: Path,
             log=print, progress: bool = False) -> list[dict[str, Any]]:
    """Run every unfinished (variant, seed) of ``grids`` in this process; returns the new records.
    The seed-0 baseline keeps its EMA weights (``OUT/baseline/seed0.pth``): a model readers can load."""
    records = []
    for variant, seed in grid_runs(grids, seeds):
        if is_finished(out, variant, seed, setup):
            log(f"skip {variant} seed {seed}: finished")
            continue
        if not _claim(out, variant, seed):
            log(f"skip {variant} seed {seed}: another worker runs it")
            continue
        try:
            if is_finished(out, variant, seed, setup):  # finished while we were claiming it
                continue
            log(f"run {variant} seed {seed} ...")
            rec = run_one(variant, seed, setup, out, cache, progress=progress,
                          keep_weights=(variant, seed) == ("baseline", 0))
            log(f"done {variant} seed {seed}: " + " ".join(f"{k}={100 * rec['metrics'][k]:.1f}" for k in METRICS)
                + f" ({rec['wall_time_s']:.0f} s)")
            records.append(rec)
        finally:
            run_path(out, variant, seed).with_suffix(".lock").unlink(missing_ok=True)
    return records
