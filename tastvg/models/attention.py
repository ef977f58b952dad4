"""Attention modules that keep their weights for inspection (labml style).

An attention module that mixes in :class:`KeepsAttention` stores its last attention weights in
``self.attn`` (detached, before dropout where the module computes dropout itself) while its
``keep_attention`` flag is on, and stores nothing otherwise, so ordinary forwards cost nothing
extra. :func:`keeping_attention` switches the flag on for a block of code::

    layer = model.spatial_decoder.layers[0]
    with keeping_attention([layer.cross_attn]):
        model(...)
    layer.cross_attn.attn  # [BT, heads, 1, N + L]

``TASTVG.forward(..., return_intermediates=True)`` does this for every decoder cross-attention
and returns the weights, heads averaged, in :class:`tastvg.models.outputs.Intermediates`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

from torch import Tensor, nn


class KeepsAttention:
    """Mixin: ``self.attn`` holds the last attention weights while ``self.keep_attention`` is on."""

    keep_attention: bool = False
    attn: Tensor | None = None

    def keep(self, weights: Tensor) -> None:
        """Store ``weights`` (detached) if the flag is on."""
        if self.keep_attention:
            self.attn = weights.detach()


@contextmanager
def keeping_attention(modules: Iterable[KeepsAttention], enabled: bool = True) -> Iterator[list[KeepsAttention]]:
    """Turn ``keep_attention`` on for ``modules`` (their old weights cleared) inside the block.

    With ``enabled=False`` nothing changes. On exit each flag gets back its previous value; the
    stored weights stay (the last ones, for inspection).
    """
    modules = list(modules)
    if not enabled:
        yield modules
        return
    before = [m.keep_attention for m in modules]
    for m in modules:
        m.keep_attention, m.attn = True, None
    try:
        yield modules
    finally:
        for m, flag in zip(modules, before):
            m.keep_attention = flag


class InspectableMultiheadAttention(KeepsAttention, nn.MultiheadAttention):
    """``nn.MultiheadAttention`` (same parameters, same names, same numbers) that keeps its
    per-head weights ``[batch, heads, S_q, S_k]`` in ``self.attn`` while ``keep_attention`` is on
    (after dropout in train mode, as ``nn.MultiheadAttention`` returns them).

    While keeping, the weights are always computed (``need_weights=False`` would otherwise let
    PyTorch take its fused path, which rounds differently); TA-STVG's callers ask for them anyway.
    """

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if not self.keep_attention:
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                                   is_causal=is_causal)
        out, weights = super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                                       attn_mask=attn_mask, average_attn_weights=False, is_causal=is_causal)
        assert weights is not None
        self.keep(weights)
        if not need_weights:
            return out, None
        return out, (weights.mean(dim=1) if average_attn_weights else weights)
