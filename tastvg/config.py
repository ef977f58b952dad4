"""Model, loss and optimisation configuration of TA-STVG as plain dataclasses.

One tree, :class:`TASTVGConfig`, describes a model completely. Named presets live in ``tastvg/presets/``::

    cfg = load_preset("paper-hcstvg")          # a TASTVGConfig
    cfg.model.tts_threshold = 0.6
    save_config(cfg, "run/config.yaml")
    cfg2 = load_config("run/config.yaml")      # == cfg
    cfg3 = apply_overrides(cfg, {"model.query_init": "zero"})   # dotted overrides, checked

Defaults of every field are the official TA-STVG values (HC-STVG v1 where datasets differ), so a
YAML file only lists what it changes. Unknown keys are an error that names the file and the field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

PRESET_DIR = Path(__file__).parent / "presets"


@dataclass
class Backbone2DConfig:
    """ResNet (torchvision v1.5 layout, stride on the 3x3 conv) with frozen batch norm."""

    kind: str = "resnet"  # which 2D backbone class builds it (tastvg.models.build.BACKBONE2D)
    depths: list[int] = field(default_factory=lambda: [3, 4, 23, 3])  # ResNet-101
    width: int = 64  # channels of the stem / first stage; layer4 outputs width * 8 * 4
    trainable_stages: list[str] = field(default_factory=lambda: ["layer2", "layer3", "layer4"])
    bn_eps: float = 1e-5
    weights: Optional[str] = None  # local path of a torchvision-named ResNet state_dict
    # Departures (CPU presets): output_stride 16 keeps layer4 at stride 1 (a 4x4 token grid on 64-pixel
    # frames, with a three-stage Video Swin); downsample "maxpool" pools instead of striding (ResNetBody).
    output_stride: int = 32
    downsample: str = "conv"


@dataclass
class VideoSwinConfig:
    """Video Swin-T adapted to per-frame output (patch (1,4,4)); completely frozen."""

    kind: str = "video_swin"  # which 3D backbone class builds it (tastvg.models.build.BACKBONE3D)
    embed_dim: int = 96
    depths: list[int] = field(default_factory=lambda: [2, 2, 6, 2])
    heads: list[int] = field(default_factory=lambda: [3, 6, 12, 24])
    window: list[int] = field(default_factory=lambda: [8, 7, 7])
    patch: list[int] = field(default_factory=lambda: [1, 4, 4])
    mlp_ratio: float = 4.0
    drop_path: float = 0.2
    # Official quirk (the official Video Swin code): a shrunken window slices the first N rows/columns of the full
    # relative-position index instead of recomputing it. True reproduces the official numbers.
    slice_relative_position: bool = True
    weights: Optional[str] = None  # local path of the Kinetics-400 Swin-T checkpoint
    # Departure from the official model (off in the paper presets): the patch embedding also reads
    # each frame's difference to the previous one (6 input channels), so a small Video Swin
    # pretrained on SynthSTVG learns motion in minutes (diagnosis ladder, issue 15).
    frame_difference: bool = False


@dataclass
class TextConfig:
    """RoBERTa text encoder (``transformers``) plus the 768 -> d resizer."""

    kind: str = "roberta"  # which text encoder class builds it (tastvg.models.build.TEXT_ENCODERS)
    vocab_size: int = 50265
    hidden: int = 768
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    max_positions: int = 514
    pad_token_id: int = 1
    layer_norm_eps: float = 1e-5
    weights: Optional[str] = None  # local folder of a RoBERTa model (``from_pretrained``)


@dataclass
class ModelConfig:
    """The grounding model on top of the three encoders.

    Switches (defaults = the official code):

    - ``query_init``: how the decoders' initial content queries are made. ``"target_aware"``
      (TA-STVG): ASA-weighted mean of the encoder tokens of the TTS-selected frames.
      ``"zero"``: zero queries, the STCAT-style baseline the paper improves on. ``"oracle"``: mean
      of the encoder tokens inside the ground-truth boxes of the ground-truth frames (needs
      ``targets``), the paper's upper-bound experiment.
    - ``activation``: ``"attribute"`` (official: ASA trained by multi-label attribute
      classification) or ``"instance"``: the activation maps are trained directly against the
      target's ground-truth box mask (our reading of the paper's instance-activation ablation).
    - ``use_tts``: False = no TTS, every valid frame is used. ``use_asa``: False = no ASA, the
      queries are plain means of the selected frames' tokens.
    - ``tts_threshold`` θ: frames with relevance > θ are selected (official: 0.7 for HC-STVG,
      0.45 for VidSTG, hard-coded); none selected -> all frames.
    - ``tts_appearance_weight`` δ: relevance = δ·σ(appearance logit) + (1-δ)·σ(motion logit);
      the official code averages the two (δ = 0.5).
    - ``branches``: which of TTS's and ASA's two branches exist (official: both). Without
      ``"appearance"`` the appearance TTS and ASA modules are not built: the relevance is the
      motion branch's alone and Q_s0 pools the selected frames' 2D tokens without activation;
      without ``"motion"``, symmetrically (Q_t0 pools the 3D tokens). Our reading of the paper's
      branch ablation; a switch-off, not a retrained single-branch design.
    - ``two_pass``: at evaluation, rebuild the queries on the frames whose actioness passes
      ``action_threshold`` and decode again (official); False = a single pass as in training.
    - ``tracked_temporal_query`` (departure, off in the paper presets): each frame's temporal query
      also gets that frame's 3D tokens pooled by ASA's appearance map, the target's motion there.
    """

    d_model: int = 256
    heads: int = 8
    enc_layers: int = 6
    dec_layers: int = 6
    ffn: int = 2048
    dropout: float = 0.1
    head_dropout: float = 0.3  # start/end and actioness MLPs, after every layer (official)
    max_video_len: int = 200  # temporal sine table has max_video_len + 1 rows
    bca_layers: int = 2  # cross-attention layers in each TTS / ASA module
    bca_heads: int = 8
    app_num: int = 15  # appearance attributes (HC-STVG 15, VidSTG 20)
    mot_num: int = 60  # motion attributes (HC-STVG 60, VidSTG 34)
    query_init: str = "target_aware"  # or "zero" (baseline), "oracle" (upper bound)
    activation: str = "attribute"  # official; or "instance" (maps trained on the GT box mask)
    use_tts: bool = True  # False: every valid frame is "selected"
    use_asa: bool = True  # False: plain mean pooling of the selected frames' tokens
    tts_threshold: float = 0.7  # θ; official: 0.7 HC-STVG, 0.45 VidSTG (hard-coded there)
    # δ: relevance a_t = δ·σ(s_app) + (1-δ)·σ(s_mot). Official: plain average (δ = 0.5).
    tts_appearance_weight: float = 0.5
    branches: list[str] = field(default_factory=lambda: ["appearance", "motion"])  # TTS and ASA branches
    two_pass: bool = True  # eval only: rebuild queries on frames with σ(actioness) > 0.5
    action_threshold: float = 0.5
    tracked_temporal_query: bool = False  # departure (see above): tastvg.models.queries.tracked_motion
    # Memory, not maths: fused attention in the encoder (no stored attention maps) and activation
    # checkpointing of these parts ("backbone2d", "encoder", "decoders"). Off = the official code.
    efficient_attention: bool = False
    checkpointing: list[str] = field(default_factory=list)
    grounding_weights: Optional[str] = None  # `tastvg pretrain grounding` file: tastvg.models.build.load_grounding_weights


@dataclass
class LossConfig:
    """Loss weights of the official recipe (HC-STVG v1 defaults) and the label constants."""

    bbox: float = 5.0
    giou: float = 4.0
    sted: float = 12.0
    actioness: float = 2.0
    tts_motion: float = 1.0  # logits_f_m
    tts_appearance: float = 1.0  # logits_f_a
    asa_appearance: float = 1.0  # logits_r_a
    asa_motion: float = 1.0  # logits_r_m
    eos_coef: float = 0.3  # actioness BCE weight outside the GT span
    sigma: float = 2.0  # Gaussian width (frames) of the start/end targets
    aux: bool = True  # repeat the four decoder losses on layers 0 .. L-2


@dataclass
class OptimConfig:
    """Official optimisation recipe (HengLan/TA-STVG @ 904ad0c, experiments/*.yaml); consumed by the training engine."""

    lr_base: float = 2e-4
    lr_vision: float = 1e-6
    lr_text: float = 5e-5
    lr_temporal_decoder: float = 2e-4
    lr_tts_asa: float = 5e-4
    weight_decay: float = 1e-4
    clip_norm: float = 0.1
    epochs: int = 90
    drop_epochs: list[int] = field(default_factory=lambda: [50, 90])
    schedule: str = "multistep_with_warmup"  # or "multistep_with_warmup_all" (VidSTG)
    warmup_fraction: float = 0.01
    ema_decay: float = 0.9998

    def lrs(self) -> dict[str, float]:
        """``{parameter group: learning rate}`` over :data:`tastvg.models.PARAM_GROUPS` (the
        rate of group ``g`` is the field :func:`lr_field` ``(g)``, e.g. ``lr_tts_asa``)."""
        from tastvg.models import PARAM_GROUPS

        return {g: getattr(self, lr_field(g)) for g in PARAM_GROUPS}


def lr_field(group: str) -> str:
    """The :class:`OptimConfig` field that holds the learning rate of parameter group ``group``."""
    return f"lr_{group}"


@dataclass
class TASTVGConfig:
    name: str = "paper-hcstvg"
    backbone2d: Backbone2DConfig = field(default_factory=Backbone2DConfig)
    video_swin: VideoSwinConfig = field(default_factory=VideoSwinConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


BRANCHES = ("appearance", "motion")  # TTS / ASA branches: on the 2D and on the 3D tokens
# the sections a dotted override ``SECTION.FIELD`` may name (every part of the tree but its name)
SECTIONS = tuple(f.name for f in dataclasses.fields(TASTVGConfig) if f.name != "name")


def _query_inits() -> tuple[str, ...]:
    """The registered query initialisations (imported when checked: the registry lives with the strategies)."""
    from tastvg.models.queries import QUERY_INITS

    return tuple(QUERY_INITS)


# field -> allowed values, or a function returning them (a registry that may grow)
_CHOICES = {
    ("model", "query_init"): _query_inits,
    ("model", "activation"): ("attribute", "instance"),
}


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"{where}: unknown field '{key}' (known: {', '.join(fields)})")
        f = fields[key]
        sub = f.default_factory if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if sub is not None and dataclasses.is_dataclass(sub):
            kwargs[key] = _build(sub, value, f"{where}.{key}")
        else:
            default = sub() if sub is not None else f.default
            kwargs[key] = _check_type(value, default, f"{where}.{key}")
    return cls(**kwargs)


def _check_type(value: Any, default: Any, where: str) -> Any:
    """Values must have the type of the field's default (ints are accepted for floats, and so are
    strings such as ``"2e-4"`` that YAML 1.1 leaves unparsed without a dot; a ``None`` default takes
    a string or None)."""
    if isinstance(default, float) and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            value = number
    if default is None:
        ok = value is None or isinstance(value, str)
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple))
        value = list(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"{where}: expected {type(default).__name__ if default is not None else 'a string'}, "
                         f"got {value!r}")
    return value


def _declared_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None if f.default is dataclasses.MISSING else f.default


def check_field(f: dataclasses.Field, value: Any, where: str) -> Any:
    """``value`` checked (and, for floats, converted) against the type of field ``f``'s declared
    default; ``None`` is accepted for ``Optional[...]`` fields. For ``train.*`` and ``data.*``
    overrides, whose dataclasses are not built through :func:`config_from_dict`."""
    default = _declared_default(f)
    if value is None and (default is None or "Optional" in str(f.type) or "None" in str(f.type)):
        return None
    return _check_type(value, default, where)


def replace_fields(obj: Any, values: Mapping[str, Any], section: str) -> Any:
    """A copy of the dataclass ``obj`` with ``values`` (``{field: value}``) replaced, each checked by
    name and by the type of the field's default (:func:`check_field`); a ``ValueError`` names
    ``section.field``. Used for every section of :class:`TASTVGConfig` and for the training CLI's
    ``data.*`` (``DataConfig``) and ``train.*`` (``TrainConfig``) overrides."""
    fields = {f.name: f for f in dataclasses.fields(obj)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown override {section}.{unknown[0]}: no field {unknown[0]!r} in {section} "
                         f"(known fields of {section}: {', '.join(sorted(fields))})")
    checked = {k: check_field(fields[k], v, f"override {section}.{k}") for k, v in values.items()}
    return dataclasses.replace(obj, **checked)


def apply_overrides(cfg: TASTVGConfig, overrides: Mapping[str, Any], where: str = "overrides") -> TASTVGConfig:
    """``cfg`` with dotted overrides applied, as a new validated config::

        apply_overrides(load_preset("synth"), {"model.query_init": "zero", "optim.epochs": 1})

    Each key is ``SECTION.FIELD`` with SECTION one of :data:`SECTIONS`, checked by name and by the
    type of the field's default (:func:`replace_fields`); then the whole tree is checked as
    :func:`config_from_dict` does (choices, branches, under ``where``). Every failure is a
    ``ValueError`` that names the key. The one override path of the training CLI and the ablation
    grids."""
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, dot, name = key.partition(".")
        if not dot or not name:
            raise ValueError(f"override {key!r} is not SECTION.FIELD (e.g. model.tts_threshold)")
        if section not in SECTIONS:
            raise ValueError(f"unknown override section {section!r} (in {key!r}); use one of {', '.join(SECTIONS)}")
        by_section.setdefault(section, {})[name] = value
    tree = cfg.to_dict()
    for section, values in by_section.items():
        tree[section] = dataclasses.asdict(replace_fields(getattr(cfg, section), values, section))
    return config_from_dict(tree, where=where)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Command-line overrides ``["model.tts_threshold=0.6", ...]`` -> ``{"model.tts_threshold": 0.6}``
    (each VALUE parsed as YAML); a ``ValueError`` names a malformed item."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise ValueError(f"override {item!r} is not SECTION.FIELD=VALUE (e.g. model.tts_threshold=0.6)")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"override {key}: {value!r} is not a valid YAML value ({problem}); "
                             "quote lists and strings for the shell, e.g. 'model.branches=[motion]'") from None
    return out


def config_from_dict(data: dict[str, Any], where: str = "config") -> TASTVGConfig:
    """Build a config from a (partial) nested dict; missing fields keep their defaults."""
    cfg = _build(TASTVGConfig, data, where)
    for (section, name), allowed in _CHOICES.items():
        allowed = allowed() if callable(allowed) else allowed
        value = getattr(getattr(cfg, section), name)
        if value not in allowed:
            raise ValueError(f"{where}.{section}.{name}: '{value}' is not one of {allowed}")
    branches = cfg.model.branches
    if not branches or len(set(branches)) != len(branches) or not set(branches) <= set(BRANCHES):
        raise ValueError(f"{where}.model.branches: {branches} must be one or both of {list(BRANCHES)}, each once")
    if len(branches) == 1 and cfg.model.tts_appearance_weight != 0.5:
        raise ValueError(f"{where}.model.tts_appearance_weight: δ weights two TTS branches, but model.branches "
                         f"is {branches}: leave δ at 0.5")
    if cfg.model.tracked_temporal_query and not (cfg.model.use_asa and "appearance" in branches):
        raise ValueError(f"{where}.model.tracked_temporal_query needs ASA's appearance map (use_asa, branches)")
    return cfg


def load_config(path: str | Path) -> TASTVGConfig:
    """Read a YAML config file (a full or partial tree)."""
    path = Path(path)
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    return config_from_dict(data, where=str(path))


def save_config(cfg: TASTVGConfig, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        yaml.safe_dump(cfg.to_dict(), fh, sort_keys=False)


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> TASTVGConfig:
    """Load a named preset from ``tastvg/presets/<name>.yaml``."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"unknown preset '{name}' (available: {', '.join(available_presets())})")
    return load_config(path)


def resolve_config(config: "str | TASTVGConfig | dict[str, Any]") -> TASTVGConfig:
    """Accept a preset name, a YAML path, a dict or a config object."""
    if isinstance(config, TASTVGConfig):
        return config
    if isinstance(config, dict):
        return config_from_dict(config)
    if isinstance(config, (str, Path)):
        if str(config).endswith((".yaml", ".yml")):
            return load_config(config)
        return load_preset(str(config))
    raise TypeError(f"expected a preset name, YAML path, dict or TASTVGConfig, got {type(config).__name__}")
