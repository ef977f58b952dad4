"""Query initialisations are strategies chosen once at build time; a fourth one needs no model change."""

from __future__ import annotations

import pytest
import torch
from test_model_golden import make_batch
from torch import Tensor, nn

from tastvg.config import ModelConfig, config_from_dict, load_preset
from tastvg.losses import TASTVGLoss
from tastvg.models import QUERY_INITS, Oracle, Queries, QueryInit, TargetAware, Zero, build_model
from tastvg.models.outputs import EncoderOutput


def tiny_config(query_init: str):
    data = load_preset("tiny").to_dict()
    data["model"]["query_init"] = query_init
    return config_from_dict(data)


def run(model, batch, targets=True) -> dict:
    return model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"],
                 batch["targets"] if targets else None, return_intermediates=True)


def test_strategies_say_what_they_need() -> None:
    assert QUERY_INITS == {"target_aware": TargetAware, "zero": Zero, "oracle": Oracle}
    assert (TargetAware.needs_targets, TargetAware.two_pass) == (False, True)
    assert (Zero.needs_targets, Zero.two_pass) == (False, False)
    assert (Oracle.needs_targets, Oracle.two_pass) == (True, False)


@pytest.mark.parametrize("name", ["target_aware", "zero", "oracle"])
def test_the_strategy_is_chosen_once_at_build(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name)).eval()
    assert type(model.query_init) is QUERY_INITS[name]
    assert not list(model.query_init.parameters())  # no state-dict keys of its own
    batch = make_batch(image_pad=False)
    with torch.no_grad():
        out = run(model, batch)
        model.cfg.model.query_init = "zero" if name != "zero" else "target_aware"  # read only at build
        again = run(model, batch)
    assert torch.equal(out["pred_boxes"], again["pred_boxes"])
    inter = out["intermediates"]
    assert len(inter.passes) == (2 if model.query_init.two_pass else 1)
    if name == "zero":
        assert not inter.pass1.q_s0.any() and not inter.pass1.q_t0.any()


def test_oracle_pools_the_ground_truth_box_tokens() -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config("oracle")).eval()
    batch = make_batch(image_pad=False)
    with torch.no_grad():
        inter = run(model, batch)["intermediates"]
    enc, tg = inter.encoder, batch["targets"]
    h, w = enc.hw
    # video 1, a single ground-truth frame pair (0 and 1): the mean of the tokens in the box cells
    from tastvg.boxes import box_token_mask

    cells = box_token_mask(tg["boxes"][1, :2], h, w)  # [2, N]
    want = (enc.m2d[1, :2] * cells[..., None]).sum((0, 1)) / cells.sum()
    torch.testing.assert_close(inter.pass1.q_s0[1], want)
    with pytest.raises(ValueError, match="oracle"):
        with torch.no_grad():
            run(model, batch, targets=False)


def test_config_check_reads_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    known = r"\('target_aware', 'zero', 'oracle'\)"
    with pytest.raises(ValueError, match=rf"model\.query_init: 'mean' is not one of {known}"):
        config_from_dict({"model": {"query_init": "mean"}})
    monkeypatch.setitem(QUERY_INITS, "mean", TargetAware)
    assert config_from_dict({"model": {"query_init": "mean"}}).model.query_init == "mean"


class LearnedQueries(QueryInit):
    """A fourth initialisation, defined here only: learned Q_s0 and Q_t0, the same for every video."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.q_s = nn.Parameter(torch.randn(cfg.d_model) * 0.1)
        self.q_t = nn.Parameter(torch.randn(cfg.d_model) * 0.1)

    def forward(self, enc: EncoderOutput, asa: dict[str, Tensor] | None, selected: Tensor,
                targets: dict[str, Tensor] | None) -> Queries:
        b = enc.m2d.shape[0]
        return Queries(self.q_s.expand(b, -1), self.q_t.expand(b, -1))


def test_a_fourth_query_initialisation_trains_without_touching_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(QUERY_INITS, "learned", LearnedQueries)  # the one registry entry (undone after the test)
    cfg = tiny_config("learned")  # the config accepts the new name
    torch.manual_seed(0)
    model = build_model(cfg).train()
    torch.manual_seed(0)
    reference = build_model("tiny")
    assert isinstance(model.query_init, LearnedQueries)
    # the strategy's own parameters join the state dict; every other part starts from the same weights
    ours, ref = model.state_dict(), reference.state_dict()
    assert set(ours) - set(ref) == {"query_init.q_s", "query_init.q_t"}
    assert all(torch.equal(ours[k], v) for k, v in ref.items())
    assert not model.query_init.two_pass and not model.query_init.needs_targets

    batch = make_batch(image_pad=False)
    targets = batch["targets"] | {"attr_app": torch.eye(16)[:2], "attr_mot": torch.eye(16)[:2]}
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    before = model.query_init.q_s.detach().clone()
    out = model(batch["frames"], batch["frame_pad"], batch["text_ids"], batch["text_mask"])
    loss = TASTVGLoss(cfg.loss, cfg.model)(out, targets)["loss"]
    optimiser.zero_grad()
    loss.backward()
    assert model.query_init.q_s.grad is not None and model.query_init.q_s.grad.abs().sum() > 0
    optimiser.step()
    assert not torch.equal(model.query_init.q_s.detach(), before)
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        inter = run(model, batch, targets=False)["intermediates"]
    assert inter.pass2 is None  # no second pass: the strategy does not ask for one
    torch.testing.assert_close(inter.pass1.q_s0, model.query_init.q_s.detach().expand(2, -1))


def test_tracked_motion_pools_each_frame_by_the_appearance_map() -> None:
    from tastvg.models.queries import tracked_motion

    m3d = torch.randn(2, 3, 4, 5)
    map_app = torch.zeros(2, 3, 4)
    map_app[:, :, 2] = 0.5  # a map on one cell per frame: that cell's token, whatever the scale
    pad = torch.tensor([[False, False, True], [False, False, False]])
    out = tracked_motion(m3d, map_app, pad)
    assert out.shape == (2, 3, 5)
    assert torch.allclose(out[1], m3d[1, :, 2]) and torch.allclose(out[0, :2], m3d[0, :2, 2])
    assert not out[0, 2].any()  # padded frame


def test_tracked_temporal_query_is_a_switch_off_by_default() -> None:
    assert not tiny_config("target_aware").model.tracked_temporal_query
    for name in ("paper-hcstvg", "paper-hcstvg2", "paper-vidstg"):  # a departure: off in the paper presets
        assert not load_preset(name).model.tracked_temporal_query and not load_preset(name).model.grounding_weights
    data = load_preset("tiny").to_dict()
    data["model"]["tracked_temporal_query"] = True
    torch.manual_seed(0)
    model = build_model(config_from_dict(data)).eval()
    model.cfg.model.two_pass = False  # pass 2 re-selects frames by actioness, which the term changes
    batch = make_batch(image_pad=False)
    with torch.no_grad():
        on = run(model, batch)
        model.cfg.model.tracked_temporal_query = False  # read at every forward
        off = run(model, batch)
    q = on["intermediates"].pass1
    assert torch.equal(on["pred_boxes"], off["pred_boxes"])  # the spatial decoder does not read it
    assert not torch.allclose(on["pred_sted"], off["pred_sted"])  # the temporal decoder does
    assert torch.equal(q.q_t0, off["intermediates"].pass1.q_t0)  # Q_t0 itself is unchanged
    data["model"]["use_asa"] = False
    with pytest.raises(ValueError, match="tracked_temporal_query needs ASA"):
        config_from_dict(data)
