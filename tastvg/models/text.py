"""Text encoder: RoBERTa (``transformers``) + ``FeatureResizer`` (Linear, LayerNorm 1e-12, Dropout).

Takes token ids of ``<s> subject sentence </s>`` (tokenisation happens in the data pipeline) and
returns ``E`` ``[B, L, d]`` plus the key-padding mask ``[B, L]`` (True = padding). The pooler of
the official model is never used, so it is not built.
"""

from __future__ import annotations

from torch import Tensor, nn
from transformers import RobertaConfig, RobertaModel

from tastvg.config import TextConfig


class FeatureResizer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.layer_norm = nn.LayerNorm(out_dim, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.layer_norm(self.fc(x)))


class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig, d_model: int) -> None:
        super().__init__()
        if cfg.weights:  # explicit local folder only; never a hub name
            self.roberta = RobertaModel.from_pretrained(cfg.weights, add_pooling_layer=False, local_files_only=True)
        else:
            rcfg = RobertaConfig(
                vocab_size=cfg.vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                num_attention_heads=cfg.heads, intermediate_size=cfg.intermediate,
                max_position_embeddings=cfg.max_positions, type_vocab_size=1,
                layer_norm_eps=cfg.layer_norm_eps, pad_token_id=cfg.pad_token_id, bos_token_id=0, eos_token_id=2,
            )
            self.roberta = RobertaModel(rcfg, add_pooling_layer=False)
        self.resizer = FeatureResizer(self.roberta.config.hidden_size, d_model)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``input_ids``, ``attention_mask`` [B, L] (1 = token) -> (``E`` [B, L, d], pad mask [B, L])."""
        hidden = self.roberta(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.resizer(hidden), attention_mask == 0
