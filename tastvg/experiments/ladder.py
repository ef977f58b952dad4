"""The diagnosis ladder: positive controls that say *which* part of TA-STVG fails to learn *when*
and *which* on SynthSTVG, each a small function with a known answer on made-up data.

Rungs, cheapest first (each returns numbers beside its chance / majority-class rate):

1. :func:`probe_motion_per_frame` — can a linear probe on per-frame features (Video Swin's, the
   encoder's, or plain frame differences as the probe's own positive control) tell whether the
   object is doing its action in that frame? TTS sees nothing else: its frame queries attend to
   the text only (TA-STVG paper, arXiv 2502.11168; official code HengLan/TA-STVG @ 904ad0c), so a frame's
   relevance must be decodable from that frame's tokens.
2. :func:`tts_span_auc` — does a TTS relevance curve rank the frames of the span above the others
   (per-video ROC AUC, 0.5 = chance)? :func:`train_tts_probe` trains one TTS branch on fixed
   features to find out whether TTS *can* learn the span from them.
3. :func:`probe_subject_attributes` — does a sentence feature (the text encoder's ``<s>``) encode
   the attributes its subject names?
4. :func:`attention_on_target` / :func:`box_on_target` — do ASA maps (or decoder attention) and
   predicted boxes land on the target rather than on a distractor?
5. :func:`probe_cell_attributes` (:func:`backbone_cell_attributes` for a 2D backbone) — can each
   attribute group be read from the visual token of the cell an actor is centred in, among the
   actors (chance = 1 / values)? :func:`legible_share` — in how many scenes do the legible groups
   alone tell the target from every distractor (the ceiling on *which* they allow)?

And for *when* among distractors (rung 6): :func:`span_against_actors` — does the predicted span
follow the target's action, or the union of everyone's (a model that predicts "when anything
moves")? :func:`attention_by_span` — does the temporal decoder's cross-attention on the 3D
tokens land on the target's cells inside its span, as it must to tell the target's action from a
distractor's?

Labels come from the generator, which knows every actor's box and action span per frame:
:func:`tastvg.experiments.scene_labels.scene_labels`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn


# ------------------------------------------------------------------------------------ probes
@dataclass
class ProbeResult:
    """Held-out accuracy of a linear probe, beside the majority-class rate (the train split's most
    common class, scored on the test split) and the class-balanced accuracy."""

    accuracy: float
    majority: float
    balanced_accuracy: float
    chance_balanced: float  # 1 / number of classes present in the test split
    n_train: int
    n_test: int
    classes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_split(groups: Sequence[int] | np.ndarray, test_fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """Boolean train mask over samples: whole groups (videos) go to train or test, never both."""
    groups = np.asarray(groups)
    ids = np.unique(groups)
    rng = np.random.default_rng(seed)
    test_ids = rng.permutation(ids)[: max(1, int(round(len(ids) * test_fraction)))]
    if len(test_ids) >= len(ids):
        raise ValueError("group_split: need at least two groups")
    return ~np.isin(groups, test_ids)


def linear_probe(x: Tensor | np.ndarray, y: Tensor | np.ndarray, train: np.ndarray, *, steps: int = 300,
                 weight_decay: float = 1e-3, seed: int = 0, balanced: bool = True) -> ProbeResult:
    """Multinomial logistic regression on ``x`` [S, C] -> ``y`` [S] (int classes), fitted on
    ``train`` (bool [S]) with L-BFGS on standardised features, scored on the rest.

    ``balanced`` weights the loss by inverse class frequency, so a rare class (e.g. "in the
    action span" in a short span) is not ignored."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    tr = torch.as_tensor(np.asarray(train, dtype=bool))
    if not bool(tr.any()) or bool(tr.all()):
        raise ValueError("linear_probe: need both train and test samples")
    classes = int(y.max()) + 1
    mu, sd = x[tr].mean(0), x[tr].std(0).clamp(min=1e-6)
    z = (x - mu) / sd
    torch.manual_seed(seed)
    lin = nn.Linear(z.shape[1], classes)
    counts = torch.bincount(y[tr], minlength=classes).float()
    weight = (counts.sum() / counts.clamp(min=1)) / classes if balanced else None
    opt = torch.optim.LBFGS(lin.parameters(), lr=0.5, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")
    loss_fn = nn.CrossEntropyLoss(weight=weight)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn(lin(z[tr]), y[tr]) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = lin(z[~tr]).argmax(1)
    yt = y[~tr]
    acc = float((pred == yt).float().mean())
    majority = float((yt == int(counts.argmax())).float().mean())
    present = torch.unique(yt)
    bal = float(torch.stack([(pred[yt == c] == c).float().mean() for c in present]).mean())
    return ProbeResult(acc, majority, bal, 1.0 / len(present), int(tr.sum()), int((~tr).sum()), classes)


def probe_motion_per_frame(features: Tensor | np.ndarray, labels: Tensor | np.ndarray,
                           valid: Optional[Tensor | np.ndarray] = None, test_fraction: float = 0.25,
                           seed: int = 0) -> ProbeResult:
    """Rung 1. ``features`` [V, T, C] (one vector per frame, e.g. spatially pooled Video Swin
    features), ``labels`` [V, T] int (e.g. 1 = the object does its action in this frame),
    ``valid`` [V, T] bool. Videos are split into train / held-out test."""
    f = np.asarray(features, dtype=np.float32)
    lab = np.asarray(labels)
    v, t = lab.shape
    keep = np.ones((v, t), bool) if valid is None else np.asarray(valid, bool)
    groups = np.repeat(np.arange(v), t).reshape(v, t)[keep]
    return linear_probe(f[keep], lab[keep], group_split(groups, test_fraction, seed), seed=seed)


def probe_subject_attributes(features: Tensor | np.ndarray, attributes: Sequence[dict[str, str]],
                             groups: Sequence[str] = ("size", "texture", "colour", "shape"),
                             test_fraction: float = 0.25, seed: int = 0) -> dict[str, ProbeResult]:
    """Rung 3. ``features`` [V, d] (one sentence feature per video, e.g. the text encoder's
    ``<s>``), ``attributes`` [V] dicts of the *named* value per attribute group (a group the
    sentence does not name is absent, or ``None``). Returns one probe per group over the videos
    that name it."""
    f = np.asarray(features, dtype=np.float32)
    out: dict[str, ProbeResult] = {}
    for g in groups:
        rows = [i for i, a in enumerate(attributes) if a.get(g) is not None]
        values = sorted({attributes[i][g] for i in rows})
        if len(rows) < 8 or len(values) < 2:
            continue
        y = np.array([values.index(attributes[i][g]) for i in rows])
        out[g] = linear_probe(f[rows], y, group_split(np.arange(len(rows)), test_fraction, seed), seed=seed)
    return out


def probe_cell_attributes(features: Tensor | np.ndarray, labels: dict[str, Tensor | np.ndarray],
                          test_fraction: float = 0.25, seed: int = 0) -> dict[str, ProbeResult]:
    """Rung 5. ``features`` [V, T, N, C] (a visual token per cell and frame), ``labels`` per group
    [V, T, N] int (1 + the value of the actor centred in the cell, 0 = no actor, as
    :func:`tastvg.pretrain.dense_targets` gives them). One probe per group over the cells that
    hold an actor (classes = the group's values), videos split into train / held-out test."""
    f = np.asarray(features, dtype=np.float32)
    out: dict[str, ProbeResult] = {}
    for g, lab in labels.items():
        lab = np.asarray(lab)
        keep = lab > 0
        groups = np.broadcast_to(np.arange(lab.shape[0])[:, None, None], lab.shape)[keep]
        out[g] = linear_probe(f[keep], lab[keep] - 1, group_split(groups, test_fraction, seed), seed=seed)
    return out


def backbone_cell_attributes(backbone: nn.Module, seed: int, videos: int, knobs: Any, frames_per_video: int = 4,
                             test_fraction: float = 0.25) -> dict[str, ProbeResult]:
    """Rung 5 for a 2D backbone (``[F, 3, S, S]`` -> ``[F, C, h, w]``, e.g. ``model.backbone2d.body``):
    features and per-cell appearance labels of ``frames_per_video`` evenly spaced frames of
    ``videos`` SynthSTVG videos of ``seed``, then :func:`probe_cell_attributes`."""
    from tastvg.pretrain import APPEARANCE_GROUPS, _normalise, dense_targets

    feats, labels = [], {g: [] for g in APPEARANCE_GROUPS}
    backbone.eval()
    for i in range(videos):
        frames = _normalise(dense_targets(seed, i, knobs, (1, 1))["frames"][None])[0]  # [T, 3, S, S]
        picks = np.linspace(0, len(frames) - 1, frames_per_video).round().astype(int)
        with torch.no_grad():
            f = backbone(frames[picks])  # [F, C, h, w]
        grid = tuple(f.shape[-2:])
        lab = dense_targets(seed, i, knobs, grid)
        feats.append(f.flatten(2).transpose(1, 2).numpy())  # [F, N, C]
        for g in APPEARANCE_GROUPS:
            labels[g].append(lab[g][picks])
    return probe_cell_attributes(np.stack(feats), {g: np.stack(v) for g, v in labels.items()},
                                 test_fraction=test_fraction)


def legible_share(seed: int, videos: int, knobs: Any, legible: Sequence[str]) -> float:
    """Rung 5's ceiling: the share of scenes whose target differs from every distractor in a
    *named* attribute of a ``legible`` group (e.g. ``("size", "colour")``); in the others a model
    that reads only those groups cannot tell the target from some distractor."""
    from tastvg.data.synth import make_scene

    told = 0
    for i in range(videos):
        scene, facts = make_scene(seed, i, knobs)
        target = facts["target"]
        groups = [g for g in facts["named"] if g in legible]
        distractors = [a for j, a in enumerate(scene.actors) if j != scene.target]
        told += all(any(d.attribute(g) != target[g] for g in groups) for d in distractors)
    return told / max(videos, 1)


# ------------------------------------------------------------------------------------ TTS
def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann–Whitney ROC AUC (ties count one half); NaN when one class is absent."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def tts_span_auc(scores: Tensor | np.ndarray, in_span: Tensor | np.ndarray,
                 valid: Optional[Tensor | np.ndarray] = None) -> dict[str, float]:
    """Rung 2. Per-video ROC AUC of a relevance curve ``scores`` [V, T] against the span
    ``in_span`` [V, T] over the ``valid`` frames; mean over the videos with both classes, plus the
    mean relevance inside and outside the span."""
    s, y = np.asarray(scores, float), np.asarray(in_span, bool)
    keep = np.ones_like(y) if valid is None else np.asarray(valid, bool)
    aucs = [roc_auc(s[i][keep[i]], y[i][keep[i]]) for i in range(len(s))]
    aucs = [a for a in aucs if a == a]
    return {"auc": float(np.mean(aucs)) if aucs else float("nan"), "videos": len(aucs), "chance": 0.5,
            "inside": float(s[keep & y].mean()) if (keep & y).any() else float("nan"),
            "outside": float(s[keep & ~y].mean()) if (keep & ~y).any() else float("nan")}


def train_tts_probe(features: Tensor, text_ids: Tensor, text_mask: Tensor, in_span: Tensor, train: np.ndarray,
                    *, d: int = 64, heads: int = 4, layers: int = 2, steps: int = 400, lr: float = 1e-3,
                    batch: int = 16, seed: int = 0, vocab: int = 512) -> dict[str, Any]:
    """Rung 2 as a trained control: one TTS branch (:class:`tastvg.models.tts.TemporalSampling`,
    the official structure) on fixed features ``[V, T, N, C]`` (projected to ``d``), reading a
    trainable embedding of the sentence tokens ``text_ids`` [V, L], trained by BCE against
    ``in_span`` [V, T] on the ``train`` videos (bool [V]); returns :func:`tts_span_auc` on the rest
    and the training loss curve."""
    from tastvg.models.tts import TemporalSampling

    torch.manual_seed(seed)
    proj = nn.Linear(features.shape[-1], d)
    emb = nn.Embedding(vocab, d)
    tts = TemporalSampling(d, heads, layers, dropout=0.0)
    params = [*proj.parameters(), *emb.parameters(), *tts.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    tr_idx = np.nonzero(np.asarray(train, bool))[0]
    te_idx = np.nonzero(~np.asarray(train, bool))[0]
    rng = np.random.default_rng(seed)
    mu = features[tr_idx].mean((0, 1, 2))
    sd = features[tr_idx].std((0, 1, 2)).clamp(min=1e-6)

    def logits(idx: np.ndarray) -> Tensor:
        x = proj((features[idx] - mu) / sd)
        return tts(x, emb(text_ids[idx]), text_mask[idx] == 0)

    losses = []
    for _ in range(steps):
        idx = rng.choice(tr_idx, size=min(batch, len(tr_idx)), replace=False)
        loss = nn.functional.binary_cross_entropy_with_logits(logits(idx), in_span[idx].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        scores = logits(te_idx).sigmoid()
    return tts_span_auc(scores.numpy(), in_span[te_idx].numpy()) | {"loss_first": float(np.mean(losses[:20])),
                                                                      "loss_last": float(np.mean(losses[-20:]))}


# ------------------------------------------------------------------------------------ which
def attention_on_target(maps: Tensor | np.ndarray, target_cells: Tensor | np.ndarray,
                        valid: Optional[Tensor | np.ndarray] = None) -> dict[str, float]:
    """Rung 4. Share of an attention/activation map ``maps`` [V, T, N] (non-negative, any scale)
    that falls on the target's cells ``target_cells`` [V, T, N] (0/1), averaged over the
    ``valid`` frames [V, T]; ``chance`` is the share of a uniform map (cells covered / N)."""
    m = np.asarray(maps, float)
    c = np.asarray(target_cells, float)
    keep = np.ones(m.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    keep &= c.sum(-1) > 0
    share = (m * c).sum(-1) / np.maximum(m.sum(-1), 1e-12)
    chance = c.sum(-1) / c.shape[-1]
    s, ch = float(share[keep].mean()), float(chance[keep].mean())
    return {"share": s, "chance": ch, "ratio": s / ch if ch > 0 else float("nan")}


def attention_by_span(maps: Tensor | np.ndarray, target_cells: Tensor | np.ndarray,
                      in_span: Tensor | np.ndarray, valid: Optional[Tensor | np.ndarray] = None) -> dict[str, dict[str, float]]:
    """Rung 6. :func:`attention_on_target` of ``maps`` [V, T, N] on ``target_cells`` [V, T, N]
    separately on the frames inside the target's span ``in_span`` [V, T] (bool) and outside it
    (``valid`` [V, T] frames only): ``{"in_span": ..., "out_span": ...}``. A temporal decoder that
    reads the target's motion looks at its cells in the span; one that reads the whole clip's
    motion does not prefer them anywhere."""
    y = np.asarray(in_span, bool)
    keep = np.ones_like(y) if valid is None else np.asarray(valid, bool)
    return {"in_span": attention_on_target(maps, target_cells, keep & y),
            "out_span": attention_on_target(maps, target_cells, keep & ~y)}


def span_against_actors(pred: Sequence[np.ndarray], actors_in_action: Sequence[np.ndarray],
                        targets: Sequence[int]) -> dict[str, float]:
    """Rung 6. Whose time does a predicted span follow? Per video, ``pred`` [F] bool (the frames
    the prediction covers), ``actors_in_action`` [A, F] bool (every actor inside its action span
    on the same frames) and the target's index: the temporal IoU of the prediction with the
    target's span (``tiou_target``, the metric's own) and with the union of every actor's span
    (``tiou_union``), means over the videos, and ``follows_target``, the share of videos where the
    first is the larger. ``tiou_union > tiou_target`` says the model predicts "when anything
    moves" rather than when the target does."""
    def tiou(p: np.ndarray, g: np.ndarray) -> float:
        union = (p | g).sum()
        return float((p & g).sum() / union) if union else 0.0

    on_t, on_u = [], []
    for p, a, t in zip(pred, actors_in_action, targets):
        p, a = np.asarray(p, bool), np.asarray(a, bool)
        on_t.append(tiou(p, a[t]))
        on_u.append(tiou(p, a.any(0)))
    nan = float("nan")
    return {"tiou_target": float(np.mean(on_t)) if on_t else nan, "tiou_union": float(np.mean(on_u)) if on_u else nan,
            "follows_target": float(np.mean(np.greater(on_t, on_u))) if on_t else nan, "videos": len(on_t)}


def train_asa_probe(tokens: Tensor, query_ids: Tensor, labels: Tensor, target_cells: Tensor, train: np.ndarray,
                    *, blind_query: bool = False, supervision: str = "attribute", d: int = 64, heads: int = 4, layers: int = 2, steps: int = 300,
                    lr: float = 1e-3, batch: int = 32, seed: int = 0, vocab: int = 64) -> dict[str, Any]:
    """Rung 4 as a trained control: one ASA branch (:class:`tastvg.models.asa.SpatialActivation`,
    the official structure and its only supervision, multi-label attribute BCE) on fixed visual
    tokens ``tokens`` [F, N, C] (one frame each, projected to ``d``), whose query is the sum of
    trainable embeddings of the named attribute ids ``query_ids`` [F, K] (a stand-in for the
    sentence's ``<s>``; id 0 = padding). ``labels`` [F, V] multi-hot, ``target_cells`` [F, N].

    ``blind_query`` replaces the query by one learned vector: the attributes are then readable
    only from the tokens. ``supervision="instance"`` trains the map against ``target_cells``
    instead (BCE, as ``model.activation = "instance"`` in :mod:`tastvg.losses`). Returns :func:`attention_on_target` of the held-out frames' maps and the
    held-out attribute accuracy (every label's sign right)."""
    from tastvg.models.asa import SpatialActivation

    torch.manual_seed(seed)
    proj = nn.Linear(tokens.shape[-1], d)
    emb = nn.Embedding(vocab, d, padding_idx=0)
    blind = nn.Parameter(torch.randn(d) * 0.1)
    asa = SpatialActivation(d, heads, layers, labels.shape[-1], dropout=0.0)
    opt = torch.optim.AdamW([*proj.parameters(), *emb.parameters(), blind, *asa.parameters()], lr=lr,
                            weight_decay=1e-4)
    tr_idx = np.nonzero(np.asarray(train, bool))[0]
    te_idx = np.nonzero(~np.asarray(train, bool))[0]
    rng = np.random.default_rng(seed)

    def run(idx: np.ndarray) -> tuple[Tensor, Tensor]:
        q = blind.expand(len(idx), 1, d) if blind_query else emb(query_ids[idx]).sum(1, keepdim=True)
        return asa(proj(tokens[idx]), q)

    for _ in range(steps):
        idx = rng.choice(tr_idx, size=min(batch, len(tr_idx)), replace=False)
        maps, logits = run(idx)
        if supervision == "instance":
            loss = nn.functional.binary_cross_entropy(maps.clamp(1e-6, 1 - 1e-6), target_cells[idx].float())
        else:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels[idx].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        maps, logits = run(te_idx)
    exact = ((logits > 0) == labels[te_idx].bool()).all(1).float().mean()
    on = attention_on_target(maps[:, None].numpy(), target_cells[te_idx][:, None].numpy())
    return on | {"attribute_exact": float(exact), "loss_last": loss.item()}


def box_on_target(pred: Sequence[np.ndarray], actors: Sequence[np.ndarray], targets: Sequence[int]) -> dict[str, Any]:
    """Rung 4 for boxes. Per video, ``pred`` [T, 4] and every actor's boxes ``actors`` [A, T, 4]
    (``xyxy``, same frames): the actor with the highest mean IoU is the one the model "chose".
    Returns the share of videos where that is the target, chance (mean 1 / A), and the mean IoU
    with the target and with the best distractor, and ``chosen``: the chosen actor's index per
    video. IoU is :func:`tastvg.boxes.box_iou_pairs`; a frame where both boxes are empty (zero
    union) counts as IoU 0."""
    from tastvg.boxes import box_iou_pairs

    wins, chance, on_t, on_d, chosen = [], [], [], [], []
    for p, a, t in zip(pred, actors, targets):
        p_t, a_t = torch.as_tensor(np.asarray(p, float)), torch.as_tensor(np.asarray(a, float))
        iou = box_iou_pairs(p_t[None], a_t).nan_to_num(0.0).mean(1).numpy()  # [A]
        chosen.append(int(np.argmax(iou)))
        wins.append(chosen[-1] == t)
        chance.append(1.0 / len(a))
        on_t.append(iou[t])
        on_d.append(max([iou[j] for j in range(len(a)) if j != t], default=float("nan")))
    return {"target_wins": float(np.mean(wins)), "chance": float(np.mean(chance)),
            "iou_target": float(np.mean(on_t)), "iou_best_distractor": float(np.nanmean(on_d)) if np.isfinite(on_d).any() else float("nan"),
            "chosen": chosen}
